// Scheduler: a fixed pool of engine threads running tasks now or after a delay. The threads start
// with the first task: an engine that only reads and writes locally (a command-line put, a game
// offline) never creates them.
//
// Syncs, auto-sync timers and device re-registration all run here, so the engine's concurrency is
// bounded by the pool size whatever the game does. Delays are measured on the engine's Clock, so a
// test that installs a manual clock decides when a delayed task comes due.
//
// Thread safety: every method may be called from any thread, including a task. Shutting down from
// a task (the last owner of the engine let go inside a callback) detaches that thread, which exits
// when the task returns; the queue state it still touches is shared, not owned by this object.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "cairn/clock.h"

namespace cairn::engine {

class Scheduler {
 public:
  Scheduler(int threads, std::shared_ptr<Clock> clock);
  // Stops the threads after the running tasks finish; queued tasks are dropped.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void post(std::function<void()> task);
  void post_after(std::chrono::milliseconds delay, std::function<void()> task);
  // Stops taking and running tasks; returns once no task is running.
  void shutdown();
  // True when no task runs and none is due by the clock's present time: until the clock moves
  // (or something is posted), nothing will run. Tests wait for this after advancing a clock.
  bool idle() const;

 private:
  struct Item {
    Clock::MonotonicTime due;
    uint64_t seq;  // FIFO among tasks due at the same time
    std::function<void()> task;
  };
  struct Later {
    bool operator()(const Item& a, const Item& b) const {
      return a.due != b.due ? a.due > b.due : a.seq > b.seq;
    }
  };

  struct State {
    std::shared_ptr<Clock> clock;
    mutable std::mutex mu;
    std::condition_variable cv;
    std::priority_queue<Item, std::vector<Item>, Later> queue;
    uint64_t seq = 0;
    int running = 0;  // tasks being run now
    bool stopping = false;
  };
  static void loop(const std::shared_ptr<State>& state);
  void start_threads();

  std::shared_ptr<State> state_ = std::make_shared<State>();
  const int thread_count_;
  std::mutex threads_mu_;
  std::vector<std::thread> threads_;
  std::atomic<bool> started_{false};  // set under threads_mu_
};

}  // namespace cairn::engine
