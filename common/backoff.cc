#include "common/backoff.h"

#include <algorithm>

namespace cairn {

std::chrono::milliseconds BackoffPolicy::ceiling(int retries_done) const {
  int64_t cap_ms = std::max<int64_t>(cap.count(), 0);
  int64_t c = std::min<int64_t>(std::max<int64_t>(base.count(), 0), cap_ms);
  // Doubled one step at a time, so that no shift overflows, and never past the cap.
  for (int i = 0; i < retries_done && c < cap_ms; ++i) c = std::min(c * 2, cap_ms);
  return std::chrono::milliseconds(c);
}

Backoff::Backoff(BackoffPolicy policy, uint64_t seed)
    : policy_(policy), rng_(seed != 0 ? seed : std::random_device{}()) {
  policy_.spread = std::clamp(policy_.spread, 0.0, 1.0);
}

std::chrono::milliseconds Backoff::delay(int retries_done) {
  int64_t high = policy_.ceiling(retries_done).count();
  auto low = static_cast<int64_t>(static_cast<double>(high) * (1.0 - policy_.spread));
  if (low >= high) return std::chrono::milliseconds(high);
  std::lock_guard<std::mutex> l(mu_);
  return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(low, high)(rng_));
}

}  // namespace cairn
