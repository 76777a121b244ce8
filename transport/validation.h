// Validation's table and checker: every length, pattern, enum and range the service models
// declare, by shape. The codec (codec.h) checks each request against it before a client sends it
// (the seed's validate_params) and after a server decodes it. A failure is an
// InvalidParameterException naming every problem found; a client then sends nothing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/status.h"

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

// Collects every problem with one request, then reports them together as one
// InvalidParameterException. Each check names the member and the model shape that bounds it.
class Checker {
 public:
  Checker(std::string_view operation, std::string_view service)
      : operation_(operation), service_(service) {}

  void str(std::string_view member, std::string_view value, std::string_view shape_name);
  void str(std::string_view member, const std::string& value, std::string_view shape_name) {
    str(member, std::string_view(value), shape_name);
  }
  void str(std::string_view member, const std::optional<std::string>& value,
           std::string_view shape_name) {
    if (value) str(member, *value, shape_name);
  }
  void number(std::string_view member, std::optional<int64_t> value, std::string_view shape_name);
  void count(std::string_view member, size_t n, std::string_view shape_name);
  void string_map(std::string_view member, const std::map<std::string, std::string>& m,
                  std::string_view map_shape, std::string_view key_shape,
                  std::string_view value_shape);
  void required(std::string_view member, bool present) {
    if (!present) problem(std::string(member) + ": missing required parameter");
  }
  void problem(std::string text) { problems_.push_back(std::move(text)); }

  Status result() const;

 private:
  std::string_view operation_;
  std::string_view service_;
  std::vector<std::string> problems_;
};

}  // namespace cairn::transport
