// awsJson 1.1 serialisation for Cognito Identity (docs/wire-protocol.md section 2), from the
// declarations in identity_shapes.h.
#include "transport/identity_protocol.h"

#include "transport/identity_shapes.h"

namespace cairn::transport::identity_wire {

#define CAIRN_DEFINE_IDENTITY_WIRE(Op)                                               \
  WireRequest build(const identity::Op##Request& request) {                          \
    return codec::encode_request(request);                                           \
  }                                                                                  \
  Status decode(const codec::ReceivedRequest& request, identity::Op##Request* out) { \
    return codec::decode_request(request, out);                                      \
  }
CAIRN_IDENTITY_OPERATIONS(CAIRN_DEFINE_IDENTITY_WIRE)
#undef CAIRN_DEFINE_IDENTITY_WIRE

// Responses.
#define CAIRN_DEFINE_IDENTITY_RESPONSE(Op)                                      \
  Status parse(std::string body, identity::Op##Response* out) {                 \
    return codec::decode_response<identity::Op##Request>(std::move(body), out); \
  }                                                                             \
  std::string encode(const identity::Op##Response& response) {                  \
    return codec::encode_response(response);                                    \
  }
#define CAIRN_IDENTITY_RESPONSES(X)     \
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
CAIRN_IDENTITY_RESPONSES(CAIRN_DEFINE_IDENTITY_RESPONSE)
#undef CAIRN_IDENTITY_RESPONSES
#undef CAIRN_DEFINE_IDENTITY_RESPONSE

// CreateIdentityPool and DescribeIdentityPool both answer an IdentityPool: one pair of functions
// serves both, and a parse error names the shape rather than either operation.
Status parse(std::string body, identity::IdentityPool* out) {
  return codec::decode_body(std::move(body), "IdentityPool", out);
}
std::string encode(const identity::IdentityPool& response) {
  return codec::encode_response(response);
}

const std::vector<const codec::OperationInfo*>& operations() {
#define CAIRN_IDENTITY_INFO(Op) &codec::Operation<identity::Op##Request>::kInfo,
  static const std::vector<const codec::OperationInfo*> all = {
      CAIRN_IDENTITY_OPERATIONS(CAIRN_IDENTITY_INFO)};
#undef CAIRN_IDENTITY_INFO
  return all;
}

}  // namespace cairn::transport::identity_wire

namespace cairn::transport {

#define CAIRN_DEFINE_IDENTITY_VALIDATE(Op) \
  Status validate(const identity::Op##Request& request) { return codec::validate(request); }
CAIRN_IDENTITY_OPERATIONS(CAIRN_DEFINE_IDENTITY_VALIDATE)
#undef CAIRN_DEFINE_IDENTITY_VALIDATE

}  // namespace cairn::transport
