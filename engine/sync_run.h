// SyncRun: one synchronize of one dataset, start to finish (docs/sync.md, "The loop").
//
//   1. A local delete pending: DeleteDataset (404 is fine), then purge, unless writes were made
//      after the delete, which start the dataset afresh.
//   2. Pull: ListRecords from last_sync_count, every page, one SyncSessionToken.
//   3. Merged datasets and a remote deletion: ask the callbacks (or take the defaults).
//   4. Apply: clean remote records and the new count in one transaction; conflicts against dirty
//      records go to on_conflict or the resolver, and an unresolved one fails the sync.
//   5. Push: every dirty record in one UpdateRecords. A ResourceConflict (another device got
//      there first) or an expired session pulls again, a bounded number of times.
//   6. Landed: write the results back per record version; the count moves only to old + 1.
//
// A run is bound to one identity. Every local-store step holds the engine's identity lock shared
// and first checks that the identity is unchanged; if it changed, the run stops with
// identity_changed() set and the engine starts it again for the new identity.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cairn/sync_manager.h"
#include "engine/sync_context.h"

namespace cairn::engine {

class SyncRun {
 public:
  SyncRun(SyncContext& context, std::string dataset, SyncCallbacks callbacks);
  SyncResult run();
  bool identity_changed() const { return identity_changed_; }

 private:
  struct Pull {
    std::vector<localstore::RemoteRecord> records;
    int64_t dataset_sync_count = 0;
    bool exists = true;
    bool deleted_after = false;
    std::vector<std::string> merged;
    std::string session;
  };

  Status run_locked();
  Status delete_remote(const std::string& dataset);
  Result<Pull> pull(const std::string& dataset, int64_t from, bool report_progress);
  // Applies a pull to `dataset` and resolves its conflicts; `report` adds changes to updated_.
  Status apply(const std::string& dataset, const Pull& pulled, bool report);
  Result<std::vector<Resolution>> decide(const std::vector<Conflict>& conflicts);
  Status fold(const std::string& merged);
  // true: the push landed (or there was nothing to push); false: stale, pull again.
  // last_step: nothing follows a landed push, so it records the outcome "ok" with it.
  Result<bool> push(const Pull& pulled, bool last_step);
  // Closing, or the identity changed: the run must stop.
  Status check_live();
  // Runs one step that touches the store under the identity lock, if the run is still live.
  template <typename F>
  auto while_live(F&& step) -> decltype(step());

  SyncContext& ctx_;
  localstore::LocalStore& store_;
  std::string name_;
  SyncCallbacks cb_;
  std::string identity_;
  uint64_t generation_ = 0;
  bool identity_changed_ = false;
  bool result_recorded_ = false;  // the push recorded the outcome "ok" with it
  std::vector<Record> updated_;
  // What the run did, for the SyncResult and the progress in DatasetStatus.
  int64_t pulled_ = 0;
  int64_t pushed_ = 0;
  std::vector<ResolvedConflict> conflicts_;
  SyncProgress progress_;
  std::string last_conflict_;  // the server's message of the last ResourceConflict
};

}  // namespace cairn::engine
