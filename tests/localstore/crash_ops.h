// The crash test's deterministic write sequence, shared by the writer and the checker: operation
// i writes these keys (a value, or nullopt for a remove) in one transaction.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace cairn::localstore::crash {

inline std::map<std::string, std::optional<std::string>> op(const std::string& prefix, long i) {
  std::string key = prefix + "-" + std::to_string(i % 40);
  std::string value = std::to_string(i);
  if (i % 7 == 3) return {{key, std::nullopt}};
  if (i % 5 == 0) return {{key, value}, {prefix + "-batch", value}};  // a batch: both or neither
  return {{key, value}};
}

}  // namespace cairn::localstore::crash
