// Redaction for wire traces: nothing that could act as a credential reaches a log.
#pragma once

#include <string>
#include <string_view>

#include "cairn/http.h"

namespace cairn::transport {

inline constexpr char kRedacted[] = "<redacted>";

// Authorization keeps its credential scope and signed headers but loses the signature;
// X-Amz-Security-Token is dropped to kRedacted.
std::string redact_header(std::string_view name, std::string_view value);
// JSON bodies lose SecretKey, SessionToken, Token and every Logins value. A body that is not JSON
// passes as it is unless it names one of those (half a credentials answer): then it is withheld.
std::string redact_body(std::string_view body);

}  // namespace cairn::transport
