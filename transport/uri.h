// Percent-encoding as AWS uses it: RFC 3986, keeping only A-Z a-z 0-9 - _ . ~ (and '/' in paths
// when asked). Used for path labels, query strings and the SigV4 canonical forms.
#pragma once

#include <string>
#include <string_view>

namespace cairn::transport {

// A-Z a-z 0-9 - _ . ~: what is never escaped.
inline bool is_unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

std::string uri_encode(std::string_view in, bool keep_slash = false);
// The same, appended to out.
void uri_encode_to(std::string& out, std::string_view in, bool keep_slash = false);
// Decodes %XX escapes; '+' stays '+'. Malformed escapes are kept verbatim.
std::string uri_decode(std::string_view in);

}  // namespace cairn::transport
