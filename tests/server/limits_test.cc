// Rate limits, blocks, quotas, expiry and identity deletion (server/limits.h, docs/server.md,
// Limits). Each rate limit is set with a refill so slow (one token in 1000 s) that the number of
// requests it lets through is its burst however fast or slow the machine is; the refill itself is
// tested on a manual clock.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include "cairn/sync_manager.h"
#include "fixtures/manual_clock.h"
#include "fixtures/wait.h"
#include "server_fixture.h"

namespace cairn {
namespace {

using testing::TestServer;

constexpr server::Rate kSlow(double burst) { return {0.001, burst}; }

// Records each response's Retry-After header, passing everything on to libcurl.
class RecordingTransport final : public HttpTransport {
 public:
  Result<HttpResponse> send(const HttpRequest& request) override {
    auto r = inner_->send(request);
    std::lock_guard<std::mutex> l(mu_);
    const std::string* after = r.ok() ? r->header("Retry-After") : nullptr;
    last_retry_after_ = after ? *after : "";
    return r;
  }
  std::string last_retry_after() {
    std::lock_guard<std::mutex> l(mu_);
    return last_retry_after_;
  }

 private:
  std::shared_ptr<HttpTransport> inner_ = make_curl_transport({});
  std::mutex mu_;
  std::string last_retry_after_;
};

// A client of the device's identity that does not retry, so each refusal is seen.
std::unique_ptr<CognitoSyncClient> no_retry_client(const TestServer& ts,
                                                   const TestServer::Device& d,
                                                   std::shared_ptr<HttpTransport> transport = {}) {
  ClientConfig c = ts.config(d.provider);
  c.retry.max_retries = 0;
  c.transport = std::move(transport);
  return std::move(CognitoSyncClient::create(c)).value();
}

Status list_datasets(CognitoSyncClient& c, const std::string& pool, const std::string& id) {
  return c.list_datasets({pool, id, std::nullopt, std::nullopt}).status();
}

// An unsigned Cognito Identity call over plain HTTP, with the headers given.
httplib::Result identity_call(const TestServer& ts, const std::string& operation,
                              const std::string& body, httplib::Headers headers = {}) {
  httplib::Client http(ts.url());
  headers.emplace("X-Amz-Target", "AWSCognitoIdentityService." + operation);
  return http.Post("/", headers, body, "application/x-amz-json-1.1");
}

// The pool's identities, as storage counts them (-1 when it cannot be read).
int64_t identities_in(TestServer& ts) {
  int64_t n = -1;
  Status s = ts.server().api().storage().read([&](server::StorageTxn& txn) {
    n = txn.count_identities(ts.pool());
    return Status::OK();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return n;
}

std::string get_id_body(const std::string& pool) {
  return R"({"IdentityPoolId":")" + pool + R"("})";
}

TEST(Limits, AnIdentitysReadsAreLimitedAtTheirBurstWithRetryAfterAndWritesApart) {
  server::ServerOptions o;
  o.limits.identity_reads = kSlow(5);
  o.limits.identity_writes = kSlow(3);
  TestServer ts(o);
  auto d = ts.new_device();
  auto recorder = std::make_shared<RecordingTransport>();
  auto c = no_retry_client(ts, d, recorder);
  for (int i = 0; i < 5; ++i) {
    Status s = list_datasets(*c, ts.pool(), d.identity_id);
    ASSERT_TRUE(s.ok()) << "read " << i + 1 << " of a burst of 5: " << s.ToString();
  }
  Status refused = list_datasets(*c, ts.pool(), d.identity_id);
  EXPECT_EQ(refused.code(), ErrorCode::kTooManyRequests) << refused.ToString();
  EXPECT_EQ(refused.http_status(), 429);
  EXPECT_TRUE(refused.is_throttle());
  EXPECT_EQ(recorder->last_retry_after(), "1000") << "a token comes back in 1000 s";
  // Writes have a bucket of their own: its burst of 3 passes, then the 4th is refused. (The
  // session tokens come through the admin, whose reads the device's spent bucket does not hold.)
  auto admin = ts.admin_sync();
  for (int i = 0; i < 4; ++i) {
    auto session = admin->list_records(
        {ts.pool(), d.identity_id, "w", 0, std::nullopt, std::nullopt, std::nullopt});
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    auto r = c->update_records({ts.pool(),
                                d.identity_id,
                                "w",
                                std::nullopt,
                                {testing::put("k" + std::to_string(i), "v", 0)},
                                *session->sync_session_token,
                                std::nullopt});
    if (i < 3) {
      EXPECT_TRUE(r.ok()) << "write " << i + 1 << ": " << r.status().ToString();
    } else {
      EXPECT_EQ(r.status().code(), ErrorCode::kTooManyRequests) << r.status().ToString();
    }
  }
  std::string metrics = ts.server().metrics_text();
  EXPECT_NE(metrics.find(R"(cairn_limited_total{reason="identity_reads"} 1)"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(cairn_limited_total{reason="identity_writes"} 1)"), std::string::npos)
      << metrics;
}

TEST(Limits, ADevelopersBackendIsNotLimitedPerIdentity) {
  server::ServerOptions o;
  o.limits.identity_reads = kSlow(2);
  TestServer ts(o);
  auto d = ts.new_device();
  auto admin = ts.admin_sync();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(list_datasets(*admin, ts.pool(), d.identity_id).ok());
}

TEST(Limits, ABucketRefillsWithTime) {
  auto clock = std::make_shared<testing::ManualClock>();
  server::ServerOptions o;
  o.clock = clock;
  o.limits.identity_reads = {1, 2};  // one a second, two at once
  TestServer ts(o);
  auto d = ts.new_device();
  auto c = no_retry_client(ts, d);
  ASSERT_TRUE(list_datasets(*c, ts.pool(), d.identity_id).ok());
  ASSERT_TRUE(list_datasets(*c, ts.pool(), d.identity_id).ok());
  EXPECT_EQ(list_datasets(*c, ts.pool(), d.identity_id).code(), ErrorCode::kTooManyRequests);
  clock->advance(std::chrono::milliseconds(999));
  EXPECT_EQ(list_datasets(*c, ts.pool(), d.identity_id).code(), ErrorCode::kTooManyRequests)
      << "not before a whole token is back";
  clock->advance(std::chrono::milliseconds(1));
  EXPECT_TRUE(list_datasets(*c, ts.pool(), d.identity_id).ok());
  EXPECT_EQ(list_datasets(*c, ts.pool(), d.identity_id).code(), ErrorCode::kTooManyRequests);
}

// A refused client gets its answer only after the refusal delay (here on a manual clock), so one
// that sends again as soon as it is answered slows down; the tarpit holds only so many.
TEST(Limits, ARefusalIsAnsweredAfterTheDelayAndTheTarpitIsBounded) {
  auto clock = std::make_shared<testing::ManualClock>();
  server::ServerOptions o;
  o.clock = clock;
  o.limits.source_unauthenticated = kSlow(1);
  o.limits.refusal_delay = std::chrono::seconds(2);  // not the default, which TestServer turns off
  o.limits.max_delayed = 2;
  TestServer ts(o);
  ASSERT_EQ(identity_call(ts, "GetId", get_id_body(ts.pool()))->status, 200);
  std::vector<std::thread> refused;
  std::atomic<int> answered{0};
  for (int i = 0; i < 2; ++i) {
    refused.emplace_back([&] {
      auto r = identity_call(ts, "GetId", get_id_body(ts.pool()));
      EXPECT_TRUE(r && r->body.find("TooManyRequestsException") != std::string::npos);
      ++answered;
    });
  }
  ASSERT_TRUE(testing::eventually([&] { return ts.server().api().refusals_held() == 2; }));
  // The tarpit is full: the next refusal is answered at once.
  auto third = identity_call(ts, "GetId", get_id_body(ts.pool()));
  ASSERT_TRUE(third);
  EXPECT_NE(third->body.find("TooManyRequestsException"), std::string::npos);
  EXPECT_EQ(answered.load(), 0) << "held until the clock moves";
  clock->advance(std::chrono::seconds(2));
  for (auto& t : refused) t.join();
  EXPECT_EQ(answered.load(), 2);
  EXPECT_EQ(ts.server().api().refusals_held(), 0u);
  // A server that stops answers what it holds at once, as it does its waiting polls.
  std::thread last([&] {
    auto r = identity_call(ts, "GetId", get_id_body(ts.pool()));
    EXPECT_TRUE(r && r->body.find("TooManyRequestsException") != std::string::npos);
    ++answered;
  });
  ASSERT_TRUE(testing::eventually([&] { return ts.server().api().refusals_held() == 1; }));
  ts.restart();
  last.join();
  EXPECT_EQ(answered.load(), 3);
}

TEST(Limits, TheUnauthenticatedOperationsAreLimitedPerSourceAddress) {
  server::ServerOptions o;
  o.limits.source_unauthenticated = kSlow(4);
  TestServer ts(o);
  // GetId and GetCredentialsForIdentity draw on one bucket per address.
  auto id = identity_call(ts, "GetId", get_id_body(ts.pool()));
  ASSERT_TRUE(id && id->status == 200) << (id ? id->body : "no answer");
  std::string identity = id->body.substr(id->body.find("us-east-1:"));
  identity = identity.substr(0, identity.find('"'));
  for (int i = 0; i < 3; ++i) {
    auto r =
        identity_call(ts, "GetCredentialsForIdentity", R"({"IdentityId":")" + identity + R"("})");
    ASSERT_TRUE(r && r->status == 200) << i << ": " << (r ? r->body : "no answer");
  }
  auto refused = identity_call(ts, "GetId", get_id_body(ts.pool()));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400) << "Cognito Identity answers its throttles with 400";
  EXPECT_NE(refused->body.find(R"("__type":"TooManyRequestsException")"), std::string::npos)
      << refused->body;
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1000");
  // Nothing was created by the refused call: the pool holds the one identity.
  int64_t identities = identities_in(ts);
  EXPECT_EQ(identities, 1);
}

TEST(Limits, XForwardedForCountsOnlyFromATrustedProxy) {
  for (bool trusted : {true, false}) {
    SCOPED_TRACE(trusted ? "behind a trusted proxy" : "no proxy trusted");
    server::ServerOptions o;
    o.limits.source_unauthenticated = kSlow(2);
    if (trusted) o.limits.trusted_proxies.add(*server::Cidr::parse("127.0.0.1/32"));
    TestServer ts(o);
    auto from = [&](const std::string& client) {
      auto r = identity_call(ts, "GetId", get_id_body(ts.pool()),
                             {{"X-Forwarded-For", client + ", 127.0.0.1"}});
      return r ? r->status : -1;
    };
    EXPECT_EQ(from("198.51.100.1"), 200);
    EXPECT_EQ(from("198.51.100.1"), 200);
    EXPECT_EQ(from("198.51.100.1"), 400) << "that client's burst is spent";
    // Another client behind the proxy has a bucket of its own; without a trusted proxy the
    // header is anyone's to write, so it changes nothing: the bucket is the peer's, spent.
    EXPECT_EQ(from("198.51.100.2"), trusted ? 200 : 400);
  }
}

// Writes `json` to `path` and has the server read it, as SIGHUP does.
void set_policy(TestServer& ts, const std::string& path, const std::string& json) {
  std::ofstream(path) << json;
  Status s = ts.server().api().limits().reload();
  ASSERT_TRUE(s.ok()) << s.ToString();
}

TEST(Limits, BlockedSourcesAndIdentitiesAreRefusedUntilThePolicyChanges) {
  std::string policy =
      std::string(::testing::TempDir()) + "/cairn-policy-" + std::to_string(::getpid()) + ".json";
  std::ofstream(policy) << "{}";
  server::ServerOptions o;
  o.limits.policy_file = policy;
  o.limits.trusted_proxies.add(*server::Cidr::parse("127.0.0.1"));
  TestServer ts(o);
  auto d = ts.new_device();
  auto c = no_retry_client(ts, d);
  ASSERT_TRUE(list_datasets(*c, ts.pool(), d.identity_id).ok());

  set_policy(ts, policy, R"({"blocked_identities":[")" + d.identity_id + R"("]})");
  Status blocked = list_datasets(*c, ts.pool(), d.identity_id);
  EXPECT_EQ(blocked.code(), ErrorCode::kNotAuthorized) << blocked.ToString();
  EXPECT_NE(blocked.message().find("blocked"), std::string::npos);
  auto creds = identity_call(ts, "GetCredentialsForIdentity",
                             R"({"IdentityId":")" + d.identity_id + R"("})");
  ASSERT_TRUE(creds);
  EXPECT_NE(creds->body.find("NotAuthorizedException"), std::string::npos) << creds->body;

  set_policy(ts, policy, R"({"blocked_sources":["203.0.113.0/24"]})");
  EXPECT_TRUE(list_datasets(*c, ts.pool(), d.identity_id).ok()) << "unblocked on reload";
  // What GetId answers a client behind the trusted proxy: its error type, or "" for success.
  auto from = [&](const std::string& client) -> std::string {
    auto r = identity_call(ts, "GetId", get_id_body(ts.pool()), {{"X-Forwarded-For", client}});
    if (!r) return "no answer";
    if (r->status == 200) return "";
    return r->get_header_value("x-amzn-ErrorType") + " " + std::to_string(r->status);
  };
  EXPECT_EQ(from("203.0.113.9"), "NotAuthorizedException 400");
  EXPECT_EQ(from("198.51.100.9"), "");

  // A policy with an error is refused, and the one in force stays.
  std::ofstream(policy) << R"({"blocked_sources":["not an address"]})";
  Status bad = ts.server().api().limits().reload();
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("not an address"), std::string::npos) << bad.ToString();
  EXPECT_EQ(from("203.0.113.9"), "NotAuthorizedException 400");
  std::ofstream(policy) << R"({"pools":{"p":{"identity_reads_per_secnd":1}}})";
  bad = ts.server().api().limits().reload();
  EXPECT_NE(bad.message().find("unknown setting 'identity_reads_per_secnd'"), std::string::npos)
      << bad.ToString();
  std::string metrics = ts.server().metrics_text();
  EXPECT_NE(metrics.find(R"(cairn_limited_total{reason="blocked_source"} 2)"), std::string::npos)
      << metrics;
  std::remove(policy.c_str());
}

TEST(Limits, APoolsOwnSettingsReplaceTheDefaults) {
  std::string policy = std::string(::testing::TempDir()) + "/cairn-pool-policy-" +
                       std::to_string(::getpid()) + ".json";
  std::ofstream(policy) << "{}";
  server::ServerOptions o;
  o.limits.policy_file = policy;
  o.limits.pool_requests = kSlow(1000);
  TestServer ts(o);
  auto d = ts.new_device();
  auto c = no_retry_client(ts, d);
  set_policy(
      ts, policy,
      R"({"pools":{")" + ts.pool() + R"(":{"requests_per_second":0.001,"requests_burst":3}}})");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(list_datasets(*c, ts.pool(), d.identity_id).ok()) << i;
  Status refused = list_datasets(*c, ts.pool(), d.identity_id);
  EXPECT_EQ(refused.code(), ErrorCode::kTooManyRequests);
  EXPECT_NE(refused.message().find("pool"), std::string::npos) << refused.ToString();
  std::remove(policy.c_str());
}

TEST(Quotas, APoolFullOfIdentitiesRefusesANewOneAndWritesNothing) {
  server::ServerOptions o;
  o.limits.max_identities_per_pool = 3;
  TestServer ts(o);
  for (int i = 0; i < 3; ++i) {
    auto r = identity_call(ts, "GetId", get_id_body(ts.pool()));
    ASSERT_TRUE(r && r->status == 200) << i;
  }
  auto refused = identity_call(ts, "GetId", get_id_body(ts.pool()));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_NE(refused->body.find("LimitExceededException"), std::string::npos) << refused->body;
  auto dev = ts.admin_identity()->get_open_id_token_for_developer_identity(
      {ts.pool(), std::nullopt, {{"login.cairn", "new-player"}}, {}, std::nullopt});
  EXPECT_EQ(dev.status().code(), ErrorCode::kLimitExceeded) << dev.status().ToString();
  int64_t identities = identities_in(ts);
  EXPECT_EQ(identities, 3);
  EXPECT_NE(ts.server().metrics_text().find(R"(cairn_limited_total{reason="max_identities"} 2)"),
            std::string::npos);
}

TEST(Quotas, APoolOverItsStorageRefusesTheWriteWholeAndDeletingFreesIt) {
  server::ServerOptions o;
  o.limits.max_storage_bytes_per_pool = 100;
  TestServer ts(o);
  auto a = ts.new_device();
  auto b = ts.new_device();
  std::string fifty(49, 'x');  // key "k" + 49 bytes: 50 bytes
  ASSERT_TRUE(
      testing::push(*a.sync, ts.pool(), a.identity_id, "save", {testing::put("k", fifty, 0)}).ok());
  ASSERT_TRUE(
      testing::push(*b.sync, ts.pool(), b.identity_id, "save", {testing::put("k", fifty, 0)}).ok());
  auto over = testing::push(*b.sync, ts.pool(), b.identity_id, "more",
                            {testing::put("j", "1", 0), testing::put("k", "2", 0)});
  EXPECT_EQ(over.status().code(), ErrorCode::kLimitExceeded) << over.status().ToString();
  EXPECT_TRUE(testing::list_all(*b.sync, ts.pool(), b.identity_id, "more").records.empty())
      << "nothing of the refused write";
  // Rewriting a value at the same size adds nothing, and passes.
  auto same = testing::push(*a.sync, ts.pool(), a.identity_id, "save",
                            {testing::put("k", std::string(49, 'y'), 1)});
  EXPECT_TRUE(same.ok()) << same.status().ToString();
  ASSERT_TRUE(a.sync->delete_dataset({ts.pool(), a.identity_id, "save"}).ok());
  auto after = testing::push(*b.sync, ts.pool(), b.identity_id, "more",
                             {testing::put("j", "1", 0), testing::put("k", "2", 0)});
  EXPECT_TRUE(after.ok()) << "room again once a dataset is deleted: " << after.status().ToString();
}

TEST(Expiry, OnlyIdleUnauthenticatedIdentitiesWithNoLoginAndNoDataGo) {
  auto clock = std::make_shared<testing::ManualClock>();
  server::ServerOptions o;
  o.clock = clock;
  TestServer ts(o);
  auto idle = ts.new_device();
  auto with_data = ts.new_device();
  ASSERT_TRUE(testing::push(*with_data.sync, ts.pool(), with_data.identity_id, "save",
                            {testing::put("k", "v", 0)})
                  .ok());
  auto with_login = ts.admin_identity()->get_open_id_token_for_developer_identity(
      {ts.pool(), std::nullopt, {{"login.cairn", "player-1"}}, {}, std::nullopt});
  ASSERT_TRUE(with_login.ok()) << with_login.status().ToString();
  auto active = ts.new_device();
  clock->advance(std::chrono::hours(24 * 10));
  // Active: it gets credentials again (unsigned, so the moved clock does not matter).
  auto creds = identity_call(ts, "GetCredentialsForIdentity",
                             R"({"IdentityId":")" + active.identity_id + R"("})");
  ASSERT_TRUE(creds && creds->status == 200);
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(clock->now().time_since_epoch())
                 .count();
  auto gone = ts.server().api().expire_idle_identities(now - 7LL * 24 * 3600 * 1000);
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_EQ(*gone, 1);
  std::set<std::string> left;
  ASSERT_TRUE(ts.server()
                  .api()
                  .storage()
                  .read([&](server::StorageTxn& txn) {
                    for (const auto& row : txn.identities_after(ts.pool(), "", 100))
                      left.insert(row.id);
                    return Status::OK();
                  })
                  .ok());
  EXPECT_EQ(left.count(idle.identity_id), 0u);
  EXPECT_EQ(left.count(with_data.identity_id), 1u);
  EXPECT_EQ(left.count(*with_login->identity_id), 1u);
  EXPECT_EQ(left.count(active.identity_id), 1u);
}

TEST(DeleteIdentities, TakesTheIdentitysSyncDataFromEveryTable) {
  server::ServerOptions o;
  o.events.stream_sink = "http://127.0.0.1:1/nowhere";  // deliveries fail: the row stays
  o.events.delivery_attempts = 1;
  o.events.outbox_retry_delay = std::chrono::hours(1);
  TestServer ts(o);
  ASSERT_TRUE(ts.admin_sync()
                  ->set_identity_pool_configuration(
                      {ts.pool(), std::nullopt,
                       wire::CognitoStreams{"s", "arn:aws:iam::123456789012:role/s", "ENABLED"}})
                  .ok());
  auto keep = ts.new_device();
  auto gone = ts.new_device();
  for (auto* d : {&keep, &gone}) {
    ASSERT_TRUE(
        testing::push(*d->sync, ts.pool(), d->identity_id, "save", {testing::put("k", "12345", 0)})
            .ok());
    auto reg = d->sync->register_device({ts.pool(), d->identity_id, "GCM", "t-" + d->identity_id});
    ASSERT_TRUE(reg.ok());
    ASSERT_TRUE(
        d->sync->subscribe_to_dataset({ts.pool(), d->identity_id, "save", *reg->device_id}).ok());
  }
  auto usage = [&] {
    auto u = ts.admin_sync()->describe_identity_pool_usage({ts.pool()});
    return u.ok() ? u->identity_pool_usage->data_storage.value_or(-1) : -1;
  };
  EXPECT_EQ(usage(), 12);
  auto deleted = ts.admin_identity()->delete_identities({{gone.identity_id}});
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  // Nothing of it is left, in any table.
  ASSERT_TRUE(
      ts.server()
          .api()
          .storage()
          .write([&](server::StorageTxn& txn) {
            EXPECT_FALSE(txn.identity(gone.identity_id));
            EXPECT_TRUE(txn.logins_of(gone.identity_id).empty());
            EXPECT_TRUE(txn.credentials_of(gone.identity_id).empty());
            EXPECT_FALSE(txn.dataset(gone.identity_id, "save"));
            EXPECT_TRUE(txn.records_after(gone.identity_id, "save", -1, -1, "", 10).empty());
            EXPECT_FALSE(txn.device_by_token(gone.identity_id, "GCM", "t-" + gone.identity_id));
            EXPECT_TRUE(txn.subscribers_of(gone.identity_id, "save").empty());
            auto left = txn.claim_outbox(std::numeric_limits<server::Millis>::max(), 0, 0, 100);
            for (const auto& row : left) EXPECT_NE(row.identity_id, gone.identity_id);
            EXPECT_FALSE(left.empty()) << "the other identity's rows stay";
            return Status::OK();
          })
          .ok());
  EXPECT_EQ(usage(), 6) << "the pool's usage counts only what is left";
  auto describe = ts.admin_sync()->describe_identity_usage({ts.pool(), gone.identity_id});
  EXPECT_EQ(describe.status().code(), ErrorCode::kResourceNotFound);
}

// The engine meets a throttle, waits as Retry-After asks (on a manual clock shared with the
// server, so the wait costs no time), and its sync succeeds once a token is back.
TEST(Limits, TheEngineWaitsOutAThrottleAndItsSyncLosesNothing) {
  auto clock = std::make_shared<testing::ManualClock>();
  server::ServerOptions o;
  o.clock = clock;
  o.limits.identity_writes = {0.5, 1};  // a write every 2 s
  TestServer ts(o);
  SyncManagerOptions m;
  m.endpoint = ts.url();
  m.identity_pool_id = ts.pool();
  m.clock = clock;
  m.retry.max_retries = 3;
  auto manager = SyncManager::open(m);
  ASSERT_TRUE(manager.ok()) << manager.status().ToString();
  auto save = (*manager)->open_or_create_dataset("save");
  ASSERT_TRUE(save.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*save)->put("k" + std::to_string(i), "v").ok());
    SyncResult r = (*save)->synchronize({}).get();
    ASSERT_TRUE(r.status.ok()) << "sync " << i + 1 << ": " << r.status.ToString();
  }
  EXPECT_GE(clock->sleeps().size(), 2u) << "the 2nd and 3rd pushes waited for their token";
  auto identity = (*manager)->identity_id();
  ASSERT_TRUE(identity.ok());
  auto on_server = testing::list_all(*ts.admin_sync(), ts.pool(), *identity, "save");
  EXPECT_EQ(on_server.records.size(), 3u);
  EXPECT_NE(ts.server().metrics_text().find(R"(cairn_limited_total{reason="identity_writes"})"),
            std::string::npos);
}

}  // namespace
}  // namespace cairn
