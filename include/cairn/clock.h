// Clock: the one seam through which cairn reads time and waits for it. Wall time signs requests
// and stamps records; monotonic time drives every timer (the engine's scheduler, auto-sync's
// debounce and backoff, the notification listener's backoff, retry waits). The default is the
// system clock. A test installs a manual clock (tests/fixtures/manual_clock.h) and moves time
// forward itself, so that what a timer does never depends on how fast the machine is.
//
// Thread safety: implementations must be safe to call from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "cairn/export.h"

namespace cairn {

class CAIRN_CPP_API Clock {
 public:
  using MonotonicTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Wall-clock time, used for SigV4 dates, credential expiry and record timestamps.
  virtual std::chrono::system_clock::time_point now() = 0;
  // Blocks the calling thread (retry backoff).
  virtual void sleep_for(std::chrono::milliseconds duration) = 0;

  // Monotonic time, for deadlines and timers. The system clock reads std::chrono::steady_clock.
  virtual MonotonicTime monotonic_now() { return std::chrono::steady_clock::now(); }

  // Waits on `cv`, with `lock` held on entry and on return as std::condition_variable requires,
  // until the condition variable is notified or this clock reaches `deadline`. It may wake early
  // (spuriously), like any condition wait; callers wait in a loop on their own condition.
  // Returns timeout once the deadline has passed.
  virtual std::cv_status wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                                    MonotonicTime deadline) {
    return cv.wait_until(lock, deadline);
  }

  // Waits until `done()` holds (true) or the deadline passes with it still false (false).
  template <typename Predicate>
  bool wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                  MonotonicTime deadline, Predicate done) {
    while (!done()) {
      if (wait_until(lock, cv, deadline) == std::cv_status::timeout) return done();
    }
    return true;
  }
  template <typename Predicate>
  bool wait_for(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                std::chrono::milliseconds duration, Predicate done) {
    return wait_until(lock, cv, monotonic_now() + duration, std::move(done));
  }

  // The process-wide system clock.
  static std::shared_ptr<Clock> system();
};

}  // namespace cairn
