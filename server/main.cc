// cairn-server: a self-hostable Cognito Sync and Cognito Identity server (docs/server.md).
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "server/server.h"

int main(int argc, char** argv) {
  CLI::App app{
      "cairn-server: a self-hostable, wire-compatible Cognito Sync + Cognito Identity server",
      "cairn-server"};
  cairn::server::ServerConfig config;
  std::string log_level = "info";
  app.add_option("--listen", config.listen, "HOST:PORT to listen on; port 0 picks a free port")
      ->capture_default_str();
  app.add_option("--db", config.db, "Storage: sqlite:PATH")->capture_default_str();
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
  app.add_option("--workers", config.worker_threads,
                 "HTTP worker threads: one per connection open at once (keep-alive included)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--read-timeout", config.read_timeout_seconds,
                 "Seconds a client may stall in the middle of a request (or of reading an answer) "
                 "before its connection is closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--tls-cert", config.tls_cert_file,
                 "Serve HTTPS with this PEM certificate (chain); needs --tls-key");
  app.add_option("--tls-key", config.tls_key_file, "The PEM private key of --tls-cert");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  CLI11_PARSE(app, argc, argv);

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
  config.options.logger = std::make_shared<cairn::Logger>(
      [](cairn::LogLevel l, std::string_view line) {
        std::cerr << cairn::log_level_name(l) << " " << line << "\n";
      },
      level);

  // SIGINT and SIGTERM are taken by one waiting thread, not by whichever thread they hit.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
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
    int sig = 0;
    sigwait(&signals, &sig);
    config.options.logger->log(cairn::LogLevel::kInfo, std::string("stopping on ") +
                                                           (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    (*server)->stop();
  });
  (*server)->wait();
  signal_waiter.join();
  server->reset();  // in-flight requests are done; the database closes here
  return 0;
}
