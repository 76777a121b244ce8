// cairn: the command-line tool. One --db file is one device (docs/cli.md has the contract).
//
// Exit codes: 0 success; 1 usage error; 2 a network, server, sync or storage failure (one line on
// stderr naming the error code); 3 `get` of an absent key.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

#include "cairn/sync_manager.h"

namespace {

constexpr int kUsage = 1;
constexpr int kFailure = 2;
constexpr int kAbsent = 3;

struct GlobalOptions {
  std::string endpoint;
  std::string region;
  std::string pool;
  std::string db;
  std::string resolver = "lww";
  std::string identity_id;
  std::vector<std::string> logins;
  bool trace = false;
};

// A refusal of the command's input is a usage error; everything else is a failure.
int fail(const std::string& what, const cairn::Status& s) {
  std::cerr << "cairn: " << what << ": " << s.ToString() << "\n";
  bool usage = s.code() == cairn::ErrorCode::kInvalidArgument ||
               (s.code() == cairn::ErrorCode::kInvalidParameter && s.http_status() == 0);
  return usage ? kUsage : kFailure;
}

int usage(const std::string& message) {
  std::cerr << "cairn: " << message << "\n";
  return kUsage;
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

cairn::Result<cairn::Resolver> resolver_named(const std::string& name) {
  if (name == "remote") return cairn::remote_wins();
  if (name == "local") return cairn::local_wins();
  if (name == "lww") return cairn::last_writer_wins();
  if (name == "merge") return cairn::three_way_merge();
  return cairn::Status(cairn::ErrorCode::kInvalidArgument,
                       "--resolver must be remote, local, lww or merge, not '" + name + "'");
}

class Cli {
 public:
  explicit Cli(GlobalOptions g) : g_(std::move(g)) {}

  // Opens the device. Local commands never touch the network: the manager only reads its file.
  int open(bool needs_service) {
    if (g_.db.empty()) return usage("--db (or CAIRN_DB) is required");
    if (needs_service && g_.pool.empty()) return usage("--pool (or CAIRN_POOL_ID) is required");
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
    // Developer credentials act on --identity-id; with --login, or with no credentials at all,
    // the Cognito Identity flow runs instead.
    if (o.logins.empty()) {
      auto chain = cairn::ChainCredentialsProvider::default_chain();
      if (chain->credentials().ok()) {
        if (g_.identity_id.empty() && needs_service) {
          return usage("developer credentials act on an identity: give --identity-id");
        }
        if (!g_.identity_id.empty()) {
          o.credentials = chain;
          o.identity_id = g_.identity_id;
          developer_ = true;
        }
      }
    }
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
  bool developer() const { return developer_; }

  cairn::Result<std::shared_ptr<cairn::Dataset>> dataset(const std::string& name) {
    return manager_->open_or_create_dataset(name);
  }

 private:
  GlobalOptions g_;
  std::unique_ptr<cairn::SyncManager> manager_;
  bool developer_ = false;
};

// One dataset's sync, with progress on a terminal while a long pull runs.
int sync_one(cairn::SyncManager& m, const std::string& name) {
  auto before = m.status(name).pending_changes;
  auto future = m.synchronize(name);
  bool tty = isatty(STDERR_FILENO);
  bool shown = false;
  while (future.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
    if (!tty) continue;
    auto st = m.status(name);
    std::cerr << "\r" << name << ": " << cairn::sync_state_name(st.state) << ", pulled "
              << st.pulled_records << " records" << std::flush;
    shown = true;
  }
  if (shown) std::cerr << "\r\033[K";
  const cairn::SyncResult& r = future.get();
  if (!r.status.ok()) return fail("sync " + name, r.status);
  auto after = m.open_or_create_dataset(name);
  int64_t count = 0;
  if (after.ok()) count = (*after)->last_sync_count().ok() ? *(*after)->last_sync_count() : 0;
  auto st = m.status(name);
  std::cout << name << ": ok, " << r.updated.size() << " updated here, "
            << (before - st.pending_changes) << " pushed, sync count " << count << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "cairn: an offline-first sync engine for game clients that speaks the Amazon Cognito Sync "
      "protocol, against AWS or a self-hosted cairn-server. One --db file is one device.",
      "cairn"};
  app.set_version_flag("--version", "cairn 0.1.0");
  app.require_subcommand(1);
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
      ->default_str("lww");
  app.add_option("--identity-id", g.identity_id,
                 "The identity developer credentials act on (AWS_ACCESS_KEY_ID, AWS_PROFILE)");
  app.add_option("--login", g.logins, "PROVIDER=TOKEN login for the identity flow (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--trace", g.trace, "Log every request and response to stderr (secrets redacted)");

  std::string dataset, key, value, platform, token;
  std::vector<std::string> datasets;
  auto* put = app.add_subcommand("put", "Write a record locally (marked dirty; no network)");
  put->add_option("DATASET", dataset)->required();
  put->add_option("KEY", key)->required();
  put->add_option("VALUE", value)->required();
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
  auto* status = app.add_subcommand("status", "Show a dataset's sync state and pending changes");
  status->add_option("DATASET", dataset)->required();
  auto* sync = app.add_subcommand("sync", "Synchronize datasets, resolving with --resolver");
  sync->add_option("DATASET", datasets)->required();
  auto* del =
      app.add_subcommand("delete", "Delete a dataset locally; the next sync deletes it remotely");
  del->add_option("DATASET", dataset)->required();
  auto* identity = app.add_subcommand("identity", "Print the identity id, obtaining one if needed");
  auto* reg = app.add_subcommand("register-device", "Register this device for push (cached)");
  reg->add_option("PLATFORM", platform, "APNS, APNS_SANDBOX, GCM or ADM")->required();
  reg->add_option("TOKEN", token, "The platform's push token")->required();
  auto* sub = app.add_subcommand("subscribe", "Subscribe the registered device to a dataset");
  sub->add_option("DATASET", dataset)->required();
  auto* unsub = app.add_subcommand("unsubscribe", "Unsubscribe the device from a dataset");
  unsub->add_option("DATASET", dataset)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kUsage;
  }

  bool needs_service =
      sync->parsed() || identity->parsed() || reg->parsed() || sub->parsed() || unsub->parsed();
  Cli cli(g);
  if (int rc = cli.open(needs_service)) return rc;
  cairn::SyncManager& m = cli.manager();

  auto with_dataset = [&](const std::function<int(cairn::Dataset&)>& f) {
    auto d = cli.dataset(dataset);
    if (!d.ok()) return fail(dataset, d.status());
    return f(**d);
  };

  if (put->parsed()) {
    return with_dataset([&](cairn::Dataset& d) {
      cairn::Status s = d.put(key, value);
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
    return with_dataset([&](cairn::Dataset& d) {
      auto meta = d.metadata();
      if (!meta.ok()) return fail("status", meta.status());
      std::cout << "dataset:          " << meta->name << "\n"
                << "records:          " << meta->record_count << " (" << meta->storage_bytes
                << " bytes)\n"
                << "pending changes:  " << meta->pending_changes << "\n"
                << "last sync count:  "
                << (meta->last_sync_count == -1 ? std::string("deleted here, not yet on the server")
                                                : std::to_string(meta->last_sync_count))
                << "\n"
                << "last sync:        " << format_time(meta->last_sync_time)
                << (meta->last_sync_result.empty() ? "" : ", " + meta->last_sync_result) << "\n";
      return 0;
    });
  }
  if (del->parsed()) {
    return with_dataset([&](cairn::Dataset& d) {
      cairn::Status s = d.delete_dataset();
      return s.ok() ? 0 : fail("delete", s);
    });
  }
  if (sync->parsed()) {
    int rc = 0;
    for (const auto& name : datasets) {
      int one = sync_one(m, name);
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
  if (reg->parsed()) {
    auto id = m.register_device(platform, token);
    if (!id.ok()) return fail("register-device", id.status());
    std::cout << *id << "\n";
    return 0;
  }
  if (sub->parsed() || unsub->parsed()) {
    cairn::Status s = sub->parsed() ? m.subscribe(dataset) : m.unsubscribe(dataset);
    return s.ok() ? 0 : fail(sub->parsed() ? "subscribe" : "unsubscribe", s);
  }
  return kUsage;
}
