// An in-process cairn-server on a free loopback port with a throwaway database (test_db.h), plus
// helpers that make identities and clients the way a game would.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "cairn/cognito/identity.h"
#include "cairn/cognito/sync.h"
#include "server/server.h"
#include "test_db.h"

namespace cairn::testing {

inline const char* kAdminKey = "AKIDCAIRNADMIN";
inline const char* kAdminSecret = "cairn-admin-secret-for-tests";

// Whether a test set any rate limit of its own (else TestServer turns them off).
inline bool limits_given(const server::LimitsOptions& l) {
  server::LimitsOptions defaults;
  auto same = [](const server::Rate& a, const server::Rate& b) {
    return a.per_second == b.per_second && a.burst == b.burst;
  };
  return !same(l.identity_reads, defaults.identity_reads) ||
         !same(l.identity_writes, defaults.identity_writes) ||
         !same(l.source_unauthenticated, defaults.source_unauthenticated) ||
         !same(l.pool_requests, defaults.pool_requests);
}

class TestServer {
 public:
  explicit TestServer(server::ServerOptions options = {}, bool with_admin = true,
                      int read_timeout_seconds = 5,
                      const std::function<void(server::ServerConfig&)>& configure = {}) {
    char tmpl[] = "/tmp/cairn-server-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    server::ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.db = test_db_url(dir_);
    config.bootstrap_pools = {"game"};
    config.options = std::move(options);
    // Tests run as fast as the machine allows: the rate limits would make their outcome depend
    // on its speed. The tests of the limits set their own.
    if (!limits_given(config.options.limits)) {
      config.options.limits.identity_reads = {};
      config.options.limits.identity_writes = {};
      config.options.limits.source_unauthenticated = {};
      config.options.limits.pool_requests = {};
    }
    // Refusals are answered at once unless a test asks for the tarpit.
    if (config.options.limits.refusal_delay == server::LimitsOptions().refusal_delay) {
      config.options.limits.refusal_delay = std::chrono::milliseconds(0);
    }
    if (config.options.events.data_dir == server::EventsOptions().data_dir) {
      config.options.events.data_dir = dir_;  // stream files stay in the test's directory
    }
    if (config.options.admin.access_key_id.empty() && with_admin) {
      config.options.admin = {kAdminKey, kAdminSecret};
    }
    config.worker_threads = 16;
    config.read_timeout_seconds = read_timeout_seconds;
    if (configure) configure(config);
    config_ = config;
    auto started = server::Server::start(config);
    if (!started.ok()) throw std::runtime_error(started.status().ToString());
    server_ = std::move(*started);
    pool_ = server_->pools()[0].second;
  }
  // Stops the server, runs `while_down`, and starts it again on the same port and database.
  void restart(const std::function<void()>& while_down = {}) {
    int port = server_->port();
    server_.reset();
    if (while_down) while_down();
    server::ServerConfig config = config_;
    config.listen = "127.0.0.1:" + std::to_string(port);
    auto started = server::Server::start(config);
    if (!started.ok()) throw std::runtime_error(started.status().ToString());
    server_ = std::move(*started);
  }
  ~TestServer() {
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const std::string& pool() const { return pool_; }
  const std::string& dir() const { return dir_; }
  // The storage URL it runs on (sqlite:PATH, or postgresql://... in the pg.* copies).
  const std::string& db_url() const { return config_.db; }
  std::string url() const { return server_->url(); }
  server::Server& server() { return *server_; }

  ClientConfig config(CredentialsProviderPtr credentials = nullptr) const {
    ClientConfig c;
    c.endpoint = url();
    c.region = "us-east-1";
    c.credentials = credentials
                        ? credentials
                        : std::make_shared<StaticCredentialsProvider>(kAdminKey, kAdminSecret);
    c.retry.base_delay = std::chrono::milliseconds(1);
    c.retry.throttle_base_delay = std::chrono::milliseconds(1);
    return c;
  }
  std::unique_ptr<CognitoSyncClient> admin_sync() const {
    return std::move(CognitoSyncClient::create(config())).value();
  }
  std::shared_ptr<CognitoIdentityClient> admin_identity() const {
    return std::shared_ptr<CognitoIdentityClient>(
        std::move(CognitoIdentityClient::create(config())).value());
  }

  // A device: an unauthenticated identity with its own temporary credentials.
  struct Device {
    std::string identity_id;
    std::shared_ptr<CognitoIdentityCredentialsProvider> provider;
    std::unique_ptr<CognitoSyncClient> sync;
  };
  Device new_device(identity::Logins logins = {}) const {
    CognitoIdentityProviderOptions o;
    o.identity_pool_id = pool_;
    o.logins = std::move(logins);
    auto provider = std::make_shared<CognitoIdentityCredentialsProvider>(admin_identity(), o);
    auto id = provider->identity_id();
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    auto sync = std::move(CognitoSyncClient::create(config(provider))).value();
    return {*id, provider, std::move(sync)};
  }

 private:
  std::string dir_;
  server::ServerConfig config_;
  std::unique_ptr<server::Server> server_;
  std::string pool_;
};

// ListRecords from a count, following every page.
inline wire::ListRecordsResponse list_all(CognitoSyncClient& c, const std::string& pool,
                                          const std::string& id, const std::string& dataset,
                                          int64_t from = 0) {
  wire::ListRecordsResponse all;
  std::optional<std::string> next, session;
  do {
    auto page = c.list_records({pool, id, dataset, from, next, std::nullopt, session});
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (!page.ok()) break;
    for (auto& r : page->records) all.records.push_back(r);
    all.dataset_sync_count = page->dataset_sync_count;
    all.dataset_exists = page->dataset_exists;
    all.dataset_deleted_after_requested_sync_count =
        page->dataset_deleted_after_requested_sync_count;
    all.merged_dataset_names = page->merged_dataset_names;
    all.sync_session_token = page->sync_session_token;
    session = page->sync_session_token;
    next = page->next_token;
  } while (next);
  return all;
}

inline wire::RecordPatch put(const std::string& key, const std::string& value, int64_t count) {
  return {wire::kOpReplace, key, value, count, std::nullopt};
}
inline wire::RecordPatch del(const std::string& key, int64_t count) {
  return {wire::kOpRemove, key, std::nullopt, count, std::nullopt};
}

// One sync session: list, then push the patches with the session's token.
inline Result<wire::UpdateRecordsResponse> push(CognitoSyncClient& c, const std::string& pool,
                                                const std::string& id, const std::string& dataset,
                                                std::vector<wire::RecordPatch> patches) {
  auto lr = c.list_records({pool, id, dataset, 0, std::nullopt, 1, std::nullopt});
  if (!lr.ok()) return lr.status();
  wire::UpdateRecordsRequest r{
      pool, id, dataset, std::nullopt, std::move(patches), *lr->sync_session_token, std::nullopt};
  return c.update_records(r);
}

}  // namespace cairn::testing
