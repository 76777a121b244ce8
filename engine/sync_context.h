// SyncContext: what one sync (SyncRun) needs from the engine that runs it, and nothing more: the
// store, the service, the options, the identity it runs as, and the ways it reports back. Engine
// implements it; a test can too.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>

#include "cairn/cognito/sync.h"
#include "cairn/sync_manager.h"
#include "localstore/local_store.h"

namespace cairn::engine {

// What a running sync has moved so far (DatasetStatus shows it).
struct SyncProgress {
  int64_t pulled_pages = 0;
  int64_t pulled_records = 0;
  int64_t pulled_bytes = 0;
  int64_t pushing_records = 0;  // the UpdateRecords in flight
  int64_t pushing_bytes = 0;
};

class SyncContext {
 public:
  virtual ~SyncContext() = default;

  virtual localstore::LocalStore& store() = 0;
  // Only after ensure_identity() succeeded.
  virtual CognitoSyncClient& sync_client() = 0;
  virtual const SyncManagerOptions& options() const = 0;
  virtual const LoggerPtr& logger() const = 0;

  // The identity the sync runs as (GetId and credentials, if it is not known yet).
  virtual Result<std::string> ensure_identity() = 0;
  // Moves on whenever the identity changes: a sync that sees it move stops and starts again.
  virtual uint64_t generation() const = 0;
  // Held shared around each step that touches the store, so the identity cannot move under it.
  virtual std::shared_mutex& identity_mutex() = 0;
  virtual bool closing() const = 0;
  // The DeviceId of `platform` (empty: the last registered), sent with each push.
  virtual std::optional<std::string> device_id(const std::string& platform) const = 0;

  virtual void report_progress(const std::string& dataset, const SyncProgress& progress) = 0;
  virtual void count_conflicts(size_t n) = 0;
  virtual void count_push_retry() = 0;

  // Runs a decision callback (on_conflict, on_dataset_deleted, on_datasets_merged) the way the
  // game asked callbacks to be delivered, and waits for it. false when the engine closed while it
  // waited; what the callback threw is thrown here.
  virtual bool decide(const std::function<void()>& question) = 0;

  // decide(), with the callback's answer.
  template <typename T>
  std::optional<T> ask(const std::function<T()>& question) {
    std::optional<T> answer;
    if (!decide([&] { answer.emplace(question()); })) return std::nullopt;
    return answer;
  }
};

}  // namespace cairn::engine
