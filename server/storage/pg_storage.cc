// The PostgreSQL backend, for several stateless cairn-server instances on one database
// (docs/deploy.md): the schema and its migrations, the pool of connections, transactions and
// their retries, and the LISTEN/NOTIFY listener. The connection is in pg_connection.h and the
// transaction's SQL in pg_txn.cc. It implements the same StorageTxn as SQLite over libpq:
//  - write transactions run READ COMMITTED, and lock what they read to decide before reading it
//    (PgTxn::lock, pg_txn.cc): a dataset when its row is read (UpdateRecords' count check), a login
//    when it is looked up (GetId's find-or-create), an identity when its datasets are counted (the
//    quota), a pool's name, the pool count, a device token; a pool row read to be written back is
//    read FOR UPDATE. So every read-check-write step of the handlers holds across instances as it
//    does inside one SQLite writer, and writers of different datasets never wait for each other.
//    (SERIALIZABLE would need no such list, but its predicate locks abort unrelated writers whose
//    rows share an index page: under load most sessions failed and retried.) A transaction that
//    PostgreSQL aborts as a deadlock is rolled back and run again, a bounded number of times;
//  - reads run REPEATABLE READ READ ONLY: one consistent snapshot, never aborted;
//  - a pool of connections, each with its statements prepared on first use, binary parameters
//    and results (no quoting, no text round trip of integers);
//  - versioned migrations under an advisory lock, so instances starting at once apply each
//    version once;
//  - LISTEN/NOTIFY carries credential revocations between instances (watch_revocations).
// Keys and values the client chooses freely (record keys and values, device tokens, login
// subjects) are BYTEA, since PostgreSQL's TEXT cannot hold a NUL character that JSON can; every
// other text column is COLLATE "C", so ordering, and hence pagination, is by bytes, as in SQLite.
#include <poll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "common/backoff.h"
#include "server/storage/pg_connection.h"
#include "server/storage/pg_txn.h"
#include "server/storage/storage.h"

namespace cairn::server {
namespace {

using pg::Connection;
using pg::Params;
using pg::PgError;
using pg::PgUrl;
using pg::Rows;

// Each entry is one schema version; a database records the highest it has applied. Never edit a
// shipped entry: add a new one. Column for column the SQLite schema (sqlite_storage.cc).
const char* const kMigrations[] = {
    // 1: the initial schema.
    R"sql(
    CREATE TABLE meta(key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE pools(
      id TEXT COLLATE "C" PRIMARY KEY, name TEXT COLLATE "C" NOT NULL,
      allow_unauthenticated BIGINT NOT NULL, developer_provider_name TEXT COLLATE "C" NOT NULL,
      settings_json TEXT NOT NULL, events_json TEXT NOT NULL, push_sync_json TEXT NOT NULL,
      streams_json TEXT NOT NULL, bulk_status TEXT NOT NULL, bulk_started BIGINT NOT NULL,
      bulk_completed BIGINT NOT NULL, bulk_failure TEXT NOT NULL, sync_sessions BIGINT NOT NULL,
      created BIGINT NOT NULL, modified BIGINT NOT NULL);
    CREATE INDEX pools_by_name ON pools(name, id);
    CREATE TABLE identities(
      id TEXT COLLATE "C" PRIMARY KEY, pool_id TEXT COLLATE "C" NOT NULL,
      created BIGINT NOT NULL, modified BIGINT NOT NULL);
    CREATE INDEX identities_by_pool ON identities(pool_id, id);
    CREATE TABLE logins(
      pool_id TEXT COLLATE "C" NOT NULL, provider TEXT COLLATE "C" NOT NULL, subject BYTEA NOT NULL,
      identity_id TEXT COLLATE "C" NOT NULL, PRIMARY KEY(pool_id, provider, subject));
    CREATE INDEX logins_by_identity ON logins(identity_id);
    CREATE TABLE credentials(
      access_key_id TEXT COLLATE "C" PRIMARY KEY, secret_access_key TEXT NOT NULL,
      session_token_sha256 TEXT NOT NULL, identity_id TEXT COLLATE "C" NOT NULL,
      pool_id TEXT COLLATE "C" NOT NULL, expires BIGINT NOT NULL);
    CREATE INDEX credentials_by_identity ON credentials(identity_id);
    CREATE INDEX credentials_by_pool ON credentials(pool_id);
    CREATE INDEX credentials_by_expiry ON credentials(expires);
    CREATE TABLE datasets(
      pool_id TEXT COLLATE "C" NOT NULL, identity_id TEXT COLLATE "C" NOT NULL,
      name TEXT COLLATE "C" NOT NULL, created BIGINT NOT NULL, modified BIGINT NOT NULL,
      modified_by TEXT NOT NULL, sync_count BIGINT NOT NULL, deleted BIGINT NOT NULL,
      deleted_at_count BIGINT NOT NULL, merge_root TEXT COLLATE "C" NOT NULL,
      num_records BIGINT NOT NULL, data_storage BIGINT NOT NULL,
      PRIMARY KEY(identity_id, name));
    CREATE INDEX datasets_by_pool ON datasets(pool_id, identity_id, name);
    CREATE TABLE records(
      identity_id TEXT COLLATE "C" NOT NULL, dataset TEXT COLLATE "C" NOT NULL, key BYTEA NOT NULL,
      value BYTEA, sync_count BIGINT NOT NULL, modified BIGINT NOT NULL, modified_by TEXT NOT NULL,
      device_modified BIGINT,
      PRIMARY KEY(identity_id, dataset, key));
    CREATE INDEX records_by_count ON records(identity_id, dataset, sync_count, key);
    CREATE TABLE devices(
      id TEXT COLLATE "C" PRIMARY KEY, identity_id TEXT COLLATE "C" NOT NULL,
      pool_id TEXT COLLATE "C" NOT NULL, platform TEXT COLLATE "C" NOT NULL, token BYTEA NOT NULL,
      created BIGINT NOT NULL, UNIQUE(identity_id, platform, token));
    CREATE INDEX devices_by_pool ON devices(pool_id);
    CREATE TABLE subscriptions(
      device_id TEXT COLLATE "C" NOT NULL, identity_id TEXT COLLATE "C" NOT NULL,
      dataset TEXT COLLATE "C" NOT NULL, PRIMARY KEY(device_id, dataset));
    CREATE INDEX subscriptions_by_dataset ON subscriptions(identity_id, dataset);
    )sql",
    // 2: the outbox of deliveries.
    R"sql(
    CREATE TABLE outbox(
      id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, pool_id TEXT COLLATE "C" NOT NULL,
      identity_id TEXT COLLATE "C" NOT NULL, dataset TEXT COLLATE "C" NOT NULL,
      operation TEXT NOT NULL, device_id TEXT COLLATE "C", sync_count BIGINT NOT NULL,
      modified BIGINT NOT NULL, webhook BIGINT NOT NULL, stream TEXT NOT NULL,
      stream_record TEXT NOT NULL, done TEXT NOT NULL, attempts BIGINT NOT NULL,
      created BIGINT NOT NULL, lease_until BIGINT NOT NULL);
    CREATE INDEX outbox_by_lease ON outbox(lease_until, id);
    CREATE INDEX outbox_by_created ON outbox(created, id);
    )sql",
};

// Any transaction of this database takes this advisory lock to migrate ("cairn" in ASCII).
constexpr int64_t kMigrationLock = 0x636169726e;

// A write transaction PostgreSQL aborts (a deadlock between lock takers, a serialization failure)
// runs again up to this many times in all; past that the caller gets TooManyRequests, which
// every client retries.
constexpr int kMaxWriteAttempts = 12;

// How long a request waits for a connection when all of the pool's are busy.
constexpr auto kAcquireTimeout = std::chrono::seconds(30);

class PgStorage final : public Storage {
 public:
  PgStorage(PgUrl url, StorageOptions options)
      : url_(std::move(url)),
        pool_size_(options.pool_size < 1 ? 1 : options.pool_size),
        channel_("cairn_revocations" + (url_.schema.empty() ? "" : "_" + url_.schema)),
        events_channel_("cairn_events" + (url_.schema.empty() ? "" : "_" + url_.schema)) {
    auto c = std::make_unique<Connection>(url_.conninfo, url_.schema);
    migrate(*c);
    idle_.push_back(std::move(c));
    open_ = 1;
  }

  ~PgStorage() override {
    {
      std::lock_guard<std::mutex> l(listener_mu_);
      stopping_ = true;
    }
    listener_cv_.notify_all();
    if (listener_.joinable()) listener_.join();
  }

  Status read(const std::function<Status(StorageTxn&)>& fn) override {
    return run(fn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", /*writing=*/false);
  }
  Status write(const std::function<Status(StorageTxn&)>& fn) override {
    return run(fn, "BEGIN ISOLATION LEVEL READ COMMITTED", /*writing=*/true);
  }
  std::string describe() const override { return url_.redacted; }
  bool shared() const override { return true; }
  std::string durability() const override {
    return "PostgreSQL's settings: durable unless synchronous_commit=off or fsync=off";
  }
  Stats stats() const override {
    Stats out;
    out.retries = retries_.load();
    out.pool_size = pool_size_;
    std::lock_guard<std::mutex> l(mu_);
    out.pool_open = open_;
    out.pool_in_use = open_ - static_cast<int>(idle_.size());
    return out;
  }
  Status ping() override {
    return read([](StorageTxn& txn) {
      (void)txn.count_pools();
      return Status::OK();
    });
  }

  void watch_revocations(std::function<void()> revoked, std::function<void()> feed_lost) override {
    // Until the listener is subscribed, nothing another instance revokes would reach us.
    feed_lost();
    std::lock_guard<std::mutex> l(listener_mu_);
    if (listener_.joinable()) return;  // one watcher per storage
    listener_ = std::thread([this, revoked = std::move(revoked), feed_lost = std::move(feed_lost)] {
      listen(revoked, feed_lost);
    });
  }

  Status broadcast(const std::string& message) override {
    if (message.size() > 7000) {
      return Status(ErrorCode::kInvalidArgument, "a broadcast is limited to 7,000 bytes");
    }
    return run(
        [&](StorageTxn& txn) {
          pg::notify(txn, events_channel_, message);
          return Status::OK();
        },
        "BEGIN", /*writing=*/false);
  }
  // Held while a message is delivered: once this returns, the previous callback is not running
  // and will not run again (a watcher unregisters with an empty function before it goes away).
  void watch_broadcasts(std::function<void(const std::string&)> on_message) override {
    std::lock_guard<std::mutex> l(broadcast_mu_);
    on_broadcast_ = std::move(on_message);
  }

 private:
  void migrate(Connection& c) {
    c.exec("BEGIN");
    try {
      c.query("SELECT pg_advisory_xact_lock($1)", Params().add(kMigrationLock));
      if (!url_.schema.empty()) {
        c.exec("CREATE SCHEMA IF NOT EXISTS " + c.quote_identifier(url_.schema));
      }
      c.exec("CREATE TABLE IF NOT EXISTS schema_migrations(version BIGINT PRIMARY KEY)");
      int64_t have = c.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").i64(0, 0);
      int64_t want = static_cast<int64_t>(sizeof(kMigrations) / sizeof(kMigrations[0]));
      if (have > want) {
        throw PgError("database schema version " + std::to_string(have) +
                          " is newer than this server (" + std::to_string(want) + ")",
                      "", false);
      }
      for (int64_t v = have + 1; v <= want; ++v) {
        c.exec(kMigrations[v - 1]);
        c.query("INSERT INTO schema_migrations(version) VALUES($1)", Params().add(v));
      }
      c.exec("COMMIT");
    } catch (...) {
      try {
        c.exec("ROLLBACK");
      } catch (...) {
      }
      throw;
    }
  }

  Status run(const std::function<Status(StorageTxn&)>& fn, const char* begin, bool writing) {
    const int attempts = writing ? kMaxWriteAttempts : 1;
    for (int attempt = 1;; ++attempt) {
      std::unique_ptr<Connection> c;
      bool begun = false;
      try {
        c = acquire();
        c->exec(begin);
        begun = true;
        auto txn = pg::open_txn(*c, channel_, url_.schema, writing);
        Status result = fn(*txn);
        c->exec(result.ok() ? "COMMIT" : "ROLLBACK");
        release(std::move(c));
        return result;
      } catch (const PgError& e) {
        bool lost = e.connection_lost() || (c && c->broken());
        if (c && !lost) {
          try {
            c->exec("ROLLBACK");
          } catch (...) {
            lost = true;
          }
        }
        if (c) release(lost ? nullptr : std::move(c));
        // A connection that died while idle in the pool failed at BEGIN: nothing ran, so a fresh
        // connection may run it. One that died later may or may not have committed.
        bool retry = e.retryable() || (lost && !begun);
        if (retry && attempt < attempts + (lost && !begun ? 1 : 0)) {
          ++retries_;
          std::this_thread::sleep_for(write_backoff_.delay(attempt - 1));
          continue;
        }
        if (e.retryable()) {
          return Status(
              ErrorCode::kTooManyRequests,
              "storage: too much contention on this data; retry (" + std::string(e.what()) + ")");
        }
        return Status(ErrorCode::kInternalError, std::string("storage: ") + e.what());
      } catch (const std::exception& e) {
        if (c) {
          try {
            c->exec("ROLLBACK");
          } catch (...) {
          }
          release(c->broken() ? nullptr : std::move(c));
        }
        return Status(ErrorCode::kInternalError, std::string("storage: ") + e.what());
      }
    }
  }

  // A connection from the pool, opening one if fewer than pool_size are open, or waiting for one.
  std::unique_ptr<Connection> acquire() {
    std::unique_lock<std::mutex> l(mu_);
    if (!cv_.wait_for(l, kAcquireTimeout, [&] { return !idle_.empty() || open_ < pool_size_; })) {
      throw PgError(
          "no PostgreSQL connection free after 30 s (pool size " + std::to_string(pool_size_) + ")",
          "", false);
    }
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      if (!c->broken()) return c;
      --open_;  // dropped by the server while idle: open another below
    }
    ++open_;
    l.unlock();
    try {
      return std::make_unique<Connection>(url_.conninfo, url_.schema);
    } catch (...) {
      l.lock();
      --open_;
      l.unlock();
      cv_.notify_one();
      throw;
    }
  }
  // Returns a connection to the pool; nullptr for one that is closed (broken).
  void release(std::unique_ptr<Connection> c) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (c) {
        idle_.push_back(std::move(c));
      } else {
        --open_;
      }
    }
    cv_.notify_one();
  }

  // The revocation feed: one connection of its own that LISTENs, and tells the watcher of every
  // notification; when the connection drops, the watcher hears feed_lost until it is back.
  void listen(const std::function<void()>& revoked, const std::function<void()>& feed_lost) {
    std::unique_ptr<Connection> c;
    int failures = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(listener_mu_);
        if (stopping_) return;
        if (!c && failures > 0) {
          listener_cv_.wait_for(l, listen_backoff_.delay(failures - 1), [&] { return stopping_; });
          if (stopping_) return;
        }
      }
      if (!c) {
        try {
          c = std::make_unique<Connection>(url_.conninfo, url_.schema);
          c->exec("LISTEN " + c->quote_identifier(channel_));
          c->exec("LISTEN " + c->quote_identifier(events_channel_));
          failures = 0;
          revoked();  // anything missed while not listening is covered: drop everything
        } catch (const std::exception&) {
          c.reset();
          ++failures;
          continue;
        }
      }
      pollfd p{PQsocket(c->handle()), POLLIN, 0};
      int ready = poll(&p, 1, 200);
      if ((ready < 0 && errno != EINTR) || (ready > 0 && PQconsumeInput(c->handle()) == 0)) {
        c.reset();
      }
      if (!c || c->broken()) {
        c.reset();
        feed_lost();
        ++failures;
        continue;
      }
      bool any = false;
      std::vector<std::string> messages;
      while (PGnotify* n = PQnotifies(c->handle())) {
        if (events_channel_ == n->relname) {
          messages.emplace_back(n->extra ? n->extra : "");
        } else {
          any = true;
        }
        PQfreemem(n);
      }
      if (any) revoked();
      if (!messages.empty()) {
        std::lock_guard<std::mutex> l(broadcast_mu_);
        if (on_broadcast_) {
          for (const auto& m : messages) on_broadcast_(m);
        }
      }
    }
  }

  std::atomic<uint64_t> retries_{0};
  PgUrl url_;
  int pool_size_;
  std::string channel_;
  std::string events_channel_;
  std::mutex broadcast_mu_;
  std::function<void(const std::string&)> on_broadcast_;  // under broadcast_mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
  // A write that lost to a deadlock or serialization failure waits 2 ms, doubling up to 50 ms,
  // with full jitter, before its next attempt.
  Backoff write_backoff_{
      BackoffPolicy{std::chrono::milliseconds(2), std::chrono::milliseconds(50), 1.0}};
  // The revocation feed reconnects after 200 ms, doubling up to 2 s.
  Backoff listen_backoff_{
      BackoffPolicy{std::chrono::milliseconds(200), std::chrono::milliseconds(2000), 0.0}};

  std::mutex listener_mu_;
  std::condition_variable listener_cv_;
  bool stopping_ = false;
  std::thread listener_;
};

}  // namespace

Result<std::unique_ptr<Storage>> open_postgres_storage(const std::string& url,
                                                       StorageOptions options) {
  auto parsed = pg::parse_url(url);
  if (!parsed.ok()) return parsed.status();
  std::string shown = parsed->redacted;
  try {
    return std::unique_ptr<Storage>(new PgStorage(std::move(*parsed), options));
  } catch (const std::exception& e) {
    return Status(ErrorCode::kInvalidArgument, "--db " + shown + ": " + e.what());
  }
}

}  // namespace cairn::server
