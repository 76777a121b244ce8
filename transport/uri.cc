#include "transport/uri.h"

namespace cairn::transport {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string uri_encode(std::string_view in, bool keep_slash) {
  std::string out;
  out.reserve(in.size() * 3 / 2);
  uri_encode_to(out, in, keep_slash);
  return out;
}

void uri_encode_to(std::string& out, std::string_view in, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  size_t run = 0;  // start of the characters that pass as they are, appended together
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (is_unreserved(c) || (keep_slash && c == '/')) continue;
    out.append(in.data() + run, i - run);
    auto b = static_cast<unsigned char>(c);
    const char escape[3] = {'%', kHex[b >> 4], kHex[b & 0xf]};
    out.append(escape, 3);
    run = i + 1;
  }
  out.append(in.data() + run, in.size() - run);
}

std::string uri_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

}  // namespace cairn::transport
