// The codec's declarations against the service models, and every operation of both services
// through both sides:
//   - each declared shape lists exactly the model's members, with the same places, wire names,
//     shapes and required flags, and each operation the model's method and path;
//   - every captured request (boto3, the AWS CLI, JS v3), decoded as the server decodes it and
//     encoded again as the client encodes it, is the same request;
//   - every operation's request and response with every member set survive client encode →
//     server decode → server encode → client decode.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <set>

#include "botocore_reference.h"
#include "test_paths.h"
#include "transport/identity_protocol.h"
#include "transport/identity_shapes.h"
#include "transport/sync_protocol.h"
#include "transport/sync_shapes.h"

namespace cairn::transport::codec {
namespace {

// --- what the declarations say ---------------------------------------------------------------

struct Declared {
  std::string place;  // "uri", "querystring", "header" or "" (the body), as the model spells it
  std::string wire;
  Rule rule;
  std::string nested;  // the declared shape of a structure member (or of a list's elements)
};
using Shapes = std::map<std::string, std::vector<Declared>>;

template <typename T>
struct Unwrapped {
  using type = T;
};
template <typename T>
struct Unwrapped<std::optional<T>> {
  using type = typename Unwrapped<T>::type;
};
template <typename T>
struct Unwrapped<std::vector<T>> {
  using type = typename Unwrapped<T>::type;
};

template <typename T>
void describe(Shapes& all);

class Describe {
 public:
  explicit Describe(Shapes& all) : all_(all) {}
  template <typename T>
  void label(const char* name, T& v, Rule rule) {
    add("uri", name, v, rule);
  }
  template <typename T>
  void query(const char* name, T& v, Rule rule = kAny) {
    add("querystring", name, v, rule);
  }
  template <typename T>
  void header(const char* name, T& v, Rule rule = kAny) {
    add("header", name, v, rule);
  }
  template <typename T>
  void member(const char* name, T& v, Rule rule = kAny) {
    add("", name, v, rule);
  }
  void check(bool, const char*) {}
  std::vector<Declared> entries;

 private:
  template <typename T>
  void add(const char* place, const char* name, T&, Rule rule) {
    Declared d{place, name, rule, ""};
    using U = typename Unwrapped<T>::type;
    if constexpr (is_shape<U>::value) {
      d.nested = Fields<U>::kShape;
      describe<U>(all_);
    }
    entries.push_back(d);
  }
  Shapes& all_;
};

template <typename T>
void describe(Shapes& all) {
  if (all.count(Fields<T>::kShape)) return;
  all[Fields<T>::kShape];  // taken, before any member recurses
  Describe d(all);
  T value{};
  Fields<T>::visit(d, value);
  all[Fields<T>::kShape] = d.entries;
}

struct Model {
  rapidjson::Document doc;
  const rapidjson::Value& shapes() const { return doc["shapes"]; }
  const rapidjson::Value& shape(const std::string& name) const { return shapes()[name.c_str()]; }
};

Model load_model(const char* file) {
  Model m;
  std::string text =
      cairn::testing::read_file(cairn::testing::shared_dir() + "/spec/models/" + file);
  m.doc.Parse(text.c_str());
  return m;
}

std::string str(const char* s) { return s ? s : ""; }

// Compares one declared shape with the model's, member by member in both directions, and then
// every structure it reaches.
void expect_shape_matches(const Model& model, const Shapes& declared, const std::string& name,
                          std::set<std::string>& checked) {
  if (!checked.insert(name).second) return;
  SCOPED_TRACE("shape " + name);
  ASSERT_TRUE(model.shapes().HasMember(name.c_str())) << "the model has no shape " << name;
  auto it = declared.find(name);
  ASSERT_NE(it, declared.end()) << "no declaration for " << name;
  const auto& shape = model.shape(name);
  std::set<std::string> required;
  if (shape.HasMember("required")) {
    for (const auto& r : shape["required"].GetArray()) required.insert(r.GetString());
  }
  const auto& members = shape["members"];
  ASSERT_EQ(it->second.size(), members.MemberCount()) << "member count";
  for (const auto& m : members.GetObject()) {
    std::string member = m.name.GetString();
    SCOPED_TRACE("member " + member);
    std::string place = m.value.HasMember("location") ? m.value["location"].GetString() : "";
    std::string wire =
        m.value.HasMember("locationName") ? m.value["locationName"].GetString() : member;
    const Declared* d = nullptr;
    for (const auto& e : it->second) {
      if (e.place == place && e.wire == wire) d = &e;
    }
    ASSERT_NE(d, nullptr) << "not declared: " << place << " " << wire;
    std::string target = m.value["shape"].GetString();
    EXPECT_EQ(str(d->rule.shape), target);
    EXPECT_EQ(d->rule.required, required.count(member) == 1);
    const auto& t = model.shape(target);
    std::string type = t["type"].GetString();
    if (type == "list") {
      std::string element = t["member"]["shape"].GetString();
      EXPECT_EQ(str(d->rule.element), element);
      if (std::string(model.shape(element)["type"].GetString()) == "structure") {
        EXPECT_EQ(d->nested, element);
        expect_shape_matches(model, declared, element, checked);
      }
    } else if (type == "map") {
      EXPECT_EQ(str(d->rule.key), t["key"]["shape"].GetString());
      EXPECT_EQ(str(d->rule.element), t["value"]["shape"].GetString());
    } else if (type == "structure") {
      EXPECT_EQ(d->nested, target);
      expect_shape_matches(model, declared, target, checked);
    }
  }
}

// One operation: its name, method, path and signing as the model has them, and its input and
// output shapes member for member.
template <typename Request>
void expect_operation_matches(const Model& model, const char* name, Shapes& declared,
                              std::set<std::string>& checked) {
  SCOPED_TRACE(name);
  ASSERT_TRUE(model.doc["operations"].HasMember(name));
  const auto& op = model.doc["operations"][name];
  const OperationInfo& info = Operation<Request>::kInfo;
  EXPECT_STREQ(info.name, name);
  EXPECT_STREQ(info.method, op["http"]["method"].GetString());
  EXPECT_STREQ(info.path, op["http"]["requestUri"].GetString());
  bool unsigned_op = op.HasMember("authtype") && std::string(op["authtype"].GetString()) == "none";
  EXPECT_EQ(info.sign, !unsigned_op);
  if (info.protocol == Protocol::kAwsJson) {
    EXPECT_EQ(std::string(info.target_prefix),
              std::string(model.doc["metadata"]["targetPrefix"].GetString()) + ".");
  }
  describe<Request>(declared);
  EXPECT_STREQ(Fields<Request>::kShape, op["input"]["shape"].GetString());
  expect_shape_matches(model, declared, op["input"]["shape"].GetString(), checked);
  using Response = typename Operation<Request>::Response;
  describe<Response>(declared);
  if (op.HasMember("output")) {
    EXPECT_STREQ(Fields<Response>::kShape, op["output"]["shape"].GetString());
    expect_shape_matches(model, declared, op["output"]["shape"].GetString(), checked);
  } else {
    EXPECT_TRUE(declared.at(Fields<Response>::kShape).empty()) << "no output shape, no members";
  }
}

TEST(CodecDeclarations, EverySyncOperationAndShapeIsTheModelsMemberForMember) {
  Model model = load_model("cognito-sync-2014-06-30.service-2.json");
  Shapes declared;
  std::set<std::string> checked, names;
#define CAIRN_CHECK_OP(Op)                                                    \
  expect_operation_matches<wire::Op##Request>(model, #Op, declared, checked); \
  names.insert(#Op);
  CAIRN_SYNC_OPERATIONS(CAIRN_CHECK_OP)
#undef CAIRN_CHECK_OP
  // And the other way: every operation of the model is declared.
  for (const auto& op : model.doc["operations"].GetObject()) {
    EXPECT_EQ(names.count(op.name.GetString()), 1u) << op.name.GetString();
  }
  EXPECT_GE(checked.size(), 2 * names.size());
}

TEST(CodecDeclarations, EveryIdentityOperationCairnImplementsIsTheModelsMemberForMember) {
  Model model = load_model("cognito-identity-2014-06-30.service-2.json");
  Shapes declared;
  std::set<std::string> checked, names;
#define CAIRN_CHECK_OP(Op)                                                        \
  expect_operation_matches<identity::Op##Request>(model, #Op, declared, checked); \
  names.insert(#Op);
  CAIRN_IDENTITY_OPERATIONS(CAIRN_CHECK_OP)
#undef CAIRN_CHECK_OP
  // cairn implements the identity lifecycle, not pool roles, tags or principal-tag mappings.
  EXPECT_EQ(names.size(), 14u);
  EXPECT_GE(checked.size(), 20u);
}

// --- the server's decoding of a request, as its router does it --------------------------------

struct Received {
  std::string operation;
  ReceivedRequest request;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string query;
  std::string body;
};

// Splits a raw target the way cairn-server does: the path into raw segments, each decoded.
bool route(const std::string& method, const std::string& target, Received* out) {
  size_t q = target.find('?');
  std::string path = target.substr(0, q);
  out->query = q == std::string::npos ? "" : target.substr(q + 1);
  std::vector<std::string> segments;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    segments.push_back(uri_decode(path.substr(start, slash - start)));
    start = slash + 1;
  }
  for (const auto* op : sync_wire::operations()) {
    if (op->method == method && match_path(op->path, segments, &out->request.labels)) {
      out->operation = op->name;
      return true;
    }
  }
  return false;
}

// An awsJson request names its operation in X-Amz-Target.
bool route_identity(const std::string& target, Received* out) {
  std::string prefix = kIdentityTargetPrefix;
  if (target.rfind(prefix, 0) != 0) return false;
  for (const auto* op : identity_wire::operations()) {
    if (target.substr(prefix.size()) == op->name) {
      out->operation = op->name;
      return true;
    }
  }
  return false;
}

void attach(Received& r) {
  r.request.raw_query = r.query;
  r.request.body = &r.body;
  r.request.header = [&r](const char* name) -> const std::string* {
    for (const auto& [k, v] : r.headers) {
      if (strcasecmp(k.c_str(), name) == 0) return &v;
    }
    return nullptr;
  };
}

// Decodes as the server does, then encodes as the client does.
Result<WireRequest> decode_then_build(Received& received) {
  attach(received);
#define CAIRN_REBUILD(Op)                                     \
  if (received.operation == #Op) {                            \
    wire::Op##Request request;                                \
    Status s = sync_wire::decode(received.request, &request); \
    if (!s.ok()) return s;                                    \
    s = validate(request);                                    \
    if (!s.ok()) return s;                                    \
    return sync_wire::build(request);                         \
  }
  CAIRN_SYNC_OPERATIONS(CAIRN_REBUILD)
  CAIRN_REBUILD(PollNotifications)
#undef CAIRN_REBUILD
#define CAIRN_REBUILD(Op)                                         \
  if (received.operation == #Op) {                                \
    identity::Op##Request request;                                \
    Status s = identity_wire::decode(received.request, &request); \
    if (!s.ok()) return s;                                        \
    s = validate(request);                                        \
    if (!s.ok()) return s;                                        \
    return identity_wire::build(request);                         \
  }
  CAIRN_IDENTITY_OPERATIONS(CAIRN_REBUILD)
#undef CAIRN_REBUILD
  return Status(ErrorCode::kInvalidArgument, "no operation " + received.operation);
}

bool same_json(const std::string& a, const std::string& b) {
  rapidjson::Document x, y;
  x.Parse(a.c_str());
  y.Parse(b.c_str());
  return !x.HasParseError() && !y.HasParseError() && x == y;
}

const std::string* header_of(const Headers& headers, const char* name) {
  for (const auto& [k, v] : headers) {
    if (strcasecmp(k.c_str(), name) == 0) return &v;
  }
  return nullptr;
}

TEST(CodecRoundTrip, EveryCapturedRequestDecodesAndEncodesBackToItself) {
  size_t sync_requests = 0, identity_requests = 0;
  std::set<std::string> operations;
  for (const char* file : {"boto3-1.43.11.jsonl", "boto3-1.26.27-botocore-1.29.27.jsonl",
                           "aws-sdk-js-v3.jsonl", "session-token-and-awscli.jsonl"}) {
    std::string text =
        cairn::testing::read_file(cairn::testing::shared_dir() + "/spec/captures/" + file);
    cairn::testing::for_each_line(text, [&](const std::string& line) {
      rapidjson::Document d;
      d.Parse(line.c_str());
      if (!d.HasMember("method")) return;  // a marker line
      auto ref = cairn::testing::reference_from_json(d);
      const std::string* target = ref.header("X-Amz-Target");
      SCOPED_TRACE(std::string(file) + ": " + ref.method + " " + ref.rawpath + " " +
                   (target ? *target : ""));
      Received received;
      if (target) {
        ASSERT_TRUE(route_identity(*target, &received));
        ++identity_requests;
      } else {
        ASSERT_TRUE(route(ref.method, ref.rawpath, &received));
        ++sync_requests;
      }
      received.headers = ref.headers;
      received.body = ref.body;
      auto built = decode_then_build(received);
      ASSERT_TRUE(built.ok()) << built.status().ToString();
      EXPECT_EQ(built->operation, received.operation);
      EXPECT_EQ(built->method, ref.method);
      EXPECT_EQ(built->path + (built->query.empty() ? "" : "?" + built->query), ref.rawpath);
      if (ref.body.empty() || ref.body == "{}") {
        EXPECT_TRUE(built->body.empty() || built->body == "{}") << built->body;
      } else {
        // JS v3 and cairn send DeviceLastModifiedDate with milliseconds and botocore whole
        // seconds: either way, what was decoded is what is sent again.
        EXPECT_TRUE(same_json(built->body, ref.body))
            << "ours: " << built->body << "\nsent: " << ref.body;
      }
      const std::string* context = ref.header("x-amz-Client-Context");
      const std::string* ours = header_of(built->headers, "x-amz-Client-Context");
      ASSERT_EQ(context != nullptr, ours != nullptr);
      if (context) {
        EXPECT_EQ(*ours, *context);
      }
      for (const char* h : {"X-Amz-Target", "Content-Type"}) {
        const std::string* theirs = ref.header(h);
        const std::string* mine = header_of(built->headers, h);
        if (theirs && mine) {
          EXPECT_EQ(*mine, *theirs) << h;
        }
      }
      EXPECT_EQ(built->sign, ref.header("Authorization") != nullptr);
      operations.insert(received.operation);
    });
  }
  EXPECT_GE(sync_requests, 40u);
  EXPECT_GE(identity_requests, 10u);
  size_t captured_sync = 0;
  for (const auto* op : sync_wire::operations()) captured_sync += operations.count(op->name);
  EXPECT_EQ(captured_sync, 17u) << "every Cognito Sync operation is in the captures";
}

// --- every member set -------------------------------------------------------------------------

// Fills every member with a distinct value that survives the wire: strings with characters a
// path, query or JSON must escape, and timestamps with milliseconds.
class Fill {
 public:
  template <typename T>
  void label(const char*, T& v, Rule = kAny) {
    set(v);
  }
  template <typename T>
  void query(const char*, T& v, Rule = kAny) {
    set(v);
  }
  template <typename T>
  void header(const char*, T& v, Rule = kAny) {
    set(v);
  }
  template <typename T>
  void member(const char*, T& v, Rule = kAny) {
    set(v);
  }
  void check(bool, const char*) {}

  template <typename T>
  void shape(T& s) {
    Fields<T>::visit(*this, s);
  }

 private:
  void set(std::string& s) { s = "v" + std::to_string(++n_) + ":a/b c+\"é"; }
  void set(int64_t& v) { v = 1000 + ++n_; }
  void set(int32_t& v) { v = 10 + ++n_; }
  void set(bool& v) { v = true; }
  void set(Timestamp& t) { t = Timestamp(std::chrono::milliseconds(1700000000000 + 7 * ++n_)); }
  void set(std::map<std::string, std::string>& m) {
    m["k" + std::to_string(++n_)] = "v";
    m["k" + std::to_string(++n_)] = "w";
  }
  void set(std::vector<std::string>& list) {
    list = {"a" + std::to_string(++n_), "b" + std::to_string(++n_)};
  }
  template <typename T>
  void set(std::optional<T>& v) {
    v.emplace();
    set(*v);
  }
  template <typename T>
  void set(std::vector<T>& list) {
    list.resize(2);
    for (auto& item : list) set(item);
  }
  template <typename T, typename = std::enable_if_t<is_shape<T>::value>>
  void set(T& s) {
    shape(s);
  }
  int n_ = 0;
};

// Every declared body member of `shape` is in `json`, in nested structures too.
template <typename T>
void expect_every_member(const rapidjson::Value& json, const Shapes& declared) {
  ASSERT_TRUE(json.IsObject());
  for (const auto& d : declared.at(Fields<T>::kShape)) {
    if (!d.place.empty()) continue;
    EXPECT_TRUE(json.HasMember(d.wire.c_str())) << Fields<T>::kShape << "." << d.wire;
  }
}

// The server's router for either service, given the client's request.
bool route_wire(const WireRequest& wire, Received* out) {
  if (const std::string* target = header_of(wire.headers, "X-Amz-Target")) {
    return route_identity(*target, out);
  }
  return route(wire.method, wire.path + (wire.query.empty() ? "" : "?" + wire.query), out);
}

template <typename Request>
void round_trip_every_member(const char* name) {
  using identity_wire::build;
  using identity_wire::decode;
  using identity_wire::encode;
  using identity_wire::parse;
  using sync_wire::build;
  using sync_wire::decode;
  using sync_wire::encode;
  using sync_wire::parse;
  SCOPED_TRACE(name);
  Shapes declared;
  describe<Request>(declared);
  using Response = typename Operation<Request>::Response;
  describe<Response>(declared);

  // The request: client encode → server decode → client encode.
  Request request{};
  Fill().shape(request);
  WireRequest wire = build(request);
  Received received;
  ASSERT_TRUE(route_wire(wire, &received));
  EXPECT_EQ(received.operation, name);
  received.headers = wire.headers;
  received.body = wire.body;
  attach(received);
  Request decoded{};
  Status s = decode(received.request, &decoded);
  ASSERT_TRUE(s.ok()) << s.ToString();
  WireRequest again = build(decoded);
  EXPECT_EQ(again.path, wire.path);
  EXPECT_EQ(again.query, wire.query);
  EXPECT_EQ(again.body, wire.body);
  EXPECT_EQ(again.headers, wire.headers);
  if (!wire.body.empty()) {
    rapidjson::Document body;
    body.Parse(wire.body.c_str());
    expect_every_member<Request>(body, declared);
  }

  // The response: server encode → client decode → server encode.
  Response response{};
  Fill().shape(response);
  std::string sent = encode(response);
  Response parsed{};
  s = parse(sent, &parsed);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(encode(parsed), sent);
  rapidjson::Document doc;
  doc.Parse(sent.c_str());
  expect_every_member<Response>(doc, declared);
}

TEST(CodecRoundTrip, EveryOperationWithEveryMemberSetSurvivesBothSides) {
#define CAIRN_ROUND_TRIP(Op) round_trip_every_member<wire::Op##Request>(#Op);
  CAIRN_SYNC_OPERATIONS(CAIRN_ROUND_TRIP)
#undef CAIRN_ROUND_TRIP
#define CAIRN_ROUND_TRIP(Op) round_trip_every_member<identity::Op##Request>(#Op);
  CAIRN_IDENTITY_OPERATIONS(CAIRN_ROUND_TRIP)
#undef CAIRN_ROUND_TRIP
}

// --- what the server says about bad requests ----------------------------------------------------

Status decode_update(const std::string& body, wire::UpdateRecordsRequest* out) {
  Received received;
  EXPECT_TRUE(
      route("POST", "/identitypools/us-east-1%3A1/identities/us-east-1%3A2/datasets/d", &received));
  received.body = body;
  attach(received);
  return sync_wire::decode(received.request, out);
}

TEST(CodecDecode, NamesEveryMissingRequiredMemberWithItsPlace) {
  wire::UpdateRecordsRequest r;
  Status s = decode_update(R"({"RecordPatches":[{"Op":"replace","Value":"v"}]})", &r);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidParameter);
  EXPECT_NE(s.message().find("RecordPatches[0].Key: missing required parameter"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("RecordPatches[0].SyncCount: missing required parameter"),
            std::string::npos);
  EXPECT_NE(s.message().find("SyncSessionToken: missing required parameter"), std::string::npos);
}

TEST(CodecDecode, AMemberOfTheWrongTypeIsAnInvalidParameter) {
  wire::UpdateRecordsRequest r;
  Status s = decode_update(R"({"SyncSessionToken":7})", &r);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidParameter);
  EXPECT_NE(s.message().find("SyncSessionToken"), std::string::npos) << s.message();
  s = decode_update("{not json", &r);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidParameter);
  EXPECT_NE(s.message().find("request body"), std::string::npos) << s.message();
}

TEST(CodecDecode, AQueryNumberThatIsNotOneIsRefused) {
  Received received;
  ASSERT_TRUE(route("GET", "/identitypools/p%3A1/identities/p%3A2/datasets/d/records", &received));
  received.query = "lastSyncCount=12x&maxResults=99999999999";
  attach(received);
  wire::ListRecordsRequest r;
  Status s = sync_wire::decode(received.request, &r);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidParameter);
  EXPECT_NE(s.message().find("lastSyncCount: '12x' is not an integer"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("maxResults: out of range"), std::string::npos) << s.message();
}

TEST(CodecValidate, ChecksNestedMembersAndTheRulesThatSpanMembers) {
  wire::UpdateRecordsRequest r;
  r.identity_pool_id = "us-east-1:0000";
  r.identity_id = "us-east-1:1111";
  r.dataset_name = "bad name";
  r.sync_session_token = "t";
  r.record_patches.push_back({wire::kOpReplace, "", std::nullopt, -1, std::nullopt});
  r.record_patches.push_back({"rename", "k", std::string("v"), 0, std::nullopt});
  Status s = validate(r);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidParameter);
  for (const char* want :
       {"DatasetName: 'bad name' does not match the pattern",
        "RecordPatches[0].Key: missing required parameter",
        "RecordPatches[0].Value: a replace needs a value", "RecordPatches[0].SyncCount: negative",
        "RecordPatches[1].Op: 'rename' is not one of replace, remove"}) {
    EXPECT_NE(s.message().find(want), std::string::npos) << want << "\n" << s.message();
  }
}

TEST(CodecPath, LabelsAreEncodedOnTheWayOutAndAnEmptyOneStillTakesItsSlot) {
  wire::UnsubscribeFromDatasetRequest r{"us-east-1:0", "us-east-1:1", "settings", "dev 1/2"};
  WireRequest w = sync_wire::build(r);
  EXPECT_EQ(w.path,
            "/identitypools/us-east-1%3A0/identities/us-east-1%3A1/datasets/settings/"
            "subscriptions/dev%201%2F2");
  Received received;
  ASSERT_TRUE(route("GET", "/identitypools/p/identities/i/datasets/", &received));
  EXPECT_EQ(received.operation, "DescribeDataset");
  ASSERT_EQ(received.request.labels.size(), 3u);
  EXPECT_EQ(received.request.labels[2].second, "");
  EXPECT_FALSE(route("PUT", "/identitypools/p/identities/i/datasets/d", &received));
  EXPECT_FALSE(route("GET", "/identitypools/p/identities/i/datasets/d/extra/x/y", &received));
}

// The wire types were named cairn::sync:: before their namespace was named after its layer; code
// written against that name must still build and send the same request.
TEST(CodecNames, TheFormerSyncNamespaceStillNamesTheWireTypes) {
  static_assert(std::is_same_v<cairn::sync::Record, wire::Record>);
  cairn::sync::ListRecordsRequest old{"us-east-1:0", "us-east-1:1", "saves", 7, std::nullopt, 50,
                                      std::nullopt};
  wire::ListRecordsRequest now{"us-east-1:0", "us-east-1:1", "saves", 7, std::nullopt, 50,
                               std::nullopt};
  WireRequest a = sync_wire::build(old);
  WireRequest b = sync_wire::build(now);
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.query, b.query);
  EXPECT_NE(a.query.find("lastSyncCount=7"), std::string::npos);
}

}  // namespace
}  // namespace cairn::transport::codec
