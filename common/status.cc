// Status: code names, classification and formatting.
#include "cairn/status.h"

#include <array>

namespace cairn {
namespace {

struct CodeName {
  ErrorCode code;
  std::string_view name;
};

// Wire names as the services send them after sanitising (see docs/wire-protocol.md section 5.2).
constexpr std::array<CodeName, 42> kCodeNames = {{
    {ErrorCode::kOk, "OK"},
    {ErrorCode::kAlreadyStreamed, "AlreadyStreamedException"},
    {ErrorCode::kConcurrentModification, "ConcurrentModificationException"},
    {ErrorCode::kDeveloperUserAlreadyRegistered, "DeveloperUserAlreadyRegisteredException"},
    {ErrorCode::kDuplicateRequest, "DuplicateRequestException"},
    {ErrorCode::kExternalService, "ExternalServiceException"},
    {ErrorCode::kInternalError, "InternalErrorException"},
    {ErrorCode::kInvalidConfiguration, "InvalidConfigurationException"},
    {ErrorCode::kInvalidIdentityPoolConfiguration, "InvalidIdentityPoolConfigurationException"},
    {ErrorCode::kInvalidLambdaFunctionOutput, "InvalidLambdaFunctionOutputException"},
    {ErrorCode::kInvalidParameter, "InvalidParameterException"},
    {ErrorCode::kLambdaSocketTimeout, "LambdaSocketTimeoutException"},
    {ErrorCode::kLambdaThrottled, "LambdaThrottledException"},
    {ErrorCode::kLimitExceeded, "LimitExceededException"},
    {ErrorCode::kNotAuthorized, "NotAuthorizedException"},
    {ErrorCode::kResourceConflict, "ResourceConflictException"},
    {ErrorCode::kResourceNotFound, "ResourceNotFoundException"},
    {ErrorCode::kTooManyRequests, "TooManyRequestsException"},
    {ErrorCode::kAccessDenied, "AccessDeniedException"},
    {ErrorCode::kExpiredToken, "ExpiredTokenException"},
    {ErrorCode::kIncompleteSignature, "IncompleteSignatureException"},
    {ErrorCode::kInvalidSignature, "InvalidSignatureException"},
    {ErrorCode::kMissingAuthenticationToken, "MissingAuthenticationTokenException"},
    {ErrorCode::kRequestExpired, "RequestExpired"},
    {ErrorCode::kRequestTimeTooSkewed, "RequestTimeTooSkewed"},
    {ErrorCode::kSignatureDoesNotMatch, "SignatureDoesNotMatch"},
    {ErrorCode::kThrottling, "ThrottlingException"},
    {ErrorCode::kUnrecognizedClient, "UnrecognizedClientException"},
    {ErrorCode::kUnknownServiceError, "UnknownServiceError"},
    {ErrorCode::kNetwork, "NetworkError"},
    {ErrorCode::kTimeout, "Timeout"},
    {ErrorCode::kTls, "TlsError"},
    {ErrorCode::kParse, "ParseError"},
    {ErrorCode::kNoCredentials, "NoCredentials"},
    {ErrorCode::kSigning, "SigningError"},
    {ErrorCode::kCancelled, "Cancelled"},
    {ErrorCode::kStubExhausted, "StubExhausted"},
    {ErrorCode::kInvalidArgument, "InvalidArgument"},
    {ErrorCode::kCorruption, "Corruption"},
    {ErrorCode::kStorage, "StorageError"},
    {ErrorCode::kConflictUnresolved, "ConflictUnresolved"},
    // Aliases accepted on input only (first match wins on output).
    {ErrorCode::kThrottling, "Throttling"},
}};

}  // namespace

std::string_view error_code_name(ErrorCode code) {
  for (const auto& entry : kCodeNames) {
    if (entry.code == code) return entry.name;
  }
  return "UnknownError";
}

ErrorCode error_code_from_name(std::string_view name) {
  for (const auto& entry : kCodeNames) {
    if (entry.name == name && entry.code != ErrorCode::kOk &&
        entry.code < ErrorCode::kUnknownServiceError) {
      return entry.code;
    }
  }
  // Other throttling spellings used across AWS (botocore retries/standard.py).
  if (name == "ThrottledException" || name == "RequestThrottledException" ||
      name == "RequestThrottled" || name == "RequestLimitExceeded" || name == "SlowDown") {
    return ErrorCode::kThrottling;
  }
  return ErrorCode::kUnknownServiceError;
}

Status Status::FromService(std::string_view service_code, std::string message, int http_status,
                           std::string request_id) {
  ErrorCode code = error_code_from_name(service_code);
  Status s(code, std::move(message));
  if (code == ErrorCode::kUnknownServiceError) {
    s.unknown_code_ =
        service_code.empty() ? std::to_string(http_status) : std::string(service_code);
  }
  s.http_status_ = http_status;
  s.request_id_ = std::move(request_id);
  return s;
}

std::string Status::service_code() const {
  if (code_ == ErrorCode::kUnknownServiceError) return unknown_code_;
  return std::string(error_code_name(code_));
}

bool Status::is_throttle() const {
  switch (code_) {
    case ErrorCode::kTooManyRequests:
    case ErrorCode::kLambdaThrottled:
    case ErrorCode::kThrottling:
      return true;
    default:
      return http_status_ == 429;
  }
}

bool Status::is_transient() const {
  if (is_throttle()) return true;
  switch (code_) {
    case ErrorCode::kInternalError:
    case ErrorCode::kNetwork:
    case ErrorCode::kTimeout:
      return true;
    case ErrorCode::kOk:
      return false;
    default:
      break;
  }
  // A 5xx the model does not name (502 from a load balancer, 503 during a deploy) is transient;
  // 501 (not implemented) and 505 (version) would fail again the same way.
  return http_status_ == 500 || http_status_ == 502 || http_status_ == 503 || http_status_ == 504;
}

bool Status::is_clock_skew() const {
  switch (code_) {
    case ErrorCode::kRequestTimeTooSkewed:
    case ErrorCode::kRequestExpired:
    case ErrorCode::kInvalidSignature:
    case ErrorCode::kSignatureDoesNotMatch:
      return true;
    default:
      return unknown_code_ == "RequestInTheFuture";
  }
}

BadResultAccess::BadResultAccess(Status status)
    : status_(std::move(status)),
      what_("cairn: Result::value() on an error: " + status_.ToString()) {}

void detail::throw_bad_result_access(const Status& status) { throw BadResultAccess(status); }

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = service_code();
  if (http_status_ != 0) out += " (" + std::to_string(http_status_) + ")";
  if (!message_.empty()) out += ": " + message_;
  return out;
}

}  // namespace cairn
