// The background checkpointer on real SQLite files: a watched writer's commits never checkpoint
// themselves below the backstop, the thread copies the WAL into the database once it passes the
// threshold, and no thread starts until then.
#include "common/checkpointer.h"

#include <gtest/gtest.h>

#include <climits>
#include <filesystem>
#include <string>

#include "fixtures/wait.h"
#include "temp_dir.h"

namespace cairn::testing {
namespace {

constexpr int kFlags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

size_t process_threads() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

struct Db {
  TempDir dir{"cairn-checkpointer"};
  std::string path = dir.path + "/db";
  sqlite::Connection writer{path, kFlags};
  Db() {
    writer.exec("PRAGMA journal_mode=WAL");
    writer.exec("CREATE TABLE t(v BLOB)");
  }
  // Commits of one 4 KB row each: about a page of WAL per commit.
  void write(int commits) {
    for (int i = 0; i < commits; ++i) writer.exec("INSERT INTO t VALUES(zeroblob(4000))");
  }
  uintmax_t file_size() { return std::filesystem::file_size(path); }
  int64_t autocheckpoint() {
    auto s = writer.prepare("PRAGMA wal_autocheckpoint");
    s.step();
    return s.i64(0);
  }
};

TEST(Checkpointer, TheThreadCopiesTheWalIntoTheDatabaseOnceItPassesTheThreshold) {
  Db db;
  auto before = db.file_size();
  sqlite::Checkpointer cp(db.path, kFlags, /*pages=*/200, /*backstop_pages=*/INT_MAX);
  cp.watch(db.writer);
  EXPECT_EQ(db.autocheckpoint(), 0) << "SQLite's own checkpoint in the commit is off";
  size_t threads = process_threads();
  db.write(20);  // a few pages of WAL each
  EXPECT_EQ(process_threads(), threads) << "below the threshold, no thread";
  EXPECT_EQ(cp.background_checkpoints(), 0u);
  EXPECT_EQ(db.file_size(), before) << "nothing checkpointed yet";
  db.write(200);
  ASSERT_TRUE(eventually([&] { return cp.background_checkpoints() >= 1; }));
  ASSERT_TRUE(eventually([&] { return db.file_size() >= before + 100 * 4096; }))
      << "the rows reached the database file: " << db.file_size();
  EXPECT_EQ(cp.inline_checkpoints(), 0u);
  auto count = db.writer.prepare("SELECT count(*) FROM t");
  count.step();
  EXPECT_EQ(count.i64(0), 220);
}

TEST(Checkpointer, WithoutItsThreadTheBackstopCheckpointsInTheCommit) {
  Db db;
  auto before = db.file_size();
  sqlite::Checkpointer cp(db.path, kFlags, /*pages=*/INT_MAX, /*backstop_pages=*/32);
  cp.watch(db.writer);
  size_t threads = process_threads();
  db.write(40);
  EXPECT_GE(cp.inline_checkpoints(), 1u);
  EXPECT_GT(db.file_size(), before + 20 * 4096) << "checkpointed in the commit itself";
  EXPECT_EQ(cp.background_checkpoints(), 0u);
  EXPECT_EQ(process_threads(), threads);
}

TEST(Checkpointer, AnUnwatchedConnectionKeepsSqlitesOwnCheckpoints) {
  Db db;
  sqlite::Checkpointer cp(db.path, kFlags);
  EXPECT_EQ(db.autocheckpoint(), 1000);
}

}  // namespace
}  // namespace cairn::testing
