// AWS Signature Version 4 for the Cognito services.
//
// The canonical URI is built from the path exactly as it goes on the wire: the Cognito services are
// not S3, so the already percent-encoded path is normalised and encoded once more, which turns the
// ':' of an identity id into %253A (docs/wire-protocol.md section 7). The public AWS test suite
// uses raw paths and the same single rule reproduces it.
//
// Thread safety: free functions over values; safe to call concurrently.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cairn/credentials.h"
#include "cairn/status.h"

namespace cairn::transport {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct SigV4Request {
  std::string method;
  std::string path;   // as sent on the wire
  std::string query;  // raw query string without '?'
  Headers headers;    // must include Host
  std::string_view body;
};

struct SigV4Scope {
  std::string region;
  std::string service;
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;
  std::string signature;
  std::string authorization;
};

// "YYYYMMDDTHHMMSSZ" in UTC.
std::string format_amz_date(std::chrono::system_clock::time_point time);

// An HTTP Date header in IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the form RFC 9110 has every
// server send; nullopt for anything else. The clock-skew correction reads it. Independent of the
// locale.
std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text);

std::string canonical_uri(std::string_view wire_path);
std::string canonical_query(std::string_view raw_query);

// Signs over every header present except those no AWS SDK signs (user-agent, expect, hop-by-hop);
// amz_date must match the X-Amz-Date header already in the request.
SigV4Signature compute_sigv4(const SigV4Request& request, const AwsCredentials& credentials,
                             const SigV4Scope& scope, std::string_view amz_date);

// Sets X-Amz-Date (and X-Amz-Security-Token for temporary credentials), then adds Authorization.
// Fails with kNoCredentials on empty keys.
Status sign_request(SigV4Request& request, const AwsCredentials& credentials,
                    const SigV4Scope& scope, std::chrono::system_clock::time_point time);

// Case-insensitive header lookup; nullptr when absent.
const std::string* find_header(const Headers& headers, std::string_view name);
void set_header(Headers& headers, std::string_view name, std::string value);
bool iequals(std::string_view a, std::string_view b);

}  // namespace cairn::transport
