// Backoff: how long to wait before trying again after a failure. Every retry loop in cairn (the
// client's request retries, auto-sync, the notification listener, the server's PostgreSQL
// transaction retries and revocation feed, and webhook deliveries) takes its waits from here.
//
// The wait before attempt n+1, after n failures in a row (`retries_done` = n - 1, so 0 for the
// first retry), has a ceiling of base * 2^retries_done, never more than cap. Jitter then draws the
// wait from the top part of that ceiling:
//   spread 1   -> uniform in [0, ceiling]            ("full jitter": callers that failed together
//                                                      spread out the most);
//   spread 0.5 -> uniform in [ceiling / 2, ceiling]  ("equal jitter": never less than half);
//   spread 0   -> exactly the ceiling.
// No wait is ever longer than cap.
//
// Thread safety: delay() may be called from any thread; the random engine is behind a mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace cairn {

struct BackoffPolicy {
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{20000};
  double spread = 1.0;  // the share of the ceiling that jitter may take off, in [0, 1]

  // The longest wait after retries_done + 1 failures: base * 2^retries_done, at most cap.
  std::chrono::milliseconds ceiling(int retries_done) const;
};

class Backoff {
 public:
  // seed 0 seeds the random engine from the OS; tests pass a seed for repeatable waits.
  explicit Backoff(BackoffPolicy policy, uint64_t seed = 0);

  // The wait before retry number retries_done + 1 (0 for the first retry).
  std::chrono::milliseconds delay(int retries_done);

  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  std::mutex mu_;
  std::mt19937_64 rng_;
};

}  // namespace cairn
