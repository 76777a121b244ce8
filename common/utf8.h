// Unicode character counts of UTF-8 text, as the Cognito models count lengths.
#pragma once

#include <cstddef>
#include <string_view>

namespace cairn {

// Code points in UTF-8 text; a byte that is not a continuation byte starts one (so an invalid
// byte counts as one character).
inline size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace cairn
