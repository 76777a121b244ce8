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
// Calls fn(key, value, has_equals) for each '&'-separated pair of a raw query string, still
// encoded ("" and false for an empty pair, as in "a=1&&b=2"), until fn returns false. Returns
// whether every pair was seen.
template <typename Fn>
bool for_each_query_pair(std::string_view query, Fn fn) {
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    size_t eq = pair.find('=');
    bool has_equals = eq != std::string_view::npos;
    if (!fn(pair.substr(0, eq), has_equals ? pair.substr(eq + 1) : std::string_view(), has_equals))
      return false;
    start = end + 1;
  }
  return true;
}

// Decodes %XX escapes; '+' stays '+'. Malformed escapes are kept verbatim.
std::string uri_decode(std::string_view in);

}  // namespace cairn::transport
