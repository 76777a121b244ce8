// Which failures to retry and how long to wait: exponential backoff with full jitter and a cap
// (common/backoff.h), from a longer base for throttles.
//
// Thread safety: share a RetryPolicy freely; its Backoffs guard their own random engines.
#pragma once

#include <chrono>
#include "cairn/cognito/client_config.h"
#include "cairn/status.h"
#include "common/backoff.h"

namespace cairn::transport {

class RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options);

  // retries_done: how many retries already happened for this request.
  bool should_retry(const Status& status, int retries_done) const;
  // The wait before retry number retries_done + 1.
  std::chrono::milliseconds backoff(const Status& status, int retries_done);

  const RetryOptions& options() const { return options_; }

 private:
  RetryOptions options_;
  Backoff failures_;   // network errors, 5xx
  Backoff throttles_;  // throttling and 429
};

}  // namespace cairn::transport
