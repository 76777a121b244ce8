// Response compression: gzip (zlib) for a client that asks for it in Accept-Encoding.
//
// boto3, the AWS CLI and the AWS SDK for JavaScript all send "Accept-Encoding: identity", so
// they get plain bodies as before; cairn's engine (libcurl) sends "gzip" and gets a full pull's
// JSON in a fraction of the bytes. Only bodies of at least `min_bytes` are compressed: below a
// kilobyte the header and the CPU cost more than the bytes saved.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "server/server_message.h"

namespace cairn::server {

struct CompressionOptions {
  int level = 1;  // zlib's 1 (fastest) to 9 (smallest); 0 turns compression off
  size_t min_bytes = 1024;
};

// Whether an Accept-Encoding value takes gzip: "gzip" (or "x-gzip") listed with a q above 0, or
// "*" with a q above 0 when gzip is not refused by name. Case-insensitive, as RFC 9110 says.
bool accepts_gzip(std::string_view accept_encoding);

// The gzip member (RFC 1952) holding `data`, at zlib level `level`.
std::string gzip(std::string_view data, int level);

// Compresses `response` in place when the request took gzip, the body is big enough and not
// encoded already: sets Content-Encoding, and Vary so that caches keep the two apart. A
// response that would not shrink is left as it is.
void compress_response(bool request_accepts_gzip, const CompressionOptions& options,
                       ServerResponse& response);

}  // namespace cairn::server
