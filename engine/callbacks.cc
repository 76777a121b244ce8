// Callback delivery: a sync's outcome and the decision callbacks reach the game on the sync's
// thread, through the game's executor, or when the game pumps them (CallbackDelivery).
#include "engine/engine.h"

namespace cairn::engine {

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

}  // namespace cairn::engine
