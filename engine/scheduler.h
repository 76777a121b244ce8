// Scheduler: a fixed pool of engine threads running tasks now or after a delay.
//
// Syncs, auto-sync timers and device re-registration all run here, so the engine's concurrency is
// bounded by the pool size whatever the game does. Delays use the steady clock.
//
// Thread safety: every method may be called from any thread, including a task. Shutting down from
// a task (the last owner of the engine let go inside a callback) detaches that thread, which exits
// when the task returns; the queue state it still touches is shared, not owned by this object.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace cairn::engine {

class Scheduler {
 public:
  explicit Scheduler(int threads);
  // Stops the threads after the running tasks finish; queued tasks are dropped.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void post(std::function<void()> task);
  void post_after(std::chrono::milliseconds delay, std::function<void()> task);
  // Stops taking and running tasks; returns once no task is running.
  void shutdown();

 private:
  struct Item {
    std::chrono::steady_clock::time_point due;
    uint64_t seq;  // FIFO among tasks due at the same time
    std::function<void()> task;
  };
  struct Later {
    bool operator()(const Item& a, const Item& b) const {
      return a.due != b.due ? a.due > b.due : a.seq > b.seq;
    }
  };

  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::priority_queue<Item, std::vector<Item>, Later> queue;
    uint64_t seq = 0;
    bool stopping = false;
  };
  static void loop(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::mutex threads_mu_;
  std::vector<std::thread> threads_;
};

}  // namespace cairn::engine
