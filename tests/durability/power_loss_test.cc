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
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cairn/sync_manager.h"
#include "fixtures/power_cut_vfs.h"
#include "localstore/local_store.h"
#include "server/server.h"
#include "server/storage/storage.h"
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

// A device and its server lose power at the same moment, in the middle of a stream of puts and
// syncs, three times a schedule, with syncs between the cuts. After each cut both stores open
// cleanly, and every record the device holds clean at count N is on the server at a count of at
// least N (at N itself, with the same value). The server runs under FULL, its default; the device
// with durable writes in half the schedules. At the end the device syncs with the power on and
// holds what the server holds.
struct PairTally {
  int cuts = 0;
  uint64_t clean = 0, dirty = 0;  // device records checked after the cuts
  uint64_t syncs = 0;             // syncs that finished before a cut
};

std::unique_ptr<server::Server> start_server(const std::string& db) {
  server::ServerConfig config;
  config.listen = "127.0.0.1:0";
  config.db = db;
  config.bootstrap_pools = {"game"};
  config.worker_threads = 4;
  auto started = server::Server::start(config);
  if (!started.ok()) {
    ADD_FAILURE() << started.status().ToString();
    return nullptr;
  }
  return std::move(*started);
}

// The server's records of the dataset, with the server stopped: key -> (value, count).
using ServerRecords = std::map<std::string, std::pair<std::optional<std::string>, int64_t>>;
ServerRecords server_records(const std::string& db, const std::string& identity_id) {
  ServerRecords out;
  auto storage = server::open_storage(db);
  if (!storage.ok()) {
    ADD_FAILURE() << "the server's database after the cut: " << storage.status().ToString();
    return out;
  }
  Status read = (*storage)->read([&](server::StorageTxn& txn) {
    for (const auto& r : txn.records_after(identity_id, "save", 0, 0, "", 100000)) {
      out[r.key] = {r.value, r.sync_count};
    }
    return Status::OK();
  });
  EXPECT_TRUE(read.ok()) << read.ToString();
  return out;
}

// The device of the paired schedules, opened on `server`: its manager and its "save" dataset,
// or nothing (and a failure added) when either cannot be opened.
struct PairDevice {
  std::unique_ptr<SyncManager> manager;
  std::shared_ptr<Dataset> save;
};
std::optional<PairDevice> open_device(server::Server& server, const std::string& path,
                                      const std::function<void(SyncManagerOptions&)>& tweak) {
  SyncManagerOptions o;
  o.endpoint = server.url();
  o.identity_pool_id = server.pools()[0].second;
  o.database_path = path;
  tweak(o);
  auto manager = SyncManager::open(o);
  if (!manager.ok()) {
    ADD_FAILURE() << manager.status().ToString();
    return std::nullopt;
  }
  auto save = (*manager)->open_or_create_dataset("save");
  if (!save.ok()) {
    ADD_FAILURE() << save.status().ToString();
    return std::nullopt;
  }
  return PairDevice{std::move(*manager), std::move(*save)};
}

PairTally pair_schedules(int n) {
  auto& power = PowerCutVfs::install();
  PairTally tally;
  for (int schedule = 0; schedule < n; ++schedule) {
    SCOPED_TRACE("schedule " + std::to_string(schedule));
    TempDir dir("cairn-power-pair");
    const std::string db = "sqlite:" + dir.path + "/server.db";
    const std::string device_db = dir.path + "/device.db";
    std::mt19937_64 rng(11000 + static_cast<uint64_t>(schedule));
    for (int cut = 0; cut < 3; ++cut) {
      auto server = start_server(db);
      if (!server) return tally;
      {
        auto device = open_device(*server, device_db, [&](SyncManagerOptions& o) {
          o.retry.max_retries = 0;
          // Half the schedules keep each device commit on disk; under the default, a cut takes
          // back everything since the device's last checkpoint, which the property allows too.
          o.durable_writes = schedule % 2 == 0;
        });
        if (!device) return tally;
        auto& save = device->save;
        // The cut lands at a random moment of the stream below, which syncs after every few
        // puts: once a random number (0 to 3) of its syncs have finished, within twice the time
        // the last one took. Counted in syncs, not in time, so a slow build cuts as deep into the
        // stream as a fast one.
        const int after_syncs = static_cast<int>(rng() % 4);
        const uint64_t spread = rng();
        std::atomic<int> synced{0};
        std::atomic<int64_t> last_sync_us{1000};
        std::thread cutter([&] {
          while (synced.load() < after_syncs && !power.out()) {
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
          std::this_thread::sleep_for(
              std::chrono::microseconds(spread % static_cast<uint64_t>(2 * last_sync_us.load())));
          power.cut();
        });
        for (int i = 0; !power.out(); ++i) {
          std::string key = "k" + std::to_string(rng() % 12);
          Status put = save->put(
              key, std::to_string(schedule) + "." + std::to_string(cut) + "." + std::to_string(i));
          if (!put.ok()) break;
          if (i % 3 == 2) {
            auto started = std::chrono::steady_clock::now();
            SyncResult r = save->synchronize({}).get();
            last_sync_us =
                std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::microseconds>(
                                         std::chrono::steady_clock::now() - started)
                                         .count());
            if (r.status.ok() && !power.out()) ++tally.syncs;
            ++synced;
          }
        }
        cutter.join();
      }  // the device and the server close without power: nothing they write now is kept
      server.reset();
      power.restore();
      ++tally.cuts;
      EXPECT_EQ(integrity(dir.path + "/server.db"), "ok");
      EXPECT_EQ(integrity(device_db), "ok");
      localstore::Options lo;
      lo.path = device_db;
      auto store = localstore::LocalStore::open(lo);
      if (!store.ok()) {
        ADD_FAILURE() << "the device's database after the cut: " << store.status().ToString();
        return tally;
      }
      if (!(*store)->has_identity()) continue;  // the cut came before its identity was kept
      ServerRecords on_server = server_records(db, (*store)->owner());
      auto records = (*store)->get_all_records("save");
      if (!records.ok()) {
        ADD_FAILURE() << records.status().ToString();
        return tally;
      }
      for (const auto& r : *records) {
        if (r.dirty || r.sync_count <= 0) {
          ++tally.dirty;
          continue;
        }
        ++tally.clean;
        auto it = on_server.find(r.key);
        if (it == on_server.end()) {
          ADD_FAILURE() << r.key << " is clean at " << r.sync_count << " on the device and "
                        << "absent from the server";
          continue;
        }
        EXPECT_GE(it->second.second, r.sync_count)
            << r.key << ": the device holds it clean at a count the server lost";
        if (it->second.second == r.sync_count) {
          EXPECT_EQ(it->second.first, r.value) << r.key << " at count " << r.sync_count;
        }
      }
    }
    // With the power on, the device catches up and holds what the server holds.
    auto server = start_server(db);
    if (!server) return tally;
    auto device = open_device(*server, device_db, [](SyncManagerOptions&) {});
    if (!device) return tally;
    auto& save = device->save;
    auto& manager = device->manager;
    for (int i = 0; i < 2; ++i) {
      SyncResult r = save->synchronize({}).get();
      EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    }
    auto local = save->get_all();
    auto identity = manager->identity_id();
    if (!local.ok() || !identity.ok()) {
      ADD_FAILURE() << "cannot read the device back";
      return tally;
    }
    save.reset();
    manager.reset();
    server.reset();
    std::map<std::string, std::string> live;
    for (const auto& [key, rec] : server_records(db, *identity)) {
      if (rec.first) live[key] = *rec.first;
    }
    EXPECT_EQ(*local, live) << "after syncing with the power on";
  }
  return tally;
}

TEST(PowerLoss, ADeviceAndItsServerCutTogetherAgreeOnEveryRecordTheDeviceHoldsClean) {
  PairTally t = pair_schedules(std::max(1, schedules() / 2));
  std::printf(
      "\npower cuts, a device and its server together: %d cuts, %llu syncs finished before a "
      "cut, %llu records clean on the device after a cut (each on the server at its count or "
      "later), %llu dirty\n",
      t.cuts, static_cast<unsigned long long>(t.syncs), static_cast<unsigned long long>(t.clean),
      static_cast<unsigned long long>(t.dirty));
  EXPECT_GT(t.clean, 0u);
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
