// Status and Result<T>: how every cairn operation reports failure.
//
// cairn never throws across its API. An operation returns a Status (or a Result<T> carrying either
// a value or a Status). The code enum mirrors the error shapes of the Cognito Sync and Cognito
// Identity models, the generic AWS authentication errors, and the local failures that can happen
// before or after a request (network, timeout, TLS, parse, credentials).
//
// Two questions drive the retry policy, and the Status answers both:
//   is_transient(): could the same request succeed if sent again later?
//   is_throttle():  did the service ask us to slow down?
//
// Thread safety: Status and Result are plain values; distinct objects may be used concurrently.
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "cairn/export.h"

namespace cairn {

enum class ErrorCode : int {
  kOk = 0,

  // Errors declared by the Cognito Sync and Cognito Identity service models.
  kAlreadyStreamed,
  kConcurrentModification,
  kDeveloperUserAlreadyRegistered,
  kDuplicateRequest,
  kExternalService,
  kInternalError,
  kInvalidConfiguration,
  kInvalidIdentityPoolConfiguration,
  kInvalidLambdaFunctionOutput,
  kInvalidParameter,
  kLambdaSocketTimeout,  // documented for sync triggers, absent from the model
  kLambdaThrottled,
  kLimitExceeded,
  kNotAuthorized,
  kResourceConflict,
  kResourceNotFound,
  kTooManyRequests,

  // Generic AWS errors every JSON service may answer with (SigV4 and throttling).
  kAccessDenied,
  kExpiredToken,
  kIncompleteSignature,
  kInvalidSignature,
  kMissingAuthenticationToken,
  kRequestExpired,
  kRequestTimeTooSkewed,
  kSignatureDoesNotMatch,
  kThrottling,
  kUnrecognizedClient,

  // A service error whose code cairn does not know; service_code() keeps the name.
  kUnknownServiceError,

  // Local failures.
  kNetwork,             // connect refused, reset, truncated body, DNS
  kTimeout,             // connect or read timeout
  kTls,                 // certificate verification or handshake failure
  kParse,               // a response body that is not the JSON the model promises
  kNoCredentials,       // no credentials provider could supply credentials
  kSigning,             // the request could not be signed (bad clock, bad key material)
  kCancelled,           // the caller cancelled the operation
  kStubExhausted,       // stub mode: no canned response queued for this operation
  kInvalidArgument,     // a local API misuse that never reaches the wire
  kCorruption,          // the local database file is corrupt or not a cairn database
  kStorage,             // the local database failed (disk full, I/O error, locked too long)
  kConflictUnresolved,  // a sync conflict was left unresolved by the conflict callback
};

// The wire name of a code ("ResourceConflictException"); local codes get descriptive names.
CAIRN_CPP_API std::string_view error_code_name(ErrorCode code);

// Maps a sanitised wire code to the enum; unknown names give kUnknownServiceError.
CAIRN_CPP_API ErrorCode error_code_from_name(std::string_view name);

class [[nodiscard]] CAIRN_CPP_API Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }

  // A service error as parsed from a response.
  static Status FromService(std::string_view service_code, std::string message, int http_status,
                            std::string request_id = {});

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // The error code as the service named it (sanitised), or the enum's name.
  std::string service_code() const;
  int http_status() const { return http_status_; }
  const std::string& request_id() const { return request_id_; }

  // Could the same request succeed later? Throttles, 5xx, InternalError, network and timeouts.
  bool is_transient() const;
  // Did the service ask us to slow down? TooManyRequests, LambdaThrottled, Throttling, HTTP 429.
  bool is_throttle() const;
  // Does the failure depend on the network being reachable?
  bool is_network() const { return code_ == ErrorCode::kNetwork || code_ == ErrorCode::kTimeout; }
  // Was the failure a clock-skew rejection that a corrected clock could fix?
  bool is_clock_skew() const;

  Status& with_http_status(int status) {
    http_status_ = status;
    return *this;
  }
  Status& with_request_id(std::string id) {
    request_id_ = std::move(id);
    return *this;
  }

  // "ResourceConflictException (409): Current SyncCount for: k is: 3 not: 2".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::string unknown_code_;  // set only for kUnknownServiceError
  int http_status_ = 0;
  std::string request_id_;
};

// What Result::value() (and * and ->) throws when the result holds an error: that error, whole.
// A game built without exceptions (-fno-exceptions, as Unreal builds) stops there instead, with
// the error's code and message in the terminate message. Check ok() first.
class CAIRN_CPP_API BadResultAccess : public std::exception {
 public:
  explicit BadResultAccess(Status status);
  const Status& status() const noexcept { return status_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  Status status_;
  std::string what_;
};

namespace detail {
[[noreturn]] CAIRN_CPP_API void throw_bad_result_access(const Status& status);
}  // namespace detail

// Either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  // The value; BadResultAccess, carrying the error, when there is none.
  T& value() & {
    if (!ok()) detail::throw_bad_result_access(std::get<Status>(v_));
    return std::get<T>(v_);
  }
  const T& value() const& {
    if (!ok()) detail::throw_bad_result_access(std::get<Status>(v_));
    return std::get<T>(v_);
  }
  T&& value() && {
    if (!ok()) detail::throw_bad_result_access(std::get<Status>(v_));
    return std::get<T>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cairn
