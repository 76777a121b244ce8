// The sync queue: one slot per dataset, where a sync waits its turn, joins the one already waiting
// (coalescing), or waits for the network; auto-sync after local writes and after failures; the
// dataset's status and the engine's counters.
#include "engine/engine.h"

#include "engine/counting_transport.h"
#include "engine/sync_run.h"

namespace cairn::engine {

// --- syncs ---------------------------------------------------------------------------------------

SyncFuture Engine::synchronize(const std::string& name, SyncCallbacks callbacks,
                               bool on_connectivity, bool automatic) {
  Waiter w{std::move(callbacks), std::make_shared<std::promise<SyncResult>>(), automatic};
  SyncFuture future = w.promise->get_future().share();
  std::optional<Status> refused;
  if (Status named = check_dataset_name(name); !named.ok()) {
    refused = named;
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

}  // namespace cairn::engine
