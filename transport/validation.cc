#include "transport/validation.h"

#include <optional>
#include <unordered_map>
#include <vector>

#include "common/utf8.h"
#include "transport/pattern.h"

namespace cairn::transport {
namespace {

constexpr std::string_view kSync = "cognito-sync";
constexpr std::string_view kIdentity = "cognito-identity";

// The constraint table, indexed once: every check of every request looks its shape up, so the
// look-up is a hash probe, and each pattern is compiled once, beside its shape.
struct Index {
  std::unordered_map<std::string_view, std::vector<size_t>> by_name;
  std::vector<std::optional<Pattern>> patterns;  // by table position; nullopt: no pattern

  Index() {
    const auto& table = shape_constraints();
    patterns.resize(table.size());
    for (size_t i = 0; i < table.size(); ++i) {
      by_name[table[i].name].push_back(i);
      // Every pattern in the table compiles; the validation test proves it.
      if (!table[i].pattern.empty()) patterns[i] = Pattern::compile(table[i].pattern);
    }
  }
};

const Index& index() {
  static const Index kIndex;
  return kIndex;
}

const ShapeConstraint* find_shape(std::string_view service, std::string_view name) {
  const Index& ix = index();
  auto it = ix.by_name.find(name);
  if (it == ix.by_name.end()) return nullptr;
  const auto& table = shape_constraints();
  for (size_t i : it->second) {
    if (table[i].service == service) return &table[i];
  }
  return nullptr;
}

const Pattern& compiled(const ShapeConstraint& shape) {
  return *index().patterns[static_cast<size_t>(&shape - shape_constraints().data())];
}

}  // namespace

void Checker::str(std::string_view member, std::string_view value, std::string_view shape_name) {
  const ShapeConstraint* shape = find_shape(service_, shape_name);
  if (!shape) return;  // a shape with no constraints
  // A string has at most as many characters as bytes, and at least a quarter as many: counting
  // them is needed only near the bounds.
  bool within = (!shape->max || static_cast<int64_t>(value.size()) <= *shape->max) &&
                (!shape->min || static_cast<int64_t>((value.size() + 3) / 4) >= *shape->min);
  size_t len = within ? 0 : utf8_length(value);
  if (!within && shape->min && static_cast<int64_t>(len) < *shape->min) {
    problem(std::string(member) + ": length " + std::to_string(len) + " is below the minimum " +
            std::to_string(*shape->min));
    return;
  }
  if (!within && shape->max && static_cast<int64_t>(len) > *shape->max) {
    problem(std::string(member) + ": length " + std::to_string(len) + " is above the maximum " +
            std::to_string(*shape->max));
    return;
  }
  if (!shape->pattern.empty() && !compiled(*shape).full_match(value)) {
    problem(std::string(member) + ": '" + std::string(value.substr(0, 80)) +
            "' does not match the pattern " + std::string(shape->pattern));
    return;
  }
  if (!shape->enum_values.empty()) {
    for (auto v : shape->enum_values) {
      if (v == value) return;
    }
    std::string allowed;
    for (auto v : shape->enum_values) allowed += (allowed.empty() ? "" : ", ") + std::string(v);
    problem(std::string(member) + ": '" + std::string(value.substr(0, 80)) + "' is not one of " +
            allowed);
  }
}

void Checker::number(std::string_view member, std::optional<int64_t> value,
                     std::string_view shape_name) {
  const ShapeConstraint* shape = find_shape(service_, shape_name);
  if (!value || !shape) return;
  if ((shape->min && *value < *shape->min) || (shape->max && *value > *shape->max)) {
    problem(std::string(member) + ": " + std::to_string(*value) + " is outside " +
            std::to_string(shape->min.value_or(INT64_MIN)) + ".." +
            std::to_string(shape->max.value_or(INT64_MAX)));
  }
}

void Checker::count(std::string_view member, size_t n, std::string_view shape_name) {
  const ShapeConstraint* shape = find_shape(service_, shape_name);
  if (!shape) return;
  if ((shape->min && static_cast<int64_t>(n) < *shape->min) ||
      (shape->max && static_cast<int64_t>(n) > *shape->max)) {
    problem(std::string(member) + ": " + std::to_string(n) + " entries, allowed " +
            std::to_string(shape->min.value_or(0)) + ".." +
            (shape->max ? std::to_string(*shape->max) : std::string("any")));
  }
}

void Checker::string_map(std::string_view member, const std::map<std::string, std::string>& m,
                         std::string_view map_shape, std::string_view key_shape,
                         std::string_view value_shape) {
  count(member, m.size(), map_shape);
  for (const auto& [k, v] : m) {
    str(std::string(member) + " key", k, key_shape);
    str(std::string(member) + "[" + k.substr(0, 40) + "]", v, value_shape);
  }
}

Status Checker::result() const {
  if (problems_.empty()) return Status::OK();
  std::string msg = "Invalid parameters for " + std::string(operation_) + ": ";
  for (size_t i = 0; i < problems_.size(); ++i) msg += (i ? "; " : "") + problems_[i];
  return Status(ErrorCode::kInvalidParameter, msg);
}

const std::vector<ShapeConstraint>& shape_constraints() {
  static const std::vector<ShapeConstraint> table = {
      // Cognito Sync
      {kSync, "IdentityPoolId", "string", 1, 55, "[\\w-]+:[0-9a-f-]+", {}},
      {kSync, "IdentityId", "string", 1, 55, "[\\w-]+:[0-9a-f-]+", {}},
      {kSync, "DatasetName", "string", 1, 128, "[a-zA-Z0-9_.:-]+", {}},
      {kSync, "DeviceId", "string", 1, 256, "", {}},
      {kSync, "RecordKey", "string", 1, 1024, "", {}},
      {kSync, "RecordValue", "string", std::nullopt, 1048575, "", {}},
      {kSync, "Operation", "string", std::nullopt, std::nullopt, "", {"replace", "remove"}},
      {kSync,
       "Platform",
       "string",
       std::nullopt,
       std::nullopt,
       "",
       {"APNS", "APNS_SANDBOX", "GCM", "ADM"}},
      {kSync,
       "ApplicationArn",
       "string",
       std::nullopt,
       std::nullopt,
       "arn:aws:sns:[-0-9a-z]+:\\d+:app/[A-Z_]+/[a-zA-Z0-9_.-]+",
       {}},
      {kSync, "AssumeRoleArn", "string", 20, 2048, "arn:aws:iam::\\d+:role/.*", {}},
      {kSync, "StreamName", "string", 1, 128, "", {}},
      {kSync, "StreamingStatus", "string", std::nullopt, std::nullopt, "", {"ENABLED", "DISABLED"}},
      {kSync, "Events", "map", std::nullopt, 1, "", {}},
      // Cognito Identity
      {kIdentity, "IdentityPoolId", "string", 1, 55, "[\\w-]+:[0-9a-f-]+", {}},
      {kIdentity, "IdentityId", "string", 1, 55, "[\\w-]+:[0-9a-f-]+", {}},
      {kIdentity, "IdentityPoolName", "string", 1, 128, "[\\w\\s+=,.@-]+", {}},
      {kIdentity, "AccountId", "string", 1, 15, "\\d+", {}},
      {kIdentity, "IdentityProviderName", "string", 1, 128, "", {}},
      {kIdentity, "IdentityProviderToken", "string", 1, 50000, "", {}},
      {kIdentity, "IdentityProviderId", "string", 1, 128, "[\\w.;_/-]+", {}},
      {kIdentity, "IdentityProviders", "map", std::nullopt, 10, "", {}},
      {kIdentity, "LoginsMap", "map", std::nullopt, 10, "", {}},
      {kIdentity, "DeveloperProviderName", "string", 1, 128, "[\\w._-]+", {}},
      {kIdentity, "DeveloperUserIdentifier", "string", 1, 1024, "", {}},
      {kIdentity, "QueryLimit", "integer", 1, 60, "", {}},
      {kIdentity, "PaginationKey", "string", 1, 65535, "[\\S]+", {}},
      {kIdentity, "TokenDuration", "long", 1, 86400, "", {}},
      {kIdentity, "ARNString", "string", 20, 2048, "", {}},
      {kIdentity, "IdentityIdList", "list", 1, 60, "", {}},
      {kIdentity, "PrincipalTags", "map", std::nullopt, 50, "", {}},
      {kIdentity, "PrincipalTagID", "string", 1, 128, "", {}},
      {kIdentity, "PrincipalTagValue", "string", 1, 256, "", {}},
      {kIdentity, "TagKeysType", "string", 1, 128, "", {}},
      {kIdentity, "TagValueType", "string", 0, 256, "", {}},
      {kIdentity, "CognitoIdentityProviderName", "string", 1, 128, "[\\w._:/-]+", {}},
      {kIdentity, "CognitoIdentityProviderClientId", "string", 1, 128, "[\\w_]+", {}},
  };
  return table;
}

}  // namespace cairn::transport
