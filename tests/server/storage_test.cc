// The SQLite backend: migrations, reopening, a schema from the future, and rollback on failure.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include "temp_dir.h"

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

#include "server/storage/storage.h"

namespace cairn::server {
namespace {

using cairn::testing::TempDir;

TEST(SqliteStorage, MigratesCreatesDirectoriesAndKeepsDataAcrossReopens) {
  TempDir dir;
  std::string url = "sqlite:" + dir.path + "/nested/dir/cairn.db";
  {
    auto storage = open_storage(url);
    ASSERT_TRUE(storage.ok()) << storage.status().ToString();
    ASSERT_TRUE((*storage)
                    ->write([](StorageTxn& t) {
                      t.set_meta("k", "v");
                      return Status::OK();
                    })
                    .ok());
  }
  auto again = open_storage(url);
  ASSERT_TRUE(again.ok());
  std::optional<std::string> v;
  ASSERT_TRUE((*again)
                  ->read([&](StorageTxn& t) {
                    v = t.meta("k");
                    return Status::OK();
                  })
                  .ok());
  EXPECT_EQ(v, "v");
}

TEST(SqliteStorage, CommitsAreSyncedToDiskUnlessNormalIsChosen) {
  TempDir dir("cairn-durability");
  auto full = open_storage("sqlite:" + dir.path + "/full.db");  // the default
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ((*full)->durability().rfind("synchronous=FULL:", 0), 0u) << (*full)->durability();
  StorageOptions normal;
  normal.durability = Durability::kNormal;
  auto fast = open_storage("sqlite:" + dir.path + "/normal.db", normal);
  ASSERT_TRUE(fast.ok());
  EXPECT_EQ((*fast)->durability().rfind("synchronous=NORMAL:", 0), 0u) << (*fast)->durability();
}

TEST(SqliteStorage, RefusesASchemaNewerThanItKnows) {
  TempDir dir;
  std::string file = dir.path + "/cairn.db";
  ASSERT_TRUE(open_storage("sqlite:" + file).ok());
  sqlite3* db = nullptr;
  sqlite3_open(file.c_str(), &db);
  sqlite3_exec(db, "INSERT INTO schema_migrations(version) VALUES(999)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto r = open_storage("sqlite:" + file);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("newer than this server"), std::string::npos)
      << r.status().message();
}

TEST(SqliteStorage, AFailedTransactionLeavesNothingBehind) {
  TempDir dir;
  auto storage = std::move(open_storage("sqlite:" + dir.path + "/cairn.db")).value();
  Status s = storage->write([](StorageTxn& t) {
    t.set_meta("half", "written");
    return Status(ErrorCode::kResourceConflict, "changed my mind");
  });
  EXPECT_EQ(s.code(), ErrorCode::kResourceConflict);
  std::optional<std::string> v;
  ASSERT_TRUE(storage
                  ->read([&](StorageTxn& t) {
                    v = t.meta("half");
                    return Status::OK();
                  })
                  .ok());
  EXPECT_FALSE(v.has_value());
}

// Concurrent writes commit in groups: each keeps its own all-or-nothing outcome inside a group.
TEST(SqliteStorage, ConcurrentWritesCommitTogetherYetFailAlone) {
  TempDir dir;
  auto storage = std::move(open_storage("sqlite:" + dir.path + "/cairn.db")).value();
  constexpr int kThreads = 8, kWrites = 50;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
        bool fail = i % 3 == 0;
        bool throws = i % 7 == 0 && !fail;
        Status s = storage->write([&](StorageTxn& txn) -> Status {
          txn.set_meta(key, "first");
          txn.set_meta(key + "-second", "second");
          if (throws) throw std::runtime_error("boom");
          if (fail) return Status(ErrorCode::kResourceConflict, "no");
          return Status::OK();
        });
        bool expect_ok = !fail && !throws;
        if (s.ok() != expect_ok) wrong++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0) << "each write gets its own outcome";
  int present = 0, torn = 0;
  ASSERT_TRUE(storage
                  ->read([&](StorageTxn& txn) {
                    for (int t = 0; t < kThreads; ++t) {
                      for (int i = 0; i < kWrites; ++i) {
                        std::string key = "k" + std::to_string(t) + "-" + std::to_string(i);
                        bool first = txn.meta(key).has_value();
                        bool second = txn.meta(key + "-second").has_value();
                        bool kept = i % 3 != 0 && i % 7 != 0;
                        if (first != second) torn++;
                        if (first && kept) present++;
                        if (first && !kept) torn++;
                      }
                    }
                    return Status::OK();
                  })
                  .ok());
  EXPECT_EQ(torn, 0) << "a failed write leaves nothing, a good one both rows";
  int expected = 0;
  for (int i = 0; i < kWrites; ++i) expected += (i % 3 != 0 && i % 7 != 0) ? 1 : 0;
  EXPECT_EQ(present, expected * kThreads);
}

TEST(SqliteStorage, UnsupportedUrlsAreClearErrors) {
  auto r = open_storage("mysql://nope");
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("sqlite:PATH"), std::string::npos);
}

}  // namespace
}  // namespace cairn::server
