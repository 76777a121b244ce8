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

Dataset::Dataset(std::shared_ptr<engine::Engine> engine, std::string name)
    : engine_(std::move(engine)), name_(std::move(name)) {}

Result<std::optional<std::string>> Dataset::get(const std::string& key) {
  return engine_->store().get(name_, key);
}

Status Dataset::put(const std::string& key, const std::string& value) {
  Status s = engine_->store().put(name_, key, value);
  if (s.ok()) engine_->note_local_write(name_);
  return s;
}

Status Dataset::remove(const std::string& key) {
  Status s = engine_->store().remove(name_, key);
  if (s.ok()) engine_->note_local_write(name_);
  return s;
}

Status Dataset::put_all(const std::map<std::string, std::optional<std::string>>& entries) {
  Status s = engine_->store().put_all(name_, entries);
  if (s.ok() && !entries.empty()) engine_->note_local_write(name_);
  return s;
}

Result<std::map<std::string, std::string>> Dataset::get_all() {
  return engine_->store().get_all(name_);
}

Result<std::vector<Record>> Dataset::get_all_records() {
  auto records = engine_->store().get_all_records(name_);
  if (!records.ok()) return records.status();
  std::vector<Record> out;
  out.reserve(records->size());
  for (const auto& r : *records) out.push_back(engine::to_public(r));
  return out;
}

Result<int64_t> Dataset::size_in_bytes(const std::string& key) {
  return engine_->store().size_in_bytes(name_, key);
}

Result<int64_t> Dataset::total_size_in_bytes() {
  return engine_->store().total_size_in_bytes(name_);
}

Result<bool> Dataset::is_changed(const std::string& key) {
  return engine_->store().is_changed(name_, key);
}

Status Dataset::delete_dataset() {
  Status s = engine_->store().delete_dataset(name_);
  if (s.ok()) engine_->note_local_write(name_);
  return s;
}

Result<int64_t> Dataset::last_sync_count() {
  auto info = engine_->store().dataset(name_);
  if (!info.ok()) return info.status();
  return *info ? (*info)->last_sync_count : int64_t{0};
}

Result<DatasetMetadata> Dataset::metadata() {
  auto info = engine_->store().dataset(name_);
  if (!info.ok()) return info.status();
  if (!*info) {
    DatasetMetadata empty;
    empty.name = name_;
    return empty;
  }
  return engine::to_public(**info);
}

DatasetStatus Dataset::status() { return engine_->status(name_); }

SyncFuture Dataset::synchronize(SyncCallbacks callbacks) {
  return engine_->synchronize(name_, std::move(callbacks), /*on_connectivity=*/false);
}

SyncFuture Dataset::synchronize_on_connectivity(SyncCallbacks callbacks) {
  return engine_->synchronize(name_, std::move(callbacks), /*on_connectivity=*/true);
}

Status Dataset::subscribe() { return engine_->set_subscription(name_, true); }
Status Dataset::unsubscribe() { return engine_->set_subscription(name_, false); }

// --- SyncManager ---------------------------------------------------------------------------------

SyncManager::SyncManager(std::shared_ptr<engine::Engine> engine) : engine_(std::move(engine)) {}

SyncManager::~SyncManager() { engine_->close(); }

Result<std::unique_ptr<SyncManager>> SyncManager::open(SyncManagerOptions options) {
  auto engine = engine::Engine::open(std::move(options));
  if (!engine.ok()) return engine.status();
  return std::make_unique<SyncManager>(std::move(*engine));
}

Result<std::shared_ptr<Dataset>> SyncManager::open_or_create_dataset(const std::string& name) {
  return engine_->open_dataset(name);
}

Result<std::vector<DatasetMetadata>> SyncManager::list_datasets() {
  auto datasets = engine_->store().list_datasets();
  if (!datasets.ok()) return datasets.status();
  std::vector<DatasetMetadata> out;
  for (const auto& d : *datasets) out.push_back(engine::to_public(d));
  return out;
}

Result<std::vector<DatasetMetadata>> SyncManager::refresh_dataset_metadata() {
  return engine_->refresh_dataset_metadata();
}

Status SyncManager::wipe_data() { return engine_->wipe(); }

Result<std::string> SyncManager::identity_id() { return engine_->ensure_identity(); }

std::optional<std::string> SyncManager::cached_identity_id() const {
  return engine_->cached_identity_id();
}

Status SyncManager::set_logins(identity::Logins logins) {
  return engine_->set_logins(std::move(logins));
}

Status SyncManager::switch_identity(identity::Logins logins) {
  return engine_->switch_identity(std::move(logins));
}

void SyncManager::set_network_reachable(bool reachable) {
  engine_->set_network_reachable(reachable);
}

bool SyncManager::network_reachable() const { return engine_->network_reachable(); }

Result<std::string> SyncManager::register_device(const std::string& platform,
                                                 const std::string& token) {
  return engine_->register_device(platform, token);
}

std::optional<std::string> SyncManager::device_id(const std::string& platform) const {
  return engine_->device_id(platform);
}

Status SyncManager::subscribe(const std::string& dataset) {
  return engine_->set_subscription(dataset, true);
}

Status SyncManager::unsubscribe(const std::string& dataset) {
  return engine_->set_subscription(dataset, false);
}

Status SyncManager::subscribe_all() { return engine_->set_all_subscriptions(true); }
Status SyncManager::unsubscribe_all() { return engine_->set_all_subscriptions(false); }

Result<bool> SyncManager::handle_push(const std::map<std::string, std::string>& payload) {
  return engine_->handle_push(payload);
}

Result<bool> SyncManager::handle_push_json(std::string_view json) {
  return engine_->handle_push_json(json);
}

size_t SyncManager::run_pending_callbacks() { return engine_->run_pending_callbacks(); }

SyncFuture SyncManager::synchronize(const std::string& dataset, SyncCallbacks callbacks) {
  return engine_->synchronize(dataset, std::move(callbacks), /*on_connectivity=*/false);
}

DatasetStatus SyncManager::status(const std::string& dataset) { return engine_->status(dataset); }

EngineStats SyncManager::stats() const { return engine_->stats(); }

std::chrono::milliseconds SyncManager::clock_skew() const { return engine_->clock_skew(); }

}  // namespace cairn
