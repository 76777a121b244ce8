#include "transport/retry.h"

#include <algorithm>

namespace cairn::transport {

RetryPolicy::RetryPolicy(RetryOptions options)
    : options_(options),
      rng_(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}()) {}

bool RetryPolicy::should_retry(const Status& status, int retries_done) const {
  if (status.ok() || retries_done >= options_.max_retries) return false;
  // ResourceConflict is a verdict on the request (a stale sync count), never a passing fault.
  if (status.code() == ErrorCode::kResourceConflict) return false;
  return status.is_transient();
}

std::chrono::milliseconds RetryPolicy::backoff(const Status& status, int retries_done) {
  auto base = status.is_throttle() ? options_.throttle_base_delay : options_.base_delay;
  // base * 2^retries, computed without overflow, then capped.
  int64_t ceiling = base.count();
  for (int i = 0; i < retries_done && ceiling < options_.max_delay.count(); ++i) ceiling *= 2;
  ceiling = std::min<int64_t>(ceiling, options_.max_delay.count());
  if (ceiling <= 0) return std::chrono::milliseconds(0);
  std::lock_guard<std::mutex> lock(mu_);
  std::uniform_int_distribution<int64_t> dist(0, ceiling);
  return std::chrono::milliseconds(dist(rng_));
}

}  // namespace cairn::transport
