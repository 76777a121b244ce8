// Cognito Identity over awsJson 1.1: POST / with X-Amz-Target. Pure functions, like
// sync_protocol.h. GetId, GetCredentialsForIdentity and GetOpenIdToken are built unsigned.
#pragma once

#include "cairn/cognito/identity_types.h"
#include "cairn/status.h"
#include "transport/codec.h"
#include "transport/wire.h"

namespace cairn::transport::identity_wire {

#define CAIRN_IDENTITY_OPERATIONS(X)    \
  X(CreateIdentityPool)                 \
  X(DescribeIdentityPool)               \
  X(ListIdentityPools)                  \
  X(DeleteIdentityPool)                 \
  X(GetId)                              \
  X(GetCredentialsForIdentity)          \
  X(GetOpenIdToken)                     \
  X(GetOpenIdTokenForDeveloperIdentity) \
  X(LookupDeveloperIdentity)            \
  X(MergeDeveloperIdentities)           \
  X(UnlinkDeveloperIdentity)            \
  X(DescribeIdentity)                   \
  X(ListIdentities)                     \
  X(DeleteIdentities)

// For each operation:
//   build   the client's request;       parse    the client's reading of the response;
//   decode  the server's reading of a request (validation is separate);
//   encode  the server's response body.
#define CAIRN_DECLARE_IDENTITY_WIRE(Op)                                             \
  WireRequest build(const identity::Op##Request& request);                          \
  Status parse(std::string body, identity::Op##Response* response);                 \
  Status decode(const codec::ReceivedRequest& request, identity::Op##Request* out); \
  std::string encode(const identity::Op##Response& response);
CAIRN_IDENTITY_OPERATIONS(CAIRN_DECLARE_IDENTITY_WIRE)
#undef CAIRN_DECLARE_IDENTITY_WIRE

// Every operation above, for a server's router.
const std::vector<const codec::OperationInfo*>& operations();

}  // namespace cairn::transport::identity_wire

namespace cairn::transport {
#define CAIRN_DECLARE_IDENTITY_VALIDATE(Op) Status validate(const identity::Op##Request& request);
CAIRN_IDENTITY_OPERATIONS(CAIRN_DECLARE_IDENTITY_VALIDATE)
#undef CAIRN_DECLARE_IDENTITY_VALIDATE
}  // namespace cairn::transport
