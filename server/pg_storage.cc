// The PostgreSQL backend, for several stateless cairn-server instances on one database
// (docs/deploy.md). It implements the same StorageTxn as SQLite over libpq:
//  - write transactions run READ COMMITTED, and lock what they read to decide before reading it
//    (PgTxn::lock): a dataset when its row is read (UpdateRecords' count check), a login when it
//    is looked up (GetId's find-or-create), an identity when its datasets are counted (the
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
#include <libpq-fe.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "common/backoff.h"
#include "server/storage.h"

namespace cairn::server {
namespace {

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

// Rows per statement of a batch (record_states, put_records): well under PostgreSQL's 65535
// parameters, and big enough that a whole UpdateRecords is one statement.
constexpr size_t kBatchRows = 500;

// How long a request waits for a connection when all of the pool's are busy.
constexpr auto kAcquireTimeout = std::chrono::seconds(30);

constexpr Oid kInt8Oid = 20;
constexpr Oid kInt4Oid = 23;

class PgError : public std::runtime_error {
 public:
  PgError(const std::string& what, std::string sqlstate, bool connection_lost)
      : std::runtime_error(what),
        sqlstate_(std::move(sqlstate)),
        connection_lost_(connection_lost) {}
  const std::string& sqlstate() const { return sqlstate_; }
  bool connection_lost() const { return connection_lost_; }
  // PostgreSQL aborted the transaction to keep it serializable: running it again is the fix.
  bool retryable() const { return sqlstate_ == "40001" || sqlstate_ == "40P01"; }

 private:
  std::string sqlstate_;
  bool connection_lost_;
};

// Bound parameters, sent in binary: integers as int8, strings as their bytes (TEXT or BYTEA alike).
class Params {
 public:
  Params& add(const std::string& v) { return push(v, 0, false); }
  Params& add(const char* v) { return push(v, 0, false); }
  Params& add(int64_t v) {
    char be[8];
    for (int i = 0; i < 8; ++i) be[i] = static_cast<char>(static_cast<uint64_t>(v) >> (56 - 8 * i));
    return push(std::string(be, 8), kInt8Oid, false);
  }
  Params& add(int v) { return add(static_cast<int64_t>(v)); }
  Params& add(bool v) { return add(static_cast<int64_t>(v ? 1 : 0)); }
  Params& add(const std::optional<std::string>& v) { return v ? add(*v) : push({}, 0, true); }
  Params& add(const std::optional<int64_t>& v) { return v ? add(*v) : push({}, kInt8Oid, true); }

  int size() const { return static_cast<int>(values_.size()); }
  const std::vector<Oid>& types() const { return types_; }
  // Pointers into this object, valid while it lives unchanged.
  void arrays(std::vector<const char*>* values, std::vector<int>* lengths) const {
    values->clear();
    lengths->clear();
    for (size_t i = 0; i < values_.size(); ++i) {
      values->push_back(null_[i] ? nullptr : values_[i].data());
      lengths->push_back(static_cast<int>(values_[i].size()));
    }
  }

 private:
  Params& push(std::string bytes, Oid type, bool null) {
    values_.push_back(std::move(bytes));
    types_.push_back(type);
    null_.push_back(null);
    return *this;
  }
  std::vector<std::string> values_;
  std::vector<Oid> types_;
  std::vector<bool> null_;
};

// A query's rows, in binary.
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r) {}
  Rows(Rows&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Rows(const Rows&) = delete;
  Rows& operator=(const Rows&) = delete;
  ~Rows() { PQclear(r_); }

  int size() const { return PQntuples(r_); }
  bool empty() const { return size() == 0; }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
  }
  std::optional<std::string> opt_text(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return text(row, col);
  }
  int64_t i64(int row, int col) const {
    const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col));
    int len = PQgetlength(r_, row, col);
    Oid type = PQftype(r_, col);
    if ((type != kInt8Oid || len != 8) && (type != kInt4Oid || len != 4)) {
      throw PgError("column " + std::to_string(col) + " is not an integer", "", false);
    }
    uint64_t v = 0;
    for (int i = 0; i < len; ++i) v = (v << 8) | p[i];
    if (len == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
    return static_cast<int64_t>(v);
  }
  std::optional<int64_t> opt_i64(int row, int col) const {
    if (is_null(row, col)) return std::nullopt;
    return i64(row, col);
  }

 private:
  PGresult* r_;
};

// One libpq connection, with the statements it has prepared.
class Connection {
 public:
  Connection(const std::string& conninfo, const std::string& schema) {
    c_ = PQconnectdb(conninfo.c_str());
    if (PQstatus(c_) != CONNECTION_OK) {
      std::string why = PQerrorMessage(c_);
      PQfinish(c_);
      c_ = nullptr;
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      throw PgError("cannot connect to PostgreSQL: " + why, "", true);
    }
    // Notices ("schema already exists, skipping") are not the log's business.
    PQsetNoticeProcessor(
        c_, [](void*, const char*) {}, nullptr);
    exec("SET client_encoding TO 'UTF8'");
    exec("SET application_name TO 'cairn-server'");
    if (!schema.empty()) exec("SET search_path TO " + quote_identifier(schema));
  }
  ~Connection() {
    if (c_) PQfinish(c_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool broken() const { return PQstatus(c_) != CONNECTION_OK; }
  PGconn* handle() { return c_; }

  // A statement without parameters (several, separated by semicolons, are allowed).
  void exec(const std::string& sql) { check(PQexec(c_, sql.c_str()), sql); }

  // A parameterised statement, prepared on this connection the first time it is run.
  Rows query(const std::string& sql, const Params& params = Params()) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      std::string name = "cairn_" + std::to_string(prepared_.size());
      check(PQprepare(c_, name.c_str(), sql.c_str(), params.size(), params.types().data()), sql);
      it = prepared_.emplace(sql, std::move(name)).first;
    }
    std::vector<const char*> values;
    std::vector<int> lengths;
    params.arrays(&values, &lengths);
    std::vector<int> formats(values.size(), 1);
    return check(PQexecPrepared(c_, it->second.c_str(), params.size(), values.data(),
                                lengths.data(), formats.data(), /*resultFormat=*/1),
                 sql);
  }

  // A statement whose text varies with its input (a batch of N rows): run unprepared, so the
  // connection keeps no statement per batch size.
  Rows query_once(const std::string& sql, const Params& params) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    params.arrays(&values, &lengths);
    std::vector<int> formats(values.size(), 1);
    return check(PQexecParams(c_, sql.c_str(), params.size(), params.types().data(), values.data(),
                              lengths.data(), formats.data(), /*resultFormat=*/1),
                 sql);
  }

  std::string quote_identifier(const std::string& name) {
    char* q = PQescapeIdentifier(c_, name.data(), name.size());
    if (!q) throw PgError("bad identifier '" + name + "'", "", false);
    std::string out(q);
    PQfreemem(q);
    return out;
  }

 private:
  Rows check(PGresult* r, const std::string& sql) {
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return Rows(r);
    std::string state;
    if (const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr) state = s;
    std::string why = r ? PQresultErrorMessage(r) : PQerrorMessage(c_);
    PQclear(r);
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    std::string first_line = sql.substr(0, sql.find('\n'));
    if (first_line.size() > 80) first_line = first_line.substr(0, 80) + "...";
    throw PgError(why + " [" + state + "] in: " + first_line, state, broken());
  }

  PGconn* c_ = nullptr;
  std::unordered_map<std::string, std::string> prepared_;
};

#define POOL_COLUMNS                                                                        \
  "id, name, allow_unauthenticated, developer_provider_name, settings_json, events_json, "  \
  "push_sync_json, streams_json, bulk_status, bulk_started, bulk_completed, bulk_failure, " \
  "sync_sessions, created, modified"
#define DATASET_COLUMNS                                                               \
  "pool_id, identity_id, name, created, modified, modified_by, sync_count, deleted, " \
  "deleted_at_count, merge_root, num_records, data_storage"
#define RECORD_COLUMNS \
  "identity_id, dataset, key, value, sync_count, modified, modified_by, device_modified"
#define DEVICE_COLUMNS "id, identity_id, pool_id, platform, token, created"
#define CREDENTIALS_COLUMNS \
  "access_key_id, secret_access_key, session_token_sha256, identity_id, pool_id, expires"

PoolRow read_pool(const Rows& s, int i) {
  PoolRow r;
  r.id = s.text(i, 0);
  r.name = s.text(i, 1);
  r.allow_unauthenticated = s.i64(i, 2) != 0;
  r.developer_provider_name = s.text(i, 3);
  r.settings_json = s.text(i, 4);
  r.events_json = s.text(i, 5);
  r.push_sync_json = s.text(i, 6);
  r.streams_json = s.text(i, 7);
  r.bulk_status = s.text(i, 8);
  r.bulk_started = s.i64(i, 9);
  r.bulk_completed = s.i64(i, 10);
  r.bulk_failure = s.text(i, 11);
  r.sync_sessions = s.i64(i, 12);
  r.created = s.i64(i, 13);
  r.modified = s.i64(i, 14);
  return r;
}

DatasetRow read_dataset(const Rows& s, int i) {
  DatasetRow r;
  r.pool_id = s.text(i, 0);
  r.identity_id = s.text(i, 1);
  r.name = s.text(i, 2);
  r.created = s.i64(i, 3);
  r.modified = s.i64(i, 4);
  r.modified_by = s.text(i, 5);
  r.sync_count = s.i64(i, 6);
  r.deleted = s.i64(i, 7) != 0;
  r.deleted_at_count = s.i64(i, 8);
  r.merge_root = s.text(i, 9);
  r.num_records = s.i64(i, 10);
  r.data_storage = s.i64(i, 11);
  return r;
}

RecordRow read_record(const Rows& s, int i) {
  RecordRow r;
  r.identity_id = s.text(i, 0);
  r.dataset = s.text(i, 1);
  r.key = s.text(i, 2);
  r.value = s.opt_text(i, 3);
  r.sync_count = s.i64(i, 4);
  r.modified = s.i64(i, 5);
  r.modified_by = s.text(i, 6);
  r.device_modified = s.opt_i64(i, 7);
  return r;
}

OutboxRow read_outbox(const Rows& s, int i) {
  OutboxRow r;
  r.id = s.i64(i, 0);
  r.pool_id = s.text(i, 1);
  r.identity_id = s.text(i, 2);
  r.dataset = s.text(i, 3);
  r.operation = s.text(i, 4);
  r.device_id = s.opt_text(i, 5);
  r.sync_count = s.i64(i, 6);
  r.modified = s.i64(i, 7);
  r.webhook = s.i64(i, 8) != 0;
  r.stream = s.text(i, 9);
  r.stream_record = s.text(i, 10);
  r.done = s.text(i, 11);
  r.attempts = s.i64(i, 12);
  r.created = s.i64(i, 13);
  r.lease_until = s.i64(i, 14);
  return r;
}
#define OUTBOX_COLUMNS                                                                       \
  "id, pool_id, identity_id, dataset, operation, device_id, sync_count, modified, webhook, " \
  "stream, stream_record, done, attempts, created, lease_until"

DeviceRow read_device(const Rows& s, int i) {
  return {s.text(i, 0), s.text(i, 1), s.text(i, 2), s.text(i, 3), s.text(i, 4), s.i64(i, 5)};
}

CredentialsRow read_credentials(const Rows& s, int i) {
  return {s.text(i, 0), s.text(i, 1), s.text(i, 2), s.text(i, 3), s.text(i, 4), s.i64(i, 5)};
}

template <typename Row, typename Read>
std::vector<Row> all_rows(const Rows& rows, Read read) {
  std::vector<Row> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) out.push_back(read(rows, i));
  return out;
}

class PgTxn final : public StorageTxn {
 public:
  PgTxn(Connection& c, const std::string& channel, const std::string& schema, bool writing)
      : c_(c), channel_(channel), schema_(schema), writing_(writing) {}

  std::optional<std::string> meta(const std::string& key) override {
    lock("meta", key);
    auto s = c_.query("SELECT value FROM meta WHERE key = $1", Params().add(key));
    if (s.empty()) return std::nullopt;
    return s.text(0, 0);
  }
  void set_meta(const std::string& key, const std::string& value) override {
    c_.query(
        "INSERT INTO meta(key, value) VALUES($1, $2) "
        "ON CONFLICT(key) DO UPDATE SET value = EXCLUDED.value",
        Params().add(key).add(value));
  }
  std::optional<std::string> pool_streams(const std::string& pool_id) override {
    lock_shared("pool", pool_id);
    auto s = c_.query("SELECT streams_json FROM pools WHERE id = $1", Params().add(pool_id));
    if (s.empty()) return std::nullopt;
    return s.text(0, 0);
  }
  int64_t add_outbox(const OutboxRow& r) override {
    auto s = c_.query(
        "INSERT INTO outbox(pool_id, identity_id, dataset, operation, device_id, sync_count, "
        "modified, webhook, stream, stream_record, done, attempts, created, lease_until) "
        "VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
        Params()
            .add(r.pool_id)
            .add(r.identity_id)
            .add(r.dataset)
            .add(r.operation)
            .add(r.device_id)
            .add(r.sync_count)
            .add(r.modified)
            .add(r.webhook)
            .add(r.stream)
            .add(r.stream_record)
            .add(r.done)
            .add(r.attempts)
            .add(r.created)
            .add(r.lease_until));
    return s.i64(0, 0);
  }
  std::vector<OutboxRow> claim_outbox(Millis now, Millis lease_until, int64_t after_id,
                                      int limit) override {
    // SKIP LOCKED: instances sweeping at once each take different rows, and none waits.
    auto s = c_.query(
        "UPDATE outbox SET lease_until = $1 WHERE id IN (SELECT id FROM outbox "
        "WHERE lease_until < $2 AND id > $3 ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED) "
        "RETURNING " OUTBOX_COLUMNS,
        Params().add(lease_until).add(now).add(after_id).add(limit));
    auto rows = all_rows<OutboxRow>(s, read_outbox);
    std::sort(rows.begin(), rows.end(),
              [](const OutboxRow& a, const OutboxRow& b) { return a.id < b.id; });
    return rows;
  }
  void retry_outbox(int64_t id, const std::string& done, int64_t attempts,
                    Millis lease_until) override {
    c_.query("UPDATE outbox SET done = $1, attempts = $2, lease_until = $3 WHERE id = $4",
             Params().add(done).add(attempts).add(lease_until).add(id));
  }
  void delete_outbox(const std::vector<int64_t>& ids) override {
    for (size_t from = 0; from < ids.size(); from += kBatchRows) {
      std::string sql = "DELETE FROM outbox WHERE id IN (";
      Params p;
      for (size_t i = from; i < ids.size() && i < from + kBatchRows; ++i) {
        p.add(ids[i]);
        sql += (i == from ? "$" : ", $") + std::to_string(p.size());
      }
      c_.query_once(sql + ")", p);
    }
  }
  std::pair<int64_t, Millis> outbox_size() override {
    auto s = c_.query("SELECT COUNT(*), COALESCE(MIN(created), 0)::BIGINT FROM outbox");
    return {s.i64(0, 0), s.i64(0, 1)};
  }
  std::pair<int64_t, int64_t> trim_outbox(Millis before, int64_t keep) override {
    auto expired = c_.query(
        "WITH d AS (DELETE FROM outbox WHERE created < $1 RETURNING 1) "
        "SELECT COUNT(*) FROM d",
        Params().add(before));
    auto evicted = c_.query(
        "WITH d AS (DELETE FROM outbox WHERE id <= (SELECT id FROM outbox ORDER BY id DESC "
        "LIMIT 1 OFFSET $1) RETURNING 1) SELECT COUNT(*) FROM d",
        Params().add(keep));
    return {expired.i64(0, 0), evicted.i64(0, 0)};
  }

  std::vector<std::string> meta_keys() override {
    auto s = c_.query("SELECT key FROM meta ORDER BY key");
    return all_rows<std::string>(s, [](const Rows& r, int i) { return r.text(i, 0); });
  }
  std::vector<std::pair<std::string, int64_t>> table_rows() override {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const char* table : {"meta", "pools", "identities", "logins", "credentials", "datasets",
                              "records", "devices", "subscriptions"}) {
      out.emplace_back(table, c_.query(std::string("SELECT COUNT(*) FROM ") + table).i64(0, 0));
    }
    return out;
  }

  // In a write transaction the row is share-locked: the pool cannot be deleted or changed under
  // a write that relies on its settings (GetCredentialsForIdentity, say).
  std::optional<PoolRow> pool(const std::string& id) override {
    auto s = c_.query(writing_ ? "SELECT " POOL_COLUMNS " FROM pools WHERE id = $1 FOR SHARE"
                               : "SELECT " POOL_COLUMNS " FROM pools WHERE id = $1",
                      Params().add(id));
    if (s.empty()) return std::nullopt;
    return read_pool(s, 0);
  }
  std::optional<PoolRow> pool_for_update(const std::string& id) override {
    auto s =
        c_.query("SELECT " POOL_COLUMNS " FROM pools WHERE id = $1 FOR UPDATE", Params().add(id));
    if (s.empty()) return std::nullopt;
    return read_pool(s, 0);
  }
  void add_sync_sessions(const std::string& id, int64_t sessions) override {
    c_.query("UPDATE pools SET sync_sessions = sync_sessions + $1 WHERE id = $2",
             Params().add(sessions).add(id));
  }
  // Every record write checks this. A shared lock, taken before the read, keeps the pool from
  // being deleted until the write commits (delete_pool takes it exclusively), without touching
  // the pool's row, which every session of the pool would otherwise contend on.
  bool pool_exists(const std::string& id) override {
    lock_shared("pool", id);
    return !c_.query("SELECT 1 FROM pools WHERE id = $1", Params().add(id)).empty();
  }
  std::optional<PoolRow> pool_by_name(const std::string& name) override {
    lock("pool-name", name);
    auto s =
        c_.query("SELECT " POOL_COLUMNS " FROM pools WHERE name = $1 ORDER BY created, id LIMIT 1",
                 Params().add(name));
    if (s.empty()) return std::nullopt;
    return read_pool(s, 0);
  }
  std::vector<PoolRow> pools_after(const std::string& after_id, int limit) override {
    auto s = c_.query("SELECT " POOL_COLUMNS " FROM pools WHERE id > $1 ORDER BY id LIMIT $2",
                      Params().add(after_id).add(limit));
    return all_rows<PoolRow>(s, read_pool);
  }
  int64_t count_pools() override {
    lock("pools");
    return c_.query("SELECT COUNT(*) FROM pools").i64(0, 0);
  }
  void put_pool(const PoolRow& r) override {
    c_.query("INSERT INTO pools(" POOL_COLUMNS
             ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
             "ON CONFLICT(id) DO UPDATE SET name = EXCLUDED.name, "
             "allow_unauthenticated = EXCLUDED.allow_unauthenticated, "
             "developer_provider_name = EXCLUDED.developer_provider_name, "
             "settings_json = EXCLUDED.settings_json, events_json = EXCLUDED.events_json, "
             "push_sync_json = EXCLUDED.push_sync_json, streams_json = EXCLUDED.streams_json, "
             "bulk_status = EXCLUDED.bulk_status, bulk_started = EXCLUDED.bulk_started, "
             "bulk_completed = EXCLUDED.bulk_completed, bulk_failure = EXCLUDED.bulk_failure, "
             "sync_sessions = EXCLUDED.sync_sessions, created = EXCLUDED.created, "
             "modified = EXCLUDED.modified",
             Params()
                 .add(r.id)
                 .add(r.name)
                 .add(r.allow_unauthenticated)
                 .add(r.developer_provider_name)
                 .add(r.settings_json)
                 .add(r.events_json)
                 .add(r.push_sync_json)
                 .add(r.streams_json)
                 .add(r.bulk_status)
                 .add(r.bulk_started)
                 .add(r.bulk_completed)
                 .add(r.bulk_failure)
                 .add(r.sync_sessions)
                 .add(r.created)
                 .add(r.modified));
  }
  void delete_pool(const std::string& id) override {
    // Everything under the pool goes with it, once no write that checked the pool is running.
    lock("pool", id);
    Params p = Params().add(id);
    c_.query(
        "DELETE FROM records WHERE identity_id IN (SELECT id FROM identities WHERE pool_id = $1)",
        p);
    c_.query(
        "DELETE FROM records WHERE identity_id IN "
        "(SELECT identity_id FROM datasets WHERE pool_id = $1)",
        p);
    c_.query("DELETE FROM datasets WHERE pool_id = $1", p);
    c_.query(
        "DELETE FROM subscriptions WHERE device_id IN (SELECT id FROM devices WHERE pool_id = $1)",
        p);
    c_.query("DELETE FROM devices WHERE pool_id = $1", p);
    c_.query("DELETE FROM credentials WHERE pool_id = $1", p);
    c_.query("DELETE FROM logins WHERE pool_id = $1", p);
    c_.query("DELETE FROM identities WHERE pool_id = $1", p);
    c_.query("DELETE FROM pools WHERE id = $1", p);
  }

  std::optional<IdentityRow> identity(const std::string& id) override {
    auto s = c_.query("SELECT id, pool_id, created, modified FROM identities WHERE id = $1",
                      Params().add(id));
    if (s.empty()) return std::nullopt;
    return IdentityRow{s.text(0, 0), s.text(0, 1), s.i64(0, 2), s.i64(0, 3)};
  }
  std::vector<IdentityRow> identities_after(const std::string& pool_id, const std::string& after_id,
                                            int limit) override {
    auto s = c_.query(
        "SELECT id, pool_id, created, modified FROM identities WHERE pool_id = $1 AND id > $2 "
        "ORDER BY id LIMIT $3",
        Params().add(pool_id).add(after_id).add(limit));
    return all_rows<IdentityRow>(s, [](const Rows& r, int i) {
      return IdentityRow{r.text(i, 0), r.text(i, 1), r.i64(i, 2), r.i64(i, 3)};
    });
  }
  void put_identity(const IdentityRow& r) override {
    c_.query(
        "INSERT INTO identities(id, pool_id, created, modified) VALUES($1, $2, $3, $4) "
        "ON CONFLICT(id) DO UPDATE SET pool_id = EXCLUDED.pool_id, created = EXCLUDED.created, "
        "modified = EXCLUDED.modified",
        Params().add(r.id).add(r.pool_id).add(r.created).add(r.modified));
  }
  void delete_identity(const std::string& id) override {
    Params p = Params().add(id);
    c_.query("DELETE FROM records WHERE identity_id = $1", p);
    c_.query("DELETE FROM datasets WHERE identity_id = $1", p);
    c_.query("DELETE FROM subscriptions WHERE identity_id = $1", p);
    c_.query("DELETE FROM devices WHERE identity_id = $1", p);
    c_.query("DELETE FROM credentials WHERE identity_id = $1", p);
    c_.query("DELETE FROM logins WHERE identity_id = $1", p);
    c_.query("DELETE FROM outbox WHERE identity_id = $1", p);
    c_.query("DELETE FROM identities WHERE id = $1", p);
  }
  void touch_identity(const std::string& id, Millis now) override {
    c_.query("UPDATE identities SET modified = $1 WHERE id = $2", Params().add(now).add(id));
  }
  int64_t count_identities(const std::string& pool_id) override {
    return c_.query("SELECT COUNT(*) FROM identities WHERE pool_id = $1", Params().add(pool_id))
        .i64(0, 0);
  }
  std::vector<std::string> idle_unauthenticated_identities(Millis before,
                                                           const std::string& after_id,
                                                           int limit) override {
    auto s = c_.query(
        "SELECT i.id FROM identities i WHERE i.id > $1 AND i.modified < $2 "
        "AND NOT EXISTS (SELECT 1 FROM logins l WHERE l.identity_id = i.id) "
        "AND NOT EXISTS (SELECT 1 FROM datasets d WHERE d.identity_id = i.id) "
        "ORDER BY i.id LIMIT $3",
        Params().add(after_id).add(before).add(limit));
    return all_rows<std::string>(s, [](const Rows& r, int i) { return r.text(i, 0); });
  }

  std::optional<LoginRow> login(const std::string& pool_id, const std::string& provider,
                                const std::string& subject) override {
    lock("login", pool_id, provider, subject);
    auto s = c_.query(
        "SELECT identity_id FROM logins WHERE pool_id = $1 AND provider = $2 AND subject = $3",
        Params().add(pool_id).add(provider).add(subject));
    if (s.empty()) return std::nullopt;
    return LoginRow{pool_id, provider, subject, s.text(0, 0)};
  }
  std::vector<LoginRow> logins_of(const std::string& identity_id) override {
    auto s = c_.query(
        "SELECT pool_id, provider, subject FROM logins WHERE identity_id = $1 "
        "ORDER BY provider, subject",
        Params().add(identity_id));
    return all_rows<LoginRow>(s, [&](const Rows& r, int i) {
      return LoginRow{r.text(i, 0), r.text(i, 1), r.text(i, 2), identity_id};
    });
  }
  void put_login(const LoginRow& r) override {
    c_.query(
        "INSERT INTO logins(pool_id, provider, subject, identity_id) VALUES($1, $2, $3, $4) "
        "ON CONFLICT(pool_id, provider, subject) DO UPDATE SET identity_id = EXCLUDED.identity_id",
        Params().add(r.pool_id).add(r.provider).add(r.subject).add(r.identity_id));
  }
  void delete_login(const std::string& pool_id, const std::string& provider,
                    const std::string& subject) override {
    c_.query("DELETE FROM logins WHERE pool_id = $1 AND provider = $2 AND subject = $3",
             Params().add(pool_id).add(provider).add(subject));
  }

  std::optional<CredentialsRow> credentials(const std::string& access_key_id) override {
    auto s = c_.query("SELECT " CREDENTIALS_COLUMNS " FROM credentials WHERE access_key_id = $1",
                      Params().add(access_key_id));
    if (s.empty()) return std::nullopt;
    return read_credentials(s, 0);
  }
  std::vector<CredentialsRow> credentials_of(const std::string& identity_id) override {
    auto s = c_.query("SELECT " CREDENTIALS_COLUMNS
                      " FROM credentials WHERE identity_id = $1 ORDER BY access_key_id",
                      Params().add(identity_id));
    return all_rows<CredentialsRow>(s, read_credentials);
  }
  void put_credentials(const CredentialsRow& r) override {
    c_.query("INSERT INTO credentials(" CREDENTIALS_COLUMNS
             ") VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT(access_key_id) DO UPDATE SET "
             "secret_access_key = EXCLUDED.secret_access_key, "
             "session_token_sha256 = EXCLUDED.session_token_sha256, "
             "identity_id = EXCLUDED.identity_id, pool_id = EXCLUDED.pool_id, "
             "expires = EXCLUDED.expires",
             Params()
                 .add(r.access_key_id)
                 .add(r.secret_access_key)
                 .add(r.session_token_sha256)
                 .add(r.identity_id)
                 .add(r.pool_id)
                 .add(r.expires));
  }
  void delete_expired_credentials(Millis before) override {
    c_.query("DELETE FROM credentials WHERE expires < $1", Params().add(before));
  }
  void announce_revocation() override {
    // Delivered to every listening instance when (and only if) this transaction commits.
    notify(channel_, "");
  }
  void notify(const std::string& channel, const std::string& payload) {
    c_.query("SELECT pg_notify($1, $2)", Params().add(channel).add(payload));
  }

  std::optional<DatasetRow> dataset(const std::string& identity_id,
                                    const std::string& name) override {
    lock("dataset", identity_id, name);
    auto s =
        c_.query("SELECT " DATASET_COLUMNS " FROM datasets WHERE identity_id = $1 AND name = $2",
                 Params().add(identity_id).add(name));
    if (s.empty()) return std::nullopt;
    return read_dataset(s, 0);
  }
  std::vector<DatasetRow> datasets_after(const std::string& identity_id,
                                         const std::string& after_name, int limit) override {
    auto s = c_.query("SELECT " DATASET_COLUMNS
                      " FROM datasets WHERE identity_id = $1 AND deleted = 0 AND name > $2 "
                      "ORDER BY name LIMIT $3",
                      Params().add(identity_id).add(after_name).add(limit));
    return all_rows<DatasetRow>(s, read_dataset);
  }
  int64_t count_live_datasets(const std::string& identity_id) override {
    lock("datasets of", identity_id);
    return c_
        .query("SELECT COUNT(*) FROM datasets WHERE identity_id = $1 AND deleted = 0",
               Params().add(identity_id))
        .i64(0, 0);
  }
  std::vector<std::string> merged_into(const std::string& identity_id,
                                       const std::string& root) override {
    auto s = c_.query(
        "SELECT name FROM datasets WHERE identity_id = $1 AND merge_root = $2 AND deleted = 0 "
        "ORDER BY name",
        Params().add(identity_id).add(root));
    return all_rows<std::string>(s, [](const Rows& r, int i) { return r.text(i, 0); });
  }
  std::vector<DatasetRow> pool_datasets_after(const std::string& pool_id,
                                              const std::string& after_identity,
                                              const std::string& after_name, int limit) override {
    return pool_datasets("deleted = 0 AND ", pool_id, after_identity, after_name, limit);
  }
  std::vector<DatasetRow> pool_dataset_rows_after(const std::string& pool_id,
                                                  const std::string& after_identity,
                                                  const std::string& after_name,
                                                  int limit) override {
    return pool_datasets("", pool_id, after_identity, after_name, limit);
  }
  void put_dataset(const DatasetRow& r) override {
    c_.query("INSERT INTO datasets(" DATASET_COLUMNS
             ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
             "ON CONFLICT(identity_id, name) DO UPDATE SET pool_id = EXCLUDED.pool_id, "
             "created = EXCLUDED.created, modified = EXCLUDED.modified, "
             "modified_by = EXCLUDED.modified_by, sync_count = EXCLUDED.sync_count, "
             "deleted = EXCLUDED.deleted, deleted_at_count = EXCLUDED.deleted_at_count, "
             "merge_root = EXCLUDED.merge_root, num_records = EXCLUDED.num_records, "
             "data_storage = EXCLUDED.data_storage",
             Params()
                 .add(r.pool_id)
                 .add(r.identity_id)
                 .add(r.name)
                 .add(r.created)
                 .add(r.modified)
                 .add(r.modified_by)
                 .add(r.sync_count)
                 .add(r.deleted)
                 .add(r.deleted_at_count)
                 .add(r.merge_root)
                 .add(r.num_records)
                 .add(r.data_storage));
  }
  void delete_dataset_row(const std::string& identity_id, const std::string& name) override {
    c_.query("DELETE FROM datasets WHERE identity_id = $1 AND name = $2",
             Params().add(identity_id).add(name));
  }
  Usage identity_usage(const std::string& identity_id) override {
    return usage("identity_id", identity_id);
  }
  Usage pool_usage(const std::string& pool_id) override { return usage("pool_id", pool_id); }

  std::optional<RecordState> record_state(const std::string& identity_id,
                                          const std::string& dataset,
                                          const std::string& key) override {
    auto s = c_.query(
        "SELECT sync_count, octet_length(value)::BIGINT FROM records "
        "WHERE identity_id = $1 AND dataset = $2 AND key = $3",
        Params().add(identity_id).add(dataset).add(key));
    if (s.empty()) return std::nullopt;
    return RecordState{s.i64(0, 0), s.opt_i64(0, 1)};
  }
  std::vector<std::optional<RecordState>> record_states(
      const std::string& identity_id, const std::string& dataset,
      const std::vector<std::string>& keys) override {
    std::map<std::string, RecordState> found;
    for (size_t from = 0; from < keys.size(); from += kBatchRows) {
      size_t n = std::min(kBatchRows, keys.size() - from);
      std::string sql =
          "SELECT key, sync_count, octet_length(value)::BIGINT FROM records "
          "WHERE identity_id = $1 AND dataset = $2 AND key IN (";
      Params p = Params().add(identity_id).add(dataset);
      for (size_t i = 0; i < n; ++i) {
        sql += (i ? ", $" : "$") + std::to_string(i + 3);
        p.add(keys[from + i]);
      }
      auto rows = c_.query_once(sql + ")", p);
      for (int i = 0; i < rows.size(); ++i) {
        found[rows.text(i, 0)] = RecordState{rows.i64(i, 1), rows.opt_i64(i, 2)};
      }
    }
    std::vector<std::optional<RecordState>> out;
    out.reserve(keys.size());
    for (const auto& k : keys) {
      auto it = found.find(k);
      out.push_back(it == found.end() ? std::nullopt : std::optional<RecordState>(it->second));
    }
    return out;
  }
  std::vector<RecordRow> records_after(const std::string& identity_id, const std::string& dataset,
                                       int64_t min_count, int64_t after_count,
                                       const std::string& after_key, int limit) override {
    auto s = c_.query("SELECT " RECORD_COLUMNS
                      " FROM records WHERE identity_id = $1 AND dataset = $2 AND sync_count > $3 "
                      "AND (sync_count > $4 OR (sync_count = $4 AND key > $5)) "
                      "ORDER BY sync_count, key LIMIT $6",
                      Params()
                          .add(identity_id)
                          .add(dataset)
                          .add(min_count)
                          .add(after_count)
                          .add(after_key)
                          .add(limit));
    return all_rows<RecordRow>(s, read_record);
  }
  void put_record(const RecordRow& r) override {
    c_.query("INSERT INTO records(" RECORD_COLUMNS
             ") VALUES($1, $2, $3, $4, $5, $6, $7, $8) "
             "ON CONFLICT(identity_id, dataset, key) DO UPDATE SET value = EXCLUDED.value, "
             "sync_count = EXCLUDED.sync_count, modified = EXCLUDED.modified, "
             "modified_by = EXCLUDED.modified_by, device_modified = EXCLUDED.device_modified",
             Params()
                 .add(r.identity_id)
                 .add(r.dataset)
                 .add(r.key)
                 .add(r.value)
                 .add(r.sync_count)
                 .add(r.modified)
                 .add(r.modified_by)
                 .add(r.device_modified));
  }
  void put_records(const std::vector<RecordRow>& rows) override {
    for (size_t from = 0; from < rows.size(); from += kBatchRows) {
      size_t n = std::min(kBatchRows, rows.size() - from);
      std::string sql = "INSERT INTO records(" RECORD_COLUMNS ") VALUES ";
      Params p;
      for (size_t i = 0; i < n; ++i) {
        const RecordRow& r = rows[from + i];
        size_t base = i * 8;
        sql += i ? ", (" : "(";
        for (size_t col = 1; col <= 8; ++col) {
          sql += (col > 1 ? ", $" : "$") + std::to_string(base + col);
        }
        sql += ")";
        p.add(r.identity_id)
            .add(r.dataset)
            .add(r.key)
            .add(r.value)
            .add(r.sync_count)
            .add(r.modified)
            .add(r.modified_by)
            .add(r.device_modified);
      }
      c_.query_once(sql +
                        " ON CONFLICT(identity_id, dataset, key) DO UPDATE SET value = "
                        "EXCLUDED.value, sync_count = EXCLUDED.sync_count, modified = "
                        "EXCLUDED.modified, modified_by = EXCLUDED.modified_by, device_modified = "
                        "EXCLUDED.device_modified",
                    p);
    }
  }
  void delete_records(const std::string& identity_id, const std::string& dataset) override {
    c_.query("DELETE FROM records WHERE identity_id = $1 AND dataset = $2",
             Params().add(identity_id).add(dataset));
  }
  void move_dataset(const std::string& from_identity, const std::string& from_name,
                    const DatasetRow& to) override {
    lock("dataset", from_identity, from_name);
    lock("dataset", to.identity_id, to.name);
    Params p = Params().add(to.identity_id).add(to.name).add(from_identity).add(from_name);
    c_.query(
        "UPDATE records SET identity_id = $1, dataset = $2 "
        "WHERE identity_id = $3 AND dataset = $4",
        p);
    c_.query(
        "UPDATE subscriptions SET identity_id = $1, dataset = $2 "
        "WHERE identity_id = $3 AND dataset = $4",
        p);
    delete_dataset_row(from_identity, from_name);
    put_dataset(to);
  }

  std::optional<DeviceRow> device(const std::string& id) override {
    auto s = c_.query("SELECT " DEVICE_COLUMNS " FROM devices WHERE id = $1", Params().add(id));
    if (s.empty()) return std::nullopt;
    return read_device(s, 0);
  }
  std::optional<DeviceRow> device_by_token(const std::string& identity_id,
                                           const std::string& platform,
                                           const std::string& token) override {
    lock("device", identity_id, platform, token);
    auto s = c_.query("SELECT " DEVICE_COLUMNS
                      " FROM devices WHERE identity_id = $1 AND platform = $2 AND token = $3",
                      Params().add(identity_id).add(platform).add(token));
    if (s.empty()) return std::nullopt;
    return read_device(s, 0);
  }
  std::vector<DeviceRow> subscribers_of(const std::string& identity_id,
                                        const std::string& dataset) override {
    auto s = c_.query(
        "SELECT d.id, d.identity_id, d.pool_id, d.platform, d.token, d.created FROM subscriptions "
        "s "
        "JOIN devices d ON d.id = s.device_id WHERE s.identity_id = $1 AND s.dataset = $2 "
        "ORDER BY d.id",
        Params().add(identity_id).add(dataset));
    return all_rows<DeviceRow>(s, read_device);
  }
  std::vector<DeviceRow> pool_devices_after(const std::string& pool_id, const std::string& after_id,
                                            int limit) override {
    auto s = c_.query("SELECT " DEVICE_COLUMNS
                      " FROM devices WHERE pool_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                      Params().add(pool_id).add(after_id).add(limit));
    return all_rows<DeviceRow>(s, read_device);
  }
  void put_device(const DeviceRow& r) override {
    // As SQLite's INSERT OR REPLACE: a row holding the same (identity, platform, token) under
    // another id gives way.
    c_.query(
        "DELETE FROM devices WHERE identity_id = $1 AND platform = $2 AND token = $3 "
        "AND id <> $4",
        Params().add(r.identity_id).add(r.platform).add(r.token).add(r.id));
    c_.query("INSERT INTO devices(" DEVICE_COLUMNS
             ") VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT(id) DO UPDATE SET "
             "identity_id = EXCLUDED.identity_id, pool_id = EXCLUDED.pool_id, "
             "platform = EXCLUDED.platform, token = EXCLUDED.token, created = EXCLUDED.created",
             Params()
                 .add(r.id)
                 .add(r.identity_id)
                 .add(r.pool_id)
                 .add(r.platform)
                 .add(r.token)
                 .add(r.created));
  }
  void put_subscription(const std::string& device_id, const std::string& identity_id,
                        const std::string& dataset) override {
    c_.query(
        "INSERT INTO subscriptions(device_id, identity_id, dataset) VALUES($1, $2, $3) "
        "ON CONFLICT(device_id, dataset) DO UPDATE SET identity_id = EXCLUDED.identity_id",
        Params().add(device_id).add(identity_id).add(dataset));
  }
  void delete_subscription(const std::string& device_id, const std::string& dataset) override {
    c_.query("DELETE FROM subscriptions WHERE device_id = $1 AND dataset = $2",
             Params().add(device_id).add(dataset));
  }
  std::vector<std::pair<std::string, std::string>> subscriptions_of_device(
      const std::string& device_id) override {
    auto s = c_.query(
        "SELECT identity_id, dataset FROM subscriptions WHERE device_id = $1 "
        "ORDER BY dataset",
        Params().add(device_id));
    return all_rows<std::pair<std::string, std::string>>(
        s, [](const Rows& r, int i) { return std::make_pair(r.text(i, 0), r.text(i, 1)); });
  }

 private:
  // A pool's datasets by (identity, name) after the cursor; `live` filters out deleted ones.
  std::vector<DatasetRow> pool_datasets(const char* live, const std::string& pool_id,
                                        const std::string& after_identity,
                                        const std::string& after_name, int limit) {
    auto s = c_.query(
        std::string("SELECT " DATASET_COLUMNS " FROM datasets WHERE pool_id = $1 AND ") + live +
            "(identity_id > $2 OR (identity_id = $2 AND name > $3)) "
            "ORDER BY identity_id, name LIMIT $4",
        Params().add(pool_id).add(after_identity).add(after_name).add(limit));
    return all_rows<DatasetRow>(s, read_dataset);
  }
  Usage usage(const char* column, const std::string& id) {
    auto s = c_.query(std::string("SELECT COUNT(*), COALESCE(SUM(data_storage), 0)::BIGINT, "
                                  "COALESCE(MAX(modified), 0) FROM datasets WHERE ") +
                          column + " = $1 AND deleted = 0",
                      Params().add(id));
    return {s.i64(0, 0), s.i64(0, 1), s.i64(0, 2)};
  }

  // A transaction-scoped advisory lock on (schema, kind, parts), held to commit or rollback; only
  // write transactions take them. Taken before the read it guards, in a statement of its own, so
  // that the read's snapshot comes after the lock.
  template <typename... Parts>
  void lock(const char* kind, const Parts&... parts) {
    if (writing_) c_.query("SELECT pg_advisory_xact_lock($1)", Params().add(key(kind, parts...)));
  }
  template <typename... Parts>
  void lock_shared(const char* kind, const Parts&... parts) {
    if (writing_) {
      c_.query("SELECT pg_advisory_xact_lock_shared($1)", Params().add(key(kind, parts...)));
    }
  }
  // FNV-1a over the parts, separated: two keys that collide only make two writers take turns.
  template <typename... Parts>
  int64_t key(const char* kind, const Parts&... parts) const {
    uint64_t h = 14695981039346656037ull;
    auto mix = [&](std::string_view v) {
      for (char ch : v) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
      h = (h ^ 0x1f) * 1099511628211ull;
    };
    mix(schema_);
    mix(kind);
    (mix(parts), ...);
    return static_cast<int64_t>(h);
  }

  Connection& c_;
  const std::string& channel_;
  const std::string& schema_;
  bool writing_;
};

// The URL as given, split into what libpq takes and cairn's own parameters.
struct PgUrl {
  std::string conninfo;  // the URL without cairn's parameters
  std::string schema;    // empty: the database's search_path
  std::string redacted;  // for logs: no password
};

Result<PgUrl> parse_url(const std::string& url) {
  PgUrl out;
  size_t q = url.find('?');
  std::string base = url.substr(0, q);
  std::vector<std::string> kept;
  bool has_password_param = false;
  if (q != std::string::npos) {
    std::string query = url.substr(q + 1);
    size_t start = 0;
    while (start <= query.size()) {
      size_t amp = query.find('&', start);
      std::string param = query.substr(start, amp == std::string::npos ? amp : amp - start);
      if (param.rfind("schema=", 0) == 0) {
        out.schema = param.substr(7);
      } else if (!param.empty()) {
        if (param.rfind("password=", 0) == 0) has_password_param = true;
        kept.push_back(param);
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  if (!out.schema.empty()) {
    bool ok = out.schema.size() <= 63 && !(out.schema[0] >= '0' && out.schema[0] <= '9');
    for (char ch : out.schema) {
      ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_');
    }
    if (!ok) {
      return Status(ErrorCode::kInvalidArgument,
                    "--db schema='" + out.schema +
                        "' must be lower-case letters, digits and _ (at most 63), not starting "
                        "with a digit");
    }
  }
  out.conninfo = base;
  for (size_t i = 0; i < kept.size(); ++i) out.conninfo += (i == 0 ? "?" : "&") + kept[i];

  // The redacted form drops USER:PASSWORD's password and any password= parameter.
  std::string shown = base;
  size_t scheme_end = shown.find("://");
  size_t at = shown.find('@', scheme_end + 3);
  size_t slash = shown.find('/', scheme_end + 3);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    size_t colon = shown.find(':', scheme_end + 3);
    if (colon != std::string::npos && colon < at) shown.erase(colon, at - colon);
  }
  out.redacted = shown + (out.schema.empty() ? "" : "?schema=" + out.schema) +
                 (has_password_param ? " (password given)" : "");
  return out;
}

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
          static_cast<PgTxn&>(txn).notify(events_channel_, message);
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
        PgTxn txn(*c, channel_, url_.schema, writing);
        Status result = fn(txn);
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
  auto parsed = parse_url(url);
  if (!parsed.ok()) return parsed.status();
  std::string shown = parsed->redacted;
  try {
    return std::unique_ptr<Storage>(new PgStorage(std::move(*parsed), options));
  } catch (const std::exception& e) {
    return Status(ErrorCode::kInvalidArgument, "--db " + shown + ": " + e.what());
  }
}

}  // namespace cairn::server
