// Several cairn-server processes on one PostgreSQL database, as operators run them behind a load
// balancer (run as pg.MultiInstance.*). Everything one instance hands out (credentials, session
// tokens, page tokens, OpenID tokens) works on the others; concurrent pushes of one sync count
// from different instances have exactly one winner; devices pinned to either instance, and one
// whose every request goes to the next instance in turn, converge with nothing lost; usage counts
// stay exact; and a revocation on one instance ends the credentials on the others.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "cairn/cognito/identity.h"
#include "cairn/cognito/sync.h"
#include "cairn/sync_manager.h"
#include "fixtures/fault_proxy.h"
#include "fixtures/server_process.h"
#include "fixtures/stamps.h"
#include "fixtures/wait.h"
#include "server_fixture.h"
#include "temp_dir.h"
#include "test_db.h"
#include "transport/notification_socket.h"

namespace cairn {
namespace {

using testing::ServerProcess;

constexpr char kAdminKey[] = "AKIDMULTI";
constexpr char kAdminSecret[] = "multi-instance-admin-secret";

ServerProcess start_instance(const std::string& db, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--listen",
                                   "127.0.0.1:0",
                                   "--db",
                                   db,
                                   "--bootstrap-pool",
                                   "game",
                                   "--admin-access-key-id",
                                   kAdminKey,
                                   "--admin-secret-access-key",
                                   kAdminSecret,
                                   "--db-pool-size",
                                   "8",
                                   "--log-level",
                                   "warn"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::start(CAIRN_SERVER, args);
}

ClientConfig config_for(const std::string& url, CredentialsProviderPtr credentials = nullptr) {
  ClientConfig c;
  c.endpoint = url;
  c.region = "us-east-1";
  c.credentials = credentials
                      ? credentials
                      : std::make_shared<StaticCredentialsProvider>(kAdminKey, kAdminSecret);
  c.retry.max_retries = 8;
  c.retry.base_delay = std::chrono::milliseconds(2);
  c.retry.throttle_base_delay = std::chrono::milliseconds(2);
  return c;
}
std::unique_ptr<CognitoSyncClient> sync_client(const std::string& url,
                                               CredentialsProviderPtr credentials = nullptr) {
  return std::move(CognitoSyncClient::create(config_for(url, std::move(credentials)))).value();
}
std::shared_ptr<CognitoIdentityClient> identity_client(const std::string& url) {
  return std::shared_ptr<CognitoIdentityClient>(
      std::move(CognitoIdentityClient::create(config_for(url))).value());
}

// Two instances on a fresh schema, started at the same moment (both migrate and bootstrap).
struct TwoInstances : ::testing::Test {
  std::string db = cairn::testing::fresh_postgres_db();
  ServerProcess a, b;
  std::string pool;

  void SetUp() override {
    std::thread ta([&] { a = start_instance(db); });
    std::thread tb([&] { b = start_instance(db); });
    ta.join();
    tb.join();
    ASSERT_FALSE(a.url.empty()) << "instance a did not start";
    ASSERT_FALSE(b.url.empty()) << "instance b did not start";
    ASSERT_EQ(a.pool, b.pool) << "both instances bootstrapped the same pool";
    pool = a.pool;
  }

  // A device's credentials: an unauthenticated identity, its credentials issued by a.
  std::shared_ptr<CognitoIdentityCredentialsProvider> new_device_on_a() {
    CognitoIdentityProviderOptions o;
    o.identity_pool_id = pool;
    return std::make_shared<CognitoIdentityCredentialsProvider>(identity_client(a.url), o);
  }
};

// Rate limits hold per instance (docs/server.md, Limits): each keeps its own buckets, so a client
// spread over N instances gets up to N times each rate. A block, read from the shared policy file
// by every instance, holds on all of them.
TEST(MultiInstanceLimits, EachInstanceKeepsItsOwnBucketsAndEveryOneHoldsTheBlocks) {
  std::string db = cairn::testing::fresh_postgres_db();
  char tmpl[] = "/tmp/cairn-multi-policy-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string policy = dir + "/policy.json";
  std::ofstream(policy) << "{}";
  std::vector<std::string> limits = {
      "--identity-reads-per-second", "0.001", "--identity-reads-burst", "2", "--policy", policy};
  ServerProcess a = start_instance(db, limits), b = start_instance(db, limits);
  ASSERT_FALSE(a.url.empty() || b.url.empty());
  CognitoIdentityProviderOptions o;
  o.identity_pool_id = a.pool;
  auto provider = std::make_shared<CognitoIdentityCredentialsProvider>(identity_client(a.url), o);
  auto id = provider->identity_id();
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto client_of = [&](const std::string& url) {
    ClientConfig c = config_for(url, provider);
    c.retry.max_retries = 0;
    return std::move(CognitoSyncClient::create(c)).value();
  };
  auto on_a = client_of(a.url), on_b = client_of(b.url);
  auto read = [&](CognitoSyncClient& c) {
    return c.list_datasets({a.pool, *id, std::nullopt, std::nullopt}).status().code();
  };
  for (auto* c : {on_a.get(), on_b.get()}) {
    EXPECT_EQ(read(*c), ErrorCode::kOk);
    EXPECT_EQ(read(*c), ErrorCode::kOk);
    EXPECT_EQ(read(*c), ErrorCode::kTooManyRequests) << "this instance's burst is spent";
  }
  std::ofstream(policy) << R"({"blocked_identities":[")" + *id + R"("]})";
  kill(a.pid, SIGHUP);
  kill(b.pid, SIGHUP);
  for (auto* c : {on_a.get(), on_b.get()}) {
    EXPECT_TRUE(cairn::testing::eventually([&] { return read(*c) == ErrorCode::kNotAuthorized; }));
  }
  std::filesystem::remove_all(dir);
}

TEST_F(TwoInstances, CredentialsSessionTokensAndPageTokensFromOneInstanceWorkOnTheOther) {
  // Credentials from a, used on b.
  auto provider = new_device_on_a();
  auto id = provider->identity_id();
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto on_a = sync_client(a.url, provider);
  auto on_b = sync_client(b.url, provider);

  // A session opened on a, pushed on b.
  auto session = on_a->list_records({pool, *id, "save", 0, std::nullopt, 1, std::nullopt});
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  std::vector<wire::RecordPatch> patches;
  for (int i = 0; i < 5; ++i) patches.push_back(testing::put("k" + std::to_string(i), "v", 0));
  auto pushed = on_b->update_records(
      {pool, *id, "save", std::nullopt, patches, *session->sync_session_token, std::nullopt});
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  EXPECT_EQ(pushed->records.size(), 5u);

  // A page token from a, followed on b.
  auto first = on_a->list_records({pool, *id, "save", 0, std::nullopt, 2, std::nullopt});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->next_token);
  size_t seen = first->records.size();
  std::optional<std::string> next = first->next_token;
  while (next) {
    auto page = on_b->list_records({pool, *id, "save", 0, next, 2, first->sync_session_token});
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    seen += page->records.size();
    next = page->next_token;
  }
  EXPECT_EQ(seen, 5u);

  // An OpenID token a signed logs in on b.
  auto token = identity_client(a.url)->get_open_id_token_for_developer_identity(
      {pool, std::nullopt, {{"login.cairn", "player-1"}}, {}, std::nullopt});
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  auto creds = identity_client(b.url)->get_credentials_for_identity(
      {*token->identity_id, {{"cognito-identity.amazonaws.com", *token->token}}, std::nullopt});
  EXPECT_TRUE(creds.ok()) << creds.status().ToString();
}

TEST_F(TwoInstances, ConcurrentPushesOfOneSyncCountThroughBothInstancesHaveExactlyOneWinner) {
  constexpr int kWriters = 8, kRounds = 20;
  const std::string identity = "us-east-1:11111111-2222-3333-4444-555555555555";
  std::vector<std::unique_ptr<CognitoSyncClient>> clients;
  for (int w = 0; w < kWriters; ++w) clients.push_back(sync_client(w % 2 ? b.url : a.url));
  int conflicts = 0, others = 0;
  for (int round = 0; round < kRounds; ++round) {
    // Every writer opens its session first, so all of them push the same count at once.
    std::vector<std::string> sessions;
    for (auto& c : clients) {
      auto lr = c->list_records({pool, identity, "race", 0, std::nullopt, 1, std::nullopt});
      ASSERT_TRUE(lr.ok()) << lr.status().ToString();
      sessions.push_back(*lr->sync_session_token);
    }
    std::atomic<int> ready{0};
    std::vector<Status> outcomes(kWriters);
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        ++ready;
        while (ready.load() < kWriters) std::this_thread::yield();
        auto r = clients[static_cast<size_t>(w)]->update_records(
            {pool,
             identity,
             "race",
             std::nullopt,
             {testing::put("k", "writer " + std::to_string(w), round)},
             sessions[static_cast<size_t>(w)],
             std::nullopt});
        outcomes[static_cast<size_t>(w)] = r.ok() ? Status::OK() : r.status();
      });
    }
    for (auto& t : threads) t.join();
    int wins = 0;
    for (const auto& s : outcomes) {
      if (s.ok()) {
        ++wins;
      } else if (s.code() == ErrorCode::kResourceConflict) {
        ++conflicts;
      } else {
        ++others;
        ADD_FAILURE() << "round " << round << ": " << s.ToString();
      }
    }
    ASSERT_EQ(wins, 1) << "round " << round;
  }
  EXPECT_EQ(conflicts, kRounds * (kWriters - 1));
  EXPECT_EQ(others, 0);
  auto ds = sync_client(b.url)->describe_dataset({pool, identity, "race"});
  ASSERT_TRUE(ds.ok()) << ds.status().ToString();
  EXPECT_EQ(ds->dataset->num_records, 1);
  auto all = testing::list_all(*sync_client(a.url), pool, identity, "race");
  EXPECT_EQ(all.dataset_sync_count, kRounds);
  std::printf(
      "\nmulti-instance race: %d rounds x %d writers over 2 instances: %d winners, %d "
      "conflicts, %d other outcomes\n",
      kRounds, kWriters, kRounds, conflicts, others);
}

TEST_F(TwoInstances, DevicesOnEitherInstanceAndOneSwitchingEveryRequestConvergeLosingNothing) {
  // The balancer sends each request of device 0 to the next instance: its ListRecords and
  // UpdateRecords of one sync land on different instances.
  testing::FaultProxy balancer({a.port(), b.port()}, 1);
  testing::TempDir dir("cairn-multi");
  auto token = identity_client(a.url)->get_open_id_token_for_developer_identity(
      {pool, std::nullopt, {{"login.cairn", "player"}}, {}, std::nullopt});
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  identity::Logins logins{{"cognito-identity.amazonaws.com", *token->token}};
  std::vector<std::string> endpoints = {balancer.url(), a.url, b.url};
  std::vector<std::unique_ptr<SyncManager>> devices;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    SyncManagerOptions o;
    o.endpoint = endpoints[i];
    o.region = "us-east-1";
    o.identity_pool_id = pool;
    o.database_path = dir.path + "/d" + std::to_string(i) + ".db";
    o.logins = logins;
    o.resolver = testing::highest_stamp;
    o.retry.base_delay = std::chrono::milliseconds(1);
    o.retry.throttle_base_delay = std::chrono::milliseconds(1);
    auto m = SyncManager::open(std::move(o));
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    devices.push_back(std::move(*m));
  }
  auto sync = [&](size_t d) {
    auto f = devices[d]->synchronize("save", {});
    EXPECT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    return f.get();
  };

  std::mt19937_64 rng(42);
  std::map<std::string, std::string> newest;  // key -> the newest write, by stamp
  int64_t stamp = 0;
  int failed = 0;
  constexpr int kCycles = 150;
  // Devices sync concurrently, in pairs, so pushes through different instances really race.
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    size_t d1 = rng() % devices.size(), d2 = (d1 + 1 + rng() % 2) % devices.size();
    for (size_t d : {d1, d2}) {
      auto ds = devices[d]->open_or_create_dataset("save");
      ASSERT_TRUE(ds.ok());
      for (int w = 0, n = static_cast<int>(1 + rng() % 2); w < n; ++w) {
        std::string key = "k" + std::to_string(rng() % 10);
        std::string value = std::to_string(++stamp) + ":" + std::to_string(d);
        ASSERT_TRUE((*ds)->put(key, value).ok());
        newest[key] = value;
      }
    }
    auto f1 = devices[d1]->synchronize("save", {});
    auto f2 = devices[d2]->synchronize("save", {});
    for (auto* f : {&f1, &f2}) {
      ASSERT_EQ(f->wait_for(std::chrono::seconds(60)), std::future_status::ready);
      if (!f->get().status.ok()) ++failed;
    }
  }
  for (int round = 0; round < 2; ++round) {
    for (size_t d = 0; d < devices.size(); ++d) {
      auto r = sync(d);
      EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    }
  }

  auto on_server = testing::list_all(*sync_client(b.url), pool, *token->identity_id, "save");
  std::map<std::string, std::string> server_values;
  for (const auto& r : on_server.records) {
    if (r.value) server_values[*r.key] = *r.value;
  }
  EXPECT_EQ(server_values, newest) << "every key holds its newest write";
  for (auto& d : devices) {
    auto local = (*d->open_or_create_dataset("save"))->get_all();
    ASSERT_TRUE(local.ok());
    EXPECT_EQ(*local, server_values);
    EXPECT_EQ(d->status("save").pending_changes, 0);
  }
  auto spread = balancer.requests_per_upstream();
  EXPECT_GT(spread[0], 0u);
  EXPECT_GT(spread[1], 0u);
  int64_t conflicts = 0, push_retries = 0;
  for (auto& d : devices) {
    conflicts += d->stats().conflicts;
    push_retries += d->stats().push_retries;
  }
  std::printf(
      "\nmulti-instance convergence: %d cycles, 3 devices, %lld writes, %d syncs failed "
      "and were retried, %lld conflicts resolved, %lld pushes retried after a 409; the "
      "switching device sent %llu requests to a and %llu to b\n",
      kCycles, static_cast<long long>(stamp), failed, static_cast<long long>(conflicts),
      static_cast<long long>(push_retries), static_cast<unsigned long long>(spread[0]),
      static_cast<unsigned long long>(spread[1]));
}

TEST_F(TwoInstances, SyncSessionCountsAreExactAcrossInstances) {
  constexpr int kThreads = 8, kSessionsEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto c = sync_client(t % 2 ? b.url : a.url);
      std::string identity = "us-east-1:00000000-0000-0000-0000-00000000000" + std::to_string(t);
      for (int i = 0; i < kSessionsEach; ++i) {
        if (!c->list_records({pool, identity, "save", 0, std::nullopt, 1, std::nullopt}).ok())
          ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  // Each instance writes its count within a second; a usage read then sees all of them.
  auto sessions_once_at_least = [&](int64_t want) {
    int64_t seen = -1;
    testing::eventually([&] {
      auto u = sync_client(a.url)->describe_identity_pool_usage({pool});
      seen = u.ok() ? u->identity_pool_usage->sync_sessions_count.value_or(-1) : -1;
      return seen >= want;
    });
    return seen;
  };
  const int64_t want = kThreads * kSessionsEach;
  EXPECT_EQ(sessions_once_at_least(want), want);
  // One more session on each instance: it is counted only by a later flush of that instance, so
  // once both are in, each instance has flushed again, and had it counted anything twice, the
  // total would be past want + 2.
  for (const auto* url : {&a.url, &b.url}) {
    ASSERT_TRUE(sync_client(*url)
                    ->list_records({pool, "us-east-1:00000000-0000-0000-0000-000000000009", "save",
                                    0, std::nullopt, 1, std::nullopt})
                    .ok());
  }
  EXPECT_EQ(sessions_once_at_least(want + 2), want + 2) << "no session counted twice";
}

TEST_F(TwoInstances, DeletingAnIdentityOnOneInstanceEndsItsCredentialsOnTheOther) {
  auto provider = new_device_on_a();
  auto id = provider->identity_id();
  ASSERT_TRUE(id.ok());
  ClientConfig no_retry = config_for(b.url, provider);
  no_retry.retry.max_retries = 0;
  auto device_on_b = std::move(CognitoSyncClient::create(no_retry)).value();
  // Used on b, so b holds the verified credentials in memory.
  ASSERT_TRUE(device_on_b->list_datasets({pool, *id, std::nullopt, std::nullopt}).ok());
  ASSERT_TRUE(device_on_b->list_datasets({pool, *id, std::nullopt, std::nullopt}).ok());

  auto deleted = identity_client(a.url)->delete_identities({{*id}});
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  auto started = std::chrono::steady_clock::now();
  Status last;
  bool refused = false;
  while (std::chrono::steady_clock::now() - started < testing::kHungTest) {
    auto r = device_on_b->list_datasets({pool, *id, std::nullopt, std::nullopt});
    if (!r.ok()) {
      last = r.status();
      refused = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(refused) << "b still accepts a deleted identity's credentials";
  EXPECT_EQ(last.http_status(), 403) << last.ToString();
  std::printf(
      "\nmulti-instance revocation: b refused the deleted identity's credentials %.1f ms "
      "after a committed the deletion\n",
      ms);
}

TEST_F(TwoInstances, ADeviceListeningOnOneInstanceHearsAChangeWrittenThroughTheOther) {
  auto provider = new_device_on_a();
  auto id = provider->identity_id();
  ASSERT_TRUE(id.ok());
  auto on_a = sync_client(a.url, provider);
  auto on_b = sync_client(b.url, provider);
  auto reg = on_a->register_device({pool, *id, "GCM", "listener-token"});
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  ASSERT_TRUE(on_a->subscribe_to_dataset({pool, *id, "save", *reg->device_id}).ok());

  // The device waits on b; the change goes in through a.
  Result<wire::PollNotificationsResponse> heard = Status(ErrorCode::kInternalError, "not yet");
  std::chrono::steady_clock::time_point heard_at;
  std::thread listener([&] {
    heard = on_b->poll_notifications({pool, *id, *reg->device_id, 0, 10});
    heard_at = std::chrono::steady_clock::now();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto session = on_a->list_records({pool, *id, "save", 0, std::nullopt, 1, std::nullopt});
  ASSERT_TRUE(session.ok());
  auto pushed = on_a->update_records({pool,
                                      *id,
                                      "save",
                                      std::nullopt,
                                      {testing::put("k", "v", 0)},
                                      *session->sync_session_token,
                                      std::nullopt});
  auto pushed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  listener.join();
  ASSERT_TRUE(heard.ok()) << heard.status().ToString();
  ASSERT_EQ(heard->notifications.size(), 1u);
  EXPECT_NE(heard->notifications[0].payload_json.find(R"("syncCount":"1")"), std::string::npos)
      << heard->notifications[0].payload_json;
  // One notification, not an empty answer: the write through a woke b's 10 s poll (a poll that
  // runs out answers with nothing). How soon is printed, not judged.
  double ms = std::chrono::duration<double, std::milli>(heard_at - pushed_at).count();
  std::printf("\nmulti-instance notification: heard on b %.1f ms after a answered the push\n", ms);

  // Moving back to a with b's `after` loses nothing written since: the numbers compare.
  ASSERT_TRUE(on_a->update_records({pool,
                                    *id,
                                    "save",
                                    std::nullopt,
                                    {testing::put("k", "w", 1)},
                                    *session->sync_session_token,
                                    std::nullopt})
                  .ok());
  auto next = on_a->poll_notifications({pool, *id, *reg->device_id, heard->next, 5});
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  ASSERT_FALSE(next->notifications.empty());
  // The newest is the second change. Delivery is at least once, so a copy of the first could
  // come along if the instances' clocks disagreed; on one machine they agree.
  EXPECT_NE(next->notifications.back().payload_json.find(R"("syncCount":"2")"), std::string::npos);
  EXPECT_EQ(next->notifications.size(), 1u);
}

TEST_F(TwoInstances, AWebSocketOnOneInstanceHearsAChangeWrittenThroughTheOther) {
  auto provider = new_device_on_a();
  auto id = provider->identity_id();
  ASSERT_TRUE(id.ok());
  auto on_a = sync_client(a.url, provider);
  auto reg = on_a->register_device({pool, *id, "GCM", "websocket-token"});
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  ASSERT_TRUE(on_a->subscribe_to_dataset({pool, *id, "save", *reg->device_id}).ok());

  // The device's WebSocket is on b (what comes before its watcher is set waits in b's mailbox,
  // so the order of the two below does not matter); the change goes in through a.
  auto socket = transport::NotificationSocket::connect(
      {b.url, "us-east-1", pool, *id, *reg->device_id, 0}, *provider, HttpOptions());
  ASSERT_TRUE(socket.ok()) << socket.status().ToString();
  ASSERT_TRUE(*socket) << "b declined the upgrade";
  ASSERT_TRUE(testing::push(*on_a, pool, *id, "save", {testing::put("k", "v", 0)}).ok());
  auto batch = (*socket)->next();
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->notifications.size(), 1u);
  EXPECT_NE(batch->notifications[0].payload_json.find(R"("syncCount":"1")"), std::string::npos)
      << batch->notifications[0].payload_json;
  ASSERT_TRUE((*socket)->acknowledge(batch->next).ok());
  ASSERT_TRUE(testing::push(*on_a, pool, *id, "save", {testing::put("k", "w", 1)}).ok());
  auto second = (*socket)->next();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_EQ(second->notifications.size(), 1u);
  EXPECT_NE(second->notifications[0].payload_json.find(R"("syncCount":"2")"), std::string::npos);
}

// A key file (or CAIRN_SIGNING_KEY) instead of the database's key: instances agree even on
// different databases, and one without it does not.
TEST(MultiInstance, ASigningKeyFileMakesTokensValidWhereverTheFileIs) {
  testing::TempDir dir("cairn-signing-key");
  std::string key_file = dir.path + "/signing.key";
  std::ofstream(key_file) << "0123456789abcdef0123456789abcdef-shared-by-every-instance\n";
  auto a = start_instance(cairn::testing::fresh_postgres_db(), {"--signing-key-file", key_file});
  auto c = start_instance(cairn::testing::fresh_postgres_db(), {"--signing-key-file", key_file});
  auto d = start_instance(cairn::testing::fresh_postgres_db());
  ASSERT_FALSE(a.url.empty() || c.url.empty() || d.url.empty());
  const std::string identity = "us-east-1:11111111-2222-3333-4444-555555555555";
  auto session = sync_client(a.url)->list_records(
      {a.pool, identity, "save", 0, std::nullopt, 1, std::nullopt});
  ASSERT_TRUE(session.ok());
  // c holds the same key, so a's token verifies there, and the push goes on to find that c's
  // database has no such pool; d's key differs, so d refuses the token itself.
  auto on_c = sync_client(c.url)->update_records({a.pool,
                                                  identity,
                                                  "save",
                                                  std::nullopt,
                                                  {testing::put("k", "v", 0)},
                                                  *session->sync_session_token,
                                                  std::nullopt});
  ASSERT_FALSE(on_c.ok());
  EXPECT_EQ(on_c.status().code(), ErrorCode::kResourceNotFound) << on_c.status().ToString();
  auto on_d = sync_client(d.url)->update_records({a.pool,
                                                  identity,
                                                  "save",
                                                  std::nullopt,
                                                  {testing::put("k", "v", 0)},
                                                  *session->sync_session_token,
                                                  std::nullopt});
  ASSERT_FALSE(on_d.ok());
  EXPECT_EQ(on_d.status().code(), ErrorCode::kInvalidParameter) << on_d.status().ToString();

  // CAIRN_SIGNING_KEY does what the file does, for secret stores that inject environment.
  setenv("CAIRN_SIGNING_KEY", "0123456789abcdef0123456789abcdef-shared-by-every-instance", 1);
  auto e = start_instance(cairn::testing::fresh_postgres_db());
  unsetenv("CAIRN_SIGNING_KEY");
  ASSERT_FALSE(e.url.empty());
  auto on_e = sync_client(e.url)->update_records({a.pool,
                                                  identity,
                                                  "save",
                                                  std::nullopt,
                                                  {testing::put("k", "v", 0)},
                                                  *session->sync_session_token,
                                                  std::nullopt});
  ASSERT_FALSE(on_e.ok());
  EXPECT_EQ(on_e.status().code(), ErrorCode::kResourceNotFound) << on_e.status().ToString();

  std::ofstream(dir.path + "/short.key") << "too-short\n";
  auto refused = start_instance(cairn::testing::fresh_postgres_db(),
                                {"--signing-key-file", dir.path + "/short.key"});
  EXPECT_TRUE(refused.url.empty()) << "a key under 32 characters stops the start";
}

}  // namespace
}  // namespace cairn
