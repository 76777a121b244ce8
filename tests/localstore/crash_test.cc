// Crash safety: a child writes and acknowledges records and is SIGKILLed at random points, many
// times. After each kill the store reopens and every acknowledged write is there, dirty.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "crash_ops.h"
#include "localstore/local_store.h"

namespace cairn::localstore {
namespace {

constexpr int kTrials = 40;

TEST(CrashSafety, EveryAcknowledgedWriteSurvivesSigkillAtRandomPoints) {
  char tmpl[] = "/tmp/cairn-crash-test-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string file = dir + "/cairn.db";
  std::mt19937 rng(20261125);
  std::map<std::string, std::optional<std::string>> acked;  // key -> last acknowledged value
  size_t total_acks = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      std::string prefix = "t" + std::to_string(trial % 4);  // later trials overwrite earlier keys
      execl(CAIRN_CRASH_WRITER, CAIRN_CRASH_WRITER, file.c_str(), prefix.c_str(), nullptr);
      _exit(127);
    }
    close(fds[1]);
    // Let it run for a random while, reading acknowledgements as they come. Even trials count the
    // while from the start, so some kills land while the store opens; odd trials from the first
    // acknowledgement, so that every odd trial sees writes however slowly this machine starts a
    // process (a sanitized build under load may take longer than the whole while to open).
    auto extra = std::chrono::milliseconds(5 + rng() % 60);
    bool from_first_ack = trial % 2 == 1;
    auto deadline = std::chrono::steady_clock::now() + extra;
    auto hung = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::string buffer;
    char chunk[4096];
    bool killed = false;
    while (true) {
      if (from_first_ack) {
        bool acked_once = buffer.find('\n') != std::string::npos;
        deadline = acked_once ? std::min(deadline, std::chrono::steady_clock::now() + extra) : hung;
        if (acked_once) from_first_ack = false;
      }
      if (!killed && std::chrono::steady_clock::now() >= deadline) {
        kill(pid, SIGKILL);
        killed = true;
      }
      fd_set set;
      FD_ZERO(&set);
      FD_SET(fds[0], &set);
      timeval tv{0, 2000};
      if (select(fds[0] + 1, &set, nullptr, nullptr, &tv) > 0) {
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n <= 0) break;  // the child is gone and the pipe drained
        buffer.append(chunk, static_cast<size_t>(n));
      }
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "the writer stopped by itself: exit " << WEXITSTATUS(status);
    // Only complete lines are acknowledgements; a line cut by the kill was never acknowledged.
    std::string prefix = "t" + std::to_string(trial % 4);
    std::istringstream lines(buffer.substr(0, buffer.rfind('\n') + 1));
    std::string word;
    long i = -1, last = -1;
    while (lines >> word >> i) {
      for (const auto& [k, v] : crash::op(prefix, i)) acked[k] = v;
      last = i;
      ++total_acks;
    }
    // The operation after the last acknowledgement may have committed before the kill: durable
    // but never acknowledged, and allowed to supersede.
    auto in_flight = crash::op(prefix, last + 1);
    Options o;
    o.path = file;
    auto store = LocalStore::open(o);
    ASSERT_TRUE(store.ok()) << "trial " << trial << ": " << store.status().ToString();
    std::map<std::string, std::optional<std::string>> committed_in_flight;
    for (const auto& [k, v] : acked) {
      auto r = (*store)->record("crash", k);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_TRUE(r->has_value()) << "trial " << trial << ": acknowledged key " << k
                                  << " is missing";
      auto later = in_flight.find(k);
      bool superseded = later != in_flight.end() && (*r)->value == later->second;
      EXPECT_TRUE((*r)->value == v || superseded) << "trial " << trial << ", key " << k;
      if (superseded) committed_in_flight[k] = (*r)->value;
      EXPECT_TRUE((*r)->dirty) << "an unpushed write must stay dirty";
    }
    // A batch is one transaction: of its keys whose new value differs from the old, either all
    // show the new value or none does.
    int changed = 0, landed = 0;
    for (const auto& [k, v] : in_flight) {
      auto before = acked.find(k);
      if (before != acked.end() && before->second == v) continue;
      ++changed;
      auto r = (*store)->record("crash", k);
      if (r.ok() && r->has_value() && (*r)->value == v) ++landed;
    }
    EXPECT_TRUE(landed == 0 || landed == changed) << "trial " << trial << ": a torn batch";
    // What committed is durable: later trials expect it.
    for (const auto& [k, v] : committed_in_flight) acked[k] = v;
    auto info = (*store)->dataset("crash");
    if (info.ok() && info->has_value()) {
      auto live = (*store)->get_all("crash");
      EXPECT_EQ((*info)->record_count, static_cast<int64_t>(live->size()))
          << "stats agree with rows";
    }
  }
  EXPECT_GE(total_acks, static_cast<size_t>(kTrials / 2)) << "the trials did real work";
  std::cout << "crash test: " << kTrials << " SIGKILLs, " << total_acks
            << " acknowledged writes, 0 lost\n";
  std::filesystem::remove_all(dir);
}

// A store as schema version 3 left it: `rows` records, the even ones clean (their base is their
// value), the odd ones written since their last sync (dirty, with a stored base).
void write_version3_store(const std::string& file, int rows) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  const char* schema = R"sql(
    PRAGMA journal_mode=WAL;
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE datasets(owner TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
      last_modified INTEGER NOT NULL, last_modified_by TEXT NOT NULL,
      last_sync_count INTEGER NOT NULL, last_sync_time INTEGER NOT NULL,
      last_sync_result TEXT NOT NULL DEFAULT '', PRIMARY KEY(owner, name));
    CREATE TABLE records(owner TEXT NOT NULL, dataset TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
      sync_count INTEGER NOT NULL, last_modified INTEGER NOT NULL, last_modified_by TEXT NOT NULL,
      device_last_modified INTEGER NOT NULL, dirty INTEGER NOT NULL, local_version INTEGER NOT NULL,
      base_value TEXT, has_base INTEGER NOT NULL, PRIMARY KEY(owner, dataset, key),
      FOREIGN KEY(owner, dataset) REFERENCES datasets(owner, name));
    CREATE INDEX records_dirty ON records(owner, dataset, key) WHERE dirty = 1;
    INSERT INTO meta VALUES('cairn.identity_id', 'us-east-1:legacy');
    INSERT INTO datasets VALUES('us-east-1:legacy', 'old', 1, 1, '', 7, 0, '');
    BEGIN;
  )sql";
  ASSERT_EQ(sqlite3_exec(db, schema, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_stmt* insert = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO records VALUES('us-east-1:legacy', 'old', ?1, ?2, 7, "
                               "1, 'server', 1, ?3, ?3, CASE WHEN ?3 THEN ?4 END, "
                               "CASE WHEN ?3 THEN 1 ELSE 2 END)",
                               -1, &insert, nullptr),
            SQLITE_OK);
  for (int i = 0; i < rows; ++i) {
    std::string key = "k" + std::to_string(i), value = std::string(200, 'v') + key;
    std::string base = "base-" + key;
    sqlite3_bind_text(insert, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(insert, 2, value.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(insert, 3, i % 2);
    sqlite3_bind_text(insert, 4, base.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
    sqlite3_reset(insert);
  }
  sqlite3_finalize(insert);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT; PRAGMA user_version = 3;", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
}

// Opening a store from before the values moved to a table of their own migrates it in one
// transaction. A process killed anywhere in that (or in the writes after it) leaves a store
// that opens with every row, value, base and flag as it was.
TEST(CrashSafety, AMigrationKilledAnywhereLeavesEveryRowAsItWas) {
  char tmpl[] = "/tmp/cairn-migrate-crash-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string original = dir + "/v3.db", file = dir + "/cairn.db";
  constexpr int kRows = 20000;
  write_version3_store(original, kRows);
  ASSERT_FALSE(HasFatalFailure());
  auto fresh_copy = [&] {
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file + suffix);
    std::filesystem::copy_file(original, file);
  };
  // How long this machine takes to open and migrate it: the kills are spread over twice that,
  // plus the start of a process, so that some land inside the migration on a machine of any
  // speed. Where each one lands does not change what must hold after it.
  fresh_copy();
  auto started = std::chrono::steady_clock::now();
  {
    Options o;
    o.path = file;
    ASSERT_TRUE(LocalStore::open(o).ok());
  }
  auto migrate_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
  std::mt19937 rng(20261206);
  constexpr int kMigrationTrials = 12;
  for (int trial = 0; trial < kMigrationTrials; ++trial) {
    fresh_copy();
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      execl(CAIRN_CRASH_WRITER, CAIRN_CRASH_WRITER, file.c_str(), "m", nullptr);
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % (2 * migrate_ms + 20)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "the writer stopped by itself: exit " << WEXITSTATUS(status);
    Options o;
    o.path = file;
    auto store = LocalStore::open(o);
    ASSERT_TRUE(store.ok()) << "trial " << trial << ": " << store.status().ToString();
    auto all = (*store)->get_all_records("old");
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    ASSERT_EQ(all->size(), static_cast<size_t>(kRows)) << "trial " << trial;
    for (const auto& r : *all) {
      int i = std::stoi(r.key.substr(1));
      ASSERT_EQ(r.value, std::string(200, 'v') + r.key) << "trial " << trial;
      ASSERT_EQ(r.dirty, i % 2 == 1) << "trial " << trial << ", " << r.key;
      ASSERT_EQ(r.base_value, i % 2 ? "base-" + r.key : *r.value) << "trial " << trial;
      ASSERT_EQ(r.sync_count, 7);
    }
    EXPECT_EQ((*(*store)->sync_state("old"))->dirty_count, kRows / 2);
    EXPECT_EQ((*(*store)->dataset("old"))->last_sync_count, 7);
  }
  std::cout << "migration crash test: " << kMigrationTrials << " SIGKILLs within "
            << 2 * migrate_ms + 20 << " ms of the start (a migration takes " << migrate_ms
            << " ms here), " << kRows << " rows kept each time\n";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cairn::localstore
