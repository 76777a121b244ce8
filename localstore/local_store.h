// LocalStore: the crash-safe SQLite cache behind a device's datasets (docs/localstore.md).
//
// It keeps, per owner (an identity id, or a provisional owner before any identity is known):
// datasets with their sync state, and records with their value, last known server sync count,
// last synced value (the base, for three-way merges), a dirty flag and a local version that every
// local write increments. Writes are acknowledged only after their transaction commits.
//
// Thread safety: every method may be called from any thread. Writes go through one connection
// behind a mutex; reads use their own connections (WAL), so a read never waits for more than one
// short write transaction, whatever a sync is doing. Opening the same file twice in one process
// returns the same instance, so two handles to one dataset share its lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cairn/clock.h"
#include "cairn/status.h"

namespace cairn::localstore {

using Millis = int64_t;

// The quotas Cognito Sync publishes, enforced at write time.
struct Limits {
  int64_t max_datasets = 20;
  int64_t max_records = 1024;           // live records per dataset
  int64_t max_dataset_bytes = 1048576;  // UTF-8 bytes of key plus value, live records
  int64_t max_key_chars = 1024;
  int64_t max_value_chars = 1048575;
};

struct Options {
  // "" or ":memory:" for an in-memory store (tests); otherwise a file path.
  std::string path;
  // NORMAL is durable across process crashes in WAL mode (a power cut may lose the last commits);
  // FULL also survives power loss, at an fsync per commit.
  bool synchronous_full = false;
  Limits limits;
  std::shared_ptr<Clock> clock;  // null: the system clock
  // Values read or written recently are served from memory, up to this many bytes (0: off). The
  // one writer keeps the cache exact, so a cached value is never staler than the database.
  size_t read_cache_bytes = 8 * 1024 * 1024;
};

// Dataset names as the service allows them: [a-zA-Z0-9_.:-]{1,128}.
bool valid_dataset_name(const std::string& name);

// Local delete pending: the dataset was deleted here and the deletion is not yet on the server.
constexpr int64_t kDeletePending = -1;

struct DatasetInfo {
  std::string name;
  Millis created = 0;
  Millis last_modified = 0;  // server's, or the last local write's
  std::string last_modified_by;
  int64_t storage_bytes = 0;    // live records, UTF-8 key plus value
  int64_t record_count = 0;     // live records
  int64_t dirty_count = 0;      // records with local changes not yet pushed
  int64_t last_sync_count = 0;  // kDeletePending after a local delete
  Millis last_sync_time = 0;
  std::string last_sync_result;  // "" before the first sync
};

// What a sync needs to know of a dataset, read in time proportional to its pending changes, not
// to its size.
struct SyncState {
  int64_t last_sync_count = 0;  // kDeletePending after a local delete
  int64_t dirty_count = 0;
};

struct Record {
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
  int64_t sync_count = 0;            // last known server count; 0: never on the server
  Millis last_modified = 0;          // server's time of the synced version
  std::string last_modified_by;
  Millis device_last_modified = 0;  // time of the last local write
  bool dirty = false;
  int64_t local_version = 0;  // +1 on every local write
  // The last synced value (the base of a three-way merge); nullopt when the base is a tombstone
  // or the record was never synced (has_base false).
  std::optional<std::string> base_value;
  bool has_base = false;
};

// A record as the server sent it (ListRecords or UpdateRecords).
struct RemoteRecord {
  std::string key;
  std::optional<std::string> value;
  int64_t sync_count = 0;
  Millis last_modified = 0;
  std::string last_modified_by;
  std::optional<Millis> device_last_modified;
};

struct Conflict {
  Record local;
  RemoteRecord remote;
};

// What a push sends: the dirty records as they were when the snapshot was taken.
struct PushItem {
  std::string key;
  std::optional<std::string> value;
  int64_t sync_count = 0;
  Millis device_last_modified = 0;
  int64_t local_version = 0;
};

// How the old identity's local datasets are treated when the identity changes.
enum class IdentityChange {
  // An account switch: each identity keeps its own datasets; switching back finds them again.
  kSwitch,
  // The server merged the old identity into the new one: each old dataset NAME becomes the new
  // identity's NAME.OLD_ID, as the server names it, keeping its records and sync counts.
  kMerge,
};

class LocalStore {
 public:
  // Opens (or creates) the store; the same path returns the same instance while it is open.
  // Fails with kCorruption for a file that is not a readable cairn database, and kStorage for
  // other failures (permissions, disk).
  static Result<std::shared_ptr<LocalStore>> open(const Options& options);
  ~LocalStore();

  // --- identity -------------------------------------------------------------------------------
  // The owner new writes belong to: the current identity id, or the provisional owner.
  std::string owner() const;
  bool has_identity() const;
  // Attaches the store to an identity. From the provisional owner, every provisional dataset is
  // folded into the identity's (provisional writes land as dirty writes on top). Between two
  // identities, `change` decides (see IdentityChange). Idempotent; transactional.
  Status set_identity(const std::string& identity_id,
                      IdentityChange change = IdentityChange::kSwitch);

  // Detaches the store from its identity (a player signs out while offline): new writes go to the
  // provisional owner again, and the identity's datasets stay for when it comes back.
  Status clear_identity();

  // --- records --------------------------------------------------------------------------------
  Status put(const std::string& dataset, const std::string& key, const std::string& value);
  Status remove(const std::string& dataset, const std::string& key);
  // nullopt for a missing key or a tombstone.
  Result<std::optional<std::string>> get(const std::string& dataset, const std::string& key);
  // All entries in one transaction: a value writes, nullopt removes. Nothing is written unless all
  // pass the limits.
  Status put_all(const std::string& dataset,
                 const std::map<std::string, std::optional<std::string>>& entries);
  Result<std::map<std::string, std::string>> get_all(const std::string& dataset);
  Result<std::vector<Record>> get_all_records(const std::string& dataset);
  Result<std::optional<Record>> record(const std::string& dataset, const std::string& key);
  Result<int64_t> size_in_bytes(const std::string& dataset, const std::string& key);
  Result<int64_t> total_size_in_bytes(const std::string& dataset);
  Result<bool> is_changed(const std::string& dataset, const std::string& key);

  // --- datasets -------------------------------------------------------------------------------
  Result<std::vector<DatasetInfo>> list_datasets();
  // Reads every record of the dataset to total its size: for metadata, not for every sync.
  Result<std::optional<DatasetInfo>> dataset(const std::string& name);
  Result<std::optional<SyncState>> sync_state(const std::string& name);
  // Local delete: records go, the dataset stays as kDeletePending until the sync deletes it on
  // the server. A later put starts a new dataset that is pushed after the remote delete.
  Status delete_dataset(const std::string& name);
  // Forgets a dataset entirely (after the remote delete, or when the server deleted it).
  Status purge_dataset(const std::string& name);
  // After a pull from count 0, which returns every record the server's dataset holds (`on_server`,
  // empty when the dataset does not exist): whether this device holds a record that came from
  // the server (sync count above 0, dirty or not) that the pull did not return. Such a record was
  // in an incarnation of the dataset that the server has since deleted.
  Result<bool> holds_records_missing_from(const std::string& dataset,
                                          const std::set<std::string>& on_server);
  // Forgets every owner's data and all metadata.
  Status wipe();

  // --- sync -----------------------------------------------------------------------------------
  // Applies pulled records and moves last_sync_count, in one transaction. A remote record
  // replaces a local one only where the local one is clean (or dirty with the same value); dirty
  // ones come back as conflicts, untouched. last_sync_count stops short of the first conflicting
  // record so that a pull after an interrupted resolution sees it again.
  Result<std::vector<Conflict>> apply_remote(const std::string& dataset,
                                             const std::vector<RemoteRecord>& records,
                                             int64_t dataset_sync_count);
  // The dirty records, with their local versions, for a push.
  Result<std::vector<PushItem>> dirty_records(const std::string& dataset);
  // After a successful push: each pushed record takes its new server count; it turns clean only
  // if its local version is unchanged since the snapshot (a write made during the push stays
  // dirty, with the new count, and goes out next time). last_sync_count moves only when given.
  // With sync_result, the sync's outcome is recorded in the same transaction (as
  // record_sync_result would, one commit fewer).
  Status mark_pushed(const std::string& dataset, const std::vector<PushItem>& pushed,
                     const std::vector<RemoteRecord>& results,
                     std::optional<int64_t> new_last_sync_count,
                     const std::optional<std::string>& sync_result = std::nullopt);
  // A conflict resolved: the record takes `value` with the remote count; dirty says whether the
  // resolution must still be pushed (local or custom value) or is already the server's (remote).
  Status resolve(const std::string& dataset, const Conflict& conflict,
                 const std::optional<std::string>& value, bool dirty);
  Status set_last_sync_count(const std::string& dataset, int64_t count);
  // The server deleted the dataset and the device chose to recreate it from its local copy: in one
  // transaction, tombstones go, every live record becomes a dirty write of a new key (count 0, no
  // base), and last_sync_count returns to 0, so the next push recreates the dataset.
  Status reset_for_recreate(const std::string& dataset);
  // The server went back (restored from a backup): its count is behind what this device synced.
  // In one transaction, every record becomes a change to offer again (dirty, count 0, its base
  // kept), except tombstones of keys the server does not hold (`server_keys`), which go, and
  // last_sync_count returns to 0. The next pull from 0 meets each key the server holds as a
  // conflict, or as agreement when the values match; the push offers the rest.
  Status reoffer_after_server_rollback(const std::string& dataset,
                                       const std::set<std::string>& server_keys);
  // Records the server's metadata of a dataset (ListDatasets), creating the local row if there is
  // none, so that list_datasets() shows datasets this device has not synced yet.
  Status update_dataset_metadata(const std::string& dataset, Millis created, Millis last_modified,
                                 const std::string& last_modified_by);
  Status record_sync_result(const std::string& dataset, const std::string& result);

  // --- small metadata -------------------------------------------------------------------------
  Result<std::optional<std::string>> meta(const std::string& key);
  // The writer's SQLite `synchronous` setting as SQLite holds it: 2 FULL, 1 NORMAL.
  Result<int> synchronous();
  Status set_meta(const std::string& key, const std::string& value);
  Status delete_meta(const std::string& key);

  // Push registration of the current identity: the DeviceId RegisterDevice returned per platform,
  // and the datasets it is subscribed to. Kept per identity, so an identity change re-registers.
  Result<std::optional<std::string>> device_id(const std::string& platform);
  Status set_device_id(const std::string& platform, const std::string& device_id);
  Result<std::vector<std::string>> subscriptions();
  Status set_subscribed(const std::string& dataset, bool subscribed);

  // One lock per (owner, dataset), shared by every handle: syncs hold it for their duration.
  std::shared_ptr<std::mutex> dataset_lock(const std::string& dataset);

  const Limits& limits() const;
  std::string path() const;

  struct Impl;

 private:
  explicit LocalStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::localstore
