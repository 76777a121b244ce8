// Engine: what SyncManager and Dataset handles share (docs/sync.md).
//
// It owns the local store, the Cognito clients, the identity, the scheduler that runs syncs and
// the per-dataset sync slots. SyncManager and Dataset are thin handles that forward here; the
// synchronize loop itself is SyncRun (sync_run.h).
//
// Concurrency:
// - mu_ guards the dataset slots, reachability and the pumped-callback queue;
// - identity_mu_ is held shared by a sync around each local-store step and exclusively while the
//   identity changes, so a sync never writes one identity's data under another (generation_
//   tells the sync that it has to start over);
// - syncs of one dataset are serialised by its slot (and, across managers that share a database
//   file, by the store's dataset lock).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cairn/cognito/identity.h"
#include "cairn/cognito/sync.h"
#include "cairn/sync_manager.h"
#include "common/backoff.h"
#include "engine/scheduler.h"
#include "engine/sync_context.h"
#include "localstore/local_store.h"

namespace cairn::engine {

class CountingTransport;

// One caller of synchronize(), waiting for the outcome.
struct Waiter {
  SyncCallbacks callbacks;
  std::shared_ptr<std::promise<SyncResult>> promise;
  bool automatic = false;  // started by auto-sync or a push, not by the game
};

// The sync bookkeeping of one dataset name.
struct Slot {
  bool running = false;
  std::vector<Waiter> current;  // callers the running sync will answer
  std::vector<Waiter> next;     // coalesced into exactly one follow-up run
  std::vector<Waiter> parked;   // waiting for the network
  std::optional<Status> last_result;
  Timestamp last_result_time;
  SyncProgress progress;  // of the running sync
  // Auto-sync.
  Clock::MonotonicTime auto_due;  // on the engine's clock
  bool auto_timer = false;
  int auto_failures = 0;
  bool backing_off = false;
};

class Engine final : public SyncContext, public std::enable_shared_from_this<Engine> {
 public:
  static Result<std::shared_ptr<Engine>> open(SyncManagerOptions options);
  ~Engine() override;
  // Stops the scheduler; queued and parked callers get kCancelled. Idempotent.
  void close();

  // --- handles --------------------------------------------------------------------------------
  // InvalidParameter for a name outside [a-zA-Z0-9_.:-]{1,128}.
  Status check_dataset_name(const std::string& name) const;
  localstore::LocalStore& store() override { return *store_; }
  const SyncManagerOptions& options() const override { return options_; }
  // Only after ensure_identity() succeeded.
  CognitoSyncClient& sync_client() override { return *sync_; }
  std::chrono::milliseconds clock_skew() const {
    return sync_ ? sync_->clock_skew() : std::chrono::milliseconds(0);
  }
  const LoggerPtr& logger() const override { return options_.logger; }

  // --- identity -------------------------------------------------------------------------------
  // The identity syncs run as: from the provider (GetId, then credentials, which may merge
  // identities), adopted by the local store. Never called with identity_mu_ held.
  Result<std::string> ensure_identity() override;
  std::optional<std::string> cached_identity_id() const;
  Status set_logins(identity::Logins logins);
  Status switch_identity(identity::Logins logins);
  Status wipe();
  uint64_t generation() const override { return generation_.load(); }
  std::shared_mutex& identity_mutex() override { return identity_mu_; }

  // --- syncs ----------------------------------------------------------------------------------
  SyncFuture synchronize(const std::string& name, SyncCallbacks callbacks, bool on_connectivity,
                         bool automatic = false);
  void set_network_reachable(bool reachable);
  bool network_reachable() const;
  void note_local_write(const std::string& name);
  DatasetStatus status(const std::string& name);
  EngineStats stats() const;
  bool closing() const override { return closing_.load(); }
  // No engine task runs and none is due by the clock's present time (Scheduler::idle). Under a
  // manual clock, nothing happens until the clock moves or the host calls in.
  bool idle() const { return scheduler_ && scheduler_->idle(); }
  void count_conflicts(size_t n) override { conflicts_ += n; }
  void count_push_retry() override { ++push_retries_; }
  void report_progress(const std::string& name, const SyncProgress& progress) override;

  // Runs a decision callback (on_conflict, on_dataset_deleted, on_datasets_merged) through the
  // delivery option and waits for its answer. nullopt when the engine closed while waiting.
  template <typename T>
  std::optional<T> ask(std::function<T()> question);
  bool decide(const std::function<void()>& question) override {
    return ask<bool>([&] {
             question();
             return true;
           })
        .has_value();
  }
  size_t run_pending_callbacks();

  // --- devices --------------------------------------------------------------------------------
  Result<std::string> register_device(const std::string& platform, const std::string& token);
  std::optional<std::string> device_id(const std::string& platform) const override;
  Status set_subscription(const std::string& dataset, bool subscribed);
  Status set_all_subscriptions(bool subscribed);
  Result<bool> handle_push(const std::map<std::string, std::string>& payload);
  Result<bool> handle_push_json(std::string_view json);
  // Notifications received and handled on the channel since open (listen_for_notifications).
  uint64_t notifications_received() const { return notifications_received_.load(); }

  Result<std::vector<DatasetMetadata>> refresh_dataset_metadata();

 private:
  explicit Engine(SyncManagerOptions options);
  Status init();
  // Moves the store to `identity_id` (a no-op when it is already there).
  Status adopt_identity(const std::string& identity_id, localstore::IdentityChange change);
  void on_provider_identity_changed(const std::string& old_id, const std::string& new_id);
  // Registers `identity` with the device's known push tokens if it has no DeviceId yet.
  void renew_devices(const std::string& identity);
  // RegisterDevice and its bookkeeping; devices_mu_ held.
  Result<std::string> register_locked(const std::string& identity, const std::string& platform,
                                      const std::string& token);
  void start_locked(const std::string& name, Slot& slot);
  void run(const std::string& name);
  void finish(const std::string& name, const SyncResult& result);
  void deliver(std::function<void()> callback);
  void complete(Waiter& waiter, const SyncResult& result);
  void schedule_auto(const std::string& name, std::chrono::milliseconds delay);

  SyncManagerOptions options_;
  std::shared_ptr<localstore::LocalStore> store_;
  std::shared_ptr<CountingTransport> transport_;
  std::shared_ptr<CognitoIdentityClient> identity_client_;
  std::shared_ptr<CognitoIdentityCredentialsProvider> provider_;  // null with developer credentials
  std::unique_ptr<CognitoSyncClient> sync_;                       // null when service_error_ is set
  Status service_error_;  // why the service cannot be reached (no region, say); local data works
  std::unique_ptr<Scheduler> scheduler_;

  mutable std::shared_mutex identity_mu_;
  // One RegisterDevice at a time, so a renewal racing a game's call (or another renewal)
  // finds the first one's cached DeviceId instead of registering twice.
  std::mutex devices_mu_;
  std::atomic<uint64_t> generation_{0};

  mutable std::mutex mu_;
  std::condition_variable pumped_cv_;
  std::map<std::string, Slot> slots_;
  bool reachable_ = true;
  std::deque<std::function<void()>> pumped_;
  // Auto-sync after failed syncs: min_backoff doubling to max_backoff, drawn from the upper half
  // so devices that failed together spread out.
  Backoff auto_backoff_;
  std::atomic<bool> closing_{false};
  // Decision callbacks (ask) wait here for their answer, or for close().
  std::mutex ask_mu_;
  std::condition_variable ask_cv_;

  // The notification channel's listener (listen_for_notifications): its own client, whose
  // transport `listen_cancel_` stops within a second when the engine closes.
  void start_listening();
  void listen_loop();
  void handle_notifications(const wire::PollNotificationsResponse& batch);
  HttpOptions listen_http_;  // with listen_cancel_
  CredentialsProviderPtr listen_credentials_;
  std::mutex listen_mu_;
  std::condition_variable listen_cv_;
  uint64_t listen_kicks_ = 0;  // a device was registered: look again at once
  std::thread listener_;
  std::shared_ptr<std::atomic<bool>> listen_cancel_ = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<CognitoSyncClient> listen_sync_;
  // A failed poll waits 0.5 s (up to a quarter more), doubling up to 30 s.
  Backoff listen_backoff_{
      BackoffPolicy{std::chrono::milliseconds(625), std::chrono::milliseconds(30000), 0.2}};
  std::atomic<uint64_t> notifications_received_{0};

  std::atomic<uint64_t> syncs_succeeded_{0}, syncs_failed_{0}, conflicts_{0}, push_retries_{0};
};

template <typename T>
std::optional<T> Engine::ask(std::function<T()> question) {
  if (!options_.executor && options_.delivery == CallbackDelivery::kSyncThread) return question();
  // The answer, or what the callback threw. The question reads the asking sync's locals, so it
  // runs only while ask() still waits: once ask() gave up (the engine closed), a callback that
  // the game pumps later does nothing. A question already running is waited for.
  struct Answer {
    bool running = false, ready = false, abandoned = false;
    std::optional<T> value;
    std::exception_ptr error;
  };
  auto answer = std::make_shared<Answer>();
  std::weak_ptr<Engine> weak = weak_from_this();
  deliver([question = std::move(question), answer, weak] {
    auto self = weak.lock();
    if (!self) return;
    {
      std::lock_guard<std::mutex> l(self->ask_mu_);
      if (answer->abandoned) return;
      answer->running = true;
    }
    std::optional<T> value;
    std::exception_ptr error;
    try {
      value.emplace(question());
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> l(self->ask_mu_);
      answer->value = std::move(value);
      answer->error = error;
      answer->ready = true;
    }
    self->ask_cv_.notify_all();
  });
  std::unique_lock<std::mutex> l(ask_mu_);
  ask_cv_.wait(l, [&] { return answer->ready || (closing() && !answer->running); });
  if (!answer->ready) {
    answer->abandoned = true;
    return std::nullopt;
  }
  if (answer->error) std::rethrow_exception(answer->error);  // SyncRun turns it into a Status
  return std::move(answer->value);
}

}  // namespace cairn::engine

namespace cairn {

// The engine behind the public handles: a SyncManager and each Dataset it opened hold one, so the
// engine lives while any handle does.
class Dataset::Core {
 public:
  explicit Core(std::shared_ptr<engine::Engine> engine) : engine(std::move(engine)) {}
  // The public handle over an open engine (tests open engines of their own). Not exported.
  [[gnu::visibility("hidden")]] static std::unique_ptr<SyncManager> manager(
      std::shared_ptr<engine::Engine> engine);

  const std::shared_ptr<engine::Engine> engine;
};

}  // namespace cairn
