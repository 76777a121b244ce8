// The PostgreSQL backend's transaction (pg_txn.h): every StorageTxn operation as SQL. The column
// lists and row readers are the ones SQLite uses too (rows.h).
//
// Kept whole, though long: it is one class with one short method per StorageTxn operation, most
// of them one statement, in the interface's order, so it reads beside sqlite_txn.cc line for line.
// Split, each half would need the class re-declared in a header.
#include "server/storage/pg_txn.h"

#include <map>

#include "server/storage/rows.h"

namespace cairn::server::pg {
namespace {

// Rows per statement of a batch (record_states, put_records): well under PostgreSQL's 65535
// parameters, and big enough that a whole UpdateRecords is one statement.
constexpr size_t kBatchRows = 500;

PoolRow read_pool(const Rows& s, int i) { return rows::pool(At{s, i}); }
DatasetRow read_dataset(const Rows& s, int i) { return rows::dataset(At{s, i}); }
RecordRow read_record(const Rows& s, int i) { return rows::record(At{s, i}); }
OutboxRow read_outbox(const Rows& s, int i) { return rows::outbox(At{s, i}); }
DeviceRow read_device(const Rows& s, int i) { return rows::device(At{s, i}); }
CredentialsRow read_credentials(const Rows& s, int i) { return rows::credentials(At{s, i}); }

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
        "RETURNING " CAIRN_OUTBOX_COLUMNS,
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
    auto s = c_.query(writing_ ? "SELECT " CAIRN_POOL_COLUMNS " FROM pools WHERE id = $1 FOR SHARE"
                               : "SELECT " CAIRN_POOL_COLUMNS " FROM pools WHERE id = $1",
                      Params().add(id));
    if (s.empty()) return std::nullopt;
    return read_pool(s, 0);
  }
  std::optional<PoolRow> pool_for_update(const std::string& id) override {
    auto s = c_.query("SELECT " CAIRN_POOL_COLUMNS " FROM pools WHERE id = $1 FOR UPDATE",
                      Params().add(id));
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
    auto s = c_.query("SELECT " CAIRN_POOL_COLUMNS
                      " FROM pools WHERE name = $1 ORDER BY created, id LIMIT 1",
                      Params().add(name));
    if (s.empty()) return std::nullopt;
    return read_pool(s, 0);
  }
  std::vector<PoolRow> pools_after(const std::string& after_id, int limit) override {
    auto s = c_.query("SELECT " CAIRN_POOL_COLUMNS " FROM pools WHERE id > $1 ORDER BY id LIMIT $2",
                      Params().add(after_id).add(limit));
    return all_rows<PoolRow>(s, read_pool);
  }
  int64_t count_pools() override {
    lock("pools");
    return c_.query("SELECT COUNT(*) FROM pools").i64(0, 0);
  }
  void put_pool(const PoolRow& r) override {
    c_.query("INSERT INTO pools(" CAIRN_POOL_COLUMNS
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
    auto s =
        c_.query("SELECT " CAIRN_CREDENTIALS_COLUMNS " FROM credentials WHERE access_key_id = $1",
                 Params().add(access_key_id));
    if (s.empty()) return std::nullopt;
    return read_credentials(s, 0);
  }
  std::vector<CredentialsRow> credentials_of(const std::string& identity_id) override {
    auto s = c_.query("SELECT " CAIRN_CREDENTIALS_COLUMNS
                      " FROM credentials WHERE identity_id = $1 ORDER BY access_key_id",
                      Params().add(identity_id));
    return all_rows<CredentialsRow>(s, read_credentials);
  }
  void put_credentials(const CredentialsRow& r) override {
    c_.query("INSERT INTO credentials(" CAIRN_CREDENTIALS_COLUMNS
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
    auto s = c_.query("SELECT " CAIRN_DATASET_COLUMNS
                      " FROM datasets WHERE identity_id = $1 AND name = $2",
                      Params().add(identity_id).add(name));
    if (s.empty()) return std::nullopt;
    return read_dataset(s, 0);
  }
  std::vector<DatasetRow> datasets_after(const std::string& identity_id,
                                         const std::string& after_name, int limit) override {
    auto s = c_.query("SELECT " CAIRN_DATASET_COLUMNS
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
    c_.query("INSERT INTO datasets(" CAIRN_DATASET_COLUMNS
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
    auto s = c_.query("SELECT " CAIRN_RECORD_COLUMNS
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
    c_.query("INSERT INTO records(" CAIRN_RECORD_COLUMNS
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
      std::string sql = "INSERT INTO records(" CAIRN_RECORD_COLUMNS ") VALUES ";
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
    auto s =
        c_.query("SELECT " CAIRN_DEVICE_COLUMNS " FROM devices WHERE id = $1", Params().add(id));
    if (s.empty()) return std::nullopt;
    return read_device(s, 0);
  }
  std::optional<DeviceRow> device_by_token(const std::string& identity_id,
                                           const std::string& platform,
                                           const std::string& token) override {
    lock("device", identity_id, platform, token);
    auto s = c_.query("SELECT " CAIRN_DEVICE_COLUMNS
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
    auto s = c_.query("SELECT " CAIRN_DEVICE_COLUMNS
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
    c_.query("INSERT INTO devices(" CAIRN_DEVICE_COLUMNS
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
        std::string("SELECT " CAIRN_DATASET_COLUMNS " FROM datasets WHERE pool_id = $1 AND ") +
            live +
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

}  // namespace

std::unique_ptr<StorageTxn> open_txn(Connection& c, const std::string& channel,
                                     const std::string& schema, bool writing) {
  return std::make_unique<PgTxn>(c, channel, schema, writing);
}

void notify(StorageTxn& txn, const std::string& channel, const std::string& message) {
  static_cast<PgTxn&>(txn).notify(channel, message);
}

}  // namespace cairn::server::pg
