// Client-side validation: every length, pattern, enum, range and required member the service
// models declare, checked before a request is built (the seed's validate_params). A failure is an
// InvalidParameterException produced locally, naming every problem found, and nothing is sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/cognito/identity_types.h"
#include "cairn/cognito/sync_types.h"
#include "cairn/status.h"
#include "transport/identity_protocol.h"
#include "transport/sync_protocol.h"

namespace cairn::transport {

// One constrained shape of a service model. Lengths count Unicode characters, as the services do.
struct ShapeConstraint {
  std::string_view service;  // "cognito-sync" or "cognito-identity"
  std::string_view name;     // model shape name
  std::string_view type;     // "string", "integer", "long", "list", "map"
  std::optional<int64_t> min;
  std::optional<int64_t> max;
  std::string_view pattern;                   // empty: none
  std::vector<std::string_view> enum_values;  // empty: none
};

// The constraints cairn enforces, one entry per constrained shape reachable from an operation's
// input (tests check this table against the models in ../shared/spec/models).
const std::vector<ShapeConstraint>& shape_constraints();

#define CAIRN_DECLARE_SYNC_VALIDATE(Op) Status validate(const sync::Op##Request& request);
CAIRN_SYNC_OPERATIONS(CAIRN_DECLARE_SYNC_VALIDATE)
#undef CAIRN_DECLARE_SYNC_VALIDATE
#define CAIRN_DECLARE_IDENTITY_VALIDATE(Op) Status validate(const identity::Op##Request& request);
CAIRN_IDENTITY_OPERATIONS(CAIRN_DECLARE_IDENTITY_VALIDATE)
#undef CAIRN_DECLARE_IDENTITY_VALIDATE

}  // namespace cairn::transport
