// The codec: one declaration per shape of the service models, from which requests and responses
// are encoded, decoded and validated, for the client and the server alike.
//
// A shape is declared once, as a specialisation of Fields<T> that lists its members in model
// order: where each travels (a path label, a query parameter, a header or a JSON body member), its
// wire name and its rule (the model shape that bounds it, and whether it is required). An
// operation is declared once, as a specialisation of Operation<Request>: its name, method and
// path. Every direction below walks those declarations:
//
//   client                                    server
//   encode_request   --- HTTP request --->    decode_request, validate
//   decode_response  <-- HTTP response ---    encode_response
//
// The declarations of Cognito Sync are in sync_shapes.h. Only the protocol's irregular corners
// are written by hand, each with the reason beside it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "cairn/status.h"
#include "cairn/timestamp.h"
#include "transport/json.h"
#include "transport/uri.h"
#include "transport/validation.h"
#include "transport/wire.h"

namespace cairn::transport::codec {

// What bounds one member: the model shape whose length, pattern, enum or range applies (looked up
// in shape_constraints(); nullptr for none), the shapes of a map's keys and of a list's elements
// or a map's values, and whether the model marks the member required.
struct Rule {
  const char* shape = nullptr;
  const char* key = nullptr;
  const char* element = nullptr;
  bool required = false;

  constexpr Rule must() const { return Rule{shape, key, element, true}; }
};
inline constexpr Rule kAny{};
inline constexpr Rule kRequired{nullptr, nullptr, nullptr, true};
constexpr Rule is(const char* shape) { return Rule{shape}; }
constexpr Rule list_of(const char* list, const char* element) {
  return Rule{list, nullptr, element};
}
constexpr Rule map_of(const char* map, const char* key, const char* value) {
  return Rule{map, key, value};
}

// Specialised once per model structure, with:
//   static constexpr char kShape[] = "...";   // the model's name, for messages
//   template <typename V, typename S> static void visit(V& v, S& s);
// visit calls, for each member in model order, one of
//   v.label(name, s.member, rule)    a path label: {name} in the operation's path
//   v.query(name, s.member, rule)    a query parameter
//   v.header(name, s.member, rule)   a header
//   v.member(name, s.member, rule)   a JSON body member
// and may state a rule that spans members with v.check(ok, "Member: what is wrong").
template <typename T>
struct Fields;

enum class Protocol { kRestJson, kAwsJson };

// What identifies an operation on the wire.
struct OperationInfo {
  const char* name;    // the model's operation name
  const char* method;  // restJson: the HTTP method; awsJson: POST
  const char* path;    // restJson: the model's requestUri, labels in braces; awsJson: "/"
  Protocol protocol = Protocol::kRestJson;
  const char* target_prefix = nullptr;  // awsJson: X-Amz-Target is this plus the name
  bool sign = true;                     // false for the operations the model marks noAuth
};

// Specialised once per request type, with static constexpr OperationInfo kInfo and the Response
// type.
template <typename Request>
struct Operation;

// --- what a member's type is ------------------------------------------------------------------

template <typename T, typename = void>
struct is_shape : std::false_type {};
template <typename T>
struct is_shape<T, std::void_t<decltype(Fields<T>::kShape)>> : std::true_type {};
template <typename T>
struct is_optional : std::false_type {};
template <typename T>
struct is_optional<std::optional<T>> : std::true_type {};
template <typename T>
struct is_vector : std::false_type {};
template <typename T>
struct is_vector<std::vector<T>> : std::true_type {};

using StringMap = std::map<std::string, std::string>;

// The visitors of a body alone: what goes in the path, the query and the headers, and the rules
// that span members, are other visitors' business.
struct BodyVisitor {
  template <typename T>
  void label(const char*, const T&, Rule = kAny) {}
  template <typename T>
  void query(const char*, const T&, Rule = kAny) {}
  template <typename T>
  void header(const char*, const T&, Rule = kAny) {}
  void check(bool, const char*) {}
};

// --- JSON out ----------------------------------------------------------------------------------

// Writes a shape's body members. Optional members are written when set. Empty lists and maps are
// written in responses (as the service answers) and left out of requests unless required (as
// botocore sends them). Timestamps are epoch seconds with a millisecond fraction: a write's time
// is what last-writer-wins compares, and a second is too coarse for it.
class JsonOut : public BodyVisitor {
 public:
  JsonOut(json::Writer& w, bool empty_containers) : w_(w), empty_containers_(empty_containers) {}

  template <typename T>
  void member(const char* name, const T& v, Rule rule = kAny) {
    if constexpr (is_optional<T>::value) {
      if (!v) return;
    } else if constexpr (is_vector<T>::value || std::is_same_v<T, StringMap>) {
      if (v.empty() && !rule.required && !empty_containers_) return;
    }
    w_.key(name);
    value(v);
  }

  template <typename T>
  void shape(const T& s) {
    w_.begin_object();
    Fields<T>::visit(*this, s);
    w_.end_object();
  }

 private:
  void value(const std::string& v) { w_.value(v); }
  void value(int64_t v) { w_.raw().Int64(v); }
  void value(int32_t v) { w_.raw().Int(v); }
  void value(bool v) { w_.raw().Bool(v); }
  void value(const Timestamp& t) {
    int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    if (ms % 1000 == 0) {
      w_.raw().Int64(ms / 1000);
    } else {
      w_.raw().Double(static_cast<double>(ms) / 1000.0);
    }
  }
  void value(const StringMap& m) {
    w_.begin_object();
    for (const auto& [k, v] : m) {
      w_.raw().Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
      w_.value(v);
    }
    w_.end_object();
  }
  template <typename T>
  void value(const std::optional<T>& v) {
    value(*v);
  }
  template <typename T>
  void value(const std::vector<T>& list) {
    w_.raw().StartArray();
    for (const auto& item : list) value(item);
    w_.raw().EndArray();
  }
  template <typename T, typename = std::enable_if_t<is_shape<T>::value>>
  void value(const T& s) {
    shape(s);
  }

  json::Writer& w_;
  bool empty_containers_;
};

// About how many bytes JsonOut writes for a shape: the strings' lengths plus a fixed allowance per
// member, so that a large body is written into one allocation. Escapes make it an estimate.
class JsonSize : public BodyVisitor {
 public:
  template <typename T>
  void member(const char* name, const T& v, Rule = kAny) {
    bytes += std::strlen(name) + 4;
    add(v);
  }
  template <typename T>
  void shape(const T& s) {
    bytes += 2;
    Fields<T>::visit(*this, s);
  }

  size_t bytes = 0;

 private:
  void add(const std::string& v) { bytes += v.size() + v.size() / 16 + 2; }
  template <typename T>
  void add(const std::optional<T>& v) {
    if (v) add(*v);
  }
  void add(const StringMap& m) {
    for (const auto& [k, v] : m) bytes += k.size() + v.size() + 6;
  }
  template <typename T>
  void add(const std::vector<T>& list) {
    bytes += 2 + list.size();
    for (const auto& item : list) add(item);
  }
  template <typename T>
  void add(const T& v) {
    if constexpr (is_shape<T>::value) {
      shape(v);
    } else {
      (void)v;
      bytes += 24;  // a number, a boolean or a time
    }
  }
};

// --- JSON in -----------------------------------------------------------------------------------

// Where a member sits in the body, for messages: a chain of names and list indexes up to the
// top-level object, spelled out only when a problem is found.
struct MemberPath {
  const MemberPath* parent = nullptr;
  const char* name = nullptr;
  size_t index = 0;
  bool indexed = false;

  // "Records[3]." (with a trailing dot), or "" at the top.
  std::string prefix() const {
    if (!name) return {};
    std::string out = parent ? parent->prefix() : std::string();
    out += name;
    if (indexed) out += "[" + std::to_string(index) + "]";
    return out + ".";
  }
};

// Reads a shape's body members from one JSON object. A member of the wrong type is an error
// (through the ObjectReader, first one wins); a required member that is absent is noted in
// `problems`; unknown members are ignored, as both SDKs ignore them.
class JsonIn : public BodyVisitor {
 public:
  JsonIn(json::ObjectReader& r, std::vector<std::string>& problems, const MemberPath* at = nullptr)
      : r_(r), problems_(problems), at_(at) {}

  template <typename T>
  void member(const char* name, T& out, Rule rule = kAny) {
    if (!read(name, out) && rule.required) {
      problems_.push_back((at_ ? at_->prefix() : std::string()) + name +
                          ": missing required parameter");
    }
  }

  template <typename T>
  static void shape(const rapidjson::Value& v, T& out, json::ObjectReader& parent,
                    std::vector<std::string>& problems, const MemberPath* at) {
    json::ObjectReader r(v, Fields<T>::kShape);
    JsonIn in(r, problems, at);
    Fields<T>::visit(in, out);
    parent.merge(r);
  }

 private:
  // Each returns whether the member was there.
  template <typename T>
  bool assign(std::optional<T> v, T& out) {
    if (!v) return false;
    out = std::move(*v);
    return true;
  }
  bool read(const char* name, std::string& out) { return assign(r_.str(name), out); }
  bool read(const char* name, int64_t& out) { return assign(r_.i64(name), out); }
  bool read(const char* name, int32_t& out) { return assign(r_.i32(name), out); }
  bool read(const char* name, bool& out) { return assign(r_.boolean(name), out); }
  bool read(const char* name, Timestamp& out) { return assign(r_.time(name), out); }
  bool read(const char* name, std::vector<std::string>& out) {
    const rapidjson::Value* a = r_.array(name);
    if (!a) return false;
    out = r_.string_list(*a, name);
    return true;
  }
  bool read(const char* name, StringMap& out) {
    const rapidjson::Value* o = r_.object(name);
    if (!o) return false;
    out = r_.string_map(*o, name);
    return true;
  }
  template <typename T>
  bool read(const char* name, std::optional<T>& out) {
    T v{};
    if (!read(name, v)) return false;
    out = std::move(v);
    return true;
  }
  template <typename T, typename = std::enable_if_t<is_shape<T>::value>>
  bool read(const char* name, std::vector<T>& out) {
    const rapidjson::Value* a = r_.array(name);
    if (!a) return false;
    out.reserve(out.size() + a->Size());
    MemberPath item_at{at_, name, 0, true};
    for (const auto& item : a->GetArray()) {
      if (item.IsNull()) continue;  // null counts as absent, in a list too
      shape(item, out.emplace_back(), r_, problems_, &item_at);
      ++item_at.index;
    }
    return true;
  }
  template <typename T, typename = std::enable_if_t<is_shape<T>::value>>
  bool read(const char* name, T& out) {
    const rapidjson::Value* o = r_.object(name);
    if (!o) return false;
    MemberPath member_at{at_, name};
    shape(*o, out, r_, problems_, &member_at);
    return true;
  }

  json::ObjectReader& r_;
  std::vector<std::string>& problems_;
  const MemberPath* at_;
};

// --- validation --------------------------------------------------------------------------------

// Checks every member against its rule: lengths, patterns, enums and ranges from the model, list
// and map sizes, and required members (an empty required string counts as missing; a label is
// bounded by its shape's minimum length instead).
class Validate {
 public:
  Validate(Checker& c, std::string prefix = {}) : c_(c), prefix_(std::move(prefix)) {}

  template <typename T>
  void label(const char* name, const T& v, Rule rule = kAny) {
    rule.required = false;
    member(name, v, rule);
  }
  template <typename T>
  void query(const char* name, const T& v, Rule rule = kAny) {
    member(name, v, rule);
  }
  template <typename T>
  void header(const char* name, const T& v, Rule rule = kAny) {
    member(name, v, rule);
  }
  void check(bool ok, const char* what) {
    if (!ok) c_.problem(prefix_ + what);
  }

  template <typename T>
  void member(const char* name, const T& v, Rule rule = kAny) {
    std::string at = prefix_ + name;
    if (rule.required && absent(v)) {
      c_.required(at, false);
      return;
    }
    value(at, v, rule);
  }

 private:
  template <typename T>
  static bool absent(const T& v) {
    if constexpr (is_optional<T>::value) {
      return !v.has_value();
    } else if constexpr (std::is_same_v<T, std::string>) {
      return v.empty();
    } else {
      return false;
    }
  }
  void value(const std::string& at, const std::string& v, Rule rule) {
    if (rule.shape) c_.str(at, v, rule.shape);
  }
  void value(const std::string& at, int64_t v, Rule rule) {
    if (rule.shape) c_.number(at, v, rule.shape);
  }
  void value(const std::string& at, int32_t v, Rule rule) {
    if (rule.shape) c_.number(at, v, rule.shape);
  }
  void value(const std::string&, bool, Rule) {}
  void value(const std::string&, const Timestamp&, Rule) {}
  void value(const std::string& at, const StringMap& m, Rule rule) {
    c_.string_map(at, m, rule.shape ? rule.shape : "", rule.key ? rule.key : "",
                  rule.element ? rule.element : "");
  }
  void value(const std::string& at, const std::vector<std::string>& list, Rule rule) {
    if (rule.shape) c_.count(at, list.size(), rule.shape);
    if (rule.element) {
      for (const auto& item : list) c_.str(at, item, rule.element);
    }
  }
  template <typename T>
  void value(const std::string& at, const std::optional<T>& v, Rule rule) {
    if (v) value(at, *v, rule);
  }
  template <typename T, typename = std::enable_if_t<is_shape<T>::value>>
  void value(const std::string& at, const std::vector<T>& list, Rule rule) {
    if (rule.shape) c_.count(at, list.size(), rule.shape);
    for (size_t i = 0; i < list.size(); ++i) {
      Validate nested(c_, at + "[" + std::to_string(i) + "].");
      Fields<T>::visit(nested, list[i]);
    }
  }
  template <typename T, typename = std::enable_if_t<is_shape<T>::value>>
  void value(const std::string& at, const T& s, Rule) {
    Validate nested(c_, at + ".");
    Fields<T>::visit(nested, s);
  }

  Checker& c_;
  std::string prefix_;
};

template <typename Request>
Status validate(const Request& request) {
  const OperationInfo& op = Operation<Request>::kInfo;
  Checker c(op.name, op.protocol == Protocol::kRestJson ? "cognito-sync" : "cognito-identity");
  Validate v(c);
  Fields<Request>::visit(v, request);
  return c.result();
}

// --- requests: the client's side ---------------------------------------------------------------

// Collects the members that travel outside the body, in their wire form.
class RequestOut {
 public:
  template <typename T>
  void label(const char* name, const T& v, Rule = kAny) {
    labels_.emplace_back(name, uri_encode(v));
  }
  template <typename T>
  void query(const char* name, const T& v, Rule = kAny) {
    if (auto text = to_text(v)) query_.emplace_back(name, uri_encode(*text));
  }
  template <typename T>
  void header(const char* name, const T& v, Rule = kAny) {
    if (auto text = to_text(v)) headers_.emplace_back(name, std::move(*text));
  }
  template <typename T>
  void member(const char*, const T&, Rule = kAny) {
    has_body_ = true;
  }
  void check(bool, const char*) {}

  std::string path(const char* pattern) const;
  // Query parameters in name order, as botocore emits them.
  std::string query_string();
  Headers& headers() { return headers_; }
  bool has_body() const { return has_body_; }

 private:
  static std::optional<std::string> to_text(const std::string& v) { return v; }
  static std::optional<std::string> to_text(int64_t v) { return std::to_string(v); }
  static std::optional<std::string> to_text(int32_t v) { return std::to_string(v); }
  template <typename T>
  static std::optional<std::string> to_text(const std::optional<T>& v) {
    if (!v) return std::nullopt;
    return to_text(*v);
  }

  std::vector<std::pair<std::string, std::string>> labels_;
  std::vector<std::pair<std::string, std::string>> query_;
  Headers headers_;
  bool has_body_ = false;
};

WireRequest begin_request(const OperationInfo& op, RequestOut& out);

// Whether a request has members in its body: restJson requests without any send no body.
template <typename Request>
bool has_body() {
  static const bool has = [] {
    RequestOut out;
    Request r{};
    Fields<Request>::visit(out, r);
    return out.has_body();
  }();
  return has;
}

template <typename Request>
WireRequest encode_request(const Request& request) {
  RequestOut out;
  Fields<Request>::visit(out, request);
  WireRequest wire = begin_request(Operation<Request>::kInfo, out);
  if (out.has_body() || Operation<Request>::kInfo.protocol == Protocol::kAwsJson) {
    JsonSize size;
    size.shape(request);
    json::Writer w(size.bytes);
    JsonOut(w, /*empty_containers=*/false).shape(request);
    wire.body = w.take();
  }
  return wire;
}

// Parses a response body; a malformed body or a member of the wrong type is a kParse error naming
// the operation.
// Body is a std::string (parsed in place when given up with std::move) or a std::string_view.
template <typename Response, typename Body>
Status decode_body(Body&& body, const char* operation, Response* out) {
  return json::parse_response(std::forward<Body>(body), operation, [&](json::ObjectReader& r) {
    std::vector<std::string> ignored;  // a response's members are all optional
    JsonIn in(r, ignored);
    Fields<Response>::visit(in, *out);
  });
}

template <typename Request, typename Body>
Status decode_response(Body&& body, typename Operation<Request>::Response* out) {
  return decode_body(std::forward<Body>(body), Operation<Request>::kInfo.name, out);
}

// --- requests: the server's side ---------------------------------------------------------------

// One received request, as the server's router split it.
struct ReceivedRequest {
  std::vector<std::pair<std::string, std::string>> labels;  // decoded, by name
  std::string_view raw_query;                               // as received, without '?'
  // The value of a header, or nullptr when absent.
  std::function<const std::string*(const char* name)> header;
  const std::string* body = nullptr;  // as received; nullptr reads as empty
};

// Reads the members that travel outside the body: labels, query parameters and headers.
class RequestHeadIn {
 public:
  RequestHeadIn(const ReceivedRequest& in, std::vector<std::string>& problems);

  template <typename T>
  void label(const char* name, T& out, Rule = kAny) {
    for (const auto& [k, v] : in_.labels) {
      if (k == name) out = v;
    }
  }
  template <typename T>
  void query(const char* name, T& out, Rule rule = kAny) {
    const std::string* text = find_query(name);
    if (!text) {
      if (rule.required) problems_.push_back(std::string(name) + ": missing required parameter");
      return;
    }
    parse(name, *text, out);
  }
  template <typename T>
  void header(const char* name, T& out, Rule = kAny) {
    if (const std::string* text = in_.header ? in_.header(name) : nullptr) out = *text;
  }
  template <typename T>
  void member(const char*, T&, Rule = kAny) {}
  void check(bool, const char*) {}

 private:
  const std::string* find_query(const char* name) const;
  void parse(const char*, const std::string& text, std::string& out) { out = text; }
  void parse(const char* name, const std::string& text, int64_t& out);
  void parse(const char* name, const std::string& text, int32_t& out);
  template <typename T>
  void parse(const char* name, const std::string& text, std::optional<T>& out) {
    T v{};
    size_t before = problems_.size();
    parse(name, text, v);
    if (problems_.size() == before) out = std::move(v);
  }

  const ReceivedRequest& in_;
  std::vector<std::string>& problems_;
  std::vector<std::pair<std::string, std::string>> query_;
};

// Decodes a request for the server: an InvalidParameter error names every member that is missing
// or malformed. Validation is a separate step (validate above).
template <typename Request>
Status decode_request(const ReceivedRequest& in, Request* out) {
  std::vector<std::string> problems;
  RequestHeadIn outside(in, problems);
  Fields<Request>::visit(outside, *out);
  if (has_body<Request>()) {
    json::Document doc;
    static const std::string kEmpty;
    Status parsed = json::parse(in.body ? *in.body : kEmpty, doc);
    if (!parsed.ok()) {
      return Status(ErrorCode::kInvalidParameter, "request body: " + parsed.message());
    }
    json::ObjectReader r(doc, "request body");
    JsonIn body(r, problems);
    Fields<Request>::visit(body, *out);
    if (!r.valid()) return Status(ErrorCode::kInvalidParameter, r.status().message());
  }
  if (problems.empty()) return Status::OK();
  std::string message;
  for (const auto& p : problems) message += (message.empty() ? "" : "; ") + p;
  return Status(ErrorCode::kInvalidParameter, message);
}

// Encodes a response for the server: every list and map is written, empty or not.
template <typename Response>
std::string encode_response(const Response& response) {
  JsonSize size;
  size.shape(response);
  json::Writer w(size.bytes);
  JsonOut(w, /*empty_containers=*/true).shape(response);
  return w.take();
}

// A shape as a JSON object of its own (the server stores pool settings this way).
template <typename T>
std::string to_json(const T& shape) {
  return encode_response(shape);
}
template <typename T>
Status from_json(std::string_view text, const char* context, T* out) {
  return decode_body(text, context, out);
}

// Whether a restJson path pattern matches the decoded path segments (without the leading empty
// one); on a match, labels receive the values of its {Label} slots.
bool match_path(const char* pattern, const std::vector<std::string>& segments,
                std::vector<std::pair<std::string, std::string>>* labels);

}  // namespace cairn::transport::codec
