// Cognito Sync over restJson1, for the client and the server: request structs to WireRequests and
// back, response structs to bodies and back, and validation. Each comes from the operation's one
// declaration in sync_shapes.h. Pure functions with no I/O, so tests compare them with the captured
// botocore requests directly.
#pragma once

#include "cairn/cognito/sync_types.h"
#include "cairn/status.h"
#include "transport/codec.h"
#include "transport/wire.h"

namespace cairn::transport::sync_wire {

#define CAIRN_SYNC_OPERATIONS(X)  \
  X(BulkPublish)                  \
  X(DeleteDataset)                \
  X(DescribeDataset)              \
  X(DescribeIdentityPoolUsage)    \
  X(DescribeIdentityUsage)        \
  X(GetBulkPublishDetails)        \
  X(GetCognitoEvents)             \
  X(GetIdentityPoolConfiguration) \
  X(ListDatasets)                 \
  X(ListIdentityPoolUsage)        \
  X(ListRecords)                  \
  X(RegisterDevice)               \
  X(SetCognitoEvents)             \
  X(SetIdentityPoolConfiguration) \
  X(SubscribeToDataset)           \
  X(UnsubscribeFromDataset)       \
  X(UpdateRecords)

// For each operation:
//   build   the client's request;       parse    the client's reading of the response;
//   decode  the server's reading of a request (validation is separate);
//   encode  the server's response body.
#define CAIRN_DECLARE_SYNC_WIRE(Op)                                             \
  WireRequest build(const wire::Op##Request& request);                          \
  Status parse(std::string body, wire::Op##Response* response);                 \
  Status decode(const codec::ReceivedRequest& request, wire::Op##Request* out); \
  std::string encode(const wire::Op##Response& response);                       \
  const codec::OperationInfo& info(const wire::Op##Request*);
CAIRN_SYNC_OPERATIONS(CAIRN_DECLARE_SYNC_WIRE)
// cairn's notification channel (docs/events.md): the poll, whose answer is also what each
// WebSocket message carries.
CAIRN_DECLARE_SYNC_WIRE(PollNotifications)
#undef CAIRN_DECLARE_SYNC_WIRE

// Every operation above, for a server's router.
const std::vector<const codec::OperationInfo*>& operations();

}  // namespace cairn::transport::sync_wire

namespace cairn::transport {
#define CAIRN_DECLARE_SYNC_VALIDATE(Op) Status validate(const wire::Op##Request& request);
CAIRN_SYNC_OPERATIONS(CAIRN_DECLARE_SYNC_VALIDATE)
CAIRN_DECLARE_SYNC_VALIDATE(PollNotifications)
#undef CAIRN_DECLARE_SYNC_VALIDATE
}  // namespace cairn::transport
