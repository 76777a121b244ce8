// Cognito Identity over awsJson 1.1: POST / with X-Amz-Target. Pure functions, like
// sync_protocol.h. GetId, GetCredentialsForIdentity and GetOpenIdToken are built unsigned.
#pragma once

#include "cairn/cognito/identity_types.h"
#include "cairn/status.h"
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

#define CAIRN_DECLARE_IDENTITY_WIRE(Op)                    \
  WireRequest build(const identity::Op##Request& request); \
  Status parse(std::string_view body, identity::Op##Response* response);
CAIRN_IDENTITY_OPERATIONS(CAIRN_DECLARE_IDENTITY_WIRE)
#undef CAIRN_DECLARE_IDENTITY_WIRE

}  // namespace cairn::transport::identity_wire
