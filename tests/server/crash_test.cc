// cairn-server killed with SIGKILL in the middle of UpdateRecords, over and over. A writer keeps
// pushing batches of records to one dataset, each batch tagging every record with its number;
// the server is killed at a random moment and started again on the same database. After each
// restart the dataset must hold one whole batch (every record the same batch, each record's sync
// count the dataset's, the count never going back, no acknowledged batch undone), never a torn
// mix; and the writer, starting again from whatever the server holds, goes on pushing.
//
// CAIRN_SERVER_CRASH_TRIALS=N changes the number of trials (50 by default); figures are printed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <rapidjson/document.h>

#include "cairn/cognito/identity.h"
#include "cairn/cognito/sync.h"
#include "tests/fixtures/hook_server.h"
#include "tests/fixtures/server_process.h"
#include "tests/fixtures/wait.h"
#include "tests/temp_dir.h"
#include "tests/test_db.h"

namespace cairn {
namespace {

constexpr char kAdminKey[] = "AKIDCRASH";
constexpr char kAdminSecret[] = "crash-test-admin-secret";
constexpr int kRecords = 60;  // a batch: 60 records of 2 KB, so a write takes a while

using testing::ServerProcess;

ServerProcess start_server(const std::string& db, std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--listen",
                                "127.0.0.1:0",
                                "--db",
                                db,
                                "--bootstrap-pool",
                                "game",
                                "--admin-access-key-id",
                                kAdminKey,
                                "--admin-secret-access-key",
                                kAdminSecret,
                                "--log-level",
                                "off"};
  args.insert(args.end(), more.begin(), more.end());
  return ServerProcess::start(CAIRN_SERVER, args);
}

ClientConfig admin_config(const std::string& url) {
  ClientConfig c;
  c.endpoint = url;
  c.region = "us-east-1";
  c.credentials = std::make_shared<StaticCredentialsProvider>(kAdminKey, kAdminSecret);
  c.retry.max_retries = 0;  // a dead server is a failed call here, not a wait
  c.http.connect_timeout = std::chrono::milliseconds(2000);
  return c;
}

// The batch a record's value belongs to: values are "<batch>:<key>:<padding>".
int64_t batch_of(const std::string& v) { return std::stoll(v.substr(0, v.find(':'))); }

struct DatasetState {
  bool ok = false;
  int64_t sync_count = 0;
  std::map<std::string, std::pair<std::string, int64_t>> records;  // key -> (value, count)
};
DatasetState read_dataset(CognitoSyncClient& c, const std::string& pool, const std::string& id) {
  DatasetState out;
  std::optional<std::string> next, session;
  do {
    auto page = c.list_records({pool, id, "save", 0, next, std::nullopt, session});
    if (!page.ok()) return out;
    for (const auto& r : page->records) out.records[*r.key] = {r.value.value_or(""), *r.sync_count};
    out.sync_count = page->dataset_sync_count.value_or(0);
    session = page->sync_session_token;
    next = page->next_token;
  } while (next);
  out.ok = true;
  return out;
}

TEST(ServerCrash, UpdateRecordsKilledMidWriteIsWholeOrAbsentAfterEveryRestart) {
  const char* env = std::getenv("CAIRN_SERVER_CRASH_TRIALS");
  const int trials = env ? std::atoi(env) : 50;
  testing::TempDir dir("cairn-server-crash");
  const std::string db = cairn::testing::test_db_url(dir.path);
  auto server = start_server(db);
  ASSERT_FALSE(server.url.empty());
  std::string identity_id;
  {
    auto identity = std::move(CognitoIdentityClient::create(admin_config(server.url))).value();
    auto id = identity->get_id({std::nullopt, server.pool, {}});
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    identity_id = *id->identity_id;
  }
  std::mt19937_64 rng(2026);
  int64_t last_count = 0, last_batch = 0, batch = 0;
  uint64_t pushes_answered = 0, pushes_cut = 0, torn = 0, lost = 0;
  // How long a push takes on this build (a sanitized one is many times slower): kills land within
  // twice that of an UpdateRecords going out. The mean of answered pushes, in microseconds.
  std::atomic<int64_t> push_micros_total{0}, pushes_timed{0};
  auto push_micros = [&] {
    return pushes_timed ? std::max<int64_t>(push_micros_total / pushes_timed, 1000) : 20000;
  };
  for (int trial = 0; trial < trials; ++trial) {
    std::atomic<bool> stop{false};
    std::atomic<int64_t> acknowledged{-1};  // the newest batch the server said it stored
    std::atomic<bool> updating{false};      // an UpdateRecords is on its way
    std::thread writer([&] {
      auto sync = std::move(CognitoSyncClient::create(admin_config(server.url))).value();
      while (!stop) {
        auto state = read_dataset(*sync, server.pool, identity_id);
        if (!state.ok) return;
        auto session = sync->list_records(
            {server.pool, identity_id, "save", 0, std::nullopt, 1, std::nullopt});
        if (!session.ok()) return;
        int64_t b = ++batch;
        wire::UpdateRecordsRequest r{server.pool,  identity_id, "save",
                                     std::nullopt, {},          *session->sync_session_token,
                                     std::nullopt};
        for (int k = 0; k < kRecords; ++k) {
          std::string key = "k" + std::to_string(k);
          int64_t count = state.records.count(key) ? state.records[key].second : 0;
          r.record_patches.push_back({wire::kOpReplace, key,
                                      std::to_string(b) + ":" + key + ":" + std::string(2000, 'x'),
                                      count, std::nullopt});
        }
        updating = true;
        auto sent = std::chrono::steady_clock::now();
        auto pushed = sync->update_records(r);
        updating = false;
        if (!pushed.ok()) {
          ++pushes_cut;
          return;
        }
        push_micros_total += std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - sent)
                                 .count();
        ++pushes_timed;
        ++pushes_answered;
        acknowledged = b;
      }
    });
    // Let a few pushes land (the first trial waits for one), then kill within twice a push's time
    // of an UpdateRecords going out: while the server reads, checks or writes it.
    auto deadline = std::chrono::steady_clock::now() + testing::kHungTest;
    while (trial == 0 && pushes_timed == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    uint64_t span = static_cast<uint64_t>(push_micros());
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % (4 * span)));
    while (!updating && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % (2 * span)));
    server.kill9();
    stop = true;
    writer.join();

    server = start_server(db);
    ASSERT_FALSE(server.url.empty()) << "the server did not come back after trial " << trial;
    auto reader = std::move(CognitoSyncClient::create(admin_config(server.url))).value();
    auto state = read_dataset(*reader, server.pool, identity_id);
    ASSERT_TRUE(state.ok) << "trial " << trial;
    if (state.records.empty()) continue;  // nothing landed yet
    std::set<int64_t> batches;
    bool counts_match = true;
    for (const auto& [key, rec] : state.records) {
      batches.insert(batch_of(rec.first));
      counts_match &= rec.second == state.sync_count;
    }
    int64_t stored = *batches.begin();
    if (batches.size() != 1 || state.records.size() != static_cast<size_t>(kRecords) ||
        !counts_match) {
      ++torn;
      ADD_FAILURE() << "trial " << trial << ": a torn dataset: " << batches.size() << " batches, "
                    << state.records.size() << " records, counts match: " << counts_match;
    }
    if (state.sync_count < last_count || stored < last_batch || stored < acknowledged.load()) {
      ++lost;
      ADD_FAILURE() << "trial " << trial << ": went back: count " << state.sync_count << " after "
                    << last_count << ", batch " << stored << " after " << last_batch
                    << ", acknowledged " << acknowledged.load();
    }
    last_count = state.sync_count;
    last_batch = stored;
  }

  // The last restart holds one whole batch too.
  auto reader = std::move(CognitoSyncClient::create(admin_config(server.url))).value();
  auto final_state = read_dataset(*reader, server.pool, identity_id);
  ASSERT_TRUE(final_state.ok);
  EXPECT_EQ(final_state.records.size(), static_cast<size_t>(kRecords));
  server.kill9();
  std::printf(
      "\nserver crashes (a push takes %lld us here): %d SIGKILLs during UpdateRecords of %d x "
      "2 KB records; %llu "
      "pushes answered, %llu cut off by a kill; torn datasets %llu, lost or reverted "
      "acknowledged pushes %llu; final sync count %lld\n",
      static_cast<long long>(push_micros()), trials, kRecords,
      static_cast<unsigned long long>(pushes_answered), static_cast<unsigned long long>(pushes_cut),
      static_cast<unsigned long long>(torn), static_cast<unsigned long long>(lost),
      static_cast<long long>(final_state.sync_count));
  EXPECT_GT(pushes_cut, 0u) << "no kill landed during a push";
}

// The outbox under SIGKILL: a writer pushes one change after another to a dataset that another
// device is subscribed to, in a pool that streams, while the server is killed at random moments and
// started again. Each committed change owes a webhook post (for the other device) and a stream
// record. Once the last server has had time, every acknowledged change's two deliveries must have
// arrived; a delivery that arrived more than once carried the same id and the same body each time.
// The receiver refuses a quarter of the requests, so retries happen throughout.
//
// CAIRN_OUTBOX_CRASH_TRIALS=N changes the number of kills (20 by default); figures are printed.
TEST(ServerCrash, EveryCommittedChangesDeliveriesArriveDespiteKillsAndDuplicatesKeepTheirIds) {
  const char* env = std::getenv("CAIRN_OUTBOX_CRASH_TRIALS");
  const int trials = env ? std::atoi(env) : 20;
  testing::HookServer hook;
  std::mutex rng_mu;
  std::mt19937_64 refusals(7);
  hook.set_handler([&](const std::string&, size_t, httplib::Response& res) {
    std::lock_guard<std::mutex> l(rng_mu);
    if (refusals() % 4 == 0) res.status = 503;
  });
  testing::TempDir dir("cairn-outbox-crash");
  const std::string db = cairn::testing::test_db_url(dir.path);
  // On PostgreSQL a restarted instance takes over what a killed one owed once its lease ends.
  const std::vector<std::string> flags{"--push-webhook",    hook.url("/push"), "--stream-sink",
                                       hook.url("/stream"), "--outbox-lease",  "2"};
  auto server = start_server(db, flags);
  ASSERT_FALSE(server.url.empty());
  std::string identity_id, writer_device, other_device;
  CredentialsProviderPtr player;  // the identity's own credentials, good for an hour
  auto player_config = [&] {
    ClientConfig c = admin_config(server.url);
    c.credentials = player;
    return c;
  };
  {
    auto identity = std::move(CognitoIdentityClient::create(admin_config(server.url))).value();
    auto id = identity->get_id({std::nullopt, server.pool, {}});
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    identity_id = *id->identity_id;
    auto creds = identity->get_credentials_for_identity({identity_id, {}, std::nullopt});
    ASSERT_TRUE(creds.ok()) << creds.status().ToString();
    player = std::make_shared<StaticCredentialsProvider>(*creds->credentials->access_key_id,
                                                         *creds->credentials->secret_key,
                                                         *creds->credentials->session_token);
    auto admin = std::move(CognitoSyncClient::create(admin_config(server.url))).value();
    ASSERT_TRUE(
        admin
            ->set_identity_pool_configuration(
                {server.pool, std::nullopt,
                 wire::CognitoStreams{"saves", "arn:aws:iam::123456789012:role/s", "ENABLED"}})
            .ok());
    auto sync = std::move(CognitoSyncClient::create(player_config())).value();
    auto a = sync->register_device({server.pool, identity_id, "GCM", "writer-token"});
    auto b = sync->register_device({server.pool, identity_id, "GCM", "other-token"});
    ASSERT_TRUE(a.ok() && b.ok()) << a.status().ToString() << b.status().ToString();
    writer_device = *a->device_id;
    other_device = *b->device_id;
    ASSERT_TRUE(sync->subscribe_to_dataset({server.pool, identity_id, "save", other_device}).ok());
  }
  std::mt19937_64 rng(2027);
  std::set<int64_t> acknowledged;  // the sync counts of the pushes the server answered
  std::mutex acknowledged_mu;
  for (int trial = 0; trial < trials; ++trial) {
    std::atomic<bool> stop{false};
    std::atomic<int> answered{0};
    std::thread writer([&] {
      auto sync = std::move(CognitoSyncClient::create(player_config())).value();
      while (!stop) {
        auto listed = sync->list_records(
            {server.pool, identity_id, "save", 0, std::nullopt, std::nullopt, std::nullopt});
        if (!listed.ok()) return;
        int64_t count = 0;
        for (const auto& r : listed->records) count = r.sync_count.value_or(0);
        wire::UpdateRecordsRequest r{server.pool,   identity_id, "save",
                                     writer_device, {},          *listed->sync_session_token,
                                     std::nullopt};
        r.record_patches.push_back(
            {wire::kOpReplace, "k", "trial " + std::to_string(trial), count, std::nullopt});
        auto pushed = sync->update_records(r);
        if (!pushed.ok()) return;
        std::lock_guard<std::mutex> l(acknowledged_mu);
        acknowledged.insert(*pushed->records.at(0).sync_count);
        ++answered;
      }
    });
    // At least one push lands, then the kill comes at a random moment of the next few.
    auto deadline = std::chrono::steady_clock::now() + testing::kHungTest;
    while (answered == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 30000));
    server.kill9();
    stop = true;
    writer.join();
    server = start_server(db, flags);
    ASSERT_FALSE(server.url.empty()) << "the server did not come back after trial " << trial;
  }

  // Every acknowledged change's stream record and webhook post, each by the sync count it carries.
  auto arrived = [&](std::map<int64_t, std::set<std::string>>* stream_ids,
                     std::map<int64_t, std::set<std::string>>* push_ids) {
    stream_ids->clear();
    push_ids->clear();
    for (const auto& r : hook.received()) {
      rapidjson::Document d;
      d.Parse(r.body.c_str());
      if (d.HasParseError()) continue;
      if (r.path == "/stream") {
        (*stream_ids)[d["record"]["syncCount"].GetInt64()].insert(r.delivery_id);
      } else {
        (*push_ids)[std::stoll(d["payload"]["syncCount"].GetString())].insert(r.delivery_id);
      }
    }
    for (int64_t count : acknowledged) {
      if (!stream_ids->count(count) || !push_ids->count(count)) return false;
    }
    return true;
  };
  std::map<int64_t, std::set<std::string>> stream_ids, push_ids;
  bool all = testing::eventually([&] { return arrived(&stream_ids, &push_ids); });
  server.kill9();
  for (int64_t count : acknowledged) {
    EXPECT_TRUE(stream_ids.count(count)) << "the stream record of sync count " << count;
    EXPECT_TRUE(push_ids.count(count)) << "the webhook post of sync count " << count;
  }
  EXPECT_TRUE(all);
  // Each change has one id per delivery, however often it was sent; each id, one body.
  for (const auto& [count, ids] : stream_ids) EXPECT_EQ(ids.size(), 1u) << "count " << count;
  for (const auto& [count, ids] : push_ids) EXPECT_EQ(ids.size(), 1u) << "count " << count;
  std::map<std::string, std::string> body_of;
  size_t requests = 0, repeated = 0;
  for (const auto& r : hook.received()) {
    ++requests;
    auto [it, fresh] = body_of.emplace(r.delivery_id, r.body);
    if (!fresh) {
      ++repeated;
      EXPECT_EQ(it->second, r.body) << r.delivery_id;
    }
  }
  std::printf(
      "\noutbox under SIGKILL: %d kills, %zu acknowledged changes, %zu requests for %zu "
      "deliveries (%zu repeats: refusals and redeliveries after a kill)\n",
      trials, acknowledged.size(), requests, body_of.size(), repeated);
  EXPECT_GE(acknowledged.size(), static_cast<size_t>(trials));
}

}  // namespace
}  // namespace cairn
