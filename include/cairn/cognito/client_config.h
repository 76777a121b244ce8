// Configuration shared by the Cognito Sync and Cognito Identity clients.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "cairn/clock.h"
#include "cairn/credentials.h"
#include "cairn/export.h"
#include "cairn/http.h"
#include "cairn/logging.h"
#include "cairn/retry.h"
#include "cairn/version.h"

namespace cairn {

class Stubber;

struct ClientConfig {
  // Region for endpoints and signing. Empty: AWS_REGION, AMAZON_REGION, then AWS_DEFAULT_REGION;
  // with an explicit endpoint and no region anywhere, us-east-1.
  std::string region;
  // One endpoint for both services (a cairn-server: "http://127.0.0.1:8080"). Empty: the AWS
  // endpoints https://cognito-sync.REGION.amazonaws.com and
  // https://cognito-identity.REGION.amazonaws.com.
  std::string endpoint;

  // Signs every signed call. Null: the default chain (environment, then shared credentials file).
  CredentialsProviderPtr credentials;

  HttpOptions http;
  RetryOptions retry;

  // Check every length, pattern, enum and required member of the model before sending, and fail
  // with InvalidParameter locally (the seed's validate_params).
  bool validate_params = true;

  // Stub mode (the seed's stub_responses): no HTTP at all; calls take canned responses from the
  // stubber, and retries are off.
  std::shared_ptr<Stubber> stub;

  LoggerPtr logger;
  std::shared_ptr<Clock> clock;              // null: the system clock
  std::shared_ptr<HttpTransport> transport;  // null: libcurl built from `http`
  std::string user_agent = "cairn/" CAIRN_VERSION_STRING;
};

// The region the config resolves to, or InvalidArgument when there is none and no endpoint.
CAIRN_CPP_API Result<std::string> resolve_region(const ClientConfig& config);

// "https://cognito-sync.us-east-1.amazonaws.com" or the configured endpoint.
CAIRN_CPP_API std::string resolve_endpoint(const ClientConfig& config,
                                           const std::string& endpoint_prefix,
                                           const std::string& region);

}  // namespace cairn
