#include "transport/retry.h"

namespace cairn::transport {

RetryPolicy::RetryPolicy(RetryOptions options)
    : options_(options),
      failures_(BackoffPolicy{options.base_delay, options.max_delay, 1.0}, options.jitter_seed),
      throttles_(BackoffPolicy{options.throttle_base_delay, options.max_delay, 1.0},
                 options.jitter_seed) {}

bool RetryPolicy::should_retry(const Status& status, int retries_done) const {
  if (status.ok() || retries_done >= options_.max_retries) return false;
  // ResourceConflict is a verdict on the request (a stale sync count), never a passing fault.
  if (status.code() == ErrorCode::kResourceConflict) return false;
  return status.is_transient();
}

std::chrono::milliseconds RetryPolicy::backoff(const Status& status, int retries_done) {
  return (status.is_throttle() ? throttles_ : failures_).delay(retries_done);
}

}  // namespace cairn::transport
