// cairn-server: a self-hostable Cognito Sync and Cognito Identity server (docs/server.md).
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "server/server.h"
#include "server/storage/migrate.h"

namespace {

// `cairn-server migrate --from URL --to URL`: copies every row, then verifies the copy.
int run_migrate(const std::string& from_url, const std::string& to_url) {
  // Opening SQLite creates the file: a mistyped source path would copy an empty server.
  if (from_url.rfind("sqlite:", 0) == 0 && !std::filesystem::exists(from_url.substr(7))) {
    std::cerr << "cairn-server migrate: --from " << from_url << ": the file does not exist\n";
    return 2;
  }
  auto from = cairn::server::open_storage(from_url);
  if (!from.ok()) {
    std::cerr << "cairn-server migrate: --from: " << from.status().message() << "\n";
    return 2;
  }
  auto to = cairn::server::open_storage(to_url);
  if (!to.ok()) {
    std::cerr << "cairn-server migrate: --to: " << to.status().message() << "\n";
    return 2;
  }
  std::cout << "migrating " << (*from)->describe() << " -> " << (*to)->describe() << std::endl;
  int64_t pools = 0;
  auto census = cairn::server::migrate_storage(**from, **to, [&](const std::string& pool) {
    std::cout << "  pool " << ++pools << ": " << pool << std::endl;
  });
  if (!census.ok()) {
    std::cerr << "cairn-server migrate: " << census.status().message() << "\n";
    return 1;
  }
  std::cout << "copied and verified: " << census->summary() << "\n"
            << "sha256 " << census->sha256 << std::endl;
  return 0;
}

// The signing key from --signing-key-file (trailing whitespace dropped) or CAIRN_SIGNING_KEY.
bool read_signing_key(const std::string& file, std::string* key) {
  if (file.empty()) {
    if (const char* env = std::getenv("CAIRN_SIGNING_KEY")) *key = env;
    return true;
  }
  std::ifstream in(file);
  if (!in) {
    std::cerr << "cairn-server: cannot read --signing-key-file '" << file << "'\n";
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  *key = text.str();
  while (!key->empty() && std::isspace(static_cast<unsigned char>(key->back()))) key->pop_back();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "cairn-server: a self-hostable, wire-compatible Cognito Sync + Cognito Identity server",
      "cairn-server"};
  cairn::server::ServerConfig config;
  std::string log_level = "info";
  app.add_option("--listen", config.listen, "HOST:PORT to listen on; port 0 picks a free port")
      ->capture_default_str();
  app.add_option(
         "--db", config.db,
         "Storage: sqlite:PATH, or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME] "
         "for several instances on one database")
      ->capture_default_str();
  app.add_option("--durability", config.durability,
                 "SQLite: full (the default) syncs every commit to disk before it is acknowledged; "
                 "normal syncs only at checkpoints, faster, and a power loss or OS crash may lose "
                 "the last acknowledged writes (docs/server.md, Durability)")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, cairn::server::Durability>{
              {"full", cairn::server::Durability::kFull},
              {"normal", cairn::server::Durability::kNormal}},
          CLI::ignore_case))
      ->default_str("full");
  app.add_option("--db-pool-size", config.db_pool_size,
                 "PostgreSQL connections this instance opens at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  std::string signing_key_file;
  app.add_option("--signing-key-file", signing_key_file,
                 "File holding the key that signs sync session and page tokens (at least 32 "
                 "characters; default: CAIRN_SIGNING_KEY, else a key kept in the database). Give "
                 "every instance the same one");
  app.add_option("--region", config.options.region, "Region part of every pool id and identity id")
      ->capture_default_str();
  app.add_option("--admin-access-key-id", config.options.admin.access_key_id,
                 "Developer credentials' access key id")
      ->envname("CAIRN_ADMIN_ACCESS_KEY_ID");
  app.add_option("--admin-secret-access-key", config.options.admin.secret_access_key,
                 "Developer credentials' secret key")
      ->envname("CAIRN_ADMIN_SECRET_ACCESS_KEY");
  app.add_option("--bootstrap-pool", config.bootstrap_pools,
                 "Make sure an identity pool NAME exists (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--sync-session-ttl", config.options.sync_session_ttl_seconds,
                 "Seconds a SyncSessionToken stays valid")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--credentials-ttl", config.options.credentials_ttl_seconds,
                 "Seconds temporary credentials stay valid")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--bulk-publish-rate", config.options.bulk_publish_records_per_second,
                 "Records per second a bulk publish may emit (0: unpaced)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--admin-listen", config.admin_listen,
                 "HOST:PORT for GET /metrics and /health alone, kept off the public address "
                 "(without it, /metrics is served on --listen)");
  app.add_flag("--reuse-port", config.reuse_port,
               "Let other processes listen on the same port (SO_REUSEPORT); the kernel spreads "
               "connections among them. Only for instances that share one database: without it, "
               "a port in use stops the start");
  app.add_option("--workers", config.worker_threads,
                 "Threads that run requests (they touch storage); 0: from the cores and the "
                 "storage. Connections hold no thread")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  app.add_option("--io-threads", config.io_threads,
                 "Threads that read and write connections; 0: one per two cores")
      ->capture_default_str()
      ->check(CLI::Range(0, 64));
  app.add_option("--max-connections", config.max_connections,
                 "Connections open at once at most; the next is answered 503 and closed. The "
                 "open-file limit is raised to match")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  app.add_option("--max-listeners-per-identity", config.options.max_listeners_per_identity,
                 "Notification connections (long polls, WebSockets) one identity may hold at "
                 "once; the next is refused with LimitExceededException")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--keep-alive", config.keep_alive_seconds,
                 "Seconds an idle keep-alive connection is kept for its next request")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--gzip-level", config.gzip_level,
                 "zlib level of the gzip a response of 1 KB or more gets when its client sends "
                 "Accept-Encoding: gzip (cairn's engine does; boto3, the AWS CLI and the JS SDK do "
                 "not): 1 is fastest, 9 smallest, 0 turns it off")
      ->capture_default_str()
      ->check(CLI::Range(0, 9));
  app.add_option("--read-timeout", config.read_timeout_seconds,
                 "Seconds a client may stall in the middle of a request (or of reading an answer) "
                 "before its connection is closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--tls-cert", config.tls_cert_file,
                 "Serve HTTPS with this PEM certificate (chain); needs --tls-key");
  app.add_option("--tls-key", config.tls_key_file, "The PEM private key of --tls-cert");
  std::vector<std::string> webhooks;
  app.add_option("--push-webhook", webhooks,
                 "POOL_ID=URL, or URL for every pool: POST each push notification there, with "
                 "the device's platform and token, for your own APNS/FCM sender (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--stream-sink", config.options.events.stream_sink,
                 "Where Cognito Streams records go: an http(s) URL to POST each to, or empty for "
                 "NDJSON files under --data-dir/streams");
  app.add_option("--data-dir", config.options.events.data_dir,
                 "Directory for the server's files other than the database (stream files)")
      ->capture_default_str();
  app.add_option("--stream-rotate-bytes", config.options.events.stream_rotate_bytes,
                 "An NDJSON stream file past this size is renamed with its time and a new one "
                 "started")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  // Rate limits, blocks and quotas (server/limits.h, docs/server.md).
  auto& limits = config.options.limits;
  auto rate_flags = [&](const std::string& name, cairn::server::Rate* rate, const char* what) {
    app.add_option("--" + name + "-per-second", rate->per_second,
                   std::string(what) + ": requests a second (0: no limit)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--" + name + "-burst", rate->burst,
                   std::string(what) + ": requests at once before the rate applies")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
  };
  rate_flags("identity-reads", &limits.identity_reads,
             "Per identity, its Cognito Sync reads (ListRecords, ListDatasets, ...)");
  rate_flags("identity-writes", &limits.identity_writes,
             "Per identity, its Cognito Sync writes (UpdateRecords, DeleteDataset, ...)");
  rate_flags("source", &limits.source_unauthenticated,
             "Per client address, GetId, GetCredentialsForIdentity and GetOpenIdToken together");
  rate_flags("pool-requests", &limits.pool_requests, "Per identity pool, every call naming it");
  app.add_option("--max-identities-per-pool", limits.max_identities_per_pool,
                 "Identities a pool may hold; past that GetId refuses with LimitExceededException "
                 "(0: no quota)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-storage-per-pool", limits.max_storage_bytes_per_pool,
                 "Bytes of records (keys and values) a pool may hold; past that UpdateRecords "
                 "refuses with LimitExceededException (0: no quota)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  std::vector<std::string> trusted_proxies;
  app.add_option("--trusted-proxy", trusted_proxies,
                 "CIDR of a load balancer or proxy whose X-Forwarded-For names the client "
                 "(repeatable); from anyone else the header is ignored")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  int64_t refusal_delay_ms = limits.refusal_delay.count();
  app.add_option("--refusal-delay-ms", refusal_delay_ms,
                 "A request refused by a rate limit or a block is answered this late, so that a "
                 "client sending again at once slows down (0: at once)")
      ->capture_default_str()
      ->check(CLI::Range(0, 60000));
  app.add_option("--policy", limits.policy_file,
                 "JSON file of blocked sources and identities and per-pool limits, read again "
                 "on SIGHUP (docs/server.md, Limits)");
  app.add_option("--expire-unauthenticated", config.options.expire_unauthenticated_days,
                 "Delete unauthenticated identities with no login and no data, not active for "
                 "this many days, hourly (0: never)")
      ->capture_default_str()
      ->check(CLI::Range(0, 36500));
  int64_t outbox_max_age_hours = 24;
  app.add_option("--outbox-max-age", outbox_max_age_hours,
                 "Hours a change's webhook posts and stream record are tried before they are "
                 "given up (a receiver down that long)")
      ->capture_default_str()
      ->check(CLI::Range(1, 24 * 365));
  app.add_option("--outbox-max-rows", config.options.events.outbox_max_rows,
                 "Changes with deliveries still to make, at most; past that the oldest are given "
                 "up")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1000}, int64_t{1} << 40));
  int64_t outbox_lease_seconds = 60;
  app.add_option("--outbox-lease", outbox_lease_seconds,
                 "Seconds an instance holds a change's deliveries before another instance on the "
                 "same PostgreSQL database may take them over (after a crash)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "text (TIME LEVEL message) or json (one object a line, for log pipelines)")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  std::string migrate_from, migrate_to;
  CLI::App* migrate = app.add_subcommand(
      "migrate",
      "Copy everything from one storage to another, then verify the copy (stop the "
      "servers on --from first)");
  migrate->add_option("--from", migrate_from, "Source storage: sqlite:PATH or postgresql://...")
      ->required();
  migrate->add_option("--to", migrate_to, "Target storage, empty: postgresql://... or sqlite:PATH")
      ->required();
  std::string backup_db, backup_to, restore_from, restore_db;
  CLI::App* backup = app.add_subcommand(
      "backup",
      "Copy the server's storage, running or not, into FILE (a SQLite file) as one consistent "
      "snapshot");
  backup->add_option("--db", backup_db, "The server's storage: sqlite:PATH or postgresql://...")
      ->required();
  backup->add_option("--to", backup_to, "The backup file")->required();
  CLI::App* restore = app.add_subcommand(
      "restore",
      "Put a backup back: into sqlite:PATH, replacing its contents (stop the server first); into "
      "PostgreSQL, only an empty database or schema");
  restore->add_option("--from", restore_from, "The backup file")->required();
  restore->add_option("--db", restore_db, "The server's storage: sqlite:PATH or postgresql://...")
      ->required();
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);
  if (migrate->parsed()) return run_migrate(migrate_from, migrate_to);
  if (backup->parsed() || restore->parsed()) {
    const std::string& url = backup->parsed() ? backup_db : restore_db;
    const char* what = backup->parsed() ? "backup" : "restore";
    cairn::Status s = backup->parsed() ? cairn::server::backup_storage(url, backup_to)
                                       : cairn::server::restore_storage(restore_from, url);
    if (!s.ok()) {
      std::cerr << "cairn-server " << what << ": " << s.message() << "\n";
      return 1;
    }
    // The URL as typed, but for a password in it.
    std::string shown = url;
    size_t scheme = shown.find("://"), at = shown.find('@');
    if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
      size_t colon = shown.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) shown.replace(colon + 1, at - colon - 1, "***");
    }
    std::cout << (backup->parsed() ? "backed up " + shown + " to " + backup_to
                                   : "restored " + restore_from + " into " + shown)
              << std::endl;
    return 0;
  }
  for (const auto& text : trusted_proxies) {
    auto range = cairn::server::Cidr::parse(text);
    if (!range.ok()) {
      std::cerr << "cairn-server: --trusted-proxy " << range.status().message() << "\n";
      return 2;
    }
    limits.trusted_proxies.add(*range);
  }
  limits.refusal_delay = std::chrono::milliseconds(refusal_delay_ms);
  config.options.events.outbox_max_age = std::chrono::hours(outbox_max_age_hours);
  config.options.events.outbox_lease = std::chrono::seconds(outbox_lease_seconds);
  if (!read_signing_key(signing_key_file, &config.options.signing_key)) return 2;
  for (const auto& hook : webhooks) {
    auto is_url = [](const std::string& u) {
      return u.rfind("http://", 0) == 0 || u.rfind("https://", 0) == 0;
    };
    size_t eq = hook.find('=');
    std::string pool = is_url(hook) || eq == std::string::npos ? "*" : hook.substr(0, eq);
    std::string url = pool == "*" ? hook : hook.substr(eq + 1);
    if (!is_url(url)) {
      std::cerr << "cairn-server: --push-webhook '" << hook << "' needs an http(s) URL\n";
      return 2;
    }
    config.options.events.push_webhooks[pool] = url;
  }
  const std::string& sink = config.options.events.stream_sink;
  if (!sink.empty() && sink.rfind("http://", 0) != 0 && sink.rfind("https://", 0) != 0) {
    std::cerr << "cairn-server: --stream-sink takes an http(s) URL (or nothing, for files)\n";
    return 2;
  }

  if (config.options.admin.access_key_id.empty() !=
      config.options.admin.secret_access_key.empty()) {
    std::cerr << "cairn-server: give both --admin-access-key-id and --admin-secret-access-key\n";
    return 2;
  }
  cairn::LogLevel level = cairn::LogLevel::kInfo;
  for (auto l : {cairn::LogLevel::kTrace, cairn::LogLevel::kDebug, cairn::LogLevel::kInfo,
                 cairn::LogLevel::kWarn, cairn::LogLevel::kError, cairn::LogLevel::kOff}) {
    std::string name(cairn::log_level_name(l));
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (name == log_level) level = l;
  }
  config.options.log_format =
      log_format == "json" ? cairn::server::LogFormat::kJson : cairn::server::LogFormat::kText;
  config.options.logger = std::make_shared<cairn::Logger>(
      cairn::server::make_log_sink(config.options.log_format, std::cerr), level);

  // SIGINT, SIGTERM and SIGHUP are taken by one waiting thread, not by whichever thread they hit.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = cairn::server::Server::start(config);
  if (!server.ok()) {
    std::cerr << "cairn-server: " << server.status().message() << "\n";
    return 2;
  }
  for (const auto& [name, id] : (*server)->pools()) {
    std::cout << "identity-pool " << name << " " << id << "\n";
  }
  std::cout << "cairn-server listening on " << (*server)->url() << std::endl;

  std::thread signal_waiter([&] {
    for (;;) {
      int sig = 0;
      sigwait(&signals, &sig);
      if (sig == SIGHUP) {
        // The policy file again; a file with an error leaves the policy in force.
        cairn::Status s = (*server)->api().limits().reload();
        if (s.ok()) {
          config.options.logger->log(cairn::LogLevel::kInfo,
                                     "SIGHUP: policy reloaded from " + limits.policy_file);
        } else {
          config.options.logger->log(
              cairn::LogLevel::kError,
              "SIGHUP: policy not reloaded, the old one stays: " + s.message());
        }
        continue;
      }
      config.options.logger->log(
          cairn::LogLevel::kInfo,
          std::string("stopping on ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
      (*server)->stop();
      return;
    }
  });
  (*server)->wait();
  signal_waiter.join();
  server->reset();  // in-flight requests are done; the database closes here
  return 0;
}
