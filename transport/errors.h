// Error responses to Status, following the SDKs' parsing rules (docs/wire-protocol.md 5.2):
//   restJson (Cognito Sync):    x-amzn-ErrorType header, then body code/Code, then body __type;
//   awsJson (Cognito Identity): body __type, then code/Code, then the header.
// The code is sanitised (cut at ',' and ':', keep what follows '#'); the message is body
// message, else Message.
#pragma once

#include <string>
#include <string_view>

#include "cairn/http.h"
#include "cairn/status.h"

namespace cairn::transport {

enum class Protocol { kRestJson, kAwsJson };

std::string sanitize_error_code(std::string_view raw);

// Status for a non-2xx response. A response with no code at all gets its HTTP status as the code
// (so 503 with an HTML body is an UnknownServiceError "503", transient by status).
Status parse_error_response(Protocol protocol, const HttpResponse& response);

}  // namespace cairn::transport
