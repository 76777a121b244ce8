// SyncManager and Dataset: thin handles over the Engine.
#include "cairn/sync_manager.h"

#include <rapidjson/document.h>

#include "engine/convert.h"
#include "engine/engine.h"

namespace cairn {

std::string_view sync_state_name(SyncState state) {
  switch (state) {
    case SyncState::kIdle:
      return "idle";
    case SyncState::kSyncing:
      return "syncing";
    case SyncState::kWaitingForNetwork:
      return "waiting-for-network";
    case SyncState::kBackingOff:
      return "backing-off";
  }
  return "unknown";
}

// --- Dataset -------------------------------------------------------------------------------------

Dataset::Dataset(std::shared_ptr<Core> core, std::string name)
    : core_(std::move(core)), name_(std::move(name)) {}

Result<std::optional<std::string>> Dataset::get(const std::string& key) {
  return core_->engine->store().get(name_, key);
}

Status Dataset::put(const std::string& key, const std::string& value) {
  Status s = core_->engine->store().put(name_, key, value);
  if (s.ok()) core_->engine->note_local_write(name_);
  return s;
}

Status Dataset::remove(const std::string& key) {
  Status s = core_->engine->store().remove(name_, key);
  if (s.ok()) core_->engine->note_local_write(name_);
  return s;
}

Status Dataset::put_all(const std::map<std::string, std::optional<std::string>>& entries) {
  Status s = core_->engine->store().put_all(name_, entries);
  if (s.ok() && !entries.empty()) core_->engine->note_local_write(name_);
  return s;
}

Result<std::map<std::string, std::string>> Dataset::get_all() {
  return core_->engine->store().get_all(name_);
}

Result<std::vector<Record>> Dataset::get_all_records() {
  auto records = core_->engine->store().get_all_records(name_);
  if (!records.ok()) return records.status();
  std::vector<Record> out;
  out.reserve(records->size());
  for (const auto& r : *records) out.push_back(engine::to_public(r));
  return out;
}

Result<int64_t> Dataset::size_in_bytes(const std::string& key) {
  return core_->engine->store().size_in_bytes(name_, key);
}

Result<int64_t> Dataset::total_size_in_bytes() {
  return core_->engine->store().total_size_in_bytes(name_);
}

Result<bool> Dataset::is_changed(const std::string& key) {
  return core_->engine->store().is_changed(name_, key);
}

Status Dataset::delete_dataset() {
  Status s = core_->engine->store().delete_dataset(name_);
  if (s.ok()) core_->engine->note_local_write(name_);
  return s;
}

Result<int64_t> Dataset::last_sync_count() {
  auto info = core_->engine->store().dataset(name_);
  if (!info.ok()) return info.status();
  return *info ? (*info)->last_sync_count : int64_t{0};
}

Result<DatasetMetadata> Dataset::metadata() {
  auto info = core_->engine->store().dataset(name_);
  if (!info.ok()) return info.status();
  if (!*info) {
    DatasetMetadata empty;
    empty.name = name_;
    return empty;
  }
  return engine::to_public(**info);
}

DatasetStatus Dataset::status() { return core_->engine->status(name_); }

SyncFuture Dataset::synchronize(SyncCallbacks callbacks) {
  return core_->engine->synchronize(name_, std::move(callbacks), /*on_connectivity=*/false);
}

SyncFuture Dataset::synchronize_on_connectivity(SyncCallbacks callbacks) {
  return core_->engine->synchronize(name_, std::move(callbacks), /*on_connectivity=*/true);
}

Status Dataset::subscribe() { return core_->engine->set_subscription(name_, true); }
Status Dataset::unsubscribe() { return core_->engine->set_subscription(name_, false); }

// --- SyncManager ---------------------------------------------------------------------------------

std::unique_ptr<SyncManager> Dataset::Core::manager(std::shared_ptr<engine::Engine> engine) {
  return std::unique_ptr<SyncManager>(new SyncManager(std::make_shared<Core>(std::move(engine))));
}

SyncManager::SyncManager(std::shared_ptr<Core> core) : core_(std::move(core)) {}

SyncManager::~SyncManager() { core_->engine->close(); }

Result<std::unique_ptr<SyncManager>> SyncManager::open(SyncManagerOptions options) {
  auto engine = engine::Engine::open(std::move(options));
  if (!engine.ok()) return engine.status();
  return Core::manager(std::move(*engine));
}

Result<std::shared_ptr<Dataset>> SyncManager::open_or_create_dataset(const std::string& name) {
  Status s = core_->engine->check_dataset_name(name);
  if (!s.ok()) return s;
  return std::shared_ptr<Dataset>(new Dataset(core_, name));
}

Result<std::vector<DatasetMetadata>> SyncManager::list_datasets() {
  auto datasets = core_->engine->store().list_datasets();
  if (!datasets.ok()) return datasets.status();
  std::vector<DatasetMetadata> out;
  for (const auto& d : *datasets) out.push_back(engine::to_public(d));
  return out;
}

Result<std::vector<DatasetMetadata>> SyncManager::refresh_dataset_metadata() {
  return core_->engine->refresh_dataset_metadata();
}

Status SyncManager::wipe_data() { return core_->engine->wipe(); }

Result<std::string> SyncManager::identity_id() { return core_->engine->ensure_identity(); }

std::optional<std::string> SyncManager::cached_identity_id() const {
  return core_->engine->cached_identity_id();
}

Status SyncManager::set_logins(identity::Logins logins) {
  return core_->engine->set_logins(std::move(logins));
}

Status SyncManager::switch_identity(identity::Logins logins) {
  return core_->engine->switch_identity(std::move(logins));
}

void SyncManager::set_network_reachable(bool reachable) {
  core_->engine->set_network_reachable(reachable);
}

bool SyncManager::network_reachable() const { return core_->engine->network_reachable(); }

Result<std::string> SyncManager::register_device(const std::string& platform,
                                                 const std::string& token) {
  return core_->engine->register_device(platform, token);
}

std::optional<std::string> SyncManager::device_id(const std::string& platform) const {
  return core_->engine->device_id(platform);
}

Status SyncManager::subscribe(const std::string& dataset) {
  return core_->engine->set_subscription(dataset, true);
}

Status SyncManager::unsubscribe(const std::string& dataset) {
  return core_->engine->set_subscription(dataset, false);
}

Status SyncManager::subscribe_all() { return core_->engine->set_all_subscriptions(true); }
Status SyncManager::unsubscribe_all() { return core_->engine->set_all_subscriptions(false); }

Result<bool> SyncManager::handle_push(const std::map<std::string, std::string>& payload) {
  return core_->engine->handle_push(payload);
}

Result<bool> SyncManager::handle_push_json(std::string_view json) {
  return core_->engine->handle_push_json(json);
}

size_t SyncManager::run_pending_callbacks() { return core_->engine->run_pending_callbacks(); }

SyncFuture SyncManager::synchronize(const std::string& dataset, SyncCallbacks callbacks) {
  return core_->engine->synchronize(dataset, std::move(callbacks), /*on_connectivity=*/false);
}

DatasetStatus SyncManager::status(const std::string& dataset) {
  return core_->engine->status(dataset);
}

EngineStats SyncManager::stats() const { return core_->engine->stats(); }

std::chrono::milliseconds SyncManager::clock_skew() const { return core_->engine->clock_skew(); }

}  // namespace cairn
