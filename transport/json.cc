#include "transport/json.h"

#include <rapidjson/error/en.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <memory>

namespace cairn::transport::json {
namespace {

Status parse_error(const std::string& context, const std::string& what) {
  return Status(ErrorCode::kParse, context + ": " + what);
}

// Whole-string numeric parse ("1700000000", "1.5E9"); nullopt when it is not a number.
std::optional<double> parse_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string tmp(s);
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(tmp.c_str(), &end);
  if (errno != 0 || end != tmp.c_str() + tmp.size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

Status finish_parse(const rapidjson::Document& doc) {
  if (doc.HasParseError()) {
    return Status(ErrorCode::kParse, std::string("malformed JSON at offset ") +
                                         std::to_string(doc.GetErrorOffset()) + ": " +
                                         rapidjson::GetParseError_En(doc.GetParseError()));
  }
  if (!doc.IsObject()) return Status(ErrorCode::kParse, "expected a JSON object");
  return Status::OK();
}
bool blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Valid JSON never holds a NUL byte (not even inside a string), and RapidJSON would take one for
// the end of the text and accept what came before it.
Status refuse_nul(std::string_view text) {
  if (const void* nul = std::memchr(text.data(), '\0', text.size())) {
    return Status(ErrorCode::kParse,
                  "malformed JSON: a NUL byte at offset " +
                      std::to_string(static_cast<const char*>(nul) - text.data()));
  }
  return Status::OK();
}

}  // namespace

namespace detail {

struct ArenaLease::Arena {
  std::unique_ptr<char[]> buffer;
  size_t size = 0;
  size_t wanted = 0;
  bool leased = false;
};

ArenaLease::ArenaLease() {
  thread_local Arena arena;
  if (!arena.leased) {
    if (arena.wanted > arena.size) {
      arena.buffer.reset(new char[arena.wanted]);
      arena.size = arena.wanted;
    }
    if (arena.size > 0) {
      arena.leased = true;
      arena_ = &arena;
      buffer_ = arena.buffer.get();
      size_ = arena.size;
      return;
    }
    arena_ = &arena;  // nothing kept yet: start locally, and say how much was needed
  }
  buffer_ = local_;
  size_ = sizeof local_;
}

ArenaLease::~ArenaLease() {
  if (arena_ && buffer_ != local_) arena_->leased = false;
}

void ArenaLease::needed(size_t bytes) {
  if (!arena_) return;
  constexpr size_t kStep = 64u << 10;
  size_t rounded = (bytes + kStep - 1) / kStep * kStep;
  arena_->wanted = std::min(rounded, kKeptArena);
}

}  // namespace detail

constexpr size_t kSimdSlack = kParseSlack;

Status parse(std::string_view text, rapidjson::Document& doc) {
  if (blank(text)) {
    doc.SetObject();
    return Status::OK();
  }
  if (Status nul = refuse_nul(text); !nul.ok()) return nul;
  // A view need not end in NUL: the copy that does (and has the slack) lets RapidJSON scan strings
  // with SIMD, which saves far more than the copy costs. Parsed strings are copied out of it, so
  // the buffer is reused.
  thread_local std::string padded;
  padded.reserve(text.size() + kSimdSlack);
  padded.assign(text);
  doc.Parse(padded.c_str());
  if (padded.capacity() > (1u << 20)) std::string().swap(padded);
  return finish_parse(doc);
}

Status parse(const std::string& text, rapidjson::Document& doc) {
#if defined(__GLIBCXX__)
  // libstdc++ allocates capacity() + 1 bytes; a short string lives inside the object itself.
  bool slack = text.capacity() >= text.size() + kSimdSlack && text.capacity() > 15;
#else
  bool slack = false;  // no knowledge of the allocation: always the padded copy
#endif
  // A search for an embedded NUL, which the C string below would cut the text at.
  // NOLINTNEXTLINE(bugprone-not-null-terminated-result): memchr reads, it copies nothing
  if (!slack || std::memchr(text.data(), '\0', text.size()) != nullptr)
    return parse(std::string_view(text), doc);  // a copy with room, or the NUL's error
  if (blank(text)) {
    doc.SetObject();
    return Status::OK();
  }
  doc.Parse(text.c_str());
  return finish_parse(doc);
}

Status parse_in_place(std::string& text, rapidjson::Document& doc) {
  if (blank(text)) {
    doc.SetObject();
    return Status::OK();
  }
  if (Status nul = refuse_nul(text); !nul.ok()) return nul;
  if (text.capacity() < text.size() + kSimdSlack) text.reserve(text.size() + kSimdSlack);
  doc.ParseInsitu(text.data());
  return finish_parse(doc);
}

namespace {
// The widest span a Timestamp holds, in seconds either side of the epoch (about +-292 years with
// libstdc++'s nanosecond clock). Past it a value cannot be a time the service sent (epoch
// milliseconds, say, are ~1.7e12), and converting it would overflow.
const double kTimestampSeconds =
    static_cast<double>(
        std::chrono::duration_cast<std::chrono::seconds>(Timestamp::duration::max()).count()) -
    1.0;
}  // namespace

std::optional<Timestamp> timestamp_from_seconds(double seconds) {
  if (!std::isfinite(seconds) || std::fabs(seconds) > kTimestampSeconds) return std::nullopt;
  auto ms = static_cast<int64_t>(std::llround(seconds * 1000.0));
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(std::chrono::milliseconds(ms)));
}

std::optional<Timestamp> parse_iso8601(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]
  std::string s(text);
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  size_t pos = static_cast<size_t>(consumed);
  int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    int64_t scale = 100;
    for (++pos; pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])); ++pos) {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
    }
  }
  int64_t offset_seconds = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int hh = 0, mm = 0;
    if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    offset_seconds = (s[pos] == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
    pos += 6;
  } else {
    return std::nullopt;  // a time with no zone is ambiguous
  }
  if (pos != s.size()) return std::nullopt;
  int64_t epoch = static_cast<int64_t>(timegm(&tm)) - offset_seconds;
  if (std::fabs(static_cast<double>(epoch)) > kTimestampSeconds) return std::nullopt;
  return Timestamp(std::chrono::duration_cast<Timestamp::duration>(
      std::chrono::milliseconds(epoch * 1000 + millis)));
}

ObjectReader::ObjectReader(const rapidjson::Value& value, std::string context)
    : context_(std::move(context)) {
  if (value.IsObject()) {
    value_ = &value;
  } else if (!value.IsNull()) {
    fail("expected an object");
  }
}

void ObjectReader::fail(const std::string& what) {
  if (valid_) {
    valid_ = false;
    status_ = parse_error(context_, what);
  }
}

void ObjectReader::merge(const ObjectReader& nested) {
  if (valid_ && !nested.valid_) {
    valid_ = false;
    status_ = nested.status_;
  }
}

const rapidjson::Value* ObjectReader::member(const char* key) {
  if (!value_) return nullptr;
  const rapidjson::Value* found = nullptr;
  if (next_ < value_->MemberCount()) {
    const auto& m = value_->MemberBegin()[next_];
    size_t length = std::strlen(key);
    if (m.name.GetStringLength() == length && std::memcmp(m.name.GetString(), key, length) == 0) {
      found = &m.value;
      ++next_;
    }
  }
  if (!found) {
    auto it = value_->FindMember(key);
    if (it == value_->MemberEnd()) return nullptr;
    found = &it->value;
  }
  return found->IsNull() ? nullptr : found;
}

std::optional<std::string> ObjectReader::str(const char* key) {
  const auto* v = member(key);
  if (!v) return std::nullopt;
  if (!v->IsString()) {
    fail(std::string(key) + " is not a string");
    return std::nullopt;
  }
  return std::string(v->GetString(), v->GetStringLength());
}

std::optional<int64_t> ObjectReader::i64(const char* key) {
  const auto* v = member(key);
  if (!v) return std::nullopt;
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsDouble()) {
    double d = v->GetDouble();
    if (d == std::floor(d) && std::fabs(d) < 9.2e18) return static_cast<int64_t>(d);
  }
  if (v->IsString()) {  // botocore coerces "7" to 7; so do we
    std::string s = v->GetString();
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(s.c_str(), &end, 10);
    if (errno == 0 && !s.empty() && end == s.c_str() + s.size()) return static_cast<int64_t>(n);
  }
  fail(std::string(key) + " is not a 64-bit integer");
  return std::nullopt;
}

std::optional<int32_t> ObjectReader::i32(const char* key) {
  auto v = i64(key);
  if (!v) return std::nullopt;
  if (*v < std::numeric_limits<int32_t>::min() || *v > std::numeric_limits<int32_t>::max()) {
    fail(std::string(key) + " does not fit in 32 bits");
    return std::nullopt;
  }
  return static_cast<int32_t>(*v);
}

std::optional<bool> ObjectReader::boolean(const char* key) {
  const auto* v = member(key);
  if (!v) return std::nullopt;
  if (!v->IsBool()) {
    fail(std::string(key) + " is not a boolean");
    return std::nullopt;
  }
  return v->GetBool();
}

std::optional<Timestamp> ObjectReader::time(const char* key) {
  const auto* v = member(key);
  if (!v) return std::nullopt;
  std::optional<Timestamp> t;
  if (v->IsNumber()) {
    t = timestamp_from_seconds(v->GetDouble());
  } else if (v->IsString()) {
    std::string_view s(v->GetString(), v->GetStringLength());
    if (auto n = parse_number(s)) {
      t = timestamp_from_seconds(*n);
    } else {
      t = parse_iso8601(s);
    }
  }
  if (!t) fail(std::string(key) + " is not a timestamp in epoch seconds");
  return t;
}

const rapidjson::Value* ObjectReader::object(const char* key) {
  const auto* v = member(key);
  if (v && !v->IsObject()) {
    fail(std::string(key) + " is not an object");
    return nullptr;
  }
  return v;
}

const rapidjson::Value* ObjectReader::array(const char* key) {
  const auto* v = member(key);
  if (v && !v->IsArray()) {
    fail(std::string(key) + " is not an array");
    return nullptr;
  }
  return v;
}

std::vector<std::string> ObjectReader::string_list(const rapidjson::Value& array, const char* key) {
  std::vector<std::string> out;
  for (const auto& item : array.GetArray()) {
    if (item.IsNull()) continue;
    if (!item.IsString()) {
      fail(std::string(key) + " has a member that is not a string");
      continue;
    }
    out.emplace_back(item.GetString(), item.GetStringLength());
  }
  return out;
}

std::map<std::string, std::string> ObjectReader::string_map(const rapidjson::Value& object,
                                                            const char* key) {
  std::map<std::string, std::string> out;
  for (const auto& m : object.GetObject()) {
    if (m.value.IsNull()) continue;
    if (!m.value.IsString()) {
      fail(std::string(key) + "." + m.name.GetString() + " is not a string");
      continue;
    }
    out.emplace(std::string(m.name.GetString(), m.name.GetStringLength()),
                std::string(m.value.GetString(), m.value.GetStringLength()));
  }
  return out;
}

void Writer::time(const char* k, const std::optional<Timestamp>& v) {
  if (!v) return;
  // Whole epoch seconds, truncated, as botocore sends them (docs/wire-protocol.md section 0.2).
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(v->time_since_epoch()).count();
  i64(k, static_cast<int64_t>(secs));
}

void Writer::string_list(const char* k, const std::vector<std::string>& v) {
  if (v.empty()) return;
  begin_array(k);
  for (const auto& s : v) value(s);
  end_array();
}

void Writer::string_map(const char* k, const std::map<std::string, std::string>& v) {
  if (v.empty()) return;
  key(k);
  begin_object();
  for (const auto& [mk, mv] : v) str(mk.c_str(), mv);
  end_object();
}

}  // namespace cairn::transport::json
