// SigV4: canonical request, string to sign, signature (docs/wire-protocol.md section 7).
#include "transport/sigv4.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <vector>

#include "transport/crypto.h"
#include "transport/uri.h"

namespace cairn::transport {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// A vector that holds up to N items in place: a request has a handful of headers.
template <typename T, size_t N>
class SmallVector {
 public:
  explicit SmallVector(size_t capacity) {
    if (capacity > N) heap_.reserve(capacity);
  }
  void push_back(T v) {
    if (heap_.capacity() > 0) {
      heap_.push_back(v);
    } else {
      local_[size_] = v;
    }
    ++size_;
  }
  size_t size() const { return size_; }
  T* begin() { return heap_.capacity() > 0 ? heap_.data() : local_.data(); }
  T* end() { return begin() + size_; }
  T& operator[](size_t i) { return begin()[i]; }

 private:
  std::array<T, N> local_{};
  std::vector<T> heap_;
  size_t size_ = 0;
};

// ASCII only, as HTTP header names are; std::tolower would consult the locale for each character.
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

// Whether a < b once both are lower-cased.
bool iless(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    char x = lower(a[i]), y = lower(b[i]);
    if (x != y) return x < y;
  }
  return a.size() < b.size();
}

// Headers no AWS SDK signs: hop-by-hop ones a proxy may rewrite, and ones added after signing.
bool is_unsignable(std::string_view name) {
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
    if (iequals(s, name)) return true;
  }
  return false;
}

void append_lower(std::string& out, std::string_view s) {
  size_t at = out.size();
  out.append(s);
  for (size_t i = at; i < out.size(); ++i) out[i] = lower(out[i]);
}

// Appends a value trimmed, with every run of whitespace (folded header lines too) as one space.
void append_header_value(std::string& out, std::string_view v) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  bool plain = v.empty() || (!space(v.front()) && !space(v.back()));
  for (size_t i = 0; plain && i + 1 < v.size(); ++i) {
    plain = !(space(v[i]) && (v[i] != ' ' || space(v[i + 1])));
  }
  if (plain) {  // the usual case: nothing to trim or fold
    out.append(v);
    return;
  }
  bool pending_space = false, any = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = any;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    any = true;
    out.push_back(c);
  }
}

// The derived key changes once a day per secret, region and service: each thread keeps the last
// one, which saves four of the five HMACs of every signature.
std::string_view signing_key(const std::string& secret, std::string_view date,
                             const SigV4Scope& scope) {
  struct Cached {
    std::string secret, date, region, service;
    Digest key{};
  };
  thread_local Cached cache;
  if (cache.secret != secret || cache.date != date || cache.region != scope.region ||
      cache.service != scope.service) {
    Digest k = hmac_sha256_digest("AWS4" + secret, date);
    k = hmac_sha256_digest(view(k), scope.region);
    k = hmac_sha256_digest(view(k), scope.service);
    cache = {secret, std::string(date), scope.region, scope.service,
             hmac_sha256_digest(view(k), "aws4_request")};
  }
  return view(cache.key);
}

// Whether a path starts with '/' and has no empty, "." or ".." segment (a trailing slash aside), so
// that normalising it changes nothing.
bool is_normal_path(std::string_view path) {
  if (path.front() != '/') return false;
  size_t start = 1;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

// Whether a query component is in canonical form: unreserved characters as they are, every other
// byte as an upper-case %XX escape, and no escape of an unreserved character.
bool is_canonical_component(std::string_view s) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  auto value = [](char c) { return c <= '9' ? c - '0' : c - 'A' + 10; };
  for (size_t i = 0; i < s.size(); ++i) {
    if (is_unreserved(s[i])) continue;
    if (s[i] != '%' || i + 2 >= s.size() || !hex(s[i + 1]) || !hex(s[i + 2])) return false;
    if (is_unreserved(static_cast<char>(value(s[i + 1]) * 16 + value(s[i + 2])))) return false;
    i += 2;
  }
  return true;
}

// Whether a raw query string is its own canonical form: every pair has an '=', both sides are
// canonical, and the pairs are in order.
bool is_canonical_query(std::string_view q) {
  std::string_view prev_key, prev_value;
  bool first = true;
  bool in_order =
      for_each_query_pair(q, [&](std::string_view key, std::string_view value, bool eq) {
        if (!eq || !is_canonical_component(key) || !is_canonical_component(value)) return false;
        if (!first && (key < prev_key || (key == prev_key && value < prev_value))) return false;
        prev_key = key;
        prev_value = value;
        first = false;
        return true;
      });
  return in_order && (q.empty() || q.back() != '&');
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
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
  // By hand, from the day number (Howard Hinnant's civil_from_days): gmtime_r takes glibc's
  // time-zone lock, and strftime parses a format, for every request signed.
  int64_t secs = std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t in_day = secs - days * 86400;
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t day = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buf[16];
  auto put = [&buf](int at, int width, int64_t value) {
    for (int i = at + width - 1; i >= at; --i, value /= 10) {
      buf[i] = static_cast<char>('0' + value % 10);
    }
  };
  put(0, 4, year);
  put(4, 2, month);
  put(6, 2, day);
  buf[8] = 'T';
  put(9, 2, in_day / 3600);
  put(11, 2, in_day / 60 % 60);
  put(13, 2, in_day % 60);
  buf[15] = 'Z';
  return std::string(buf, 16);
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

namespace {

void append_canonical_uri(std::string& out, std::string_view wire_path) {
  if (wire_path.empty()) {
    out.push_back('/');
    return;
  }
  if (is_normal_path(wire_path)) {
    // Nothing to remove: encode the whole path once more, keeping its slashes.
    uri_encode_to(out, wire_path, /*keep_slash=*/true);
    return;
  }
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
  if (wire_path.front() == '/') out.push_back('/');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i) out.push_back('/');
    uri_encode_to(out, segments[i]);  // a second encoding of an encoded path: %3A -> %253A
  }
  if (wire_path.back() == '/' && !segments.empty()) out.push_back('/');
}

void append_canonical_query(std::string& out, std::string_view raw_query) {
  // What cairn's own encoder sends is canonical already; anything else is taken apart.
  if (is_canonical_query(raw_query)) {
    out.append(raw_query);
    return;
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  for_each_query_pair(raw_query, [&](std::string_view key, std::string_view value, bool eq) {
    if (!key.empty() || eq) {
      pairs.emplace_back(uri_encode(uri_decode(key)), uri_encode(uri_decode(value)));
    }
    return true;
  });
  std::sort(pairs.begin(), pairs.end());
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i) out.push_back('&');
    out.append(pairs[i].first).append("=").append(pairs[i].second);
  }
}

// SHA-256 of the empty payload: every bodiless request's.
constexpr std::string_view kEmptyPayloadHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

}  // namespace

std::string canonical_uri(std::string_view wire_path) {
  std::string out;
  append_canonical_uri(out, wire_path);
  return out;
}

std::string canonical_query(std::string_view raw_query) {
  std::string out;
  append_canonical_query(out, raw_query);
  return out;
}

SigV4Signature compute_sigv4(const SigV4Request& request, const AwsCredentials& credentials,
                             const SigV4Scope& scope, std::string_view amz_date) {
  // The headers to sign, by lower-cased name; a stable insertion sort (a request has a handful,
  // and std::stable_sort would allocate) keeps the values of one name in their order.
  using Header = std::pair<std::string, std::string>;
  SmallVector<const Header*, 16> headers(request.headers.size());
  for (const auto& h : request.headers) {
    if (!is_unsignable(h.first)) headers.push_back(&h);
  }
  for (size_t i = 1; i < headers.size(); ++i) {
    for (size_t j = i; j > 0 && iless(headers[j]->first, headers[j - 1]->first); --j) {
      std::swap(headers[j], headers[j - 1]);
    }
  }

  SigV4Signature sig;
  std::string& cr = sig.canonical_request;
  size_t size = request.method.size() + request.path.size() * 2 + request.query.size() * 2 + 100;
  for (const auto* h : headers) size += h->first.size() * 2 + h->second.size() + 2;
  cr.reserve(size);
  cr.append(request.method).append("\n");
  append_canonical_uri(cr, request.path);
  cr.append("\n");
  append_canonical_query(cr, request.query);
  cr.append("\n");
  for (size_t i = 0; i < headers.size(); ++i) {
    const auto& [name, value] = *headers[i];
    if (i > 0 && iequals(headers[i - 1]->first, name)) {
      cr.back() = ',';  // the previous value's newline: this value joins it
    } else {
      append_lower(cr, name);
      cr.push_back(':');
      if (!sig.signed_headers.empty()) sig.signed_headers.push_back(';');
      append_lower(sig.signed_headers, name);
    }
    append_header_value(cr, value);
    cr.push_back('\n');
  }
  cr.append("\n").append(sig.signed_headers).append("\n");
  if (const std::string* content_sha = find_header(request.headers, "x-amz-content-sha256")) {
    cr.append(*content_sha);
  } else if (request.body.empty()) {
    cr.append(kEmptyPayloadHash);
  } else {
    hex_encode_to(cr, view(sha256_digest(request.body)));
  }

  std::string_view date = amz_date.substr(0, 8);
  std::string& sts = sig.string_to_sign;
  sts.reserve(kAlgorithm.size() + amz_date.size() + date.size() + scope.region.size() +
              scope.service.size() + 90);
  sts.append(kAlgorithm).append("\n").append(amz_date).append("\n");
  size_t scope_at = sts.size();
  sts.append(date).append("/").append(scope.region).append("/");
  sts.append(scope.service).append("/aws4_request");
  std::string_view credential_scope(sts.data() + scope_at, sts.size() - scope_at);
  sts.append("\n");
  hex_encode_to(sts, view(sha256_digest(cr)));
  credential_scope = std::string_view(sts.data() + scope_at, credential_scope.size());

  hex_encode_to(sig.signature, view(hmac_sha256_digest(
                                   signing_key(credentials.secret_access_key, date, scope), sts)));

  std::string& auth = sig.authorization;
  auth.reserve(kAlgorithm.size() + credentials.access_key_id.size() + credential_scope.size() +
               sig.signed_headers.size() + sig.signature.size() + 40);
  auth.append(kAlgorithm).append(" Credential=").append(credentials.access_key_id).append("/");
  auth.append(credential_scope).append(", SignedHeaders=").append(sig.signed_headers);
  auth.append(", Signature=").append(sig.signature);
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
  request.headers.reserve(request.headers.size() + 3);  // the date, the token, the signature
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
