// cairn: the command-line tool. One --db file is one device (docs/cli.md has the contract).
//
// Exit codes: 0 success; 1 usage error; 2 a network, server, sync or storage failure (one line on
// stderr naming the error code); 3 `get` of an absent key.
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cairn/cognito/identity.h"
#include "cairn/sync_manager.h"
#include "cairn/version.h"

namespace {

constexpr int kUsage = 1;
constexpr int kFailure = 2;
constexpr int kAbsent = 3;

constexpr const char* kCognitoProvider = "cognito-identity.amazonaws.com";
constexpr int64_t kLoginSeconds = 24 * 3600;  // the longest token Cognito Identity issues
constexpr size_t kPendingShown = 20;

struct GlobalOptions {
  std::string endpoint;
  std::string region;
  std::string pool;
  std::string db;
  std::string resolver = "merge";
  std::string identity_id;
  std::vector<std::string> logins;
  bool trace = false;
};

// A refusal of the command's input (a bad name, a value over a limit: nothing was written) is a
// usage error; everything else is a failure.
int fail(const std::string& what, const cairn::Status& s) {
  std::cerr << "cairn " << what << ": " << s.ToString() << "\n";
  bool local = s.http_status() == 0;
  bool usage = s.code() == cairn::ErrorCode::kInvalidArgument ||
               (local && (s.code() == cairn::ErrorCode::kInvalidParameter ||
                          s.code() == cairn::ErrorCode::kLimitExceeded));
  return usage ? kUsage : kFailure;
}

int usage(const std::string& message) {
  std::cerr << "cairn: " << message << "\n";
  return kUsage;
}

void trace(const GlobalOptions& g, const std::string& line) {
  if (g.trace) std::cerr << "[cli] " << line << "\n";
}

std::string format_time(cairn::Timestamp t) {
  if (t.time_since_epoch().count() == 0) return "never";
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_bytes(int64_t bytes) {
  char buf[32];
  if (bytes < 10 * 1024) return std::to_string(bytes) + " B";
  if (bytes < 10 * 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024 * 1024));
  }
  return buf;
}

cairn::Result<cairn::Resolver> resolver_named(const std::string& name) {
  if (name == "remote") return cairn::remote_wins();
  if (name == "local") return cairn::local_wins();
  if (name == "lww") return cairn::last_writer_wins();
  if (name == "merge") return cairn::three_way_merge();
  return cairn::Status(cairn::ErrorCode::kInvalidArgument,
                       "--resolver must be remote, local, lww or merge, not '" + name + "'");
}

bool has_region(const GlobalOptions& g) {
  if (!g.endpoint.empty() || !g.region.empty()) return true;
  for (const char* var : {"AWS_REGION", "AWS_DEFAULT_REGION", "AMAZON_REGION"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') return true;
  }
  return false;
}

// The sign-in `cairn login` keeps beside the database (DB.login, readable by its owner only):
// the Cognito token that stands for the player, when it expires, and who it is.
struct SavedLogin {
  std::string token;
  int64_t expires = 0;  // seconds since the epoch
  std::string identity_id;
  std::string provider;
  std::string user;

  static std::string path(const std::string& db) { return db + ".login"; }

  static std::optional<SavedLogin> load(const std::string& db) {
    std::ifstream in(path(db));
    if (!in) return std::nullopt;
    SavedLogin l;
    std::string expires;
    if (!std::getline(in, l.token) || !std::getline(in, expires) ||
        !std::getline(in, l.identity_id) || !std::getline(in, l.provider) ||
        !std::getline(in, l.user)) {
      return std::nullopt;
    }
    l.expires = std::strtoll(expires.c_str(), nullptr, 10);
    return l;
  }

  cairn::Status save(const std::string& db) const {
    std::string tmp = path(db) + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << token << "\n"
          << expires << "\n"
          << identity_id << "\n"
          << provider << "\n"
          << user << "\n";
      if (!out.flush()) {
        return cairn::Status(cairn::ErrorCode::kStorage, "cannot write " + tmp);
      }
    }
    ::chmod(tmp.c_str(), 0600);
    if (std::rename(tmp.c_str(), path(db).c_str()) != 0) {
      return cairn::Status(cairn::ErrorCode::kStorage, "cannot write " + path(db));
    }
    return cairn::Status::OK();
  }

  bool expired() const { return std::time(nullptr) >= expires; }
  std::string expiry() const {
    return format_time(std::chrono::system_clock::from_time_t(static_cast<std::time_t>(expires)));
  }
};

class Cli {
 public:
  explicit Cli(GlobalOptions g) : g_(std::move(g)) {}

  // Opens the device. Local commands never touch the network: the manager only reads its file.
  // `login` opens it without the saved sign-in, which it is about to replace.
  int open(bool needs_service, bool for_login = false) {
    for_login_ = for_login;
    if (g_.db.empty()) return usage("--db (or CAIRN_DB) is required");
    if (needs_service && g_.pool.empty()) return usage("--pool (or CAIRN_POOL_ID) is required");
    if (needs_service && !has_region(g_)) {
      return usage("give --endpoint URL (a cairn-server) or --region REGION (AWS)");
    }
    cairn::SyncManagerOptions o;
    o.endpoint = g_.endpoint;
    o.region = g_.region;
    o.identity_pool_id = g_.pool;
    o.database_path = g_.db;
    auto resolver = resolver_named(g_.resolver);
    if (!resolver.ok()) return fail("options", resolver.status());
    o.resolver = *resolver;
    for (const auto& item : g_.logins) {
      size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
        return usage("--login takes PROVIDER=TOKEN, got '" + item + "'");
      }
      o.logins[item.substr(0, eq)] = item.substr(eq + 1);
    }
    if (int rc = choose_credentials(o, needs_service)) return rc;
    if (g_.trace) {
      o.http.wire_trace = true;
      o.logger = std::make_shared<cairn::Logger>(
          [](cairn::LogLevel level, std::string_view line) {
            std::cerr << "[" << cairn::log_level_name(level) << "] " << line << "\n";
          },
          cairn::LogLevel::kTrace);
    }
    auto m = cairn::SyncManager::open(std::move(o));
    if (!m.ok()) return fail("open " + g_.db, m.status());
    manager_ = std::move(*m);
    return 0;
  }

  cairn::SyncManager& manager() { return *manager_; }
  const GlobalOptions& global() const { return g_; }

  // Whether the device holds the dataset (the commands that must not create one ask first).
  cairn::Result<bool> exists(const std::string& name) {
    auto all = manager_->list_datasets();
    if (!all.ok()) return all.status();
    for (const auto& d : *all) {
      if (d.name == name) return true;
    }
    return false;
  }

 private:
  // Developer credentials act on --identity-id, and only then. Otherwise the Cognito Identity
  // flow runs, with --login, else the login `cairn login` saved, else as a guest; credentials in
  // the environment are then left alone.
  int choose_credentials(cairn::SyncManagerOptions& o, bool needs_service) {
    if (!g_.identity_id.empty()) {
      if (!o.logins.empty()) {
        return usage(
            "--identity-id (developer credentials) and --login (the identity flow) "
            "exclude each other: give one");
      }
      auto chain = cairn::ChainCredentialsProvider::default_chain();
      if (!chain->credentials().ok() && !needs_service) {
        o.identity_id = g_.identity_id;  // which identity's local data; nothing is signed
        return 0;
      }
      if (!chain->credentials().ok()) {
        return usage(
            "--identity-id needs developer credentials (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) to act on that identity; without them, leave "
            "it out and the identity flow gets this device an identity (see `cairn login`)");
      }
      o.credentials = chain;
      o.identity_id = g_.identity_id;
      trace(g_,
            "credentials: developer credentials from the environment or profile, acting on "
            "identity " +
                g_.identity_id + " (--identity-id)");
      return 0;
    }
    std::string how;
    if (!o.logins.empty()) {
      how = "the identity flow with --login";
    } else if (auto saved = for_login_ ? std::nullopt : SavedLogin::load(g_.db)) {
      if (saved->expired() && needs_service) {
        std::cerr << "cairn: the sign-in of " << saved->user << " (" << saved->provider
                  << ") saved by `cairn login` expired at " << saved->expiry()
                  << ": run `cairn login " << saved->provider << " " << saved->user << "` again\n";
        return kFailure;
      }
      o.logins[kCognitoProvider] = saved->token;
      how = "the identity flow as " + saved->user + " (" + saved->provider + "), signed in by " +
            "`cairn login` until " + saved->expiry();
    } else {
      how = "the identity flow as a guest (no login)";
    }
    bool env_keys = std::getenv("AWS_ACCESS_KEY_ID") != nullptr;
    trace(g_, "credentials: " + how +
                  (env_keys ? "; AWS_ACCESS_KEY_ID is set but not used: developer credentials "
                              "act only on --identity-id"
                            : ""));
    return 0;
  }

  GlobalOptions g_;
  bool for_login_ = false;
  std::unique_ptr<cairn::SyncManager> manager_;
};

std::string json_report(const std::string& name, const cairn::SyncResult& r, int64_t count) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("dataset");
  w.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
  w.Key("ok");
  w.Bool(r.status.ok());
  if (!r.status.ok()) {
    std::string code = r.status.service_code();
    w.Key("error");
    w.StartObject();
    w.Key("code");
    w.String(code.c_str(), static_cast<rapidjson::SizeType>(code.size()));
    w.Key("message");
    w.String(r.status.message().c_str(),
             static_cast<rapidjson::SizeType>(r.status.message().size()));
    w.EndObject();
  }
  w.Key("pulled");
  w.Int64(r.pulled);
  w.Key("pushed");
  w.Int64(r.pushed);
  w.Key("changed_here");
  w.Int64(static_cast<int64_t>(r.updated.size()));
  w.Key("conflicts");
  w.StartArray();
  for (const auto& c : r.conflicts) {
    std::string_view how = c.resolution.name();
    w.StartObject();
    w.Key("key");
    w.String(c.key.c_str(), static_cast<rapidjson::SizeType>(c.key.size()));
    w.Key("resolution");
    w.String(how.data(), static_cast<rapidjson::SizeType>(how.size()));
    w.EndObject();
  }
  w.EndArray();
  w.Key("sync_count");
  w.Int64(count);
  w.EndObject();
  return buf.GetString();
}

// One dataset's sync. On a terminal, a pull or push that takes over half a second shows its
// progress on stderr; elsewhere, nothing but the report.
int sync_one(cairn::SyncManager& m, const std::string& name, bool json) {
  auto future = m.synchronize(name);
  bool tty = isatty(STDERR_FILENO);
  bool shown = false;
  auto started = std::chrono::steady_clock::now();
  while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (!tty || std::chrono::steady_clock::now() - started < std::chrono::milliseconds(500)) {
      continue;
    }
    auto st = m.status(name);
    std::cerr << "\r\033[K" << name << ": pulled " << st.pulled_records << " records ("
              << format_bytes(st.pulled_bytes) << ")";
    if (st.pushing_records > 0) {
      std::cerr << ", pushing " << st.pushing_records << " records ("
                << format_bytes(st.pushing_bytes) << ")";
    }
    std::cerr << std::flush;
    shown = true;
  }
  if (shown) std::cerr << "\r\033[K" << std::flush;
  const cairn::SyncResult& r = future.get();
  int64_t count = 0;
  if (auto d = m.open_or_create_dataset(name); d.ok()) {
    auto c = (*d)->last_sync_count();
    if (c.ok()) count = *c;
  }
  if (json) {
    std::cout << json_report(name, r, count) << "\n";
    return r.status.ok() ? 0 : (fail("sync " + name, r.status), kFailure);
  }
  if (!r.status.ok()) return fail("sync " + name, r.status);
  std::cout << name << ": ok, pulled " << r.pulled << ", pushed " << r.pushed << ", "
            << r.conflicts.size() << (r.conflicts.size() == 1 ? " conflict" : " conflicts")
            << ", sync count " << count << "\n";
  for (const auto& c : r.conflicts) {
    std::cout << "  conflict " << c.key << ": " << c.resolution.name() << "\n";
  }
  return 0;
}

int print_status(cairn::Dataset& d, cairn::SyncManager& m) {
  auto meta = d.metadata();
  if (!meta.ok()) return fail("status", meta.status());
  auto records = d.get_all_records();
  if (!records.ok()) return fail("status", records.status());
  std::vector<std::string> pending;
  for (const auto& r : *records) {
    if (r.dirty) pending.push_back(r.value ? r.key : r.key + " (removed)");
  }
  std::string last = meta->last_sync_result;
  if (auto st = m.status(d.name()); st.last_result) {  // this process's own syncs
    last = st.last_result->ok() ? "ok" : st.last_result->ToString();
  }
  std::cout << "dataset:          " << meta->name << "\n"
            << "records:          " << meta->record_count << " (" << meta->storage_bytes
            << " bytes)\n"
            << "pending changes:  " << meta->pending_changes << "\n";
  for (size_t i = 0; i < pending.size() && i < kPendingShown; ++i) {
    std::cout << "  " << pending[i] << "\n";
  }
  if (pending.size() > kPendingShown) {
    std::cout << "  ... and " << (pending.size() - kPendingShown) << " more\n";
  }
  std::cout << "last sync count:  "
            << (meta->last_sync_count == -1 ? std::string("deleted here, not yet on the server")
                                            : std::to_string(meta->last_sync_count))
            << "\n"
            << "last sync:        " << format_time(meta->last_sync_time)
            << (last.empty() ? "" : ", " + last) << "\n";
  return 0;
}

// `cairn login PROVIDER USER`: what a game's backend does for a player who signed in, done from
// the shell with developer credentials: GetOpenIdTokenForDeveloperIdentity, then the device signs
// in with the token. The token is saved beside the database for the commands that follow.
int login(Cli& cli, const std::string& provider, const std::string& user) {
  const GlobalOptions& g = cli.global();
  if (!g.identity_id.empty() || !g.logins.empty()) {
    return usage("login signs the device in itself: leave out --identity-id and --login");
  }
  auto chain = cairn::ChainCredentialsProvider::default_chain();
  if (!chain->credentials().ok()) {
    return usage(
        "login needs developer credentials, as a game's backend has: AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY (for cairn-server, its --admin-access-key-id and "
        "--admin-secret-access-key), or AWS_PROFILE");
  }
  cairn::ClientConfig config;
  config.endpoint = g.endpoint;
  config.region = g.region;
  config.credentials = chain;
  auto identity = cairn::CognitoIdentityClient::create(config);
  if (!identity.ok()) return fail("login", identity.status());
  auto token = (*identity)->get_open_id_token_for_developer_identity(
      {g.pool, std::nullopt, {{provider, user}}, {}, kLoginSeconds});
  if (!token.ok()) return fail("login", token.status());
  if (!token->token || !token->identity_id) {
    return fail("login", cairn::Status(cairn::ErrorCode::kParse,
                                       "GetOpenIdTokenForDeveloperIdentity answered without a "
                                       "Token or IdentityId"));
  }
  // The device signs in. What it wrote as a guest, or as this player before, follows the player;
  // another player's data stays apart, and comes back when that player signs in again.
  auto before = SavedLogin::load(g.db);
  cairn::identity::Logins logins{{kCognitoProvider, *token->token}};
  bool other_player = before && (before->provider != provider || before->user != user);
  cairn::Status s =
      other_player ? cli.manager().switch_identity(logins) : cli.manager().set_logins(logins);
  if (!s.ok()) return fail("login", s);
  SavedLogin saved{*token->token, static_cast<int64_t>(std::time(nullptr)) + kLoginSeconds,
                   *token->identity_id, provider, user};
  s = saved.save(g.db);
  if (!s.ok()) return fail("login", s);
  std::cout << "signed in as " << user << " (" << provider << "): identity " << *token->identity_id
            << ", until " << saved.expiry() << "\n";
  return 0;
}

// A value from the command line, from stdin (`-`) or from --value-file.
cairn::Result<std::string> read_value(const std::string& arg, const std::string& file,
                                      bool has_arg) {
  if (!file.empty()) {
    if (has_arg) {
      return cairn::Status(cairn::ErrorCode::kInvalidArgument,
                           "give VALUE or --value-file, not both");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return cairn::Status(cairn::ErrorCode::kInvalidArgument, "cannot read --value-file " + file);
    }
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  if (!has_arg) {
    return cairn::Status(cairn::ErrorCode::kInvalidArgument,
                         "give VALUE, - (stdin) or --value-file PATH");
  }
  if (arg == "-") {
    std::ostringstream all;
    all << std::cin.rdbuf();
    return all.str();
  }
  return arg;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "cairn: an offline-first sync engine for game clients that speaks the Amazon Cognito Sync "
      "protocol, against AWS or a self-hosted cairn-server. One --db file is one device.",
      "cairn"};
  app.set_version_flag("--version", "cairn " CAIRN_VERSION_STRING);
  GlobalOptions g;
  app.add_option("--endpoint", g.endpoint,
                 "Endpoint URL of a self-hosted server (serves both services)");
  app.add_option("--region", g.region,
                 "AWS region for the real AWS endpoints (default: AWS_REGION, AWS_DEFAULT_REGION)");
  app.add_option("--pool", g.pool, "Identity pool id (env CAIRN_POOL_ID)")
      ->envname("CAIRN_POOL_ID");
  app.add_option("--db", g.db, "The device's database file (env CAIRN_DB)")->envname("CAIRN_DB");
  app.add_option("--resolver", g.resolver, "How sync resolves conflicts: remote, local, lww, merge")
      ->check(CLI::IsMember({"remote", "local", "lww", "merge"}))
      ->default_str("merge");
  app.add_option("--identity-id", g.identity_id,
                 "The identity developer credentials act on (AWS_ACCESS_KEY_ID, AWS_PROFILE)");
  app.add_option("--login", g.logins, "PROVIDER=TOKEN login for the identity flow (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--trace", g.trace,
               "Log every request and response, and the credentials chosen, to stderr (secrets "
               "redacted)");

  std::string dataset, key, value, value_file, platform, token, provider, user;
  std::vector<std::string> datasets;
  bool json = false;
  auto* put = app.add_subcommand("put", "Write a record locally (marked dirty; no network)");
  put->add_option("DATASET", dataset)->required();
  put->add_option("KEY", key)->required();
  auto* value_arg = put->add_option("VALUE", value, "The value; - reads it from stdin");
  put->add_option("--value-file", value_file, "Read the value from this file");
  auto* rm = app.add_subcommand("rm", "Remove a record locally (a tombstone until the next sync)");
  rm->add_option("DATASET", dataset)->required();
  rm->add_option("KEY", key)->required();
  auto* get = app.add_subcommand("get", "Print a record's value (exit 3 if absent)");
  get->add_option("DATASET", dataset)->required();
  get->add_option("KEY", key)->required();
  auto* ls = app.add_subcommand("ls", "List a dataset's live records: KEY<TAB>VALUE, by key");
  ls->add_option("DATASET", dataset)->required();
  auto* list = app.add_subcommand(
      "datasets", "List local datasets: NAME<TAB>LAST_SYNC_COUNT<TAB>DIRTY<TAB>RECORDS<TAB>BYTES");
  auto* status =
      app.add_subcommand("status", "Show a dataset's pending changes and how its last sync ended");
  status->add_option("DATASET", dataset)->required();
  auto* sync = app.add_subcommand("sync", "Synchronize datasets, resolving with --resolver");
  sync->add_option("DATASET", datasets)->required();
  sync->add_flag("--json", json, "One JSON object per dataset on stdout, for scripts");
  auto* del =
      app.add_subcommand("delete", "Delete a dataset locally; the next sync deletes it remotely");
  del->add_option("DATASET", dataset)->required();
  auto* identity = app.add_subcommand("identity", "Print the identity id, obtaining one if needed");
  auto* signin = app.add_subcommand(
      "login",
      "Sign this device in as USER of your developer provider (needs developer credentials); "
      "later commands use the sign-in, saved as DB.login, for 24 hours");
  signin->add_option("PROVIDER", provider, "Your developer provider name, e.g. login.mygame")
      ->required();
  signin->add_option("USER", user, "The player's id at your provider")->required();
  auto* signout = app.add_subcommand("logout", "Forget the sign-in `login` saved (data stays)");
  auto* reg = app.add_subcommand("register-device", "Register this device for push (cached)");
  reg->add_option("PLATFORM", platform, "APNS, APNS_SANDBOX, GCM or ADM")->required();
  reg->add_option("TOKEN", token, "The platform's push token")->required();
  auto* sub = app.add_subcommand("subscribe", "Subscribe the registered device to a dataset");
  sub->add_option("DATASET", dataset)->required();
  auto* unsub = app.add_subcommand("unsubscribe", "Unsubscribe the device from a dataset");
  unsub->add_option("DATASET", dataset)->required();

  std::string commands;
  for (const auto* c : app.get_subcommands({})) {
    commands += (commands.empty() ? "" : ", ") + c->get_name();
  }
  app.allow_extras();  // the app's alone (the commands keep refusing extras): names an unknown one
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kUsage;
  }
  if (app.get_subcommands().empty()) {
    if (!app.remaining().empty()) {
      return usage("unknown command '" + app.remaining().front() + "'; the commands are " +
                   commands);
    }
    return usage("give a command: " + commands + " (--help tells more)");
  }
  if (!app.remaining().empty()) return usage("unexpected '" + app.remaining().front() + "'");
  const std::string command = app.get_subcommands().front()->get_name();

  if (signout->parsed()) {
    if (g.db.empty()) return usage("--db (or CAIRN_DB) is required");
    if (std::remove(SavedLogin::path(g.db).c_str()) != 0) {
      return usage("this device has no sign-in to forget (" + SavedLogin::path(g.db) + ")");
    }
    return 0;
  }

  bool needs_service = sync->parsed() || identity->parsed() || signin->parsed() || reg->parsed() ||
                       sub->parsed() || unsub->parsed();
  Cli cli(g);
  if (int rc = cli.open(needs_service, signin->parsed())) return rc;
  cairn::SyncManager& m = cli.manager();

  auto with_dataset = [&](const std::function<int(cairn::Dataset&)>& f) {
    auto d = m.open_or_create_dataset(dataset);
    if (!d.ok()) return fail(command, d.status());
    return f(**d);
  };
  // status and delete name a dataset the device must already hold; they write nothing otherwise.
  auto with_existing = [&](const std::function<int(cairn::Dataset&)>& f) {
    auto there = cli.exists(dataset);
    if (!there.ok()) return fail(command, there.status());
    if (!*there) return usage(command + ": this device has no dataset '" + dataset + "'");
    return with_dataset(f);
  };

  if (put->parsed()) {
    auto v = read_value(value, value_file, value_arg->count() > 0);
    if (!v.ok()) return fail("put", v.status());
    return with_dataset([&](cairn::Dataset& d) {
      cairn::Status s = d.put(key, *v);
      return s.ok() ? 0 : fail("put", s);
    });
  }
  if (rm->parsed()) {
    return with_dataset([&](cairn::Dataset& d) {
      cairn::Status s = d.remove(key);
      return s.ok() ? 0 : fail("rm", s);
    });
  }
  if (get->parsed()) {
    return with_dataset([&](cairn::Dataset& d) {
      auto v = d.get(key);
      if (!v.ok()) return fail("get", v.status());
      if (!*v) return kAbsent;
      std::cout << **v << "\n";
      return 0;
    });
  }
  if (ls->parsed()) {
    return with_dataset([&](cairn::Dataset& d) {
      auto all = d.get_all();
      if (!all.ok()) return fail("ls", all.status());
      for (const auto& [k, v] : *all) std::cout << k << "\t" << v << "\n";
      return 0;
    });
  }
  if (list->parsed()) {
    auto all = m.list_datasets();
    if (!all.ok()) return fail("datasets", all.status());
    for (const auto& d : *all) {
      std::cout << d.name << "\t" << d.last_sync_count << "\t" << d.pending_changes << "\t"
                << d.record_count << "\t" << d.storage_bytes << "\n";
    }
    return 0;
  }
  if (status->parsed()) {
    return with_existing([&](cairn::Dataset& d) { return print_status(d, m); });
  }
  if (del->parsed()) {
    return with_existing([&](cairn::Dataset& d) {
      cairn::Status s = d.delete_dataset();
      return s.ok() ? 0 : fail("delete", s);
    });
  }
  if (sync->parsed()) {
    int rc = 0;
    for (const auto& name : datasets) {
      int one = sync_one(m, name, json);
      if (one != 0) rc = rc == 0 ? one : rc;
    }
    return rc;
  }
  if (identity->parsed()) {
    auto id = m.identity_id();
    if (!id.ok()) return fail("identity", id.status());
    std::cout << *id << "\n";
    return 0;
  }
  if (signin->parsed()) return login(cli, provider, user);
  if (reg->parsed()) {
    auto id = m.register_device(platform, token);
    if (!id.ok()) return fail("register-device", id.status());
    std::cout << *id << "\n";
    return 0;
  }
  if (sub->parsed() || unsub->parsed()) {
    cairn::Status s = sub->parsed() ? m.subscribe(dataset) : m.unsubscribe(dataset);
    return s.ok() ? 0 : fail(command, s);
  }
  return kUsage;
}
