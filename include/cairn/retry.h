// RetryOptions: how a failed request is tried again, for the sync manager and the SDK clients.
#pragma once

#include <chrono>
#include <cstdint>

namespace cairn {

// Retries: exponential backoff with full jitter (delay drawn uniformly from
// [0, min(max_delay, base * 2^retry))). Throttling, HTTP 429, 5xx and network errors are retried;
// ResourceConflict and every other 4xx are not.
struct RetryOptions {
  int max_retries = 3;  // retries after the first attempt (the seed's retry_limit)
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds throttle_base_delay{500};  // throttles back off harder
  std::chrono::milliseconds max_delay{20000};
  uint64_t jitter_seed = 0;  // 0: seeded from the OS; tests set it for repeatable delays
};

}  // namespace cairn
