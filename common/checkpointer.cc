#include "common/checkpointer.h"

#include <utility>

namespace cairn::sqlite {

Checkpointer::Checkpointer(std::string path, int flags, int pages, int backstop_pages)
    : path_(std::move(path)), flags_(flags), pages_(pages), backstop_pages_(backstop_pages) {}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::watch(Connection& c) { sqlite3_wal_hook(c.handle(), &on_commit, this); }

int Checkpointer::on_commit(void* self, sqlite3* db, const char* schema, int pages) {
  auto* cp = static_cast<Checkpointer*>(self);
  if (pages >= cp->backstop_pages_) {
    // What SQLite's own hook does, at a larger size: a PASSIVE checkpoint in this commit.
    sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    ++cp->inline_;
  } else if (pages >= cp->pages_) {
    cp->wake();
  }
  return SQLITE_OK;  // the commit stands whatever the checkpoint did
}

void Checkpointer::wake() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    pending_ = true;
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
  }
  cv_.notify_one();
}

void Checkpointer::loop() {
  std::unique_ptr<Connection> c;
  try {
    c = std::make_unique<Connection>(path_, flags_);
    // A connection opens the WAL with its first read; until then it has nothing to checkpoint.
    c->exec("SELECT count(*) FROM sqlite_master");
  } catch (const Error&) {
    return;  // the backstop keeps the WAL bounded without this thread
  }
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return pending_ || stopping_; });
    if (stopping_) return;
    pending_ = false;
    l.unlock();
    // PASSIVE: copies what no reader still needs, waits for no lock. A later commit wakes this
    // again if anything was left behind.
    sqlite3_wal_checkpoint_v2(c->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    ++background_;
    l.lock();
  }
}

}  // namespace cairn::sqlite
