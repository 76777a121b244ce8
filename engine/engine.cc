#include "engine/engine.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdlib>

#include "engine/convert.h"
#include "engine/counting_transport.h"
#include "engine/sync_run.h"
#include "transport/notification_socket.h"

namespace cairn::engine {
namespace {

// Engine keys in the store's meta table (the store's own start with "cairn.").
std::string identity_key(const std::string& pool) { return "engine.identity_id." + pool; }
std::string token_key(const std::string& platform) { return "engine.push_token." + platform; }
constexpr char kLastPlatformKey[] = "engine.push_platform";

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

// --- identity ------------------------------------------------------------------------------------

Status Engine::adopt_identity(const std::string& identity_id, localstore::IdentityChange change) {
  {
    std::unique_lock<std::shared_mutex> l(identity_mu_);
    if (store_->has_identity() && store_->owner() == identity_id) return Status::OK();
    Status s = store_->set_identity(identity_id, change);
    if (!s.ok()) return s;
    ++generation_;
  }
  if (options_.logger) options_.logger->log(LogLevel::kInfo, "identity is now " + identity_id);
  std::weak_ptr<Engine> weak = weak_from_this();
  if (scheduler_) {
    scheduler_->post([weak, identity_id] {
      if (auto self = weak.lock()) self->renew_devices(identity_id);
    });
  }
  return Status::OK();
}

void Engine::on_provider_identity_changed(const std::string& old_id, const std::string& new_id) {
  // The service answered with another identity: logins merged the old one into it, and the server
  // moved its datasets to NAME.OLD_ID. The store does the same locally.
  Status s = adopt_identity(new_id, old_id.empty() ? localstore::IdentityChange::kSwitch
                                                   : localstore::IdentityChange::kMerge);
  if (!s.ok() && options_.logger) {
    options_.logger->log(LogLevel::kError,
                         "could not adopt identity " + new_id + ": " + s.ToString());
  }
}

Result<std::string> Engine::ensure_identity() {
  // Local reads and writes need no pool; everything that reaches the service does.
  if (options_.identity_pool_id.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "SyncManagerOptions.identity_pool_id is required to reach the service");
  }
  if (!service_error_.ok()) return service_error_;
  if (!provider_) {
    Status s = adopt_identity(options_.identity_id, localstore::IdentityChange::kSwitch);
    if (!s.ok()) return s;
    return options_.identity_id;
  }
  auto id = provider_->identity_id();
  if (!id.ok()) return id.status();
  // Fetching credentials may merge identities (logins of another identity); the provider then
  // names the survivor and on_provider_identity_changed has moved the store.
  auto creds = provider_->credentials();
  if (!creds.ok()) return creds.status();
  std::string current = provider_->cached_identity_id().value_or(*id);
  Status s = adopt_identity(current, localstore::IdentityChange::kSwitch);
  if (!s.ok()) return s;
  return current;
}

std::optional<std::string> Engine::cached_identity_id() const {
  if (!provider_) return options_.identity_id;
  if (auto id = provider_->cached_identity_id()) return id;
  if (store_->has_identity()) return store_->owner();
  return std::nullopt;
}

Status Engine::set_logins(identity::Logins logins) {
  if (!provider_) {
    return Status(ErrorCode::kInvalidArgument,
                  "set_logins needs the Cognito Identity provider; with developer credentials, "
                  "open a manager for the other identity");
  }
  provider_->set_logins(std::move(logins));
  auto id = ensure_identity();
  return id.ok() ? Status::OK() : id.status();
}

Status Engine::switch_identity(identity::Logins logins) {
  if (!provider_) {
    return Status(ErrorCode::kInvalidArgument,
                  "switch_identity needs the Cognito Identity provider");
  }
  {
    // Until the new identity is known, new writes are provisional: they must not land on the
    // previous player's data.
    std::unique_lock<std::shared_mutex> l(identity_mu_);
    provider_->clear();
    provider_->set_logins(std::move(logins));
    Status s = store_->clear_identity();
    if (!s.ok()) return s;
    ++generation_;
  }
  auto id = ensure_identity();
  return id.ok() ? Status::OK() : id.status();
}

Status Engine::wipe() {
  std::unique_lock<std::shared_mutex> l(identity_mu_);
  if (provider_) provider_->clear();
  Status s = store_->wipe();
  ++generation_;
  return s;
}

// --- syncs ---------------------------------------------------------------------------------------

SyncFuture Engine::synchronize(const std::string& name, SyncCallbacks callbacks,
                               bool on_connectivity, bool automatic) {
  Waiter w{std::move(callbacks), std::make_shared<std::promise<SyncResult>>(), automatic};
  SyncFuture future = w.promise->get_future().share();
  std::optional<Status> refused;
  if (!localstore::valid_dataset_name(name)) {
    refused = invalid_name(name);
  } else {
    std::lock_guard<std::mutex> l(mu_);
    Slot& slot = slots_[name];
    if (closing_) {
      refused = Status(ErrorCode::kCancelled, "the sync manager is closed");
    } else if (!reachable_ && on_connectivity) {
      slot.parked.push_back(std::move(w));
    } else if (!reachable_) {
      refused = Status(ErrorCode::kNetwork,
                       "the network is unreachable (the host called set_network_reachable(false))");
    } else if (slot.running) {
      slot.next.push_back(std::move(w));
    } else {
      slot.current.push_back(std::move(w));
      start_locked(name, slot);
    }
  }
  if (refused) complete(w, SyncResult::failed(*refused));
  return future;
}

void Engine::start_locked(const std::string& name, Slot& slot) {
  slot.running = true;
  slot.progress = {};
  std::weak_ptr<Engine> weak = weak_from_this();
  scheduler_->post([weak, name] {
    if (auto self = weak.lock()) self->run(name);
  });
}

void Engine::run(const std::string& name) {
  // Coalesced callers share one run; each decision goes to the first caller that handles it.
  SyncCallbacks callbacks;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& w : slots_[name].current) {
      if (!callbacks.on_conflict) callbacks.on_conflict = w.callbacks.on_conflict;
      if (!callbacks.on_dataset_deleted)
        callbacks.on_dataset_deleted = w.callbacks.on_dataset_deleted;
      if (!callbacks.on_datasets_merged)
        callbacks.on_datasets_merged = w.callbacks.on_datasets_merged;
    }
  }
  SyncResult result;
  for (int restart = 0;; ++restart) {
    SyncRun attempt(*this, name, callbacks);
    result = attempt.run();
    if (attempt.identity_changed() && restart < 3 && !closing()) {
      if (options_.logger) {
        options_.logger->log(LogLevel::kInfo,
                             "identity changed during the sync of '" + name + "'; restarting");
      }
      continue;
    }
    break;
  }
  finish(name, result);
}

void Engine::finish(const std::string& name, const SyncResult& result) {
  std::vector<Waiter> done;
  {
    std::lock_guard<std::mutex> l(mu_);
    Slot& slot = slots_[name];
    slot.last_result = result.status;
    slot.last_result_time = options_.clock->now();
    (result.status.ok() ? syncs_succeeded_ : syncs_failed_)++;
    done.swap(slot.current);
    bool automatic =
        std::any_of(done.begin(), done.end(), [](const Waiter& w) { return w.automatic; });
    if (automatic && options_.auto_sync.enabled) {
      if (result.status.ok()) {
        slot.auto_failures = 0;
        slot.backing_off = false;
      } else {
        auto delay = auto_backoff_.delay(slot.auto_failures++);
        slot.backing_off = true;
        slot.auto_due = options_.clock->monotonic_now() + delay;
        if (!slot.auto_timer) {
          slot.auto_timer = true;
          schedule_auto(name, delay);
        }
      }
    }
    if (!slot.next.empty() && !closing_) {  // once closing, close() answers the rest
      slot.current.swap(slot.next);
      start_locked(name, slot);
    } else {
      slot.running = false;
    }
  }
  for (auto& w : done) complete(w, result);
}

void Engine::complete(Waiter& waiter, const SyncResult& result) {
  // The callback first: delivered on the sync thread, it has run by the time the future is ready;
  // queued for a pump or an executor, it is at least queued by then.
  if (result.status.ok() && waiter.callbacks.on_success) {
    deliver([cb = waiter.callbacks.on_success, updated = result.updated] { cb(updated); });
  } else if (!result.status.ok() && waiter.callbacks.on_failure) {
    deliver([cb = waiter.callbacks.on_failure, status = result.status] { cb(status); });
  }
  waiter.promise->set_value(result);
}

void Engine::deliver(std::function<void()> callback) {
  if (options_.executor) {
    options_.executor(std::move(callback));
  } else if (options_.delivery == CallbackDelivery::kPumped) {
    {
      std::lock_guard<std::mutex> l(mu_);
      pumped_.push_back(std::move(callback));
    }
    pumped_cv_.notify_all();
  } else {
    try {
      callback();
    } catch (const std::exception& e) {
      // A game's callback must not take an engine thread down with it.
      if (options_.logger) {
        options_.logger->log(LogLevel::kError, std::string("a sync callback threw: ") + e.what());
      }
    } catch (...) {
      if (options_.logger) options_.logger->log(LogLevel::kError, "a sync callback threw");
    }
  }
}

size_t Engine::run_pending_callbacks() {
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> l(mu_);
    batch.swap(pumped_);
  }
  for (auto& callback : batch) callback();
  return batch.size();
}

void Engine::set_network_reachable(bool reachable) {
  std::lock_guard<std::mutex> l(mu_);
  reachable_ = reachable;
  if (!reachable || closing_) return;
  for (auto& [name, slot] : slots_) {
    if (slot.parked.empty()) continue;
    auto& into = slot.running ? slot.next : slot.current;
    for (auto& w : slot.parked) into.push_back(std::move(w));
    slot.parked.clear();
    if (!slot.running) start_locked(name, slot);
  }
}

bool Engine::network_reachable() const {
  std::lock_guard<std::mutex> l(mu_);
  return reachable_;
}

void Engine::note_local_write(const std::string& name) {
  if (!options_.auto_sync.enabled) return;
  std::lock_guard<std::mutex> l(mu_);
  Slot& slot = slots_[name];
  auto now = options_.clock->monotonic_now();
  auto due = now + options_.auto_sync.debounce;
  // A write never cuts a backoff short.
  slot.auto_due = slot.backing_off ? std::max(slot.auto_due, due) : due;
  if (!slot.auto_timer) {
    slot.auto_timer = true;
    schedule_auto(name, std::chrono::duration_cast<std::chrono::milliseconds>(slot.auto_due - now));
  }
}

void Engine::schedule_auto(const std::string& name, std::chrono::milliseconds delay) {
  std::weak_ptr<Engine> weak = weak_from_this();
  scheduler_->post_after(delay, [weak, name] {
    auto self = weak.lock();
    if (!self) return;
    {
      std::lock_guard<std::mutex> l(self->mu_);
      Slot& slot = self->slots_[name];
      auto now = self->options_.clock->monotonic_now();
      if (slot.auto_due > now) {  // written to again since: wait for quiet
        self->schedule_auto(
            name, std::chrono::duration_cast<std::chrono::milliseconds>(slot.auto_due - now));
        return;
      }
      slot.auto_timer = false;
    }
    // Waits for the network when it is down.
    self->synchronize(name, {}, /*on_connectivity=*/true, /*automatic=*/true);
  });
}

void Engine::report_progress(const std::string& name, const SyncProgress& progress) {
  std::lock_guard<std::mutex> l(mu_);
  slots_[name].progress = progress;
}

DatasetStatus Engine::status(const std::string& name) {
  DatasetStatus out;
  out.name = name;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = slots_.find(name);
    if (it != slots_.end()) {
      const Slot& slot = it->second;
      if (slot.running) {
        out.state = SyncState::kSyncing;
      } else if (!slot.parked.empty()) {
        out.state = SyncState::kWaitingForNetwork;
      } else if (slot.backing_off) {
        out.state = SyncState::kBackingOff;
      }
      out.last_result = slot.last_result;
      out.last_result_time = slot.last_result_time;
      out.pulled_pages = slot.progress.pulled_pages;
      out.pulled_records = slot.progress.pulled_records;
      out.pulled_bytes = slot.progress.pulled_bytes;
      out.pushing_records = slot.progress.pushing_records;
      out.pushing_bytes = slot.progress.pushing_bytes;
    }
  }
  if (auto info = store_->sync_state(name); info.ok() && *info) {
    out.pending_changes = (*info)->dirty_count;
  }
  return out;
}

EngineStats Engine::stats() const {
  EngineStats s;
  auto add = [&](const ClientStats& c) {
    s.requests += c.requests;
    s.attempts += c.attempts;
    s.retries += c.retries;
  };
  if (sync_) add(sync_->stats());
  if (identity_client_) add(identity_client_->stats());
  s.bytes_sent = transport_->bytes_sent();
  s.bytes_received = transport_->bytes_received();
  s.syncs_succeeded = syncs_succeeded_;
  s.syncs_failed = syncs_failed_;
  s.conflicts = conflicts_;
  s.push_retries = push_retries_;
  return s;
}

// --- devices -------------------------------------------------------------------------------------

Result<std::string> Engine::register_device(const std::string& platform, const std::string& token) {
  if (platform != sync::kPlatformApns && platform != sync::kPlatformApnsSandbox &&
      platform != sync::kPlatformGcm && platform != sync::kPlatformAdm) {
    return Status(ErrorCode::kInvalidParameter,
                  "platform must be APNS, APNS_SANDBOX, GCM or ADM, not '" + platform + "'");
  }
  if (token.empty()) return Status(ErrorCode::kInvalidParameter, "the push token is empty");
  auto identity = ensure_identity();
  if (!identity.ok()) return identity.status();
  std::lock_guard<std::mutex> one_at_a_time(devices_mu_);
  auto cached = store_->device_id(platform);
  auto known_token = store_->meta(token_key(platform));
  if (cached.ok() && *cached && known_token.ok() && *known_token == token) return **cached;
  return register_locked(*identity, platform, token);
}

Result<std::string> Engine::register_locked(const std::string& identity,
                                            const std::string& platform, const std::string& token) {
  auto r = sync_->register_device({options_.identity_pool_id, identity, platform, token});
  if (!r.ok()) return r.status();
  if (!r->device_id || r->device_id->empty()) {
    return Status(ErrorCode::kParse, "RegisterDevice returned no DeviceId");
  }
  std::shared_lock<std::shared_mutex> l(identity_mu_);
  if (store_->owner() != identity) {
    return Status(ErrorCode::kCancelled, "the identity changed during RegisterDevice");
  }
  Status s = store_->set_device_id(platform, *r->device_id);
  if (s.ok()) s = store_->set_meta(token_key(platform), token);
  if (s.ok()) s = store_->set_meta(kLastPlatformKey, platform);
  if (!s.ok()) return s;
  start_listening();
  return *r->device_id;
}

std::optional<std::string> Engine::device_id(const std::string& platform) const {
  std::string p = platform;
  if (p.empty()) {
    auto last = store_->meta(kLastPlatformKey);
    if (!last.ok() || !*last) return std::nullopt;
    p = **last;
  }
  auto id = store_->device_id(p);
  return id.ok() ? *id : std::nullopt;
}

void Engine::renew_devices(const std::string& identity) {
  // A new identity needs its own registration, with the device's push tokens, and then the
  // subscriptions it had before. An identity that is already registered needs nothing.
  bool registered = false;
  {
    std::lock_guard<std::mutex> one_at_a_time(devices_mu_);
    // What to register, read in one view of the identity: it may change again meanwhile.
    std::vector<std::pair<std::string, std::string>> todo;  // platform, token
    {
      std::shared_lock<std::shared_mutex> l(identity_mu_);
      if (!store_->has_identity() || store_->owner() != identity) return;
      for (const char* platform : {sync::kPlatformApns, sync::kPlatformApnsSandbox,
                                   sync::kPlatformGcm, sync::kPlatformAdm}) {
        auto token = store_->meta(token_key(platform));
        auto cached = store_->device_id(platform);
        if (token.ok() && *token && cached.ok() && !*cached) todo.emplace_back(platform, **token);
      }
    }
    for (const auto& [platform, token] : todo) {
      auto r = register_locked(identity, platform, token);
      registered = registered || r.ok();
      if (!r.ok() && options_.logger) {
        options_.logger->log(
            LogLevel::kWarn,
            "could not register " + platform + " for the new identity: " + r.status().ToString());
      }
    }
  }
  if (!registered) return;
  auto subscriptions = store_->subscriptions();
  if (!subscriptions.ok()) return;
  for (const auto& dataset : *subscriptions) (void)set_subscription(dataset, true);
}

Status Engine::set_subscription(const std::string& dataset, bool subscribed) {
  if (!localstore::valid_dataset_name(dataset)) return invalid_name(dataset);
  auto device = device_id({});
  if (!device) {
    return Status(ErrorCode::kInvalidArgument,
                  "no device is registered: call register_device(platform, token) first");
  }
  auto identity = ensure_identity();
  if (!identity.ok()) return identity.status();
  if (subscribed) {
    auto r = sync_->subscribe_to_dataset({options_.identity_pool_id, *identity, dataset, *device});
    if (!r.ok()) return r.status();
  } else {
    auto r =
        sync_->unsubscribe_from_dataset({options_.identity_pool_id, *identity, dataset, *device});
    if (!r.ok() && r.status().code() != ErrorCode::kResourceNotFound) return r.status();
  }
  return store_->set_subscribed(dataset, subscribed);
}

Status Engine::set_all_subscriptions(bool subscribed) {
  std::vector<std::string> names;
  if (subscribed) {
    auto datasets = store_->list_datasets();
    if (!datasets.ok()) return datasets.status();
    for (const auto& d : *datasets) {
      if (d.last_sync_count != localstore::kDeletePending) names.push_back(d.name);
    }
  } else {
    auto subs = store_->subscriptions();
    if (!subs.ok()) return subs.status();
    names = *subs;
  }
  for (const auto& name : names) {
    Status s = set_subscription(name, subscribed);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Result<bool> Engine::handle_push(const std::map<std::string, std::string>& payload) {
  auto field = [&](const char* name) -> std::string {
    auto it = payload.find(name);
    return it == payload.end() ? std::string() : it->second;
  };
  if (field("source") != "cognito-sync") {
    return Status(ErrorCode::kInvalidArgument, "not a Cognito Sync push (source is '" +
                                                   field("source") + "', not 'cognito-sync')");
  }
  std::string dataset = field("datasetName");
  std::string count_text = field("syncCount");
  char* end = nullptr;
  long long remote_count = std::strtoll(count_text.c_str(), &end, 10);
  if (!localstore::valid_dataset_name(dataset) || count_text.empty() || *end != '\0') {
    return Status(ErrorCode::kInvalidArgument,
                  "a Cognito Sync push needs datasetName and a numeric syncCount");
  }
  if (field("identityPoolId") != options_.identity_pool_id) return false;  // another pool's
  auto current = cached_identity_id();
  if (!current || field("identityId") != *current) return false;  // another identity's
  auto info = store_->sync_state(dataset);
  if (!info.ok()) return info.status();
  int64_t local = *info ? (*info)->last_sync_count : 0;
  if (local == localstore::kDeletePending || local >= remote_count) return false;
  synchronize(dataset, {}, /*on_connectivity=*/true, /*automatic=*/true);
  return true;
}

Result<bool> Engine::handle_push_json(std::string_view json) {
  // The payload as the push services deliver it: a flat object; syncCount may be a number or a
  // string, and some platforms nest the fields under "data".
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status(ErrorCode::kInvalidArgument, "the push payload is not a JSON object");
  }
  const rapidjson::Value* fields = &doc;
  if (doc.HasMember("data") && doc["data"].IsObject()) fields = &doc["data"];
  std::map<std::string, std::string> payload;
  for (const auto& m : fields->GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsString()) {
      payload[name] = std::string(m.value.GetString(), m.value.GetStringLength());
    } else if (m.value.IsInt64()) {
      payload[name] = std::to_string(m.value.GetInt64());
    }
  }
  return handle_push(payload);
}

// --- the notification channel ------------------------------------------------------------------

void Engine::start_listening() {
  if (!options_.listen_for_notifications || !sync_ || closing_) return;
  std::lock_guard<std::mutex> l(listen_mu_);
  if (listener_.joinable()) {
    ++listen_kicks_;  // a device was just registered: the loop need not finish its pause
    listen_cv_.notify_all();
    return;
  }
  // A client of its own, on libcurl even when the host gave a transport: its long poll must not
  // hold up syncs on a shared connection, and close() must be able to cut it short.
  ClientConfig config;
  config.region = options_.region;
  config.endpoint = options_.endpoint;
  config.http = options_.http;
  config.http.cancel = listen_cancel_;
  config.retry = options_.retry;
  config.retry.max_retries = 0;  // the loop below backs off itself
  config.logger = options_.logger;
  config.clock = options_.clock;
  config.transport = make_curl_transport(config.http, options_.logger);
  config.credentials =
      provider_ ? std::static_pointer_cast<CredentialsProvider>(provider_) : options_.credentials;
  auto client = CognitoSyncClient::create(config);
  if (!client.ok()) return;
  listen_sync_ = std::move(*client);
  listen_http_ = config.http;
  listen_credentials_ = config.credentials;
  listener_ = std::thread([this] { listen_loop(); });
}

void Engine::listen_loop() {
  // Each poll waits on the server up to 25 s (or less, under a shorter read timeout); a failure
  // waits listen_backoff_ (0.5 to 0.625 s, doubling to 30 s) before the next.
  int32_t wait = static_cast<int32_t>(std::clamp<int64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(options_.http.read_timeout).count() - 5, 0,
      25));
  int64_t after = 0;
  int failures = 0;
  // WebSocket first; a server that declines it is long-polled, and asked again after a while.
  constexpr std::chrono::minutes kAskAgain{5};
  auto websocket_from = options_.clock->monotonic_now();
  auto pause = [&](std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(listen_mu_);
    uint64_t kicks = listen_kicks_;
    options_.clock->wait_for(l, listen_cv_, d,
                             [&] { return closing_.load() || listen_kicks_ != kicks; });
  };
  auto trouble = [&](const Status& s) {
    if (options_.logger) {
      options_.logger->log(LogLevel::kDebug, "notification channel: " + s.ToString());
    }
    pause(listen_backoff_.delay(failures++));
  };
  while (!closing_) {
    auto device = device_id({});
    auto identity = cached_identity_id();
    if (!device || !identity || !network_reachable()) {
      pause(std::chrono::milliseconds(500));
      continue;
    }
    if (options_.notifications_over_websocket && !options_.endpoint.empty() &&
        options_.clock->monotonic_now() >= websocket_from) {
      auto socket = transport::NotificationSocket::connect(
          {options_.endpoint, options_.region, options_.identity_pool_id, *identity, *device,
           after},
          *listen_credentials_, listen_http_);
      if (closing_) break;
      if (!socket.ok()) {
        trouble(socket.status());
        continue;
      }
      if (*socket) {
        failures = 0;
        for (;;) {
          auto batch = (*socket)->next();
          if (closing_) break;
          if (!batch.ok()) {
            trouble(batch.status());  // the server stopped, or the connection was lost
            break;
          }
          after = batch->next;
          handle_notifications(*batch);
          Status acked = (*socket)->acknowledge(after);
          if (!acked.ok()) {
            trouble(acked);
            break;
          }
        }
        continue;
      }
      websocket_from = options_.clock->monotonic_now() + kAskAgain;  // declined: the long poll
    }
    auto r = listen_sync_->poll_notifications(
        {options_.identity_pool_id, *identity, *device, after, wait});
    if (closing_) break;
    if (!r.ok()) {
      trouble(r.status());
      continue;
    }
    failures = 0;
    after = r->next;
    handle_notifications(*r);
  }
}

void Engine::handle_notifications(const sync::PollNotificationsResponse& batch) {
  for (const auto& n : batch.notifications) {
    auto handled = handle_push_json(n.payload_json);
    if (!handled.ok() && options_.logger) {
      options_.logger->log(LogLevel::kWarn,
                           "notification not handled: " + handled.status().ToString());
    }
    notifications_received_ += 1;  // counted once handled: a sync it started is queued by now
  }
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
