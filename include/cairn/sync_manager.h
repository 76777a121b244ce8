// SyncManager and Dataset: the API a game programs against (docs/sync.md).
//
// A SyncManager owns one device's local store (SQLite), its Cognito Sync client and its identity.
// A Dataset is a handle to one named set of key/value records. Reads and writes are local and
// never wait for the network; synchronize() reconciles a dataset with the server:
//
//   auto manager = cairn::SyncManager::open(options).value();
//   auto save = manager->open_or_create_dataset("save").value();
//   save->put("level", "7");
//   cairn::SyncCallbacks cb;
//   cb.on_success = [](const std::vector<cairn::Record>& updated) { ... };
//   cb.on_failure = [](const cairn::Status& s) { ... };
//   save->synchronize(cb);
//
// Every synchronize() ends in exactly one on_success or one on_failure, and its future becomes
// ready with the same outcome. Before that it may ask the game about conflicts, a dataset deleted
// on the server, and datasets merged into this one; each has a default.
//
// Thread safety: every method of SyncManager and Dataset may be called from any thread. Syncs run
// on a small pool of engine threads; syncs of one dataset never overlap. Callbacks run where the
// callback delivery option says (docs/sync.md, "Threading").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/clock.h"
#include "cairn/conflict.h"
#include "cairn/credentials.h"
#include "cairn/export.h"
#include "cairn/http.h"
#include "cairn/logging.h"
#include "cairn/logins.h"
#include "cairn/retry.h"
#include "cairn/status.h"

namespace cairn {

// A record as the game sees it.
struct Record {
  std::string key;
  std::optional<std::string> value;  // nullopt: removed (a tombstone not yet pushed, or pulled)
  int64_t sync_count = 0;            // the server's count of the last synced version; 0: never
  Timestamp last_modified;           // the server's time of the last synced version
  std::string last_modified_by;
  Timestamp device_last_modified;  // the last local write
  bool dirty = false;              // a local change not yet on the server
};

struct DatasetMetadata {
  std::string name;
  Timestamp created;
  Timestamp last_modified;
  std::string last_modified_by;
  int64_t storage_bytes = 0;     // UTF-8 bytes of keys plus values, live records
  int64_t record_count = 0;      // live records
  int64_t pending_changes = 0;   // records changed locally and not yet pushed
  int64_t last_sync_count = 0;   // -1: deleted locally, the remote delete not yet done
  Timestamp last_sync_time;      // the last sync that finished, either way; epoch if none
  std::string last_sync_result;  // "ok", the failure, or "" before the first sync
};

// What to do when the server says the dataset was deleted (by another device, or an operator).
enum class DatasetDeletedAction {
  kDropLocal,          // forget the local copy too
  kRecreateFromLocal,  // push the local copy as a new dataset
  kCancel,             // change nothing; the sync fails with kCancelled
};

// What to do with datasets the server merged into this one (NAME.OLD_IDENTITY, after two
// identities were merged).
enum class MergedDatasetsAction {
  kFold,    // fold each into this dataset through the resolver, push, then delete it remotely
  kIgnore,  // leave them on the server; they are reported again on the next sync
  kCancel,  // change nothing; the sync fails with kCancelled
};

struct SyncCallbacks {
  // The records the sync changed locally (pulled from the server or resolved).
  std::function<void(const std::vector<Record>& updated)> on_success;
  std::function<void(const Status& status)> on_failure;

  // Returns one Resolution per conflict, in order. A missing or unresolved one fails the sync with
  // kConflictUnresolved naming the key; nothing is pushed and nothing loops. Default: the
  // manager's resolver.
  std::function<std::vector<Resolution>(const std::vector<Conflict>& conflicts,
                                        const ResolveContext& context)>
      on_conflict;
  // Default: kDropLocal when every local record is synced, kRecreateFromLocal when some local
  // change has not reached the server (so no acknowledged write is lost).
  std::function<DatasetDeletedAction(const std::string& dataset)> on_dataset_deleted;
  // Default: kFold.
  std::function<MergedDatasetsAction(const std::string& dataset,
                                     const std::vector<std::string>& merged)>
      on_datasets_merged;
};

// A conflict of a sync, and how it was resolved.
struct ResolvedConflict {
  std::string key;
  Resolution resolution;
};

struct SyncResult {
  Status status;
  std::vector<Record> updated;  // on success, as on_success got them
  // What the sync did, as far as it got (a failed sync too):
  int64_t pulled = 0;  // records the server sent (ListRecords, every page, every pull)
  int64_t pushed = 0;  // records the server took (as the UpdateRecords answers list them)
  std::vector<ResolvedConflict> conflicts;  // in the order they were resolved

  static SyncResult failed(Status status) {
    SyncResult r;
    r.status = std::move(status);
    return r;
  }
};
using SyncFuture = std::shared_future<SyncResult>;

enum class SyncState {
  kIdle,
  kSyncing,
  kWaitingForNetwork,  // a synchronize_on_connectivity waits for set_network_reachable(true)
  kBackingOff,         // auto-sync waits before retrying a failed sync
};
CAIRN_CPP_API std::string_view sync_state_name(SyncState state);

struct DatasetStatus {
  std::string name;
  SyncState state = SyncState::kIdle;
  int64_t pending_changes = 0;
  std::optional<Status> last_result;  // nullopt before the first sync in this process
  Timestamp last_result_time;
  // While a sync runs: what its pulls have received so far (records and their keys' and values'
  // bytes), and the push it has in flight.
  int64_t pulled_pages = 0;
  int64_t pulled_records = 0;
  int64_t pulled_bytes = 0;
  int64_t pushing_records = 0;
  int64_t pushing_bytes = 0;
};

struct EngineStats {
  uint64_t requests = 0;  // Cognito Sync and Cognito Identity calls
  uint64_t attempts = 0;  // HTTP exchanges, retries included
  uint64_t retries = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t syncs_succeeded = 0;
  uint64_t syncs_failed = 0;
  uint64_t conflicts = 0;     // conflicts handed to a resolver or on_conflict
  uint64_t push_retries = 0;  // pushes sent again after a ResourceConflict
};

// Debounced background sync after local writes (off by default).
struct AutoSyncOptions {
  bool enabled = false;
  std::chrono::milliseconds debounce{2000};  // quiet time after the last write
  std::chrono::milliseconds min_backoff{1000};
  std::chrono::milliseconds max_backoff{std::chrono::minutes(5)};
};

enum class CallbackDelivery {
  kSyncThread,  // on the engine thread that runs the sync
  kPumped,      // queued until the game calls run_pending_callbacks() (a game loop's main thread)
};

struct SyncManagerOptions {
  // A cairn-server ("http://127.0.0.1:8080"), or empty for real AWS in `region`.
  std::string endpoint;
  std::string region;
  // Required for anything that reaches the service; local reads and writes work without it.
  std::string identity_pool_id;
  // The local database file; "" or ":memory:" keeps it in memory (tests).
  std::string database_path;
  // false (the default): a put returns once committed to the database file. It survives the game
  // being killed or crashing; a power loss or OS crash may lose the last puts not yet synced.
  // true: every commit is synced to disk first (SQLite synchronous=FULL), so a put survives a
  // power loss too, at the cost of an fsync per put (docs/localstore.md, Durability).
  bool durable_writes = false;

  // Default credentials: the Cognito Identity flow (GetId, GetCredentialsForIdentity) for the
  // pool, presenting these logins (empty: an unauthenticated identity). The identity id is kept
  // in the local store between runs.
  identity::Logins logins;
  // Developer credentials instead: these sign every call, and identity_id names the identity.
  CredentialsProviderPtr credentials;
  std::string identity_id;

  // Decides conflicts when the sync's callbacks have no on_conflict.
  Resolver resolver = three_way_merge();

  CallbackDelivery delivery = CallbackDelivery::kSyncThread;
  // Runs every callback when set (a game engine's dispatcher); overrides `delivery`.
  std::function<void(std::function<void()>)> executor;

  LoggerPtr logger;
  RetryOptions retry;
  HttpOptions http;
  std::shared_ptr<HttpTransport> transport;  // null: libcurl built from `http`
  std::shared_ptr<Clock> clock;              // null: the system clock

  // Listen on cairn-server's notification channel (docs/events.md) once a device is registered
  // (register_device): a WebSocket, or a long poll where the server or a proxy declines it,
  // reconnecting with backoff, whose notifications go to handle_push, so a subscribed dataset
  // syncs as soon as another device changes it. cairn-server only; against AWS, deliver your push
  // provider's messages to handle_push_json instead. The listener talks through its own
  // connection with `http` even when `transport` is set, so that closing the manager can cut its
  // wait short.
  bool listen_for_notifications = false;
  // Try the WebSocket first (false: always the long poll). With `http.proxy` set the listener
  // long-polls, through the proxy.
  bool notifications_over_websocket = true;

  // Pull-and-push rounds a sync may make when another device keeps winning (ResourceConflict).
  int max_push_attempts = 4;
  // Datasets that may sync at the same time.
  int sync_threads = 2;
  AutoSyncOptions auto_sync;
};

class SyncManager;

class CAIRN_CPP_API Dataset {
 public:
  const std::string& name() const { return name_; }

  // Local reads and writes. A write that breaks a limit fails with LimitExceeded or
  // InvalidParameter and writes nothing.
  Result<std::optional<std::string>> get(const std::string& key);
  Status put(const std::string& key, const std::string& value);
  Status remove(const std::string& key);
  // All or nothing: a value writes, nullopt removes.
  Status put_all(const std::map<std::string, std::optional<std::string>>& entries);
  Result<std::map<std::string, std::string>> get_all();
  Result<std::vector<Record>> get_all_records();
  Result<int64_t> size_in_bytes(const std::string& key);
  Result<int64_t> total_size_in_bytes();
  Result<bool> is_changed(const std::string& key);

  // Deletes the dataset here; the next synchronize deletes it on the server.
  Status delete_dataset();
  Result<int64_t> last_sync_count();
  Result<DatasetMetadata> metadata();
  DatasetStatus status();

  SyncFuture synchronize(SyncCallbacks callbacks = {});
  // Synchronizes now if the network is reachable, otherwise once the host reports it is.
  SyncFuture synchronize_on_connectivity(SyncCallbacks callbacks = {});

  // Push subscription of this dataset for the registered device.
  Status subscribe();
  Status unsubscribe();

  // Opaque: what the library keeps behind the handles. A manager and its datasets share one.
  class Core;

 private:
  friend class SyncManager;
  Dataset(std::shared_ptr<Core> core, std::string name);
  std::shared_ptr<Core> core_;
  std::string name_;
};

class CAIRN_CPP_API SyncManager {
 public:
  // Opens the local store and builds the clients. Fails with InvalidArgument for an incomplete
  // configuration, kCorruption or kStorage for a bad database file.
  static Result<std::unique_ptr<SyncManager>> open(SyncManagerOptions options);
  // Cancels queued syncs (their callers get kCancelled) and waits for running ones.
  ~SyncManager();

  // A handle to a dataset; nothing is written until the first put or sync. InvalidParameter for
  // a name outside [a-zA-Z0-9_.:-]{1,128}.
  Result<std::shared_ptr<Dataset>> open_or_create_dataset(const std::string& name);
  // Local datasets of the current identity.
  Result<std::vector<DatasetMetadata>> list_datasets();
  // ListDatasets on the server (every page); records the metadata locally and returns it.
  Result<std::vector<DatasetMetadata>> refresh_dataset_metadata();
  // Forgets every local dataset, the identity and the device registration (sign-out).
  Status wipe_data();

  // The identity id, asking Cognito Identity first if none is known yet.
  Result<std::string> identity_id();
  std::optional<std::string> cached_identity_id() const;
  // The same player adds or refreshes a login. If the service answers with another identity (the
  // logins merged two identities), local data follows it as NAME.OLD_ID datasets, which the next
  // sync folds into NAME.
  Status set_logins(identity::Logins logins);
  // Another player signs in on this device: each identity's local data stays apart, and switching
  // back finds it again. Syncs of the previous identity are cancelled and restarted.
  Status switch_identity(identity::Logins logins);

  // The host reports connectivity; the engine polls nothing. Starts waiting syncs when true.
  void set_network_reachable(bool reachable);
  bool network_reachable() const;

  // RegisterDevice, cached per identity and platform: a call with an unchanged token returns the
  // cached DeviceId without a request.
  Result<std::string> register_device(const std::string& platform, const std::string& token);
  // The DeviceId of `platform` (default: the platform registered last), if registered.
  std::optional<std::string> device_id(const std::string& platform = {}) const;
  Status subscribe(const std::string& dataset);
  Status unsubscribe(const std::string& dataset);
  Status subscribe_all();
  Status unsubscribe_all();
  // A Cognito push (source, identityPoolId, identityId, datasetName, syncCount): syncs the dataset
  // when the local count is behind. Returns whether a sync was started. InvalidArgument for a
  // payload that is not a Cognito Sync push.
  Result<bool> handle_push(const std::map<std::string, std::string>& payload);
  Result<bool> handle_push_json(std::string_view json);

  // Runs the callbacks queued for CallbackDelivery::kPumped; returns how many ran.
  size_t run_pending_callbacks();

  SyncFuture synchronize(const std::string& dataset, SyncCallbacks callbacks = {});
  DatasetStatus status(const std::string& dataset);
  EngineStats stats() const;
  // Server time minus device time, as measured from the server's Date headers.
  std::chrono::milliseconds clock_skew() const;

 private:
  using Core = Dataset::Core;
  friend Core;
  explicit SyncManager(std::shared_ptr<Core> core);
  std::shared_ptr<Core> core_;
};

}  // namespace cairn
