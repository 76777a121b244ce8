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
// JSON bodies lose SecretKey, SessionToken, Token and every Logins value; other bodies pass as-is.
std::string redact_body(std::string_view body);

}  // namespace cairn::transport
