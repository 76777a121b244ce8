// The SQLite backend: WAL, a busy timeout, one connection per concurrent transaction (pooled),
// prepared statements cached per connection, versioned migrations, bound parameters only.
#include "common/sqlite.h"

#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

#include "server/storage.h"

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

// The tables and their row counts' queries, for table_rows() (statements are cached by address).
#define CAIRN_COUNT(table) \
  { table, "SELECT COUNT(*) FROM " table }
const std::pair<const char*, const char*> kTableCounts[] = {
    CAIRN_COUNT("meta"),    CAIRN_COUNT("pools"),       CAIRN_COUNT("identities"),
    CAIRN_COUNT("logins"),  CAIRN_COUNT("credentials"), CAIRN_COUNT("datasets"),
    CAIRN_COUNT("records"), CAIRN_COUNT("devices"),     CAIRN_COUNT("subscriptions")};
#undef CAIRN_COUNT

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

PoolRow read_pool(const Stmt& s) {
  PoolRow r;
  r.id = s.text(0);
  r.name = s.text(1);
  r.allow_unauthenticated = s.i64(2) != 0;
  r.developer_provider_name = s.text(3);
  r.settings_json = s.text(4);
  r.events_json = s.text(5);
  r.push_sync_json = s.text(6);
  r.streams_json = s.text(7);
  r.bulk_status = s.text(8);
  r.bulk_started = s.i64(9);
  r.bulk_completed = s.i64(10);
  r.bulk_failure = s.text(11);
  r.sync_sessions = s.i64(12);
  r.created = s.i64(13);
  r.modified = s.i64(14);
  return r;
}
OutboxRow read_outbox(const Stmt& s) {
  OutboxRow r;
  r.id = s.i64(0);
  r.pool_id = s.text(1);
  r.identity_id = s.text(2);
  r.dataset = s.text(3);
  r.operation = s.text(4);
  r.device_id = s.opt_text(5);
  r.sync_count = s.i64(6);
  r.modified = s.i64(7);
  r.webhook = s.i64(8) != 0;
  r.stream = s.text(9);
  r.stream_record = s.text(10);
  r.done = s.text(11);
  r.attempts = s.i64(12);
  r.created = s.i64(13);
  r.lease_until = s.i64(14);
  return r;
}
#define OUTBOX_COLUMNS                                                                       \
  "id, pool_id, identity_id, dataset, operation, device_id, sync_count, modified, webhook, " \
  "stream, stream_record, done, attempts, created, lease_until"

#define POOL_COLUMNS                                                                        \
  "id, name, allow_unauthenticated, developer_provider_name, settings_json, events_json, "  \
  "push_sync_json, streams_json, bulk_status, bulk_started, bulk_completed, bulk_failure, " \
  "sync_sessions, created, modified"

DatasetRow read_dataset(const Stmt& s) {
  DatasetRow r;
  r.pool_id = s.text(0);
  r.identity_id = s.text(1);
  r.name = s.text(2);
  r.created = s.i64(3);
  r.modified = s.i64(4);
  r.modified_by = s.text(5);
  r.sync_count = s.i64(6);
  r.deleted = s.i64(7) != 0;
  r.deleted_at_count = s.i64(8);
  r.merge_root = s.text(9);
  r.num_records = s.i64(10);
  r.data_storage = s.i64(11);
  return r;
}
#define DATASET_COLUMNS                                                               \
  "pool_id, identity_id, name, created, modified, modified_by, sync_count, deleted, " \
  "deleted_at_count, merge_root, num_records, data_storage"

RecordRow read_record(const Stmt& s) {
  RecordRow r;
  r.identity_id = s.text(0);
  r.dataset = s.text(1);
  r.key = s.text(2);
  r.value = s.opt_text(3);
  r.sync_count = s.i64(4);
  r.modified = s.i64(5);
  r.modified_by = s.text(6);
  r.device_modified = s.opt_i64(7);
  return r;
}
#define RECORD_COLUMNS \
  "identity_id, dataset, key, value, sync_count, modified, modified_by, device_modified"

DeviceRow read_device(const Stmt& s) {
  return {s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.i64(5)};
}

class SqliteTxn final : public StorageTxn {
 public:
  explicit SqliteTxn(Connection& c) : c_(c) {}

  std::optional<std::string> meta(const std::string& key) override {
    auto s = c_.prepare("SELECT value FROM meta WHERE key = ?");
    s.bind(key);
    if (!s.step()) return std::nullopt;
    return s.text(0);
  }
  void set_meta(const std::string& key, const std::string& value) override {
    c_.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)").bind(key).bind(value).run();
  }

  std::optional<PoolRow> pool(const std::string& id) override {
    auto s = c_.prepare("SELECT " POOL_COLUMNS " FROM pools WHERE id = ?");
    s.bind(id);
    if (!s.step()) return std::nullopt;
    return read_pool(s);
  }
  void add_sync_sessions(const std::string& id, int64_t sessions) override {
    c_.prepare("UPDATE pools SET sync_sessions = sync_sessions + ? WHERE id = ?")
        .bind(sessions)
        .bind(id)
        .run();
  }
  bool pool_exists(const std::string& id) override {
    auto s = c_.prepare("SELECT 1 FROM pools WHERE id = ?");
    s.bind(id);
    return s.step();
  }
  std::optional<PoolRow> pool_by_name(const std::string& name) override {
    auto s = c_.prepare("SELECT " POOL_COLUMNS
                        " FROM pools WHERE name = ? ORDER BY created, id LIMIT 1");
    s.bind(name);
    if (!s.step()) return std::nullopt;
    return read_pool(s);
  }
  std::vector<PoolRow> pools_after(const std::string& after_id, int limit) override {
    auto s = c_.prepare("SELECT " POOL_COLUMNS " FROM pools WHERE id > ? ORDER BY id LIMIT ?");
    s.bind(after_id).bind(limit);
    std::vector<PoolRow> out;
    while (s.step()) out.push_back(read_pool(s));
    return out;
  }
  int64_t count_pools() override {
    auto s = c_.prepare("SELECT COUNT(*) FROM pools");
    s.step();
    return s.i64(0);
  }
  void put_pool(const PoolRow& r) override {
    c_.prepare("INSERT OR REPLACE INTO pools(" POOL_COLUMNS
               ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(r.id)
        .bind(r.name)
        .bind(r.allow_unauthenticated)
        .bind(r.developer_provider_name)
        .bind(r.settings_json)
        .bind(r.events_json)
        .bind(r.push_sync_json)
        .bind(r.streams_json)
        .bind(r.bulk_status)
        .bind(r.bulk_started)
        .bind(r.bulk_completed)
        .bind(r.bulk_failure)
        .bind(r.sync_sessions)
        .bind(r.created)
        .bind(r.modified)
        .run();
  }
  void delete_pool(const std::string& id) override {
    // Everything under the pool goes with it.
    c_.prepare(
          "DELETE FROM records WHERE identity_id IN (SELECT id FROM identities WHERE pool_id = ?)")
        .bind(id)
        .run();
    c_.prepare(
          "DELETE FROM records WHERE identity_id IN "
          "(SELECT identity_id FROM datasets WHERE pool_id = ?)")
        .bind(id)
        .run();
    c_.prepare("DELETE FROM datasets WHERE pool_id = ?").bind(id).run();
    c_.prepare(
          "DELETE FROM subscriptions WHERE device_id IN (SELECT id FROM devices WHERE pool_id = ?)")
        .bind(id)
        .run();
    c_.prepare("DELETE FROM devices WHERE pool_id = ?").bind(id).run();
    c_.prepare("DELETE FROM credentials WHERE pool_id = ?").bind(id).run();
    c_.prepare("DELETE FROM logins WHERE pool_id = ?").bind(id).run();
    c_.prepare("DELETE FROM identities WHERE pool_id = ?").bind(id).run();
    c_.prepare("DELETE FROM pools WHERE id = ?").bind(id).run();
  }

  std::optional<IdentityRow> identity(const std::string& id) override {
    auto s = c_.prepare("SELECT id, pool_id, created, modified FROM identities WHERE id = ?");
    s.bind(id);
    if (!s.step()) return std::nullopt;
    return IdentityRow{s.text(0), s.text(1), s.i64(2), s.i64(3)};
  }
  std::vector<IdentityRow> identities_after(const std::string& pool_id, const std::string& after_id,
                                            int limit) override {
    auto s = c_.prepare(
        "SELECT id, pool_id, created, modified FROM identities WHERE pool_id = ? AND id > ? "
        "ORDER BY id LIMIT ?");
    s.bind(pool_id).bind(after_id).bind(limit);
    std::vector<IdentityRow> out;
    while (s.step()) out.push_back({s.text(0), s.text(1), s.i64(2), s.i64(3)});
    return out;
  }
  void put_identity(const IdentityRow& r) override {
    c_.prepare(
          "INSERT OR REPLACE INTO identities(id, pool_id, created, modified) VALUES(?, ?, ?, ?)")
        .bind(r.id)
        .bind(r.pool_id)
        .bind(r.created)
        .bind(r.modified)
        .run();
  }
  void delete_identity(const std::string& id) override {
    c_.prepare("DELETE FROM records WHERE identity_id = ?").bind(id).run();
    c_.prepare("DELETE FROM datasets WHERE identity_id = ?").bind(id).run();
    c_.prepare("DELETE FROM subscriptions WHERE identity_id = ?").bind(id).run();
    c_.prepare("DELETE FROM devices WHERE identity_id = ?").bind(id).run();
    c_.prepare("DELETE FROM credentials WHERE identity_id = ?").bind(id).run();
    c_.prepare("DELETE FROM logins WHERE identity_id = ?").bind(id).run();
    c_.prepare("DELETE FROM outbox WHERE identity_id = ?").bind(id).run();
    c_.prepare("DELETE FROM identities WHERE id = ?").bind(id).run();
  }
  void touch_identity(const std::string& id, Millis now) override {
    c_.prepare("UPDATE identities SET modified = ? WHERE id = ?").bind(now).bind(id).run();
  }
  int64_t count_identities(const std::string& pool_id) override {
    auto s = c_.prepare("SELECT COUNT(*) FROM identities WHERE pool_id = ?");
    s.bind(pool_id);
    s.step();
    return s.i64(0);
  }
  std::vector<std::string> idle_unauthenticated_identities(Millis before,
                                                           const std::string& after_id,
                                                           int limit) override {
    auto s = c_.prepare(
        "SELECT i.id FROM identities i WHERE i.id > ? AND i.modified < ? "
        "AND NOT EXISTS (SELECT 1 FROM logins l WHERE l.identity_id = i.id) "
        "AND NOT EXISTS (SELECT 1 FROM datasets d WHERE d.identity_id = i.id) "
        "ORDER BY i.id LIMIT ?");
    s.bind(after_id).bind(before).bind(limit);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
  }

  std::optional<LoginRow> login(const std::string& pool_id, const std::string& provider,
                                const std::string& subject) override {
    auto s = c_.prepare(
        "SELECT identity_id FROM logins WHERE pool_id = ? AND provider = ? AND subject = ?");
    s.bind(pool_id).bind(provider).bind(subject);
    if (!s.step()) return std::nullopt;
    return LoginRow{pool_id, provider, subject, s.text(0)};
  }
  std::vector<LoginRow> logins_of(const std::string& identity_id) override {
    auto s = c_.prepare(
        "SELECT pool_id, provider, subject FROM logins WHERE identity_id = ? ORDER BY provider, "
        "subject");
    s.bind(identity_id);
    std::vector<LoginRow> out;
    while (s.step()) out.push_back({s.text(0), s.text(1), s.text(2), identity_id});
    return out;
  }
  void put_login(const LoginRow& r) override {
    c_.prepare(
          "INSERT OR REPLACE INTO logins(pool_id, provider, subject, identity_id) VALUES(?, ?, ?, "
          "?)")
        .bind(r.pool_id)
        .bind(r.provider)
        .bind(r.subject)
        .bind(r.identity_id)
        .run();
  }
  void delete_login(const std::string& pool_id, const std::string& provider,
                    const std::string& subject) override {
    c_.prepare("DELETE FROM logins WHERE pool_id = ? AND provider = ? AND subject = ?")
        .bind(pool_id)
        .bind(provider)
        .bind(subject)
        .run();
  }

  std::optional<CredentialsRow> credentials(const std::string& access_key_id) override {
    auto s = c_.prepare(
        "SELECT access_key_id, secret_access_key, session_token_sha256, identity_id, pool_id, "
        "expires FROM credentials WHERE access_key_id = ?");
    s.bind(access_key_id);
    if (!s.step()) return std::nullopt;
    return CredentialsRow{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.i64(5)};
  }
  void put_credentials(const CredentialsRow& r) override {
    c_.prepare(
          "INSERT OR REPLACE INTO credentials(access_key_id, secret_access_key, "
          "session_token_sha256, identity_id, pool_id, expires) VALUES(?, ?, ?, ?, ?, ?)")
        .bind(r.access_key_id)
        .bind(r.secret_access_key)
        .bind(r.session_token_sha256)
        .bind(r.identity_id)
        .bind(r.pool_id)
        .bind(r.expires)
        .run();
  }
  void delete_expired_credentials(Millis before) override {
    c_.prepare("DELETE FROM credentials WHERE expires < ?").bind(before).run();
  }

  std::vector<CredentialsRow> credentials_of(const std::string& identity_id) override {
    auto s = c_.prepare(
        "SELECT access_key_id, secret_access_key, session_token_sha256, identity_id, pool_id, "
        "expires FROM credentials WHERE identity_id = ? ORDER BY access_key_id");
    s.bind(identity_id);
    std::vector<CredentialsRow> out;
    while (s.step()) {
      out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.i64(5)});
    }
    return out;
  }

  std::optional<DatasetRow> dataset(const std::string& identity_id,
                                    const std::string& name) override {
    auto s =
        c_.prepare("SELECT " DATASET_COLUMNS " FROM datasets WHERE identity_id = ? AND name = ?");
    s.bind(identity_id).bind(name);
    if (!s.step()) return std::nullopt;
    return read_dataset(s);
  }
  std::vector<DatasetRow> datasets_after(const std::string& identity_id,
                                         const std::string& after_name, int limit) override {
    auto s = c_.prepare("SELECT " DATASET_COLUMNS
                        " FROM datasets WHERE identity_id = ? AND deleted = 0 AND name > ? "
                        "ORDER BY name LIMIT ?");
    s.bind(identity_id).bind(after_name).bind(limit);
    std::vector<DatasetRow> out;
    while (s.step()) out.push_back(read_dataset(s));
    return out;
  }
  int64_t count_live_datasets(const std::string& identity_id) override {
    auto s = c_.prepare("SELECT COUNT(*) FROM datasets WHERE identity_id = ? AND deleted = 0");
    s.bind(identity_id);
    s.step();
    return s.i64(0);
  }
  std::vector<std::string> merged_into(const std::string& identity_id,
                                       const std::string& root) override {
    auto s = c_.prepare(
        "SELECT name FROM datasets WHERE identity_id = ? AND merge_root = ? AND deleted = 0 ORDER "
        "BY name");
    s.bind(identity_id).bind(root);
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
  }
  std::vector<DatasetRow> pool_datasets_after(const std::string& pool_id,
                                              const std::string& after_identity,
                                              const std::string& after_name, int limit) override {
    return pool_datasets(
        c_.prepare("SELECT " DATASET_COLUMNS " FROM datasets WHERE pool_id = ? AND deleted = 0 AND "
                   "(identity_id > ? OR (identity_id = ? AND name > ?)) "
                   "ORDER BY identity_id, name LIMIT ?"),
        pool_id, after_identity, after_name, limit);
  }
  std::vector<DatasetRow> pool_dataset_rows_after(const std::string& pool_id,
                                                  const std::string& after_identity,
                                                  const std::string& after_name,
                                                  int limit) override {
    return pool_datasets(
        c_.prepare("SELECT " DATASET_COLUMNS " FROM datasets WHERE pool_id = ? AND "
                   "(identity_id > ? OR (identity_id = ? AND name > ?)) "
                   "ORDER BY identity_id, name LIMIT ?"),
        pool_id, after_identity, after_name, limit);
  }
  void put_dataset(const DatasetRow& r) override {
    c_.prepare("INSERT OR REPLACE INTO datasets(" DATASET_COLUMNS
               ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(r.pool_id)
        .bind(r.identity_id)
        .bind(r.name)
        .bind(r.created)
        .bind(r.modified)
        .bind(r.modified_by)
        .bind(r.sync_count)
        .bind(r.deleted)
        .bind(r.deleted_at_count)
        .bind(r.merge_root)
        .bind(r.num_records)
        .bind(r.data_storage)
        .run();
  }
  void delete_dataset_row(const std::string& identity_id, const std::string& name) override {
    c_.prepare("DELETE FROM datasets WHERE identity_id = ? AND name = ?")
        .bind(identity_id)
        .bind(name)
        .run();
  }
  Usage identity_usage(const std::string& identity_id) override {
    auto s = c_.prepare(
        "SELECT COUNT(*), COALESCE(SUM(data_storage), 0), COALESCE(MAX(modified), 0) FROM datasets "
        "WHERE identity_id = ? AND deleted = 0");
    s.bind(identity_id);
    s.step();
    return {s.i64(0), s.i64(1), s.i64(2)};
  }
  Usage pool_usage(const std::string& pool_id) override {
    auto s = c_.prepare(
        "SELECT COUNT(*), COALESCE(SUM(data_storage), 0), COALESCE(MAX(modified), 0) FROM datasets "
        "WHERE pool_id = ? AND deleted = 0");
    s.bind(pool_id);
    s.step();
    return {s.i64(0), s.i64(1), s.i64(2)};
  }

  std::optional<RecordState> record_state(const std::string& identity_id,
                                          const std::string& dataset,
                                          const std::string& key) override {
    auto s = c_.prepare(
        "SELECT sync_count, value FROM records WHERE identity_id = ? AND dataset = ? AND key = ?");
    s.bind(identity_id).bind(dataset).bind(key);
    if (!s.step()) return std::nullopt;
    RecordState state{s.i64(0), std::nullopt};
    if (!s.is_null(1)) state.value_bytes = s.bytes(1);  // TEXT bytes, no copy
    return state;
  }
  std::vector<RecordRow> records_after(const std::string& identity_id, const std::string& dataset,
                                       int64_t min_count, int64_t after_count,
                                       const std::string& after_key, int limit) override {
    auto s = c_.prepare("SELECT " RECORD_COLUMNS
                        " FROM records WHERE identity_id = ? AND dataset = ? AND sync_count > ? "
                        "AND (sync_count > ? OR (sync_count = ? AND key > ?)) "
                        "ORDER BY sync_count, key LIMIT ?");
    s.bind(identity_id)
        .bind(dataset)
        .bind(min_count)
        .bind(after_count)
        .bind(after_count)
        .bind(after_key)
        .bind(limit);
    std::vector<RecordRow> out;
    while (s.step()) out.push_back(read_record(s));
    return out;
  }
  void put_record(const RecordRow& r) override {
    // An upsert rewrites the row in place; INSERT OR REPLACE would delete it (and its index
    // entries) and insert it again.
    c_.prepare("INSERT INTO records(" RECORD_COLUMNS
               ") VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(identity_id, dataset, key) DO UPDATE "
               "SET value = excluded.value, sync_count = excluded.sync_count, "
               "modified = excluded.modified, modified_by = excluded.modified_by, "
               "device_modified = excluded.device_modified")
        .bind(r.identity_id)
        .bind(r.dataset)
        .bind(r.key)
        .bind(r.value)
        .bind(r.sync_count)
        .bind(r.modified)
        .bind(r.modified_by)
        .bind(r.device_modified)
        .run();
  }
  void delete_records(const std::string& identity_id, const std::string& dataset) override {
    c_.prepare("DELETE FROM records WHERE identity_id = ? AND dataset = ?")
        .bind(identity_id)
        .bind(dataset)
        .run();
  }
  void move_dataset(const std::string& from_identity, const std::string& from_name,
                    const DatasetRow& to) override {
    c_.prepare(
          "UPDATE records SET identity_id = ?, dataset = ? WHERE identity_id = ? AND dataset = ?")
        .bind(to.identity_id)
        .bind(to.name)
        .bind(from_identity)
        .bind(from_name)
        .run();
    c_.prepare(
          "UPDATE subscriptions SET identity_id = ?, dataset = ? WHERE identity_id = ? AND dataset "
          "= ?")
        .bind(to.identity_id)
        .bind(to.name)
        .bind(from_identity)
        .bind(from_name)
        .run();
    delete_dataset_row(from_identity, from_name);
    put_dataset(to);
  }

  std::optional<DeviceRow> device(const std::string& id) override {
    auto s = c_.prepare(
        "SELECT id, identity_id, pool_id, platform, token, created FROM devices WHERE id = ?");
    s.bind(id);
    if (!s.step()) return std::nullopt;
    return read_device(s);
  }
  std::optional<DeviceRow> device_by_token(const std::string& identity_id,
                                           const std::string& platform,
                                           const std::string& token) override {
    auto s = c_.prepare(
        "SELECT id, identity_id, pool_id, platform, token, created FROM devices "
        "WHERE identity_id = ? AND platform = ? AND token = ?");
    s.bind(identity_id).bind(platform).bind(token);
    if (!s.step()) return std::nullopt;
    return read_device(s);
  }
  void put_device(const DeviceRow& r) override {
    c_.prepare(
          "INSERT OR REPLACE INTO devices(id, identity_id, pool_id, platform, token, created) "
          "VALUES(?, ?, ?, ?, ?, ?)")
        .bind(r.id)
        .bind(r.identity_id)
        .bind(r.pool_id)
        .bind(r.platform)
        .bind(r.token)
        .bind(r.created)
        .run();
  }
  void put_subscription(const std::string& device_id, const std::string& identity_id,
                        const std::string& dataset) override {
    c_.prepare(
          "INSERT OR REPLACE INTO subscriptions(device_id, identity_id, dataset) VALUES(?, ?, ?)")
        .bind(device_id)
        .bind(identity_id)
        .bind(dataset)
        .run();
  }
  void delete_subscription(const std::string& device_id, const std::string& dataset) override {
    c_.prepare("DELETE FROM subscriptions WHERE device_id = ? AND dataset = ?")
        .bind(device_id)
        .bind(dataset)
        .run();
  }
  std::vector<DeviceRow> subscribers_of(const std::string& identity_id,
                                        const std::string& dataset) override {
    auto s = c_.prepare(
        "SELECT d.id, d.identity_id, d.pool_id, d.platform, d.token, d.created FROM subscriptions "
        "s "
        "JOIN devices d ON d.id = s.device_id WHERE s.identity_id = ? AND s.dataset = ? "
        "ORDER BY d.id");
    s.bind(identity_id).bind(dataset);
    std::vector<DeviceRow> out;
    while (s.step()) out.push_back(read_device(s));
    return out;
  }
  std::vector<DeviceRow> pool_devices_after(const std::string& pool_id, const std::string& after_id,
                                            int limit) override {
    auto s = c_.prepare(
        "SELECT id, identity_id, pool_id, platform, token, created FROM devices "
        "WHERE pool_id = ? AND id > ? ORDER BY id LIMIT ?");
    s.bind(pool_id).bind(after_id).bind(limit);
    std::vector<DeviceRow> out;
    while (s.step()) out.push_back(read_device(s));
    return out;
  }
  std::vector<std::pair<std::string, std::string>> subscriptions_of_device(
      const std::string& device_id) override {
    auto s = c_.prepare(
        "SELECT identity_id, dataset FROM subscriptions WHERE device_id = ? ORDER BY dataset");
    s.bind(device_id);
    std::vector<std::pair<std::string, std::string>> out;
    while (s.step()) out.emplace_back(s.text(0), s.text(1));
    return out;
  }
  std::optional<std::string> pool_streams(const std::string& pool_id) override {
    auto s = c_.prepare("SELECT streams_json FROM pools WHERE id = ?");
    s.bind(pool_id);
    if (!s.step()) return std::nullopt;
    return s.text(0);
  }
  int64_t add_outbox(const OutboxRow& r) override {
    c_.prepare(
          "INSERT INTO outbox(pool_id, identity_id, dataset, operation, device_id, "
          "sync_count, modified, webhook, stream, stream_record, done, attempts, created, "
          "lease_until) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(r.pool_id)
        .bind(r.identity_id)
        .bind(r.dataset)
        .bind(r.operation)
        .bind(r.device_id)
        .bind(r.sync_count)
        .bind(r.modified)
        .bind(r.webhook)
        .bind(r.stream)
        .bind(r.stream_record)
        .bind(r.done)
        .bind(r.attempts)
        .bind(r.created)
        .bind(r.lease_until)
        .run();
    return sqlite3_last_insert_rowid(c_.handle());
  }
  std::vector<OutboxRow> claim_outbox(Millis now, Millis lease_until, int64_t after_id,
                                      int limit) override {
    // One writer at a time: nobody else can take these rows between the read and the update.
    auto s = c_.prepare("SELECT " OUTBOX_COLUMNS
                        " FROM outbox WHERE lease_until < ? AND id > ? ORDER BY id LIMIT ?");
    s.bind(now).bind(after_id).bind(limit);
    std::vector<OutboxRow> out;
    while (s.step()) out.push_back(read_outbox(s));
    for (auto& r : out) {
      r.lease_until = lease_until;
      c_.prepare("UPDATE outbox SET lease_until = ? WHERE id = ?")
          .bind(lease_until)
          .bind(r.id)
          .run();
    }
    return out;
  }
  void retry_outbox(int64_t id, const std::string& done, int64_t attempts,
                    Millis lease_until) override {
    c_.prepare("UPDATE outbox SET done = ?, attempts = ?, lease_until = ? WHERE id = ?")
        .bind(done)
        .bind(attempts)
        .bind(lease_until)
        .bind(id)
        .run();
  }
  void delete_outbox(const std::vector<int64_t>& ids) override {
    for (int64_t id : ids) c_.prepare("DELETE FROM outbox WHERE id = ?").bind(id).run();
  }
  std::pair<int64_t, Millis> outbox_size() override {
    auto s = c_.prepare("SELECT COUNT(*), COALESCE(MIN(created), 0) FROM outbox");
    s.step();
    return {s.i64(0), s.i64(1)};
  }
  std::pair<int64_t, int64_t> trim_outbox(Millis before, int64_t keep) override {
    c_.prepare("DELETE FROM outbox WHERE created < ?").bind(before).run();
    int64_t expired = sqlite3_changes(c_.handle());
    c_.prepare(
          "DELETE FROM outbox WHERE id <= (SELECT id FROM outbox ORDER BY id DESC "
          "LIMIT 1 OFFSET ?)")
        .bind(keep)
        .run();
    return {expired, sqlite3_changes(c_.handle())};
  }

  std::vector<std::string> meta_keys() override {
    auto s = c_.prepare("SELECT key FROM meta ORDER BY key");
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0));
    return out;
  }
  std::vector<std::pair<std::string, int64_t>> table_rows() override {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& [table, count] : kTableCounts) {
      auto s = c_.prepare(count);
      s.step();
      out.emplace_back(table, s.i64(0));
    }
    return out;
  }

 private:
  // Runs one of the two pool walks above (live datasets, or every row).
  static std::vector<DatasetRow> pool_datasets(Stmt s, const std::string& pool_id,
                                               const std::string& after_identity,
                                               const std::string& after_name, int limit) {
    s.bind(pool_id).bind(after_identity).bind(after_identity).bind(after_name).bind(limit);
    std::vector<DatasetRow> out;
    while (s.step()) out.push_back(read_dataset(s));
    return out;
  }

  Connection& c_;
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
      SqliteTxn txn(*c);
      result = fn(txn);
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
      SqliteTxn txn(*c);
      for (size_t i = 0; i < group.size(); ++i) {
        c->run("SAVEPOINT one_write");
        try {
          results[i] = (*group[i]->fn)(txn);
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
