// The SQLite backend's transaction (sqlite_txn.h): every StorageTxn operation as SQL. The column
// lists and row readers are the ones PostgreSQL uses too (rows.h).
#include "server/storage/sqlite_txn.h"

#include <map>

#include "server/storage/rows.h"

namespace cairn::server::sqlite_txn {
namespace {

using sqlite::Stmt;

// The tables and their row counts' queries, for table_rows() (statements are cached by address).
#define CAIRN_COUNT(table) \
  { table, "SELECT COUNT(*) FROM " table }
const std::pair<const char*, const char*> kTableCounts[] = {
    CAIRN_COUNT("meta"),    CAIRN_COUNT("pools"),       CAIRN_COUNT("identities"),
    CAIRN_COUNT("logins"),  CAIRN_COUNT("credentials"), CAIRN_COUNT("datasets"),
    CAIRN_COUNT("records"), CAIRN_COUNT("devices"),     CAIRN_COUNT("subscriptions")};
#undef CAIRN_COUNT

class SqliteTxn final : public StorageTxn {
 public:
  explicit SqliteTxn(sqlite::Connection& c) : c_(c) {}

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
    auto s = c_.prepare("SELECT " CAIRN_POOL_COLUMNS " FROM pools WHERE id = ?");
    s.bind(id);
    if (!s.step()) return std::nullopt;
    return rows::pool(s);
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
    auto s = c_.prepare("SELECT " CAIRN_POOL_COLUMNS
                        " FROM pools WHERE name = ? ORDER BY created, id LIMIT 1");
    s.bind(name);
    if (!s.step()) return std::nullopt;
    return rows::pool(s);
  }
  std::vector<PoolRow> pools_after(const std::string& after_id, int limit) override {
    auto s =
        c_.prepare("SELECT " CAIRN_POOL_COLUMNS " FROM pools WHERE id > ? ORDER BY id LIMIT ?");
    s.bind(after_id).bind(limit);
    std::vector<PoolRow> out;
    while (s.step()) out.push_back(rows::pool(s));
    return out;
  }
  int64_t count_pools() override {
    auto s = c_.prepare("SELECT COUNT(*) FROM pools");
    s.step();
    return s.i64(0);
  }
  void put_pool(const PoolRow& r) override {
    c_.prepare("INSERT OR REPLACE INTO pools(" CAIRN_POOL_COLUMNS
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
    return rows::credentials(s);
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
    auto s = c_.prepare("SELECT " CAIRN_DATASET_COLUMNS
                        " FROM datasets WHERE identity_id = ? AND name = ?");
    s.bind(identity_id).bind(name);
    if (!s.step()) return std::nullopt;
    return rows::dataset(s);
  }
  std::vector<DatasetRow> datasets_after(const std::string& identity_id,
                                         const std::string& after_name, int limit) override {
    auto s = c_.prepare("SELECT " CAIRN_DATASET_COLUMNS
                        " FROM datasets WHERE identity_id = ? AND deleted = 0 AND name > ? "
                        "ORDER BY name LIMIT ?");
    s.bind(identity_id).bind(after_name).bind(limit);
    std::vector<DatasetRow> out;
    while (s.step()) out.push_back(rows::dataset(s));
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
    return pool_datasets(c_.prepare("SELECT " CAIRN_DATASET_COLUMNS
                                    " FROM datasets WHERE pool_id = ? AND deleted = 0 AND "
                                    "(identity_id > ? OR (identity_id = ? AND name > ?)) "
                                    "ORDER BY identity_id, name LIMIT ?"),
                         pool_id, after_identity, after_name, limit);
  }
  std::vector<DatasetRow> pool_dataset_rows_after(const std::string& pool_id,
                                                  const std::string& after_identity,
                                                  const std::string& after_name,
                                                  int limit) override {
    return pool_datasets(
        c_.prepare("SELECT " CAIRN_DATASET_COLUMNS " FROM datasets WHERE pool_id = ? AND "
                   "(identity_id > ? OR (identity_id = ? AND name > ?)) "
                   "ORDER BY identity_id, name LIMIT ?"),
        pool_id, after_identity, after_name, limit);
  }
  void put_dataset(const DatasetRow& r) override {
    c_.prepare("INSERT OR REPLACE INTO datasets(" CAIRN_DATASET_COLUMNS
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
    auto s = c_.prepare("SELECT " CAIRN_RECORD_COLUMNS
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
    while (s.step()) out.push_back(rows::record(s));
    return out;
  }
  void put_record(const RecordRow& r) override {
    // An upsert rewrites the row in place; INSERT OR REPLACE would delete it (and its index
    // entries) and insert it again.
    c_.prepare("INSERT INTO records(" CAIRN_RECORD_COLUMNS
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
    return rows::device(s);
  }
  std::optional<DeviceRow> device_by_token(const std::string& identity_id,
                                           const std::string& platform,
                                           const std::string& token) override {
    auto s = c_.prepare(
        "SELECT id, identity_id, pool_id, platform, token, created FROM devices "
        "WHERE identity_id = ? AND platform = ? AND token = ?");
    s.bind(identity_id).bind(platform).bind(token);
    if (!s.step()) return std::nullopt;
    return rows::device(s);
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
    while (s.step()) out.push_back(rows::device(s));
    return out;
  }
  std::vector<DeviceRow> pool_devices_after(const std::string& pool_id, const std::string& after_id,
                                            int limit) override {
    auto s = c_.prepare(
        "SELECT id, identity_id, pool_id, platform, token, created FROM devices "
        "WHERE pool_id = ? AND id > ? ORDER BY id LIMIT ?");
    s.bind(pool_id).bind(after_id).bind(limit);
    std::vector<DeviceRow> out;
    while (s.step()) out.push_back(rows::device(s));
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
    auto s = c_.prepare("SELECT " CAIRN_OUTBOX_COLUMNS
                        " FROM outbox WHERE lease_until < ? AND id > ? ORDER BY id LIMIT ?");
    s.bind(now).bind(after_id).bind(limit);
    std::vector<OutboxRow> out;
    while (s.step()) out.push_back(rows::outbox(s));
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
    while (s.step()) out.push_back(rows::dataset(s));
    return out;
  }

  sqlite::Connection& c_;
};

}  // namespace

std::unique_ptr<StorageTxn> open(sqlite::Connection& c) { return std::make_unique<SqliteTxn>(c); }

}  // namespace cairn::server::sqlite_txn
