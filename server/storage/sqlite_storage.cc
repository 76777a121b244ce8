// The SQLite backend: WAL, a busy timeout, one connection per concurrent transaction (pooled),
// prepared statements cached per connection, versioned migrations, group commits of writers. The
// transaction's SQL is in sqlite_txn.cc.
#include "common/sqlite.h"

#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

#include "server/storage/sqlite_txn.h"
#include "server/storage/storage.h"

namespace cairn::server {
namespace {

// Each entry is one schema version; a database records the highest it has applied. Never edit a
// shipped entry: add a new one.
const char* const kMigrations[] = {
    // 1: the initial schema.
    R"sql(
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE pools(
      id TEXT PRIMARY KEY, name TEXT NOT NULL, allow_unauthenticated INTEGER NOT NULL,
      developer_provider_name TEXT NOT NULL, settings_json TEXT NOT NULL, events_json TEXT NOT NULL,
      push_sync_json TEXT NOT NULL, streams_json TEXT NOT NULL, bulk_status TEXT NOT NULL,
      bulk_started INTEGER NOT NULL, bulk_completed INTEGER NOT NULL, bulk_failure TEXT NOT NULL,
      sync_sessions INTEGER NOT NULL, created INTEGER NOT NULL, modified INTEGER NOT NULL);
    CREATE INDEX pools_by_name ON pools(name, id);
    CREATE TABLE identities(
      id TEXT PRIMARY KEY, pool_id TEXT NOT NULL, created INTEGER NOT NULL, modified INTEGER NOT NULL);
    CREATE INDEX identities_by_pool ON identities(pool_id, id);
    CREATE TABLE logins(
      pool_id TEXT NOT NULL, provider TEXT NOT NULL, subject TEXT NOT NULL, identity_id TEXT NOT NULL,
      PRIMARY KEY(pool_id, provider, subject));
    CREATE INDEX logins_by_identity ON logins(identity_id);
    CREATE TABLE credentials(
      access_key_id TEXT PRIMARY KEY, secret_access_key TEXT NOT NULL,
      session_token_sha256 TEXT NOT NULL, identity_id TEXT NOT NULL, pool_id TEXT NOT NULL,
      expires INTEGER NOT NULL);
    CREATE INDEX credentials_by_identity ON credentials(identity_id);
    CREATE INDEX credentials_by_expiry ON credentials(expires);
    CREATE TABLE datasets(
      pool_id TEXT NOT NULL, identity_id TEXT NOT NULL, name TEXT NOT NULL,
      created INTEGER NOT NULL, modified INTEGER NOT NULL, modified_by TEXT NOT NULL,
      sync_count INTEGER NOT NULL, deleted INTEGER NOT NULL, deleted_at_count INTEGER NOT NULL,
      merge_root TEXT NOT NULL, num_records INTEGER NOT NULL, data_storage INTEGER NOT NULL,
      PRIMARY KEY(identity_id, name));
    CREATE INDEX datasets_by_pool ON datasets(pool_id, identity_id, name);
    CREATE TABLE records(
      identity_id TEXT NOT NULL, dataset TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
      sync_count INTEGER NOT NULL, modified INTEGER NOT NULL, modified_by TEXT NOT NULL,
      device_modified INTEGER,
      PRIMARY KEY(identity_id, dataset, key));
    CREATE INDEX records_by_count ON records(identity_id, dataset, sync_count, key);
    CREATE TABLE devices(
      id TEXT PRIMARY KEY, identity_id TEXT NOT NULL, pool_id TEXT NOT NULL, platform TEXT NOT NULL,
      token TEXT NOT NULL, created INTEGER NOT NULL, UNIQUE(identity_id, platform, token));
    CREATE TABLE subscriptions(
      device_id TEXT NOT NULL, identity_id TEXT NOT NULL, dataset TEXT NOT NULL,
      PRIMARY KEY(device_id, dataset));
    CREATE INDEX subscriptions_by_dataset ON subscriptions(identity_id, dataset);
    )sql",
    // 2: the outbox of deliveries (AUTOINCREMENT: an id is never reused, even after a delete).
    R"sql(
    CREATE TABLE outbox(
      id INTEGER PRIMARY KEY AUTOINCREMENT, pool_id TEXT NOT NULL, identity_id TEXT NOT NULL,
      dataset TEXT NOT NULL, operation TEXT NOT NULL, device_id TEXT,
      sync_count INTEGER NOT NULL, modified INTEGER NOT NULL, webhook INTEGER NOT NULL,
      stream TEXT NOT NULL, stream_record TEXT NOT NULL, done TEXT NOT NULL,
      attempts INTEGER NOT NULL, created INTEGER NOT NULL, lease_until INTEGER NOT NULL);
    CREATE INDEX outbox_by_lease ON outbox(lease_until, id);
    CREATE INDEX outbox_by_created ON outbox(created, id);
    )sql",
};

using sqlite::Stmt;
using SqliteError = sqlite::Error;

// A server connection: WAL, a busy timeout, foreign keys.
class Connection : public sqlite::Connection {
 public:
  Connection(const std::string& path, Durability durability)
      : sqlite::Connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    // Writers of another process queue for up to 10 s rather than failing with SQLITE_BUSY.
    sqlite3_busy_timeout(handle(), 10000);
    exec("PRAGMA journal_mode=WAL");
    exec(durability == Durability::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
  }
};

class SqliteStorage final : public Storage {
 public:
  SqliteStorage(std::string path, Durability durability)
      : path_(std::move(path)), durability_(durability) {
    auto c = std::make_unique<Connection>(path_, durability_);
    auto sync = c->prepare("PRAGMA synchronous");  // as SQLite holds it, not as asked
    sync.step();
    synchronous_ = sync.i64(0);
    migrate(*c);
    idle_.push_back(std::move(c));
  }

  Status read(const std::function<Status(StorageTxn&)>& fn) override { return run(fn, "BEGIN"); }

  // SQLite has one writer at a time, so writes are committed in groups: a writer queues its
  // transaction; whoever finds no commit under way leads, runs every queued transaction in one
  // SQLite transaction, each inside its own savepoint (a failed one rolls back alone), commits
  // once, then answers each. Under load that turns N lock handoffs and N commits into one, and
  // nobody answers before the commit that holds their write. IMMEDIATE takes the file lock up
  // front, so another process sharing the file waits on the busy timeout instead of deadlocking
  // on a lock upgrade.
  Status write(const std::function<Status(StorageTxn&)>& fn) override {
    QueuedWrite mine{&fn, Status::OK(), false};
    std::unique_lock<std::mutex> l(queue_mu_);
    queue_.push_back(&mine);
    queue_cv_.wait(l, [&] { return mine.done || !leading_; });
    if (mine.done) return mine.status;
    leading_ = true;
    std::vector<QueuedWrite*> group;
    group.swap(queue_);
    l.unlock();
    commit_group(group);
    l.lock();
    leading_ = false;
    l.unlock();
    queue_cv_.notify_all();
    return mine.status;
  }
  std::string describe() const override { return "sqlite:" + path_; }
  std::string durability() const override {
    switch (synchronous_) {
      case 2:
        return "synchronous=FULL: every commit is on disk before it is acknowledged";
      case 1:
        return "synchronous=NORMAL: a power loss or OS crash may lose the last acknowledged "
               "commits";
      default:
        return "synchronous=" + std::to_string(synchronous_);
    }
  }
  Status ping() override {
    return read([](StorageTxn& txn) {
      (void)txn.count_pools();
      return Status::OK();
    });
  }

 private:
  static void migrate(Connection& c) {
    c.exec("BEGIN IMMEDIATE");
    try {
      c.exec("CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY)");
      auto s = c.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
      s.step();
      int64_t have = s.i64(0);
      int64_t want = static_cast<int64_t>(sizeof(kMigrations) / sizeof(kMigrations[0]));
      if (have > want) {
        throw SqliteError("database schema version " + std::to_string(have) +
                              " is newer than this server (" + std::to_string(want) + ")",
                          SQLITE_ERROR);
      }
      for (int64_t v = have + 1; v <= want; ++v) {
        c.exec(kMigrations[v - 1]);
        c.prepare("INSERT INTO schema_migrations(version) VALUES(?)").bind(v).run();
      }
      c.exec("COMMIT");
    } catch (...) {
      c.exec("ROLLBACK");
      throw;
    }
  }

  Status run(const std::function<Status(StorageTxn&)>& fn, const char* begin) {
    std::unique_ptr<Connection> c;
    try {
      c = acquire();
      c->run(begin);
    } catch (const std::exception& e) {
      if (c) release(std::move(c));
      return Status(ErrorCode::kInternalError, std::string("storage: ") + e.what());
    }
    Status result;
    try {
      auto txn = sqlite_txn::open(*c);
      result = fn(*txn);
      c->run(result.ok() ? "COMMIT" : "ROLLBACK");
    } catch (const std::exception& e) {
      try {
        c->run("ROLLBACK");
      } catch (...) {
      }
      result = Status(ErrorCode::kInternalError, std::string("storage: ") + e.what());
    }
    release(std::move(c));
    return result;
  }

  struct QueuedWrite {
    const std::function<Status(StorageTxn&)>* fn;
    Status status;
    bool done = false;
  };

  // Runs the group in one transaction; sets each one's status and done (under queue_mu_).
  void commit_group(const std::vector<QueuedWrite*>& group) {
    std::vector<Status> results(group.size());
    Status failed;  // set when the group as a whole could not commit
    std::unique_ptr<Connection> c;
    try {
      c = acquire();
      c->run("BEGIN IMMEDIATE");
      auto txn = sqlite_txn::open(*c);
      for (size_t i = 0; i < group.size(); ++i) {
        c->run("SAVEPOINT one_write");
        try {
          results[i] = (*group[i]->fn)(*txn);
        } catch (const std::exception& e) {
          results[i] = Status(ErrorCode::kInternalError, std::string("storage: ") + e.what());
        }
        if (!results[i].ok()) c->run("ROLLBACK TO one_write");
        c->run("RELEASE one_write");
      }
      c->run("COMMIT");
    } catch (const std::exception& e) {
      failed = Status(ErrorCode::kInternalError, std::string("storage: ") + e.what());
      if (c) {
        try {
          c->run("ROLLBACK");
        } catch (...) {
        }
      }
    }
    if (c) release(std::move(c));
    std::lock_guard<std::mutex> l(queue_mu_);
    for (size_t i = 0; i < group.size(); ++i) {
      group[i]->status = failed.ok() ? results[i] : failed;
      group[i]->done = true;
    }
  }

  std::unique_ptr<Connection> acquire() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return std::make_unique<Connection>(path_, durability_);
  }
  void release(std::unique_ptr<Connection> c) {
    std::lock_guard<std::mutex> l(mu_);
    // Enough idle connections for every request a busy server runs at once: opening one (and
    // preparing its statements again) costs more than the request it serves.
    if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(c));
  }

  // Readers kept open between transactions: above the workers and I/O threads any server runs
  // with, so a busy server opens none per request, and few enough to bound its file handles.
  static constexpr size_t kMaxIdleConnections = 128;
  std::string path_;
  Durability durability_;
  int64_t synchronous_ = -1;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::vector<QueuedWrite*> queue_;
  bool leading_ = false;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace

namespace {

// Copies database `from` into `to` (both open) in one step; SQLITE_BUSY or LOCKED are retried.
Status copy_database(sqlite3* from, sqlite3* to, const std::string& what) {
  sqlite3_backup* b = sqlite3_backup_init(to, "main", from, "main");
  if (b == nullptr) {
    return Status(ErrorCode::kInternalError, what + ": " + sqlite3_errmsg(to));
  }
  int rc;
  for (int tries = 0;; ++tries) {
    rc = sqlite3_backup_step(b, -1);
    if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries >= 100) break;
    sqlite3_sleep(100);
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    return Status(ErrorCode::kInternalError, what + ": " + sqlite3_errstr(rc));
  }
  return Status::OK();
}

Status check_integrity(sqlite3* db, const std::string& what) {
  sqlite3_stmt* s = nullptr;
  std::string verdict = "cannot check";
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    verdict = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  if (verdict != "ok") return Status(ErrorCode::kInternalError, what + ": " + verdict);
  return Status::OK();
}

struct Db {
  sqlite3* db = nullptr;
  ~Db() { sqlite3_close(db); }
};

Status open_db(const std::string& path, int flags, Db* out, const std::string& what) {
  if (sqlite3_open_v2(path.c_str(), &out->db, flags, nullptr) != SQLITE_OK) {
    return Status(ErrorCode::kInvalidArgument,
                  what + " " + path + ": " + (out->db ? sqlite3_errmsg(out->db) : "cannot open"));
  }
  sqlite3_busy_timeout(out->db, 10000);
  return Status::OK();
}

}  // namespace

Status backup_sqlite(const std::string& db_path, const std::string& to_file) {
  if (!std::filesystem::exists(db_path)) {
    return Status(ErrorCode::kInvalidArgument, "no database at " + db_path);
  }
  Db from, to;
  Status s = open_db(db_path, SQLITE_OPEN_READONLY, &from, "cannot read");
  if (!s.ok()) return s;
  std::error_code ec;
  std::filesystem::remove(to_file, ec);
  s = open_db(to_file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &to, "cannot write");
  if (!s.ok()) return s;
  s = copy_database(from.db, to.db, "backup of " + db_path);
  if (!s.ok()) return s;
  return check_integrity(to.db, "the backup " + to_file);
}

Status restore_sqlite(const std::string& from_file, const std::string& db_path) {
  if (!std::filesystem::exists(from_file)) {
    return Status(ErrorCode::kInvalidArgument, "no backup at " + from_file);
  }
  Db from, to;
  Status s = open_db(from_file, SQLITE_OPEN_READONLY, &from, "cannot read");
  if (!s.ok()) return s;
  s = check_integrity(from.db, "the backup " + from_file);
  if (!s.ok()) return s;
  s = open_db(db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &to, "cannot write");
  if (!s.ok()) return s;
  return copy_database(from.db, to.db, "restore into " + db_path);
}

Result<std::unique_ptr<Storage>> open_storage(const std::string& url, StorageOptions options) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    return open_postgres_storage(url, options);
  }
  if (url.rfind("sqlite:", 0) != 0) {
    return Status(
        ErrorCode::kInvalidArgument,
        "unsupported --db '" + url + "': use sqlite:PATH or postgresql://USER@HOST:PORT/DATABASE");
  }
  std::string path = url.substr(7);
  if (path.empty()) return Status(ErrorCode::kInvalidArgument, "--db sqlite: needs a path");
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) {
    return Status(ErrorCode::kInvalidArgument,
                  "cannot create directory " + parent.string() + ": " + ec.message());
  }
  try {
    return std::unique_ptr<Storage>(new SqliteStorage(path, options.durability));
  } catch (const std::exception& e) {
    return Status(ErrorCode::kInvalidArgument, e.what());
  }
}

}  // namespace cairn::server
