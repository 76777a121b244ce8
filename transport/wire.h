// The wire form of one request and one response, before signing and after transport. The typed
// protocol layers build WireRequests from request structs and parse WireResponses into response
// structs; the service client signs, sends and retries them.
#pragma once

#include <string>

#include "transport/sigv4.h"  // Headers

namespace cairn::transport {

struct WireRequest {
  std::string operation;  // model operation name, e.g. "ListRecords"
  std::string method;
  std::string path;   // percent-encoded as sent
  std::string query;  // percent-encoded, without '?'
  Headers headers;    // protocol headers (Content-Type, X-Amz-Target, ...); Host is added later
  std::string body;
  bool sign = true;  // false for the Cognito Identity calls the model marks noAuth
};

struct WireResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

}  // namespace cairn::transport
