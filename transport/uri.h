// Percent-encoding as AWS uses it: RFC 3986, keeping only A-Z a-z 0-9 - _ . ~ (and '/' in paths
// when asked). Used for path labels, query strings and the SigV4 canonical forms.
#pragma once

#include <string>
#include <string_view>

namespace cairn::transport {

std::string uri_encode(std::string_view in, bool keep_slash = false);
// Decodes %XX escapes; '+' stays '+'. Malformed escapes are kept verbatim.
std::string uri_decode(std::string_view in);

}  // namespace cairn::transport
