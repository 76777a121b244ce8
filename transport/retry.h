// Which failures to retry and how long to wait: exponential backoff with full jitter and a cap.
//
// Thread safety: a RetryPolicy holds its own random engine behind a mutex; share it freely.
#pragma once

#include <chrono>
#include <mutex>
#include <random>

#include "cairn/client_config.h"
#include "cairn/status.h"

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
  std::mutex mu_;
  std::mt19937_64 rng_;
};

}  // namespace cairn::transport
