// The PostgreSQL backend itself, on the throwaway cluster ctest starts (run as pg.PgStorage.*):
// schemas, bytes PostgreSQL's TEXT cannot hold, serializable writers, concurrent migrations, the
// connection pool, the revocation feed, URLs and their errors, and a database that goes away and
// comes back.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "fixtures/wait.h"
#include "server/server.h"
#include "server/storage/storage.h"
#include "server_fixture.h"
#include "temp_dir.h"
#include "test_db.h"

namespace cairn::server {
namespace {

using cairn::testing::fresh_postgres_db;
using cairn::testing::test_postgres_url;

std::unique_ptr<Storage> open_ok(const std::string& url, StorageOptions o = {}) {
  auto s = open_storage(url, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

PoolRow pool_row(const std::string& id, const std::string& name) {
  PoolRow p;
  p.id = id;
  p.name = name;
  p.settings_json = "{}";
  return p;
}

TEST(PgStorage, EachSchemaIsADeploymentOfItsOwn) {
  std::string a = fresh_postgres_db(), b = fresh_postgres_db();
  auto sa = open_ok(a), sb = open_ok(b);
  ASSERT_TRUE(sa && sb);
  ASSERT_TRUE(sa->write([](StorageTxn& t) {
                  t.put_pool(pool_row("us-east-1:a", "alpha"));
                  return Status::OK();
                }).ok());
  int64_t in_a = -1, in_b = -1;
  ASSERT_TRUE(sa->read([&](StorageTxn& t) {
                  in_a = t.count_pools();
                  return Status::OK();
                }).ok());
  ASSERT_TRUE(sb->read([&](StorageTxn& t) {
                  in_b = t.count_pools();
                  return Status::OK();
                }).ok());
  EXPECT_EQ(in_a, 1);
  EXPECT_EQ(in_b, 0);
  // Reopened, the schema is already at the newest version and keeps its rows.
  sa.reset();
  auto again = open_ok(a);
  ASSERT_TRUE(again);
  ASSERT_TRUE(again
                  ->read([&](StorageTxn& t) {
                    in_a = t.count_pools();
                    return Status::OK();
                  })
                  .ok());
  EXPECT_EQ(in_a, 1);
}

// JSON strings may hold U+0000, which PostgreSQL's TEXT refuses: record keys and values are
// BYTEA, compared byte by byte, so pages come in the order SQLite gives them.
TEST(PgStorage, RecordKeysAndValuesKeepEveryByteAndSortByBytes) {
  auto s = open_ok(fresh_postgres_db());
  ASSERT_TRUE(s);
  const std::string nul_key("a\0b", 3), nul_value("x\0y\0", 4);
  std::vector<std::string> keys = {"b", "a", nul_key, "Z", "\xc3\xa9t\xc3\xa9"};
  ASSERT_TRUE(s->write([&](StorageTxn& t) {
                 for (const auto& k : keys) {
                   RecordRow r;
                   r.identity_id = "us-east-1:i";
                   r.dataset = "d";
                   r.key = k;
                   r.value = k == nul_key ? nul_value : "v";
                   r.sync_count = 1;
                   r.modified_by = "me";
                   t.put_record(r);
                 }
                 return Status::OK();
               }).ok());
  std::vector<RecordRow> rows;
  ASSERT_TRUE(s->read([&](StorageTxn& t) {
                 rows = t.records_after("us-east-1:i", "d", 0, 0, "", 100);
                 return Status::OK();
               }).ok());
  ASSERT_EQ(rows.size(), keys.size());
  std::vector<std::string> got;
  for (const auto& r : rows) got.push_back(r.key);
  EXPECT_EQ(got, (std::vector<std::string>{"Z", "a", nul_key, "b", "\xc3\xa9t\xc3\xa9"}));
  EXPECT_EQ(rows[2].value, nul_value);
  std::optional<StorageTxn::RecordState> state;
  ASSERT_TRUE(s->read([&](StorageTxn& t) {
                 state = t.record_state("us-east-1:i", "d", nul_key);
                 return Status::OK();
               }).ok());
  ASSERT_TRUE(state);
  EXPECT_EQ(state->value_bytes, 4);
}

// The handlers' read-check-write (UpdateRecords' count check) holds across connections: of many
// writers that read the same count and write the next, one commits per count, and the others,
// run again by the backend after PostgreSQL aborts them, see the new count and give up.
TEST(PgStorage, SerializableWritersOnOneCountHaveExactlyOneWinnerEachRound) {
  std::string url = fresh_postgres_db();
  auto s = open_ok(url, {32});
  ASSERT_TRUE(s);
  constexpr int kThreads = 8, kRounds = 25;
  std::atomic<int> conflicts{0}, other_errors{0}, wins{0};
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> threads;
    std::atomic<int> round_wins{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, round] {
        Status st = s->write([&](StorageTxn& txn) -> Status {
          auto ds = txn.dataset("us-east-1:i", "save");
          int64_t count = ds ? ds->sync_count : 0;
          if (count != round) return Status(ErrorCode::kResourceConflict, "count moved");
          DatasetRow row = ds ? *ds : DatasetRow{};
          row.pool_id = "us-east-1:p";
          row.identity_id = "us-east-1:i";
          row.name = "save";
          row.sync_count = count + 1;
          txn.put_dataset(row);
          return Status::OK();
        });
        if (st.ok()) {
          ++round_wins;
        } else if (st.code() == ErrorCode::kResourceConflict) {
          ++conflicts;
        } else {
          ++other_errors;
          ADD_FAILURE() << st.ToString();
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(round_wins.load(), 1) << "round " << round;
    wins += round_wins.load();
  }
  EXPECT_EQ(wins.load(), kRounds);
  EXPECT_EQ(conflicts.load(), kRounds * (kThreads - 1));
  EXPECT_EQ(other_errors.load(), 0);
  std::optional<DatasetRow> final_row;
  ASSERT_TRUE(s->read([&](StorageTxn& t) {
                 final_row = t.dataset("us-east-1:i", "save");
                 return Status::OK();
               }).ok());
  ASSERT_TRUE(final_row);
  EXPECT_EQ(final_row->sync_count, kRounds);
}

TEST(PgStorage, InstancesOpeningAFreshDatabaseAtOnceMigrateItOnce) {
  std::string url = fresh_postgres_db();
  constexpr int kOpeners = 6;
  std::vector<std::unique_ptr<Storage>> opened(kOpeners);
  std::vector<std::string> errors(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      auto s = open_storage(url);
      if (s.ok()) {
        opened[static_cast<size_t>(i)] = std::move(*s);
      } else {
        errors[static_cast<size_t>(i)] = s.status().ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kOpeners; ++i) {
    EXPECT_TRUE(opened[static_cast<size_t>(i)]) << errors[static_cast<size_t>(i)];
  }
  // Every table exists once, empty.
  ASSERT_TRUE(opened[0]);
  std::vector<std::pair<std::string, int64_t>> tables;
  ASSERT_TRUE(opened[0]
                  ->read([&](StorageTxn& t) {
                    tables = t.table_rows();
                    return Status::OK();
                  })
                  .ok());
  EXPECT_EQ(tables.size(), 9u);
  for (const auto& [table, rows] : tables) EXPECT_EQ(rows, 0) << table;
}

TEST(PgStorage, ThePoolBoundsTheConnectionsOneInstanceOpens) {
  auto s = open_ok(fresh_postgres_db(), {2});
  ASSERT_TRUE(s);
  std::atomic<int> inside{0}, most{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      Status st = s->read([&](StorageTxn& t) {
        int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        (void)t.count_pools();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        --inside;
        return Status::OK();
      });
      EXPECT_TRUE(st.ok()) << st.ToString();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(most.load(), 2) << "transactions at once with a pool of 2 connections";
}

TEST(PgStorage, ARevocationCommittedAnywhereReachesEveryWatcherAndARollbackReachesNone) {
  std::string url = fresh_postgres_db();
  auto watcher = open_ok(url), other = open_ok(url);
  ASSERT_TRUE(watcher && other);
  std::mutex mu;
  std::vector<std::string> events;
  watcher->watch_revocations(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        events.push_back("revoked");
      },
      [&] {
        std::lock_guard<std::mutex> l(mu);
        events.push_back("lost");
      });
  auto wait_for = [&](size_t n) {
    return testing::eventually([&] {
      std::lock_guard<std::mutex> l(mu);
      return events.size() >= n;
    });
  };
  // Until it listens, the watcher is told the feed is down; once listening, "revoked" restores it.
  ASSERT_TRUE(wait_for(2));
  {
    std::lock_guard<std::mutex> l(mu);
    EXPECT_EQ(events, (std::vector<std::string>{"lost", "revoked"}));
    events.clear();
  }
  // A transaction that announces a revocation, then commits (OK) or rolls back (an error).
  auto announce = [&](Status outcome) {
    return other->write([&](StorageTxn& t) {
      t.announce_revocation();
      return outcome;
    });
  };
  EXPECT_FALSE(announce(Status(ErrorCode::kInvalidParameter, "rolled back")).ok());
  ASSERT_TRUE(announce(Status::OK()).ok());
  ASSERT_TRUE(wait_for(1));
  // A second commit: notifications arrive in commit order, so once its own is here, whatever the
  // first commit sent is here too.
  ASSERT_TRUE(announce(Status::OK()).ok());
  ASSERT_TRUE(wait_for(2));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(events, (std::vector<std::string>{"revoked", "revoked"}))
      << "one revocation for each commit";
}

TEST(PgStorage, UrlsAreCheckedAndLogsNeverShowThePassword) {
  std::string base = test_postgres_url();  // postgresql://cairn@127.0.0.1:PORT/postgres
  std::string with_password = base;
  with_password.insert(with_password.find('@'), ":hunter2");
  auto s = open_ok(with_password + "?schema=t_pw&connect_timeout=5");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->describe().find("hunter2"), std::string::npos) << s->describe();
  EXPECT_NE(s->describe().find("schema=t_pw"), std::string::npos) << s->describe();

  auto bad_schema = open_storage(base + "?schema=Robert');DROP");
  ASSERT_FALSE(bad_schema.ok());
  EXPECT_EQ(bad_schema.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad_schema.status().message().find("schema"), std::string::npos);

  auto unknown = open_storage(base + "?bogus_option=1");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("bogus_option"), std::string::npos)
      << unknown.status().message();

  // Nobody listens on port 1: a clear error, quickly, with no password in it.
  auto closed = open_storage("postgresql://cairn:hunter2@127.0.0.1:1/postgres?connect_timeout=2");
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(closed.status().message().find("cannot connect to PostgreSQL"), std::string::npos)
      << closed.status().message();
  EXPECT_EQ(closed.status().message().find("hunter2"), std::string::npos);
}

// A cluster of the test's own, stopped under a running server and started again: /health and
// requests fail with clear errors meanwhile, and recover by themselves once it is back.
TEST(PgStorage, AServerRidesOutItsDatabaseGoingAwayAndComingBack) {
  cairn::testing::TempDir dir("cairn-pg-outage");
  std::string state = dir.path + "/cluster.state";
  std::string script = CAIRN_PG_CLUSTER_SCRIPT;
  ASSERT_EQ(std::system((script + " start " + state + " >/dev/null").c_str()), 0);
  std::ifstream in(state);
  std::string cluster_dir, url;
  std::getline(in, cluster_dir);
  std::getline(in, url);
  {
    ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.db = url + "?schema=outage&connect_timeout=2";
    config.bootstrap_pools = {"game"};
    config.options.admin = {cairn::testing::kAdminKey, cairn::testing::kAdminSecret};
    auto started = Server::start(config);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    auto& srv = **started;
    httplib::Client http("127.0.0.1", srv.port());
    auto health = http.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    EXPECT_EQ(health->body, R"({"status":"ready","storage":"postgresql"})");

    ClientConfig c;
    c.endpoint = srv.url();
    c.region = "us-east-1";
    c.credentials = std::make_shared<StaticCredentialsProvider>(cairn::testing::kAdminKey,
                                                                cairn::testing::kAdminSecret);
    c.retry.max_retries = 0;
    auto sync = std::move(CognitoSyncClient::create(c)).value();
    std::string pool = srv.pools()[0].second;
    auto listed = sync->list_datasets(
        {pool, "us-east-1:00000000-0000-0000-0000-000000000001", std::nullopt, std::nullopt});
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();

    ASSERT_EQ(std::system((script + " pause " + state).c_str()), 0);
    health = http.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 503);
    EXPECT_NE(health->body.find(R"("status":"unavailable")"), std::string::npos) << health->body;
    listed = sync->list_datasets(
        {pool, "us-east-1:00000000-0000-0000-0000-000000000001", std::nullopt, std::nullopt});
    ASSERT_FALSE(listed.ok());
    EXPECT_EQ(listed.status().http_status(), 500) << listed.status().ToString();

    ASSERT_EQ(std::system((script + " resume " + state).c_str()), 0);
    health = http.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200) << health->body;
    listed = sync->list_datasets(
        {pool, "us-east-1:00000000-0000-0000-0000-000000000001", std::nullopt, std::nullopt});
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
  }
  EXPECT_EQ(std::system((script + " stop " + state).c_str()), 0);
}

}  // namespace
}  // namespace cairn::server
