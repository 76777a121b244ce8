// ServiceClient: the pipeline every Cognito call goes through.
//   credentials -> Host, User-Agent -> SigV4 (unless the operation is noAuth) -> send ->
//   2xx: done; otherwise parse the error, then maybe retry (backoff with full jitter), re-sign
//   with a corrected clock after a clock-skew rejection, or refresh expired credentials once.
//
// It also measures the clock skew between this device and the server from each response's Date
// header; the engine's last-writer-wins resolver uses that figure.
//
// Thread safety: invoke() may be called from several threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "cairn/cognito/client_config.h"
#include "transport/errors.h"
#include "transport/retry.h"
#include "transport/wire.h"

namespace cairn::transport {

struct TransportStats {
  uint64_t requests = 0;  // calls to invoke()
  uint64_t attempts = 0;  // HTTP exchanges tried, retries included
  uint64_t retries = 0;
  uint64_t failures = 0;  // invoke() calls that returned an error
};

class ServiceClient {
 public:
  // endpoint_prefix is also the SigV4 service name ("cognito-sync", "cognito-identity").
  static Result<std::unique_ptr<ServiceClient>> create(const ClientConfig& config,
                                                       std::string endpoint_prefix,
                                                       Protocol protocol);

  // Sends the request and returns the 2xx response, or the final error.
  Result<HttpResponse> invoke(const WireRequest& request);

  // Builds and signs the HTTP request for one attempt, as it would go on the wire.
  Result<HttpRequest> prepare(const WireRequest& request, int attempt);

  // Server time minus local time, from the last response's Date header (zero before any).
  std::chrono::milliseconds clock_skew() const {
    return std::chrono::milliseconds(skew_ms_.load(std::memory_order_relaxed));
  }
  TransportStats stats() const;

  const std::string& region() const { return region_; }
  const std::string& endpoint() const { return endpoint_; }
  const ClientConfig& config() const { return config_; }

 private:
  ServiceClient(const ClientConfig& config, std::string endpoint_prefix, Protocol protocol,
                std::string region, std::string endpoint);
  void observe_date(const HttpResponse& response);
  void log(LogLevel level, const std::string& message) const;

  const ClientConfig config_;
  const std::string service_;
  const Protocol protocol_;
  const std::string region_;
  std::string endpoint_;   // scheme://authority[/prefix], no trailing slash
  std::string authority_;  // Host header value
  std::string path_prefix_;
  std::shared_ptr<HttpTransport> transport_;
  std::shared_ptr<Clock> clock_;
  CredentialsProviderPtr credentials_;
  RetryPolicy retry_;
  std::atomic<int64_t> skew_ms_{0};
  std::atomic<uint64_t> requests_{0}, attempts_{0}, retries_{0}, failures_{0};
};

}  // namespace cairn::transport
