#include "engine/scheduler.h"

#include <algorithm>

namespace cairn::engine {

Scheduler::Scheduler(int threads, std::shared_ptr<Clock> clock)
    : thread_count_(std::max(1, threads)) {
  state_->clock = clock ? std::move(clock) : Clock::system();
}

Scheduler::~Scheduler() { shutdown(); }

void Scheduler::post(std::function<void()> task) {
  post_after(std::chrono::milliseconds(0), std::move(task));
}

void Scheduler::post_after(std::chrono::milliseconds delay, std::function<void()> task) {
  {
    std::lock_guard<std::mutex> l(state_->mu);
    if (state_->stopping) return;
    state_->queue.push({state_->clock->monotonic_now() + delay, state_->seq++, std::move(task)});
  }
  start_threads();
  state_->cv.notify_one();
}

void Scheduler::start_threads() {
  if (started_.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> t(threads_mu_);
  if (started_.load(std::memory_order_relaxed)) return;
  {
    // shutdown() sets stopping before it takes threads_mu_: either it joins what starts here, or
    // nothing starts.
    std::lock_guard<std::mutex> l(state_->mu);
    if (state_->stopping) return;
  }
  for (int i = 0; i < thread_count_; ++i) threads_.emplace_back([s = state_] { loop(s); });
  started_.store(true, std::memory_order_release);
}

void Scheduler::shutdown() {
  std::vector<std::function<void()>> dropped;  // destroyed outside the lock: they may own things
  {
    std::lock_guard<std::mutex> l(state_->mu);
    state_->stopping = true;
    while (!state_->queue.empty()) {
      dropped.push_back(std::move(const_cast<Item&>(state_->queue.top()).task));
      state_->queue.pop();
    }
  }
  state_->cv.notify_all();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(threads_mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else {
      t.join();
    }
  }
}

bool Scheduler::idle() const {
  std::lock_guard<std::mutex> l(state_->mu);
  if (state_->running > 0) return false;
  return state_->queue.empty() || state_->queue.top().due > state_->clock->monotonic_now();
}

void Scheduler::loop(const std::shared_ptr<State>& state) {
  std::unique_lock<std::mutex> l(state->mu);
  for (;;) {
    if (state->stopping) return;
    if (state->queue.empty()) {
      state->cv.wait(l);
      continue;
    }
    auto due = state->queue.top().due;
    if (due > state->clock->monotonic_now()) {
      state->clock->wait_until(l, state->cv, due);
      continue;
    }
    auto task = std::move(const_cast<Item&>(state->queue.top()).task);
    state->queue.pop();
    ++state->running;
    l.unlock();
    task();
    task = nullptr;  // release what the task owned before taking the lock again
    l.lock();
    --state->running;
  }
}

}  // namespace cairn::engine
