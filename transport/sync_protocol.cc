// restJson1 serialisation for Cognito Sync (docs/wire-protocol.md sections 1.2, 3 and 4), from the
// declarations in sync_shapes.h.
#include "transport/sync_protocol.h"

#include "transport/sync_shapes.h"

namespace cairn::transport::sync_wire {

#define CAIRN_DEFINE_SYNC_WIRE(Op)                                                               \
  WireRequest build(const wire::Op##Request& request) { return codec::encode_request(request); } \
  Status decode(const codec::ReceivedRequest& request, wire::Op##Request* out) {                 \
    return codec::decode_request(request, out);                                                  \
  }                                                                                              \
  const codec::OperationInfo& info(const wire::Op##Request*) {                                   \
    return codec::Operation<wire::Op##Request>::kInfo;                                           \
  }
CAIRN_SYNC_OPERATIONS(CAIRN_DEFINE_SYNC_WIRE)
CAIRN_DEFINE_SYNC_WIRE(PollNotifications)
#undef CAIRN_DEFINE_SYNC_WIRE

// Responses, but for the two the model leaves irregular (below).
#define CAIRN_DEFINE_SYNC_RESPONSE(Op)                                      \
  Status parse(std::string body, wire::Op##Response* out) {                 \
    return codec::decode_response<wire::Op##Request>(std::move(body), out); \
  }                                                                         \
  std::string encode(const wire::Op##Response& response) {                  \
    return codec::encode_response(response);                                \
  }
#define CAIRN_SYNC_REGULAR_RESPONSES(X) \
  X(BulkPublish)                        \
  X(DeleteDataset)                      \
  X(DescribeDataset)                    \
  X(DescribeIdentityPoolUsage)          \
  X(DescribeIdentityUsage)              \
  X(GetBulkPublishDetails)              \
  X(GetCognitoEvents)                   \
  X(GetIdentityPoolConfiguration)       \
  X(ListDatasets)                       \
  X(ListIdentityPoolUsage)              \
  X(ListRecords)                        \
  X(RegisterDevice)                     \
  X(SetIdentityPoolConfiguration)       \
  X(SubscribeToDataset)                 \
  X(UnsubscribeFromDataset)             \
  X(UpdateRecords)
CAIRN_SYNC_REGULAR_RESPONSES(CAIRN_DEFINE_SYNC_RESPONSE)
#undef CAIRN_SYNC_REGULAR_RESPONSES
#undef CAIRN_DEFINE_SYNC_RESPONSE

// SetCognitoEvents has no output shape in the model: the body is ignored, whatever it holds (as
// both SDKs do), and the server answers an empty object.
Status parse(std::string, wire::SetCognitoEventsResponse*) { return Status::OK(); }
std::string encode(const wire::SetCognitoEventsResponse&) { return "{}"; }

const std::vector<const codec::OperationInfo*>& operations() {
#define CAIRN_SYNC_INFO(Op) &codec::Operation<wire::Op##Request>::kInfo,
  static const std::vector<const codec::OperationInfo*> all = {
      CAIRN_SYNC_OPERATIONS(CAIRN_SYNC_INFO) CAIRN_SYNC_INFO(PollNotifications)};
#undef CAIRN_SYNC_INFO
  return all;
}

// The notification poll's answer carries each push payload as raw JSON, which no shape
// describes: it is read and written by hand.
Status parse(std::string body, wire::PollNotificationsResponse* out) {
  json::Document d;
  Status s = json::parse_in_place(body, d);
  if (!s.ok()) return s;
  auto bad = [] { return Status(ErrorCode::kParse, "PollNotifications: unexpected answer"); };
  if (!d.IsObject() || !d.HasMember("Notifications") || !d["Notifications"].IsArray() ||
      !d.HasMember("Next") || !d["Next"].IsInt64()) {
    return bad();
  }
  out->next = d["Next"].GetInt64();
  for (const auto& n : d["Notifications"].GetArray()) {
    if (!n.IsObject() || !n.HasMember("Seq") || !n["Seq"].IsInt64() || !n.HasMember("Payload") ||
        !n["Payload"].IsObject()) {
      return bad();
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    n["Payload"].Accept(w);
    out->notifications.push_back(
        {n["Seq"].GetInt64(), std::string(buf.GetString(), buf.GetSize())});
  }
  return Status::OK();
}

std::string encode(const wire::PollNotificationsResponse& response) {
  json::Writer w;
  w.begin_object();
  w.begin_array("Notifications");
  for (const auto& n : response.notifications) {
    w.begin_object();
    w.i64("Seq", n.seq);
    w.key("Payload");
    w.raw().RawValue(n.payload_json.data(), n.payload_json.size(), rapidjson::kObjectType);
    w.end_object();
  }
  w.end_array();
  w.i64("Next", response.next);
  w.end_object();
  return w.take();
}

}  // namespace cairn::transport::sync_wire

namespace cairn::transport {

#define CAIRN_DEFINE_SYNC_VALIDATE(Op) \
  Status validate(const wire::Op##Request& request) { return codec::validate(request); }
CAIRN_SYNC_OPERATIONS(CAIRN_DEFINE_SYNC_VALIDATE)
CAIRN_DEFINE_SYNC_VALIDATE(PollNotifications)
#undef CAIRN_DEFINE_SYNC_VALIDATE

}  // namespace cairn::transport
