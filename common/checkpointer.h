// Checkpoints of a WAL database on a thread of their own, so that no commit pays for one.
//
// Left to itself, SQLite checkpoints inside whichever commit finds the WAL past 1000 pages: that
// commit copies the WAL into the database file and syncs both before it returns, which turned one
// push in four into a push twice as long. A connection handed to watch() stops checkpointing
// itself; once a commit leaves `pages` or more in the WAL, it wakes this checkpointer's thread,
// which runs a PASSIVE checkpoint (never blocking readers or writers) on a connection of its own.
// Should the WAL still reach `backstop_pages` (the thread failed to open its connection, or cannot
// keep up), the commit checkpoints inline, as SQLite would have, so the WAL stays bounded.
//
// The thread starts with the first wake-up: a process that writes a record and exits never
// creates it. The last connection to close checkpoints what is left, as SQLite always does.
//
// For bursty writers (a device: a put now and then, a sync's write-back). Under sustained writes
// a checkpoint beside the commits copies only what the WAL held when it began, so the WAL is
// seldom reset, and its syncs queue with the commits' (cairn-server keeps SQLite's own,
// docs/server.md).
//
// Thread safety: watch() before the connection is used; everything else from any thread. Destroy
// the checkpointer after the connections it watches (their hooks point at it).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/sqlite.h"

namespace cairn::sqlite {

class Checkpointer {
 public:
  static constexpr int kPages = 1000;  // SQLite's own auto-checkpoint threshold
  static constexpr int kBackstopPages = 10 * kPages;

  // path and flags open the thread's own connection, as the watched ones were opened.
  Checkpointer(std::string path, int flags, int pages = kPages,
               int backstop_pages = kBackstopPages);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void watch(Connection& c);

  // Checkpoints run by the thread, and inline by the backstop (for tests and diagnostics).
  uint64_t background_checkpoints() const { return background_.load(); }
  uint64_t inline_checkpoints() const { return inline_.load(); }

 private:
  static int on_commit(void* self, sqlite3* db, const char* schema, int pages);
  void wake();
  void loop();

  const std::string path_;
  const int flags_;
  const int pages_;
  const int backstop_pages_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
  bool stopping_ = false;
  std::thread thread_;  // started by the first wake()
  std::atomic<uint64_t> background_{0};
  std::atomic<uint64_t> inline_{0};
};

}  // namespace cairn::sqlite
