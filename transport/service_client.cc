#include "transport/service_client.h"

#include <algorithm>

#include <cstdlib>

#include "transport/crypto.h"
#include "transport/sigv4.h"

namespace cairn {

Result<std::string> resolve_region(const ClientConfig& config) {
  if (!config.region.empty()) return config.region;
  for (const char* var : {"AWS_REGION", "AMAZON_REGION", "AWS_DEFAULT_REGION"}) {
    const char* v = std::getenv(var);
    if (v && *v) return std::string(v);
  }
  if (!config.endpoint.empty()) return std::string("us-east-1");
  return Status(ErrorCode::kInvalidArgument,
                "no region: set ClientConfig.region, AWS_REGION, AMAZON_REGION or "
                "AWS_DEFAULT_REGION, or give an explicit endpoint");
}

std::string resolve_endpoint(const ClientConfig& config, const std::string& endpoint_prefix,
                             const std::string& region) {
  std::string endpoint = config.endpoint;
  if (endpoint.empty()) {
    endpoint = "https://" + endpoint_prefix + "." + region + ".amazonaws.com";
    if (region.rfind("cn-", 0) == 0) endpoint += ".cn";
  }
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

namespace transport {
namespace {

// Only a skew past this is corrected when signing: the Date header has one-second resolution, and
// AWS accepts requests up to 15 minutes off.
constexpr std::chrono::seconds kSkewCorrectionThreshold{60};

}  // namespace

Result<std::unique_ptr<ServiceClient>> ServiceClient::create(const ClientConfig& config,
                                                             std::string endpoint_prefix,
                                                             Protocol protocol) {
  auto region = resolve_region(config);
  if (!region.ok()) return region.status();
  std::string endpoint = resolve_endpoint(config, endpoint_prefix, *region);
  size_t scheme_end = endpoint.find("://");
  if (scheme_end == std::string::npos || (endpoint.compare(0, scheme_end, "http") != 0 &&
                                          endpoint.compare(0, scheme_end, "https") != 0)) {
    return Status(ErrorCode::kInvalidArgument,
                  "endpoint must start with http:// or https://: '" + endpoint + "'");
  }
  if (endpoint.size() == scheme_end + 3) {
    return Status(ErrorCode::kInvalidArgument, "endpoint has no host: '" + endpoint + "'");
  }
  return std::unique_ptr<ServiceClient>(
      new ServiceClient(config, std::move(endpoint_prefix), protocol, *region, endpoint));
}

ServiceClient::ServiceClient(const ClientConfig& config, std::string endpoint_prefix,
                             Protocol protocol, std::string region, std::string endpoint)
    : config_(config),
      service_(std::move(endpoint_prefix)),
      protocol_(protocol),
      region_(std::move(region)),
      endpoint_(std::move(endpoint)),
      transport_(config.transport ? config.transport
                                  : make_curl_transport(config.http, config.logger)),
      clock_(config.clock ? config.clock : Clock::system()),
      credentials_(config.credentials ? config.credentials
                                      : ChainCredentialsProvider::default_chain()),
      retry_(config.retry) {
  size_t authority_start = endpoint_.find("://") + 3;
  size_t path_start = endpoint_.find('/', authority_start);
  authority_ = endpoint_.substr(authority_start, path_start == std::string::npos
                                                     ? std::string::npos
                                                     : path_start - authority_start);
  if (path_start != std::string::npos) path_prefix_ = endpoint_.substr(path_start);
  // Host carries the port only when it is not the scheme's default (as the SDKs sign it).
  bool https = endpoint_.rfind("https", 0) == 0;
  const char* default_port = https ? ":443" : ":80";
  if (authority_.size() > 4 && authority_.compare(authority_.size() - (https ? 4 : 3),
                                                  std::string::npos, default_port) == 0) {
    authority_.resize(authority_.size() - (https ? 4 : 3));
  }
  endpoint_ = endpoint_.substr(0, authority_start) + authority_;
}

void ServiceClient::log(LogLevel level, const std::string& message) const {
  if (config_.logger) config_.logger->log(level, message);
}

TransportStats ServiceClient::stats() const {
  return {requests_.load(), attempts_.load(), retries_.load(), failures_.load()};
}

void ServiceClient::observe_date(const HttpResponse& response) {
  const std::string* date = response.header("Date");
  if (!date) return;
  std::optional<std::chrono::system_clock::time_point> server = transport::parse_http_date(*date);
  if (!server) return;
  auto local = clock_->now();
  // Date has one-second resolution: the server's clock read somewhere in [server, server + 1s),
  // so take the middle of that second.
  auto skew = *server + std::chrono::milliseconds(500) - local;
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(skew).count();
  // Within a second of zero the header cannot tell this clock from a synchronized one, and the
  // estimate would move with the moment it was read (two synchronized devices could disagree by
  // up to a second, and last-writer-wins with them): call it zero.
  if (ms > -1000 && ms < 1000) ms = 0;
  skew_ms_.store(ms, std::memory_order_relaxed);
}

Result<HttpRequest> ServiceClient::prepare(const WireRequest& wire, int attempt) {
  HttpRequest http;
  http.method = wire.method;
  http.url = endpoint_ + path_prefix_ + wire.path + (wire.query.empty() ? "" : "?" + wire.query);
  http.body = wire.body;

  SigV4Request sig{wire.method, path_prefix_ + wire.path, wire.query, wire.headers, http.body};
  sig.headers.emplace_back("Host", authority_);
  if (wire.sign) {
    auto creds = credentials_->credentials();
    if (!creds.ok()) return creds.status();
    auto now = clock_->now();
    auto skew = clock_skew();
    if (skew >= kSkewCorrectionThreshold || skew <= -kSkewCorrectionThreshold) now += skew;
    Status s = sign_request(sig, *creds, {region_, service_}, now);
    if (!s.ok()) return s;
  }
  http.headers = std::move(sig.headers);
  // Added after signing, as botocore does: they differ per attempt and are not signed.
  http.headers.emplace_back("User-Agent", config_.user_agent);
  http.headers.emplace_back("amz-sdk-invocation-id", random_hex(16));
  http.headers.emplace_back("amz-sdk-request",
                            "attempt=" + std::to_string(attempt) +
                                "; max=" + std::to_string(retry_.options().max_retries + 1));
  return http;
}

Result<HttpResponse> ServiceClient::invoke(const WireRequest& wire) {
  ++requests_;
  int retries = 0;
  bool skew_corrected = false;
  bool credentials_refreshed = false;
  for (int attempt = 1;; ++attempt) {
    Status failure;
    std::chrono::milliseconds asked{0};  // a throttle's Retry-After
    auto http = prepare(wire, attempt);
    if (!http.ok()) {
      failure = http.status();
    } else {
      ++attempts_;
      auto response = transport_->send(*http);
      if (!response.ok()) {
        failure = response.status();
      } else {
        observe_date(*response);
        if (response->status >= 200 && response->status < 300) return std::move(*response);
        failure = parse_error_response(protocol_, *response);
        const std::string* after = response->header("Retry-After");
        if (after && failure.is_throttle() && !after->empty() && after->size() < 6 &&
            after->find_first_not_of("0123456789") == std::string::npos) {
          asked = std::chrono::seconds(std::stoi(*after));
        }
      }
    }

    // A rejected clock: the Date header of the rejection has just corrected the skew.
    if (!skew_corrected && failure.is_clock_skew() && wire.sign &&
        (clock_skew() >= kSkewCorrectionThreshold || clock_skew() <= -kSkewCorrectionThreshold)) {
      skew_corrected = true;
      log(LogLevel::kWarn, wire.operation + ": clock skew of " +
                               std::to_string(clock_skew().count()) +
                               " ms detected; re-signing with the server's time");
      continue;
    }
    // Temporary credentials that expired under us: fetch fresh ones once.
    if (!credentials_refreshed && wire.sign && failure.code() == ErrorCode::kExpiredToken) {
      credentials_refreshed = true;
      credentials_->invalidate();
      log(LogLevel::kInfo, wire.operation + ": credentials expired; refreshing");
      continue;
    }
    if (retry_.should_retry(failure, retries)) {
      // A throttle that says when to come back is believed, up to the longest backoff.
      auto delay =
          std::max(retry_.backoff(failure, retries), std::min(asked, retry_.options().max_delay));
      ++retries;
      ++retries_;
      log(LogLevel::kInfo, wire.operation + " failed with " + failure.ToString() + "; retry " +
                               std::to_string(retries) + "/" +
                               std::to_string(retry_.options().max_retries) + " in " +
                               std::to_string(delay.count()) + " ms");
      clock_->sleep_for(delay);
      continue;
    }
    ++failures_;
    if (retries > 0) {
      Status final(failure.code(), failure.message() + " (after " + std::to_string(retries) +
                                       (retries == 1 ? " retry)" : " retries)"));
      return failure.code() == ErrorCode::kUnknownServiceError
                 ? Status::FromService(failure.service_code(), final.message(),
                                       failure.http_status(), failure.request_id())
                 : final.with_http_status(failure.http_status())
                       .with_request_id(failure.request_id());
    }
    return failure;
  }
}

}  // namespace transport
}  // namespace cairn
