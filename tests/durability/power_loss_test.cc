// Power cuts, for the server's SQLite store and the device's, through a VFS that keeps only what
// was synced (fixtures/power_cut_vfs.h). Each schedule is seeded: writes are acknowledged one
// after another (the server's from several threads, through its group commit), the power goes out
// after a random number of them, and the store is opened again as after a reboot.
//
// - Under FULL, every write acknowledged before the cut is there.
// - Under NORMAL, what is there is a prefix of the acknowledged writes (none lost out of order),
//   and the device's dirty flags agree with its counts.
// - Either way the database opens cleanly and passes SQLite's integrity check.
//
// CAIRN_POWER_CUT_SCHEDULES=N changes the number of schedules (20 by default); figures are printed.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fixtures/power_cut_vfs.h"
#include "localstore/local_store.h"
#include "server/storage.h"
#include "temp_dir.h"

namespace cairn::testing {
namespace {

int schedules() {
  const char* env = std::getenv("CAIRN_POWER_CUT_SCHEDULES");
  return env ? std::atoi(env) : 20;
}

// SQLite's own verdict on a file, read after the power is back.
std::string integrity(const std::string& path) {
  sqlite3* db = nullptr;
  std::string out = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

struct Tally {
  int cuts = 0;
  uint64_t acknowledged = 0, survived = 0, lost = 0;
};

// The server's store: kThreads writers, each acknowledging set_meta(key) writes in turn.
Tally server_schedules(server::Durability durability, int n) {
  constexpr int kThreads = 4;
  auto& power = PowerCutVfs::install();
  Tally tally;
  for (int schedule = 0; schedule < n; ++schedule) {
    SCOPED_TRACE("schedule " + std::to_string(schedule));
    TempDir dir("cairn-power-server");
    std::string path = dir.path + "/server.db";
    server::StorageOptions options;
    options.durability = durability;
    std::mt19937_64 rng(7000 + static_cast<uint64_t>(schedule));
    const int cut_after = 1 + static_cast<int>(rng() % 120);
    // Acknowledged writes in the order each thread saw them: thread t's keys t-0, t-1, ...
    std::vector<std::vector<std::string>> acked(kThreads);
    {
      auto storage = server::open_storage("sqlite:" + path, options);
      if (!storage.ok()) {
        ADD_FAILURE() << storage.status().ToString();
        return tally;
      }
      std::atomic<int> total{0};
      std::vector<std::thread> writers;
      for (int t = 0; t < kThreads; ++t) {
        writers.emplace_back([&, t] {
          for (int i = 0; !power.out(); ++i) {
            std::string key = std::to_string(t) + "-" + std::to_string(i);
            Status s = (*storage)->write([&](server::StorageTxn& txn) {
              txn.set_meta(key, "v");
              return Status::OK();
            });
            // Acknowledged only if the power was still on when the answer came: its sync was
            // real.
            if (!s.ok() || power.out()) break;
            acked[static_cast<size_t>(t)].push_back(key);
            if (++total >= cut_after) power.cut();
          }
        });
      }
      for (auto& w : writers) w.join();
      if (!power.out()) power.cut();
    }  // the store closes without power: nothing it writes now reaches the files
    power.restore();
    ++tally.cuts;
    EXPECT_EQ(integrity(path), "ok");
    auto storage = server::open_storage("sqlite:" + path, options);
    if (!storage.ok()) {
      ADD_FAILURE() << "after the cut: " << storage.status().ToString();
      continue;
    }
    Status read = (*storage)->read([&](server::StorageTxn& txn) {
      for (int t = 0; t < kThreads; ++t) {
        bool gap = false;  // under NORMAL, each thread's surviving writes are a prefix of its own
        for (const auto& key : acked[static_cast<size_t>(t)]) {
          ++tally.acknowledged;
          bool there = txn.meta(key).has_value();
          if (there) {
            ++tally.survived;
          } else {
            ++tally.lost;
          }
          if (durability == server::Durability::kFull) {
            EXPECT_TRUE(there) << key << " was acknowledged before the cut";
          } else {
            EXPECT_FALSE(gap && there) << key << " survived a write acknowledged before it";
            gap = gap || !there;
          }
        }
      }
      return Status::OK();
    });
    EXPECT_TRUE(read.ok()) << read.ToString();
  }
  return tally;
}

// The device's store: puts one after another, on one dataset.
Tally device_schedules(bool synchronous_full, int n) {
  auto& power = PowerCutVfs::install();
  Tally tally;
  for (int schedule = 0; schedule < n; ++schedule) {
    SCOPED_TRACE("schedule " + std::to_string(schedule));
    TempDir dir("cairn-power-device");
    localstore::Options options;
    options.path = dir.path + "/device.db";
    options.synchronous_full = synchronous_full;
    std::mt19937_64 rng(9000 + static_cast<uint64_t>(schedule));
    const int cut_after = 1 + static_cast<int>(rng() % 300);
    std::vector<std::pair<std::string, std::string>> acked;  // in order
    {
      auto store = localstore::LocalStore::open(options);
      if (!store.ok()) {
        ADD_FAILURE() << store.status().ToString();
        return tally;
      }
      for (int i = 0; i < cut_after; ++i) {
        // Keys are rewritten as the schedule goes: a later put overwrites an earlier one.
        std::string key = "k" + std::to_string(rng() % 40);
        std::string value = std::to_string(i);
        Status s = (*store)->put("save", key, value);
        if (!s.ok()) break;
        acked.emplace_back(key, value);
      }
      power.cut();
    }
    power.restore();
    ++tally.cuts;
    EXPECT_EQ(integrity(options.path), "ok");
    auto store = localstore::LocalStore::open(options);
    if (!store.ok()) {
      ADD_FAILURE() << "after the cut: " << store.status().ToString();
      continue;
    }
    auto all = (*store)->get_all("save");
    if (!all.ok()) {
      ADD_FAILURE() << all.status().ToString();
      continue;
    }
    // The state after the first `m` puts, for the m that matches what survived.
    std::map<std::string, std::string> state;
    std::vector<std::map<std::string, std::string>> after{state};
    for (const auto& [k, v] : acked) {
      state[k] = v;
      after.push_back(state);
    }
    tally.acknowledged += acked.size();
    if (synchronous_full) {
      EXPECT_EQ(*all, after.back()) << "every acknowledged put is there";
      tally.survived += acked.size();
    } else {
      int prefix = -1;
      for (size_t m = after.size(); m-- > 0;) {
        if (after[m] == *all) {
          prefix = static_cast<int>(m);
          break;
        }
      }
      EXPECT_GE(prefix, 0) << "what survived is the state after some prefix of the puts";
      if (prefix >= 0) {
        tally.survived += static_cast<uint64_t>(prefix);
        tally.lost += acked.size() - static_cast<size_t>(prefix);
      }
    }
    // The dirty flags agree with the dataset's count of pending changes.
    auto records = (*store)->get_all_records("save");
    auto info = (*store)->sync_state("save");
    if (!records.ok() || !info.ok()) {
      ADD_FAILURE() << "cannot read the dataset back";
      continue;
    }
    int64_t dirty = 0;
    for (const auto& r : *records) dirty += r.dirty ? 1 : 0;
    EXPECT_EQ(*info ? (*info)->dirty_count : 0, dirty);
  }
  return tally;
}

void print(const char* what, const Tally& t) {
  std::printf(
      "\npower cuts, %s: %d schedules, %llu acknowledged writes, %llu survived, %llu lost\n", what,
      t.cuts, static_cast<unsigned long long>(t.acknowledged),
      static_cast<unsigned long long>(t.survived), static_cast<unsigned long long>(t.lost));
}

TEST(PowerLoss, TheServerUnderFullKeepsEveryAcknowledgedWrite) {
  Tally t = server_schedules(server::Durability::kFull, schedules());
  print("server, synchronous=FULL", t);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_GT(t.acknowledged, 0u);
}

TEST(PowerLoss, TheServerUnderNormalKeepsAPrefixOfEachWritersAcknowledgedWrites) {
  Tally t = server_schedules(server::Durability::kNormal, schedules());
  print("server, synchronous=NORMAL", t);
  // Nothing synced between checkpoints: the cut takes those writes back, which is what FULL's
  // zero above is measured against.
  EXPECT_GT(t.lost, 0u);
}

TEST(PowerLoss, ADeviceWithDurableWritesKeepsEveryAcknowledgedPut) {
  Tally t = device_schedules(/*synchronous_full=*/true, schedules());
  print("device, synchronous=FULL", t);
  EXPECT_EQ(t.lost, 0u);
}

TEST(PowerLoss, ADeviceByDefaultKeepsAPrefixOfItsPutsWithConsistentDirtyFlags) {
  Tally t = device_schedules(/*synchronous_full=*/false, schedules());
  print("device, synchronous=NORMAL", t);
  EXPECT_GT(t.lost, 0u);
}

// A full disk: the write fails with a typed error and leaves nothing behind; reads go on; once
// there is room again, writes do too.
TEST(DiskFull, TheServerRefusesTheWriteWithARetryableErrorAndKeepsServingReads) {
  auto& vfs = PowerCutVfs::install();
  TempDir dir("cairn-full-server");
  auto storage = server::open_storage("sqlite:" + dir.path + "/server.db");
  ASSERT_TRUE(storage.ok()) << storage.status().ToString();
  auto write = [&](const std::string& key) {
    return (*storage)->write([&](server::StorageTxn& txn) {
      txn.set_meta(key, "v");
      txn.set_meta(key + "-second", "v");
      return Status::OK();
    });
  };
  ASSERT_TRUE(write("before").ok());
  vfs.set_disk_full(true);
  Status refused = write("during");
  vfs.set_disk_full(false);
  // InternalErrorException, HTTP 500: every SDK retries it.
  EXPECT_EQ(refused.code(), ErrorCode::kInternalError) << refused.ToString();
  EXPECT_NE(refused.message().find("full"), std::string::npos) << refused.message();
  vfs.set_disk_full(true);
  Status read = (*storage)->read([&](server::StorageTxn& txn) {
    EXPECT_TRUE(txn.meta("before").has_value());
    EXPECT_FALSE(txn.meta("during").has_value()) << "nothing half-written";
    EXPECT_FALSE(txn.meta("during-second").has_value());
    return Status::OK();
  });
  vfs.set_disk_full(false);
  EXPECT_TRUE(read.ok()) << "reads go on while the disk is full: " << read.ToString();
  EXPECT_TRUE(write("after").ok());
}

TEST(DiskFull, ADevicePutFailsWithAStorageErrorAndLosesNothing) {
  auto& vfs = PowerCutVfs::install();
  TempDir dir("cairn-full-device");
  localstore::Options options;
  options.path = dir.path + "/device.db";
  auto store = localstore::LocalStore::open(options);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->put("save", "gold", "10").ok());
  vfs.set_disk_full(true);
  Status refused = (*store)->put("save", "gems", "4");
  Status batch = (*store)->put_all("save", {{"gold", "11"}, {"xp", "9"}});
  auto during = (*store)->get("save", "gold");
  vfs.set_disk_full(false);
  EXPECT_EQ(refused.code(), ErrorCode::kStorage) << refused.ToString();
  EXPECT_NE(refused.message().find("full"), std::string::npos) << refused.message();
  EXPECT_EQ(batch.code(), ErrorCode::kStorage);
  ASSERT_TRUE(during.ok()) << "reads go on: " << during.status().ToString();
  EXPECT_EQ(*during, "10");
  EXPECT_EQ(*(*store)->get("save", "gems"), std::nullopt);
  EXPECT_EQ(*(*store)->get("save", "gold"), "10") << "the refused batch wrote nothing";
  EXPECT_EQ(*(*store)->get("save", "xp"), std::nullopt);
  ASSERT_TRUE((*store)->put("save", "gems", "4").ok());
  EXPECT_EQ((*store)->sync_state("save").value()->dirty_count, 2);
}

// The VFS itself: without a sync, a cut takes a write back; after one, it stays.
TEST(PowerLoss, TheVfsLosesWhatWasNotSyncedAndKeepsWhatWas) {
  auto& power = PowerCutVfs::install();
  TempDir dir("cairn-power-vfs");
  std::string path = dir.path + "/v.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                           "CREATE TABLE t(x); INSERT INTO t VALUES(1);"
                           "PRAGMA synchronous=OFF; INSERT INTO t VALUES(2);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    power.cut();
    sqlite3_close(db);
  }
  power.restore();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT group_concat(x) FROM t", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "1")
      << "the synced row stays, the unsynced one is gone";
  sqlite3_finalize(s);
  sqlite3_close(db);
}

}  // namespace
}  // namespace cairn::testing
