// The server's storage seam. All the protocol's rules (sync counts, conflicts, limits, merges)
// live in the handlers; a backend only stores rows and runs transactions. That keeps a second
// backend (PostgreSQL) a matter of implementing StorageTxn, not of rewriting semantics.
//
// Every mutating request runs inside one write() transaction; reads run inside read(), a
// consistent snapshot. A backend must serialise the handlers' read-check-write steps: SQLite has
// one writer at a time (BEGIN IMMEDIATE). PostgreSQL runs writes READ COMMITTED and locks what a
// write transaction reads to decide: reading a dataset takes that dataset's lock, reading a login
// that login's, counting an identity's datasets the identity's, and so on (pg_storage.cc), so the
// steps hold across server instances too, while writers of different datasets never wait for
// each other.
//
// Times are epoch milliseconds. Thread safety: Storage is shared by every request thread; a
// StorageTxn belongs to the one thread running the transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cairn/status.h"

namespace cairn::server {

using Millis = int64_t;

struct PoolRow {
  std::string id;
  std::string name;
  bool allow_unauthenticated = false;
  std::string developer_provider_name;  // empty: none
  std::string settings_json;            // the rest of the IdentityPool shape, as sent
  std::string events_json = "{}";       // Cognito Events map
  std::string push_sync_json;           // empty: not configured
  std::string streams_json;             // empty: not configured
  std::string bulk_status = "NOT_STARTED";
  Millis bulk_started = 0;
  Millis bulk_completed = 0;
  std::string bulk_failure;
  int64_t sync_sessions = 0;
  Millis created = 0;
  Millis modified = 0;
};

struct IdentityRow {
  std::string id;
  std::string pool_id;
  Millis created = 0;
  Millis modified = 0;
};

// A verified login: (pool, provider, subject) belongs to one identity. For developer identities the
// provider is the pool's developer provider name and the subject the developer user identifier.
struct LoginRow {
  std::string pool_id;
  std::string provider;
  std::string subject;
  std::string identity_id;
};

struct CredentialsRow {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token_sha256;  // hex; the token itself is never stored
  std::string identity_id;
  std::string pool_id;
  Millis expires = 0;
};

struct DatasetRow {
  std::string pool_id;
  std::string identity_id;
  std::string name;
  Millis created = 0;
  Millis modified = 0;
  std::string modified_by;
  int64_t sync_count = 0;
  bool deleted = false;
  int64_t deleted_at_count = 0;  // the sync count the last deletion took; 0: never deleted
  std::string merge_root;        // for NAME.SOURCE_ID datasets made by a merge: NAME
  int64_t num_records = 0;       // live records
  int64_t data_storage = 0;      // UTF-8 bytes of key + value over live records
};

struct RecordRow {
  std::string identity_id;
  std::string dataset;
  std::string key;
  std::optional<std::string> value;  // nullopt: tombstone
  int64_t sync_count = 0;
  Millis modified = 0;
  std::string modified_by;
  std::optional<Millis> device_modified;
};

// A committed change's deliveries that must outlive a crash: its webhook posts and its stream
// record (docs/events.md, The outbox). Written in the change's own transaction, taken by one
// instance at a time under a lease, and deleted once every delivery has been made.
struct OutboxRow {
  int64_t id = 0;  // assigned by add_outbox, never reused; deliveries' ids are built on it
  std::string pool_id;
  std::string identity_id;
  std::string dataset;
  std::string operation;                 // "replace" (records written) or "remove"
  std::optional<std::string> device_id;  // the device that made the change, if it said
  int64_t sync_count = 0;
  Millis modified = 0;
  bool webhook = false;       // the pool had a push webhook: post one per subscribed device
  std::string stream;         // the stream's name; empty: no stream record
  std::string stream_record;  // the Cognito Streams record, as JSON
  std::string done;           // ids of the deliveries already made, space-separated
  int64_t attempts = 0;       // delivery rounds that ended with a delivery still failing
  Millis created = 0;
  Millis lease_until = 0;  // no instance takes the row before this time
};

struct DeviceRow {
  std::string id;
  std::string identity_id;
  std::string pool_id;
  std::string platform;
  std::string token;
  Millis created = 0;
};

class StorageTxn {
 public:
  virtual ~StorageTxn() = default;

  // Small server-wide settings (the token signing key, ...).
  virtual std::optional<std::string> meta(const std::string& key) = 0;
  virtual void set_meta(const std::string& key, const std::string& value) = 0;

  // Identity pools.
  virtual std::optional<PoolRow> pool(const std::string& id) = 0;
  // The pool, to be changed and written back with put_pool in this transaction: no other
  // transaction changes it meanwhile.
  virtual std::optional<PoolRow> pool_for_update(const std::string& id) { return pool(id); }
  // Adds to a pool's sync session count in place (no read-modify-write); no-op for a gone pool.
  virtual void add_sync_sessions(const std::string& id, int64_t sessions) = 0;
  // Whether the pool exists, without reading its settings (the check of every record call).
  virtual bool pool_exists(const std::string& id) = 0;
  virtual std::optional<PoolRow> pool_by_name(const std::string& name) = 0;
  virtual std::vector<PoolRow> pools_after(const std::string& after_id, int limit) = 0;
  virtual int64_t count_pools() = 0;
  virtual void put_pool(const PoolRow& row) = 0;  // insert or replace
  virtual void delete_pool(const std::string& id) = 0;

  // Identities.
  virtual std::optional<IdentityRow> identity(const std::string& id) = 0;
  virtual std::vector<IdentityRow> identities_after(const std::string& pool_id,
                                                    const std::string& after_id, int limit) = 0;
  virtual void put_identity(const IdentityRow& row) = 0;
  // Deletes an identity with everything of it: logins, credentials, datasets, records, devices,
  // subscriptions, outbox rows.
  virtual void delete_identity(const std::string& id) = 0;
  // Sets an identity's modified time (it got credentials or a token: its last activity).
  virtual void touch_identity(const std::string& id, Millis now) = 0;
  virtual int64_t count_identities(const std::string& pool_id) = 0;
  // Up to `limit` identities, by id after `after_id`, last modified before `before`, with no
  // login and no dataset (unauthenticated, never stored anything): what expiry may delete.
  virtual std::vector<std::string> idle_unauthenticated_identities(Millis before,
                                                                   const std::string& after_id,
                                                                   int limit) = 0;

  // Logins.
  virtual std::optional<LoginRow> login(const std::string& pool_id, const std::string& provider,
                                        const std::string& subject) = 0;
  virtual std::vector<LoginRow> logins_of(const std::string& identity_id) = 0;
  virtual void put_login(const LoginRow& row) = 0;
  virtual void delete_login(const std::string& pool_id, const std::string& provider,
                            const std::string& subject) = 0;

  // Temporary credentials.
  virtual std::optional<CredentialsRow> credentials(const std::string& access_key_id) = 0;
  virtual void put_credentials(const CredentialsRow& row) = 0;
  // Deletes the credentials that expired before `before`.
  virtual void delete_expired_credentials(Millis before) = 0;
  virtual std::vector<CredentialsRow> credentials_of(const std::string& identity_id) = 0;
  // Tells every other server instance sharing this storage, once this transaction commits, that
  // credentials were revoked (identities or pools deleted or merged): see
  // Storage::watch_revocations. A no-op where one process owns the storage.
  virtual void announce_revocation() {}

  // Datasets.
  virtual std::optional<DatasetRow> dataset(const std::string& identity_id,
                                            const std::string& name) = 0;
  // Live datasets of an identity, by name, after after_name.
  virtual std::vector<DatasetRow> datasets_after(const std::string& identity_id,
                                                 const std::string& after_name, int limit) = 0;
  virtual int64_t count_live_datasets(const std::string& identity_id) = 0;
  // Live datasets of an identity made by merges into root.
  virtual std::vector<std::string> merged_into(const std::string& identity_id,
                                               const std::string& root) = 0;
  // Live datasets of a pool, ordered by (identity, name), strictly after the cursor.
  virtual std::vector<DatasetRow> pool_datasets_after(const std::string& pool_id,
                                                      const std::string& after_identity,
                                                      const std::string& after_name, int limit) = 0;
  // Every dataset row of a pool, deleted ones included, like pool_datasets_after (migrations).
  virtual std::vector<DatasetRow> pool_dataset_rows_after(const std::string& pool_id,
                                                          const std::string& after_identity,
                                                          const std::string& after_name,
                                                          int limit) = 0;
  virtual void put_dataset(const DatasetRow& row) = 0;
  virtual void delete_dataset_row(const std::string& identity_id, const std::string& name) = 0;
  // Live datasets and their storage, over an identity or a pool.
  struct Usage {
    int64_t datasets = 0;
    int64_t data_storage = 0;
    Millis last_modified = 0;
  };
  virtual Usage identity_usage(const std::string& identity_id) = 0;
  virtual Usage pool_usage(const std::string& pool_id) = 0;

  // Records.
  // What UpdateRecords checks of a record before writing it: its count and its value's size in
  // bytes (nullopt for a removed record), without reading the rest of the row into memory.
  struct RecordState {
    int64_t sync_count = 0;
    std::optional<int64_t> value_bytes;
  };
  virtual std::optional<RecordState> record_state(const std::string& identity_id,
                                                  const std::string& dataset,
                                                  const std::string& key) = 0;
  // The same for many keys at once, in their order (nullopt: no such record). A backend across a
  // network answers in one round trip; the default asks key by key.
  virtual std::vector<std::optional<RecordState>> record_states(
      const std::string& identity_id, const std::string& dataset,
      const std::vector<std::string>& keys) {
    std::vector<std::optional<RecordState>> out;
    out.reserve(keys.size());
    for (const auto& k : keys) out.push_back(record_state(identity_id, dataset, k));
    return out;
  }
  // Records with sync_count > min_count, ordered by (sync_count, key), strictly after the cursor
  // (after_count, after_key).
  virtual std::vector<RecordRow> records_after(const std::string& identity_id,
                                               const std::string& dataset, int64_t min_count,
                                               int64_t after_count, const std::string& after_key,
                                               int limit) = 0;
  virtual void put_record(const RecordRow& row) = 0;
  // Many records at once (keys distinct); the default writes them one by one.
  virtual void put_records(const std::vector<RecordRow>& rows) {
    for (const auto& r : rows) put_record(r);
  }
  virtual void delete_records(const std::string& identity_id, const std::string& dataset) = 0;
  // Moves a dataset and its records to another identity and name (merges).
  virtual void move_dataset(const std::string& from_identity, const std::string& from_name,
                            const DatasetRow& to) = 0;

  // Devices and subscriptions.
  virtual std::optional<DeviceRow> device(const std::string& id) = 0;
  virtual std::optional<DeviceRow> device_by_token(const std::string& identity_id,
                                                   const std::string& platform,
                                                   const std::string& token) = 0;
  virtual void put_device(const DeviceRow& row) = 0;
  virtual void put_subscription(const std::string& device_id, const std::string& identity_id,
                                const std::string& dataset) = 0;
  virtual void delete_subscription(const std::string& device_id, const std::string& dataset) = 0;
  // The devices subscribed to a dataset, by id (who gets its push notifications).
  virtual std::vector<DeviceRow> subscribers_of(const std::string& identity_id,
                                                const std::string& dataset) = 0;
  // A pool's devices by id, after after_id; a device's subscriptions as (identity id, dataset), by
  // dataset (migrations).
  virtual std::vector<DeviceRow> pool_devices_after(const std::string& pool_id,
                                                    const std::string& after_id, int limit) = 0;
  virtual std::vector<std::pair<std::string, std::string>> subscriptions_of_device(
      const std::string& device_id) = 0;

  // The outbox.
  // A pool's Cognito Streams configuration (empty: never configured); nullopt: no such pool.
  virtual std::optional<std::string> pool_streams(const std::string& pool_id) = 0;
  // Adds a row (its id, created and lease as given, but for the id) and returns its id.
  virtual int64_t add_outbox(const OutboxRow& row) = 0;
  // Takes up to `limit` rows after `after_id` whose lease ended before `now`, oldest first, and
  // leases them until `lease_until`. Concurrent claimers never take the same row.
  virtual std::vector<OutboxRow> claim_outbox(Millis now, Millis lease_until, int64_t after_id,
                                              int limit) = 0;
  // Records a delivery round that left some deliveries failing.
  virtual void retry_outbox(int64_t id, const std::string& done, int64_t attempts,
                            Millis lease_until) = 0;
  virtual void delete_outbox(const std::vector<int64_t>& ids) = 0;
  // Rows waiting, and the creation time of the oldest (0 with none).
  virtual std::pair<int64_t, Millis> outbox_size() = 0;
  // Deletes the rows created before `before`, then the oldest beyond the newest `keep`; returns
  // how many of each it deleted.
  virtual std::pair<int64_t, int64_t> trim_outbox(Millis before, int64_t keep) = 0;

  // Every meta key, in order, and the number of rows in each table, by table name (migrations
  // check that a walk through the pools met every row).
  virtual std::vector<std::string> meta_keys() = 0;
  virtual std::vector<std::pair<std::string, int64_t>> table_rows() = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;
  // Runs fn in a read-only snapshot.
  virtual Status read(const std::function<Status(StorageTxn&)>& fn) = 0;
  // Runs fn in a write transaction; commits when fn returns OK, rolls back otherwise (and when it
  // throws). A backend may retry fn on a serialisation failure, so fn must have no side effects
  // outside the transaction.
  virtual Status write(const std::function<Status(StorageTxn&)>& fn) = 0;
  // A short description for logs ("sqlite:/path"), with no password in it.
  virtual std::string describe() const = 0;
  // What an acknowledged commit survives, as the database holds it (the server logs it at start).
  virtual std::string durability() const { return "the database's own settings"; }

  // Where several server instances share the storage, each keeps verified credentials in memory
  // and must drop them when another instance revokes some (StorageTxn::announce_revocation).
  // The backend calls `revoked` after each such commit anywhere, and `feed_lost` when it cannot
  // tell for a while (a dropped connection): the cache then stops trusting what it holds until
  // the next `revoked`, which the backend sends once it is listening again. Single-process
  // backends never call either.
  virtual void watch_revocations(std::function<void()> revoked, std::function<void()> feed_lost) {
    (void)revoked;
    (void)feed_lost;
  }

  // Short messages between the instances sharing the storage (PostgreSQL NOTIFY, under 7,000
  // bytes): broadcast() reaches every instance's watch_broadcasts() callback, this one's
  // included, so a message should say who sent it. Single-process backends have no one to tell:
  // broadcast() does nothing and the callback is never called.
  virtual Status broadcast(const std::string& message) {
    (void)message;
    return Status::OK();
  }
  virtual void watch_broadcasts(std::function<void(const std::string&)> on_message) {
    (void)on_message;
  }

  // Whether other server instances may use this storage at the same time (PostgreSQL). A
  // storage only this process uses may take over every outbox row at start, leased or not.
  virtual bool shared() const { return false; }

  // Whether the storage answers now (GET /health): a trivial round trip.
  virtual Status ping() = 0;
  // Counters for /metrics; a backend without a pool or retries leaves those at zero.
  struct Stats {
    uint64_t retries = 0;  // write transactions run again after a conflict or a lost connection
    int pool_size = 0;     // connections the pool may open
    int pool_open = 0;     // connections open now
    int pool_in_use = 0;   // connections running a transaction now
  };
  virtual Stats stats() const { return {}; }
};

// When a SQLite commit is acknowledged, what survives a power loss or an OS crash.
enum class Durability {
  // synchronous=FULL: the WAL is synced to disk at every commit (once per group commit), so an
  // acknowledged write survives a power loss. The default.
  kFull,
  // synchronous=NORMAL: the WAL is synced only at checkpoints. Survives the server process
  // crashing, but a power loss or OS crash may roll back the last commits, which devices have
  // already been told landed.
  kNormal,
};

struct StorageOptions {
  // PostgreSQL: connections open at once, at most (each running transaction holds one).
  int pool_size = 16;
  // SQLite only; PostgreSQL's own settings decide there (synchronous_commit, fsync).
  Durability durability = Durability::kFull;
};

// Opens storage from a URL:
//  - "sqlite:PATH", creating the file and its directory;
//  - "postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?PARAMS]" (or "postgres://"), any libpq URI,
//    plus cairn's own parameter schema=NAME: keep the tables in that schema, created if missing.
// Schema migrations run on open, safely when several instances open the same database at once.
// An unknown scheme is an error naming the supported ones.
Result<std::unique_ptr<Storage>> open_storage(const std::string& url, StorageOptions options = {});

// Backups of the SQLite backend, through SQLite's online backup API.
// backup_sqlite copies a database, running server or not, into `to_file` as one consistent
// snapshot (one read transaction: writers carry on meanwhile), replacing the file, and checks the
// copy's integrity. restore_sqlite puts such a copy back into `db_path`, replacing everything it
// holds; run it with the server stopped. Devices that synced after the backup offer their records
// again at their next sync (docs/server.md, Backups).
Status backup_sqlite(const std::string& db_path, const std::string& to_file);
Status restore_sqlite(const std::string& from_file, const std::string& db_path);

// The PostgreSQL backend (pg_storage.cc); open_storage() dispatches to it.
Result<std::unique_ptr<Storage>> open_postgres_storage(const std::string& url,
                                                       StorageOptions options);

}  // namespace cairn::server
