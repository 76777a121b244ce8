#include "engine/engine.h"

#include <algorithm>
#include <cstdlib>

#include "engine/convert.h"
#include "engine/counting_transport.h"
#include "engine/sync_run.h"

namespace cairn::engine {
namespace {

// Engine keys in the store's meta table (the store's own start with "cairn.").
std::string identity_key(const std::string& pool) { return "engine.identity_id." + pool; }

Status invalid_name(const std::string& name) {
  return Status(ErrorCode::kInvalidParameter,
                "dataset name '" + name.substr(0, 64) + "' must match [a-zA-Z0-9_.:-]{1,128}");
}

// The provider's identity id, kept in the local store so a restart (or a device that is offline
// at launch) knows who it is without GetId.
class StoreIdentityIdStore final : public IdentityIdStore {
 public:
  explicit StoreIdentityIdStore(std::shared_ptr<localstore::LocalStore> store)
      : store_(std::move(store)) {}
  std::optional<std::string> load(const std::string& pool) override {
    auto v = store_->meta(identity_key(pool));
    return v.ok() ? *v : std::nullopt;
  }
  void save(const std::string& pool, const std::string& id) override {
    (void)store_->set_meta(identity_key(pool), id);
  }
  void clear(const std::string& pool) override { (void)store_->delete_meta(identity_key(pool)); }

 private:
  std::shared_ptr<localstore::LocalStore> store_;
};

}  // namespace

Engine::Engine(SyncManagerOptions options)
    : options_(std::move(options)),
      auto_backoff_(
          BackoffPolicy{options_.auto_sync.min_backoff, options_.auto_sync.max_backoff, 0.5}) {}

Engine::~Engine() { close(); }

Result<std::shared_ptr<Engine>> Engine::open(SyncManagerOptions options) {
  if (options.credentials && options.identity_id.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "developer credentials need SyncManagerOptions.identity_id");
  }
  if (!options.resolver) options.resolver = three_way_merge();
  if (!options.clock) options.clock = Clock::system();
  std::shared_ptr<Engine> engine(new Engine(std::move(options)));
  Status s = engine->init();
  if (!s.ok()) return s;
  engine->start_listening();  // with listen_for_notifications: waits for a registered device
  return engine;
}

Status Engine::init() {
  localstore::Options so;
  so.path = options_.database_path;
  so.synchronous_full = options_.durable_writes;
  so.clock = options_.clock;
  auto store = localstore::LocalStore::open(so);
  if (!store.ok()) return store.status();
  store_ = *store;

  auto inner =
      options_.transport ? options_.transport : make_curl_transport(options_.http, options_.logger);
  transport_ = std::make_shared<CountingTransport>(inner);

  ClientConfig config;
  config.region = options_.region;
  config.endpoint = options_.endpoint;
  config.http = options_.http;
  config.retry = options_.retry;
  config.logger = options_.logger;
  config.clock = options_.clock;
  config.transport = transport_;

  if (options_.credentials) {
    config.credentials = options_.credentials;
  } else {
    // The Identity calls of the flow (GetId, GetCredentialsForIdentity) are unsigned.
    ClientConfig ic = config;
    ic.credentials = std::make_shared<StaticCredentialsProvider>("unsigned", "unsigned");
    auto identity = CognitoIdentityClient::create(ic);
    if (!identity.ok()) {
      service_error_ = identity.status();
      identity = CognitoIdentityClient::create([&] {
        ClientConfig local = ic;  // a placeholder region; never used while service_error_ is set
        local.region = "us-east-1";
        return local;
      }());
      if (!identity.ok()) return identity.status();
    }
    identity_client_ = std::move(*identity);
    CognitoIdentityProviderOptions po;
    po.identity_pool_id = options_.identity_pool_id;
    po.logins = options_.logins;
    po.store = std::make_shared<StoreIdentityIdStore>(store_);
    po.clock = options_.clock;
    std::weak_ptr<Engine> weak = weak_from_this();
    po.on_identity_changed = [weak](const std::string& old_id, const std::string& new_id) {
      if (auto self = weak.lock()) self->on_provider_identity_changed(old_id, new_id);
    };
    provider_ = std::make_shared<CognitoIdentityCredentialsProvider>(identity_client_, po);
    config.credentials = provider_;
  }
  auto sync = CognitoSyncClient::create(config);
  if (sync.ok()) {
    sync_ = std::move(*sync);
  } else {
    // No region and no endpoint: local data still works; reaching the service reports this.
    service_error_ = sync.status();
  }
  scheduler_ = std::make_unique<Scheduler>(std::max(1, options_.sync_threads), options_.clock);

  // A known identity is adopted at once, so local data is filed under it even offline.
  if (!options_.identity_id.empty()) {
    return adopt_identity(options_.identity_id, localstore::IdentityChange::kSwitch);
  }
  if (provider_) {
    if (auto known = StoreIdentityIdStore(store_).load(options_.identity_pool_id)) {
      return adopt_identity(*known, localstore::IdentityChange::kSwitch);
    }
  }
  return Status::OK();
}

void Engine::close() {
  if (closing_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> l(ask_mu_);  // a waiting ask() sees closing_ once it has this
  }
  ask_cv_.notify_all();
  listen_cancel_->store(true);  // a long poll in flight ends within a second
  {
    std::lock_guard<std::mutex> l(listen_mu_);  // a pausing listener sees closing_ once it has this
  }
  listen_cv_.notify_all();
  if (listener_.joinable()) listener_.join();
  if (scheduler_) scheduler_->shutdown();
  std::vector<Waiter> cancelled;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [name, slot] : slots_) {
      for (auto* list : {&slot.current, &slot.next, &slot.parked}) {
        for (auto& w : *list) cancelled.push_back(std::move(w));
        list->clear();
      }
      slot.running = false;
    }
  }
  auto result = SyncResult::failed(Status(ErrorCode::kCancelled, "the sync manager was closed"));
  for (auto& w : cancelled) complete(w, result);
}

// --- handles -------------------------------------------------------------------------------------

Status Engine::check_dataset_name(const std::string& name) const {
  return localstore::valid_dataset_name(name) ? Status::OK() : invalid_name(name);
}

Result<std::vector<DatasetMetadata>> Engine::refresh_dataset_metadata() {
  auto identity = ensure_identity();
  if (!identity.ok()) return identity.status();
  std::vector<DatasetMetadata> out;
  std::optional<std::string> next;
  do {
    auto page = sync_->list_datasets({options_.identity_pool_id, *identity, next, 64});
    if (!page.ok()) return page.status();
    for (const auto& d : page->datasets) {
      if (!d.dataset_name) continue;
      DatasetMetadata m;
      m.name = *d.dataset_name;
      m.created = d.creation_date.value_or(Timestamp{});
      m.last_modified = d.last_modified_date.value_or(Timestamp{});
      m.last_modified_by = d.last_modified_by.value_or("");
      m.storage_bytes = d.data_storage.value_or(0);
      m.record_count = d.num_records.value_or(0);
      std::shared_lock<std::shared_mutex> l(identity_mu_);
      if (store_->owner() != *identity) {
        return Status(ErrorCode::kCancelled, "the identity changed during ListDatasets");
      }
      Status s = store_->update_dataset_metadata(m.name, to_millis(m.created),
                                                 to_millis(m.last_modified), m.last_modified_by);
      if (!s.ok()) return s;
      if (auto local = store_->dataset(m.name); local.ok() && *local) {
        m.pending_changes = (*local)->dirty_count;
        m.last_sync_count = (*local)->last_sync_count;
      }
      out.push_back(std::move(m));
    }
    next = page->next_token;
  } while (next && !next->empty());
  return out;
}

}  // namespace cairn::engine
