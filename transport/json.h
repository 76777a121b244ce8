// JSON on RapidJSON, with the Cognito wire rules:
//   - timestamps are epoch seconds as JSON numbers; integers, fractions and exponent form
//     (1.515115602E9, as real AWS sends) all parse, and so do numeric strings and ISO-8601;
//   - null counts as absent;
//   - longs stay 64-bit.
// Requests carry whole seconds, as botocore sends them.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cairn/cognito/sync_types.h"
#include "cairn/status.h"

namespace cairn::transport::json {

namespace detail {

// The memory a thread's documents start in. A Document takes it for its lifetime (a second
// Document alive on the same thread starts in a small buffer of its own instead), and on its way
// out notes how much it needed, so that the next one starts in a buffer that size, up to
// kKeptArena. A page of a thousand records then parses without a malloc per chunk, and without
// glibc handing the pages back to the kernel after each parse and faulting them in again for the
// next, which cost more than the parse itself. Each thread that parses keeps at most kKeptArena.
class ArenaLease {
 public:
  static constexpr size_t kKeptArena = 2u << 20;

  ArenaLease();
  ~ArenaLease();
  ArenaLease(const ArenaLease&) = delete;
  ArenaLease& operator=(const ArenaLease&) = delete;

 protected:
  void* arena() { return buffer_; }
  size_t arena_size() const { return size_; }
  // How much the document's allocator held at its end: the next lease on this thread starts with
  // that much (rounded up, and capped).
  void needed(size_t bytes);

 private:
  struct Arena;
  Arena* arena_ = nullptr;  // null: this lease uses local_
  void* buffer_ = nullptr;
  size_t size_ = 0;
  alignas(16) char local_[512];
};

}  // namespace detail

// A document whose allocator starts in the thread's arena (above) and grows in 4 KiB chunks
// beyond it: RapidJSON's default first chunk is 64 KiB, which turns every small parse into a large
// malloc and free.
class Document : private detail::ArenaLease,
                 private rapidjson::MemoryPoolAllocator<>,
                 public rapidjson::Document {
 public:
  Document()
      : rapidjson::MemoryPoolAllocator<>(arena(), arena_size(), 4096),
        rapidjson::Document(static_cast<rapidjson::MemoryPoolAllocator<>*>(this)) {}
  ~Document() { needed(rapidjson::MemoryPoolAllocator<>::Capacity()); }
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;
};

// RapidJSON's SIMD scan loads whole aligned 16-byte blocks, so it may read up to 15 bytes past the
// terminating NUL (never past the block, so never across a page). Those bytes must belong to the
// buffer: a std::string is parsed in place when its capacity holds this much beyond its size, and
// from a padded copy otherwise. A receiver that knows a body's length reserves it with this slack.
inline constexpr size_t kParseSlack = 16;

// Parses text into doc. An empty body parses as {} (both SDKs accept an empty 200 body).
Status parse(std::string_view text, rapidjson::Document& doc);
// The same, faster: a NUL-terminated string lets RapidJSON scan strings with SIMD.
Status parse(const std::string& text, rapidjson::Document& doc);
inline Status parse(const char* text, rapidjson::Document& doc) {
  return parse(std::string_view(text), doc);
}
// The fastest: strings are read where they lie, and text is overwritten (it must outlive doc).
Status parse_in_place(std::string& text, rapidjson::Document& doc);

// A body a caller gives up is parsed in place; one it keeps is parsed from a copy or as it is.
inline Status parse_body(std::string&& text, rapidjson::Document& doc) {
  return parse_in_place(text, doc);
}
inline Status parse_body(const std::string& text, rapidjson::Document& doc) {
  return parse(text, doc);
}
inline Status parse_body(std::string_view text, rapidjson::Document& doc) {
  return parse(text, doc);
}

std::optional<Timestamp> timestamp_from_seconds(double seconds);
// Parses "2023-11-14T22:13:20Z" / "2023-11-14T22:13:20.123+00:00".
std::optional<Timestamp> parse_iso8601(std::string_view text);

// Reads members of one JSON object. A missing or null member is absent; a member of the wrong type
// records a parse error (the first one wins) and reads as absent.
class ObjectReader {
 public:
  ObjectReader(const rapidjson::Value& value, std::string context);

  std::optional<std::string> str(const char* key);
  std::optional<int64_t> i64(const char* key);
  std::optional<int32_t> i32(const char* key);
  std::optional<bool> boolean(const char* key);
  std::optional<Timestamp> time(const char* key);
  // nullptr when absent or null.
  const rapidjson::Value* object(const char* key);
  const rapidjson::Value* array(const char* key);
  // The strings of an array or object that array(key) or object(key) found (nulls skipped).
  std::vector<std::string> string_list(const rapidjson::Value& array, const char* key);
  std::map<std::string, std::string> string_map(const rapidjson::Value& object, const char* key);

  // Record an error found by the caller (nested readers report through their parent).
  void fail(const std::string& what);
  void merge(const ObjectReader& nested);
  const Status& status() const { return status_; }
  bool valid() const { return valid_; }

 private:
  const rapidjson::Value* member(const char* key);

  const rapidjson::Value* value_ = nullptr;
  // Shapes ask for their members in the order they declare them, which is the order cairn-server
  // and the SDKs write them: the member after the last one found this way is tried first, and a
  // miss falls back to a search. The answer is the search's (the first member of that name), as
  // the members before the cursor are names already asked for, and a reader asks for each once.
  rapidjson::SizeType next_ = 0;
  std::string context_;
  bool valid_ = true;
  Status status_;
};

// A thin layer over rapidjson::Writer that knows the wire's optional and timestamp rules.
class Writer {
 public:
  Writer() : w_(buf_) {}
  // With room for about `capacity` bytes up front: a large body is written without regrowing.
  explicit Writer(size_t capacity) : buf_(nullptr, capacity), w_(buf_) {}

  void begin_object() { w_.StartObject(); }
  void end_object() { w_.EndObject(); }
  void begin_array(const char* key) {
    w_.Key(key);
    w_.StartArray();
  }
  void end_array() { w_.EndArray(); }
  void key(const char* k) { w_.Key(k); }
  void value(std::string_view v) {
    w_.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }

  void str(const char* k, std::string_view v) {
    w_.Key(k);
    value(v);
  }
  void str(const char* k, const std::string& v) { str(k, std::string_view(v)); }
  void str(const char* k, const char* v) { str(k, std::string_view(v)); }
  void str(const char* k, const std::optional<std::string>& v) {
    if (v) str(k, *v);
  }
  void i64(const char* k, int64_t v) {
    w_.Key(k);
    w_.Int64(v);
  }
  void f64(const char* k, double v) {
    w_.Key(k);
    w_.Double(v);
  }
  void i64(const char* k, const std::optional<int64_t>& v) {
    if (v) i64(k, *v);
  }
  void i32(const char* k, const std::optional<int32_t>& v) {
    if (v) i64(k, *v);
  }
  void boolean(const char* k, bool v) {
    w_.Key(k);
    w_.Bool(v);
  }
  void boolean(const char* k, const std::optional<bool>& v) {
    if (v) boolean(k, *v);
  }
  void time(const char* k, const std::optional<Timestamp>& v);
  // Epoch seconds with millisecond fraction, as a server answers (1700000000.123).
  void time_millis(const char* k, int64_t epoch_ms) {
    w_.Key(k);
    if (epoch_ms % 1000 == 0) {
      w_.Int64(epoch_ms / 1000);
    } else {
      w_.Double(static_cast<double>(epoch_ms) / 1000.0);
    }
  }
  // For arrays of objects and raw access.
  rapidjson::Writer<rapidjson::StringBuffer>& raw() { return w_; }
  void string_list(const char* k, const std::vector<std::string>& v);
  void string_map(const char* k, const std::map<std::string, std::string>& v);

  std::string take() { return std::string(buf_.GetString(), buf_.GetSize()); }

 private:
  rapidjson::StringBuffer buf_;
  rapidjson::Writer<rapidjson::StringBuffer> w_;
};

// Parses a response body and runs fill(reader) over its top-level object; a malformed body or a
// member of the wrong type is a kParse error naming the operation.
// Body is a std::string (parsed in place when given up with std::move) or a std::string_view.
template <typename Body, typename Fill>
Status parse_response(Body&& body, const char* operation, Fill fill) {
  Document doc;
  Status s = parse_body(std::forward<Body>(body), doc);
  if (!s.ok())
    return Status(ErrorCode::kParse, std::string(operation) + " response: " + s.message());
  ObjectReader reader(doc, std::string(operation) + " response");
  fill(reader);
  return reader.status();
}

}  // namespace cairn::transport::json
