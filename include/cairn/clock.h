// Clock: the seam through which cairn reads time and waits. The default is the system clock; tests
// install a fake one to run retries and credential expiry instantly and to simulate clock skew.
//
// Thread safety: implementations must be safe to call from any thread.
#pragma once

#include <chrono>
#include <memory>

namespace cairn {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, used for SigV4 dates and credential expiry.
  virtual std::chrono::system_clock::time_point now() = 0;
  // Blocks the calling thread (retry backoff).
  virtual void sleep_for(std::chrono::milliseconds duration) = 0;

  // The process-wide system clock.
  static std::shared_ptr<Clock> system();
};

}  // namespace cairn
