// SigV4: canonical request, string to sign, signature (docs/wire-protocol.md section 7).
#include "transport/sigv4.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <vector>

#include "transport/crypto.h"
#include "transport/uri.h"

namespace cairn::transport {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// Headers no AWS SDK signs: hop-by-hop ones a proxy may rewrite, and ones added after signing.
bool is_unsignable(std::string_view lower_name) {
  static constexpr std::string_view kSkip[] = {"authorization",
                                               "connection",
                                               "expect",
                                               "keep-alive",
                                               "proxy-authenticate",
                                               "proxy-authorization",
                                               "te",
                                               "trailer",
                                               "transfer-encoding",
                                               "upgrade",
                                               "user-agent",
                                               "x-amzn-trace-id"};
  for (auto s : kSkip) {
    if (s == lower_name) return true;
  }
  return false;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and folds every run of whitespace (including folded header lines) into one space.
std::string canonical_header_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// The derived key changes once a day per secret, region and service: each thread keeps the last
// one, which saves four of the five HMACs of every signature.
const std::string& signing_key(const std::string& secret, const std::string& date,
                               const SigV4Scope& scope) {
  struct Cached {
    std::string secret, date, region, service, key;
  };
  thread_local Cached cache;
  if (cache.secret != secret || cache.date != date || cache.region != scope.region ||
      cache.service != scope.service) {
    std::string k = hmac_sha256("AWS4" + secret, date);
    k = hmac_sha256(k, scope.region);
    k = hmac_sha256(k, scope.service);
    cache = {secret, date, scope.region, scope.service, hmac_sha256(k, "aws4_request")};
  }
  return cache.key;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

const std::string* find_header(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return &v;
  }
  return nullptr;
}

void set_header(Headers& headers, std::string_view name, std::string value) {
  for (auto& [k, v] : headers) {
    if (iequals(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::string(name), std::move(value));
}

std::string format_amz_date(std::chrono::system_clock::time_point time) {
  std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view text) {
  // "Sun, 06 Nov 1994 08:49:37 GMT": 29 characters, every field at a fixed place.
  if (text.size() != 29 || text.substr(3, 2) != ", " || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  auto digits = [&](size_t at, size_t n, int* out) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return true;
  };
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  size_t month = kMonths.find(text.substr(8, 3));
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (month == std::string_view::npos || month % 3 != 0 || !digits(5, 2, &day) ||
      !digits(12, 4, &year) || !digits(17, 2, &hour) || !digits(20, 2, &minute) ||
      !digits(23, 2, &second) || text[7] != ' ' || text[11] != ' ' || text[16] != ' ' ||
      text[19] != ':' || text[22] != ':' || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = static_cast<int>(month / 3);
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string canonical_uri(std::string_view wire_path) {
  if (wire_path.empty()) return "/";
  // Remove empty, "." and ".." segments (botocore normalize_url_path; JS uriEscapePath).
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= wire_path.size()) {
    size_t end = wire_path.find('/', start);
    if (end == std::string_view::npos) end = wire_path.size();
    std::string_view seg = wire_path.substr(start, end - start);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    start = end + 1;
  }
  std::string out = wire_path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i) out.push_back('/');
    out += uri_encode(segments[i]);  // a second encoding of an already-encoded path: %3A -> %253A
  }
  if (wire_path.back() == '/' && !segments.empty()) out.push_back('/');
  return out;
}

std::string canonical_query(std::string_view raw_query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start < raw_query.size()) {
    size_t end = raw_query.find('&', start);
    if (end == std::string_view::npos) end = raw_query.size();
    std::string_view pair = raw_query.substr(start, end - start);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view key = pair.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
      pairs.emplace_back(uri_encode(uri_decode(key)), uri_encode(uri_decode(value)));
    }
    start = end + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out.push_back('&');
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

SigV4Signature compute_sigv4(const SigV4Request& request, const AwsCredentials& credentials,
                             const SigV4Scope& scope, std::string_view amz_date) {
  // Header values by lower-cased name, sorted by name and keeping their order within a name
  // (duplicates join with ',').
  std::vector<std::pair<std::string, std::string>> canonical;
  canonical.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) {
    std::string lower = to_lower(name);
    if (is_unsignable(lower)) continue;
    canonical.emplace_back(std::move(lower), canonical_header_value(value));
  }
  std::stable_sort(canonical.begin(), canonical.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  SigV4Signature sig;
  std::string headers_block;
  for (size_t i = 0; i < canonical.size(); ++i) {
    const auto& [name, value] = canonical[i];
    if (i > 0 && canonical[i - 1].first == name) {
      headers_block.pop_back();  // the previous value's newline: this one joins it
      headers_block.append(",").append(value).append("\n");
      continue;
    }
    headers_block.append(name).append(":").append(value).append("\n");
    if (!sig.signed_headers.empty()) sig.signed_headers.push_back(';');
    sig.signed_headers += name;
  }

  const std::string* content_sha = find_header(request.headers, "x-amz-content-sha256");
  std::string payload_hash = content_sha ? *content_sha : sha256_hex(request.body);

  std::string uri = canonical_uri(request.path);
  std::string query = canonical_query(request.query);
  std::string& cr = sig.canonical_request;
  cr.reserve(request.method.size() + uri.size() + query.size() + headers_block.size() +
             sig.signed_headers.size() + payload_hash.size() + 5);
  cr.append(request.method).append("\n").append(uri).append("\n").append(query).append("\n");
  cr.append(headers_block).append("\n").append(sig.signed_headers).append("\n");
  cr.append(payload_hash);

  std::string date(amz_date.substr(0, 8));
  std::string credential_scope;
  credential_scope.reserve(date.size() + scope.region.size() + scope.service.size() + 15);
  credential_scope.append(date).append("/").append(scope.region).append("/");
  credential_scope.append(scope.service).append("/aws4_request");
  std::string& sts = sig.string_to_sign;
  sts.reserve(kAlgorithm.size() + amz_date.size() + credential_scope.size() + 67);
  sts.append(kAlgorithm).append("\n").append(amz_date).append("\n");
  sts.append(credential_scope).append("\n").append(sha256_hex(cr));

  sig.signature = hex_encode(
      hmac_sha256(signing_key(credentials.secret_access_key, date, scope), sig.string_to_sign));

  sig.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                      credential_scope + ", SignedHeaders=" + sig.signed_headers +
                      ", Signature=" + sig.signature;
  return sig;
}

Status sign_request(SigV4Request& request, const AwsCredentials& credentials,
                    const SigV4Scope& scope, std::chrono::system_clock::time_point time) {
  if (credentials.empty()) {
    return Status(ErrorCode::kNoCredentials, "cannot sign: access key id or secret key is empty");
  }
  if (!find_header(request.headers, "host")) {
    return Status(ErrorCode::kSigning, "cannot sign: the request has no Host header");
  }
  // A retry re-signs the same request: drop the previous signature first.
  request.headers.erase(
      std::remove_if(request.headers.begin(), request.headers.end(),
                     [](const auto& h) { return iequals(h.first, "authorization"); }),
      request.headers.end());
  std::string amz_date = format_amz_date(time);
  set_header(request.headers, "X-Amz-Date", amz_date);
  if (!credentials.session_token.empty()) {
    set_header(request.headers, "X-Amz-Security-Token", credentials.session_token);
  }
  SigV4Signature sig = compute_sigv4(request, credentials, scope, amz_date);
  request.headers.emplace_back("Authorization", std::move(sig.authorization));
  return Status::OK();
}

}  // namespace cairn::transport
