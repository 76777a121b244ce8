#include "server/compression.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>

#include "transport/sigv4.h"

namespace cairn::server {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The q of one list element's parameters ("q=0.5"); 1 when absent, 0 when unreadable.
double quality(std::string_view params) {
  while (!params.empty()) {
    size_t semi = params.find(';');
    std::string_view p = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
    if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      std::string value(trim(p.substr(2)));
      char* end = nullptr;
      double q = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || q < 0 || q > 1) return 0;
      return q;
    }
  }
  return 1;
}

}  // namespace

bool accepts_gzip(std::string_view accept_encoding) {
  double gzip_q = -1, any_q = -1;  // -1: not listed
  while (!accept_encoding.empty()) {
    size_t comma = accept_encoding.find(',');
    std::string_view element = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view() : accept_encoding.substr(comma + 1);
    size_t semi = element.find(';');
    std::string_view coding = trim(element.substr(0, semi));
    double q = semi == std::string_view::npos ? 1 : quality(element.substr(semi + 1));
    if (transport::iequals(coding, "gzip") || transport::iequals(coding, "x-gzip")) {
      gzip_q = q;
    } else if (coding == "*") {
      any_q = q;
    }
  }
  if (gzip_q >= 0) return gzip_q > 0;
  return any_q > 0;
}

std::string gzip(std::string_view data, int level) {
  // The window and the match-finder's tables sized to the body: zlib's largest (a 32 KB window
  // and memLevel 8) take about 260 KB to set up and clear, nearly what compressing a reply of a
  // few kilobytes costs. A window past the body's size finds nothing more. Any window makes a
  // valid gzip member; +16 writes gzip's header and trailer instead of zlib's.
  int window_bits = 9;
  while (window_bits < 15 && (size_t{1} << window_bits) < data.size()) ++window_bits;
  int mem_level = std::clamp(window_bits - 6, 1, 8);
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, window_bits + 16, mem_level, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return {};
  }
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);  // deflateBound leaves room for all of it in one call
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return {};
  return out;
}

void compress_response(bool request_accepts_gzip, const CompressionOptions& options,
                       ServerResponse& response) {
  if (!request_accepts_gzip || options.level <= 0 || response.body.size() < options.min_bytes ||
      response.has_header("Content-Encoding")) {
    return;
  }
  std::string packed = gzip(response.body, options.level);
  if (packed.empty() || packed.size() >= response.body.size()) return;
  response.body = std::move(packed);
  response.set_header("Content-Encoding", "gzip");
  response.set_header("Vary", "Accept-Encoding");
}

}  // namespace cairn::server
