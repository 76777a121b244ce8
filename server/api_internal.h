// Helpers shared by the server's operation files: errors, authorization, times and signed
// pagination cursors. Requests and responses themselves are decoded and encoded by the codec
// (transport/codec.h).
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/auth.h"
#include "server/storage/storage.h"
#include "server/tokens.h"
#include "transport/json.h"

namespace cairn::server::internal {

inline Status not_authorized(const std::string& message) {
  return Status(ErrorCode::kNotAuthorized, message);
}
inline Status not_found(const std::string& message) {
  return Status(ErrorCode::kResourceNotFound, message);
}
inline Status invalid(const std::string& message) {
  return Status(ErrorCode::kInvalidParameter, message);
}

enum class Access { kDeveloperOnly, kIdentityOnly, kEither };

// Who may call what: developer credentials anything but the device operations the model reserves
// for identity credentials; identity credentials only their own identity's data.
inline Status authorize(const Caller& c, Access access, const std::string& pool,
                        const std::string& identity) {
  if (access == Access::kDeveloperOnly && !c.developer()) {
    return not_authorized("This operation needs developer credentials");
  }
  if (access == Access::kIdentityOnly && !c.identity()) {
    return not_authorized("This operation needs Cognito Identity credentials");
  }
  if (c.identity() && (c.pool_id != pool || (!identity.empty() && c.identity_id != identity))) {
    return not_authorized("Access to Identity '" + identity + "' is forbidden.");
  }
  return Status::OK();
}

// The identity row, if any, must belong to the pool in the path.
// Identity credentials need no look-up: authorize() matched their identity and pool with the
// path's, and they are deleted with their identity (merges included) and their pool.
inline Status check_identity_pool(StorageTxn& txn, const Caller& caller, const std::string& pool,
                                  const std::string& identity) {
  if (caller.identity()) return Status::OK();
  auto row = txn.identity(identity);
  if (row && row->pool_id != pool) {
    return not_found("Identity '" + identity + "' is not in identity pool '" + pool + "'.");
  }
  return Status::OK();
}

// The page size a listing answers with: at most `maximum`, and `asked` if it is less.
inline Result<int> page_size(const std::optional<int32_t>& asked, int maximum) {
  if (!asked) return maximum;
  if (*asked < 1) return Status(ErrorCode::kInvalidParameter, "MaxResults must be at least 1");
  return std::min<int>(*asked, maximum);
}

inline Millis to_millis(const Timestamp& t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline Timestamp from_millis(Millis ms) { return Timestamp(std::chrono::milliseconds(ms)); }

// Listings fetch one row past the page: if it came, there is a next page. Drops it and says so.
template <typename T>
bool trim_page(std::vector<T>& rows, int limit) {
  if (static_cast<int>(rows.size()) <= limit) return false;
  rows.resize(static_cast<size_t>(limit));
  return true;
}

// Pagination cursors are signed, so a client cannot forge a position or reuse a cursor of another
// listing: the payload names its scope.
inline std::string make_cursor(const TokenSigner& signer, const std::string& scope,
                               const std::string& position) {
  transport::json::Writer w;
  w.begin_object();
  w.str("s", scope);
  w.str("p", position);
  w.end_object();
  return signer.sign("next", w.take());
}

inline Result<std::string> read_cursor(const TokenSigner& signer, const std::string& scope,
                                       const std::optional<std::string>& token) {
  if (!token) return std::string();
  auto payload = signer.verify("next", *token);
  if (payload) {
    transport::json::Document d;
    if (transport::json::parse(*payload, d).ok()) {
      transport::json::ObjectReader r(d, "NextToken");
      auto s = r.str("s");
      auto p = r.str("p");
      if (s && p && *s == scope) return *p;
    }
  }
  return Status(ErrorCode::kInvalidParameter, "NextToken is not valid for these inputs");
}

}  // namespace cairn::server::internal
