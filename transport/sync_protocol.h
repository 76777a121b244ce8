// Cognito Sync over restJson1: request structs to WireRequests and response bodies to structs.
// Pure functions with no I/O, so tests compare them with the captured botocore requests directly.
#pragma once

#include "cairn/cognito/sync_types.h"
#include "cairn/status.h"
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

#define CAIRN_DECLARE_SYNC_WIRE(Op)                    \
  WireRequest build(const sync::Op##Request& request); \
  Status parse(std::string_view body, sync::Op##Response* response);
CAIRN_SYNC_OPERATIONS(CAIRN_DECLARE_SYNC_WIRE)
#undef CAIRN_DECLARE_SYNC_WIRE

// cairn's notification channel (docs/events.md): the poll, whose answer is also what each
// WebSocket message carries.
WireRequest build(const sync::PollNotificationsRequest& request);
Status parse(std::string_view body, sync::PollNotificationsResponse* response);

}  // namespace cairn::transport::sync_wire
