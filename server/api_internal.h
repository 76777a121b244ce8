// Helpers shared by the server's operation files: query and body parsing, validation with the
// model's constraint table, reply fragments, and signed pagination cursors.
#pragma once

#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/auth.h"
#include "server/storage.h"
#include "server/tokens.h"
#include "transport/json.h"
#include "transport/uri.h"
#include "transport/validation.h"

namespace cairn::server::internal {

// The decoded parameters of a raw query string.
class Query {
 public:
  explicit Query(const std::string& raw) {
    size_t start = 0;
    while (start < raw.size()) {
      size_t amp = raw.find('&', start);
      if (amp == std::string::npos) amp = raw.size();
      std::string pair = raw.substr(start, amp - start);
      size_t eq = pair.find('=');
      params_.emplace_back(
          transport::uri_decode(pair.substr(0, eq)),
          eq == std::string::npos ? "" : transport::uri_decode(pair.substr(eq + 1)));
      start = amp + 1;
    }
  }
  const std::string* get(const std::string& name) const {
    for (const auto& [k, v] : params_) {
      if (k == name) return &v;
    }
    return nullptr;
  }
  Status opt_string(const std::string& name, std::optional<std::string>* out) const {
    if (const auto* v = get(name)) *out = *v;
    return Status::OK();
  }
  Status opt_int64(const std::string& name, std::optional<int64_t>* out) const {
    const auto* v = get(name);
    if (!v) return Status::OK();
    char* end = nullptr;
    errno = 0;
    long long n = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || errno != 0 || *end != '\0') {
      return Status(ErrorCode::kInvalidParameter, name + ": '" + *v + "' is not an integer");
    }
    *out = static_cast<int64_t>(n);
    return Status::OK();
  }
  Status opt_int32(const std::string& name, std::optional<int32_t>* out) const {
    std::optional<int64_t> wide;
    Status s = opt_int64(name, &wide);
    if (!s.ok() || !wide) return s;
    if (*wide < INT32_MIN || *wide > INT32_MAX) {
      return Status(ErrorCode::kInvalidParameter, name + ": out of range");
    }
    *out = static_cast<int32_t>(*wide);
    return Status::OK();
  }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

inline Status reader_error(const transport::json::ObjectReader& r) {
  return Status(ErrorCode::kInvalidParameter, r.status().message());
}

inline Status required_string(transport::json::ObjectReader& body, const char* key,
                              std::string* out) {
  auto v = body.str(key);
  if (!body.valid()) return reader_error(body);
  if (!v)
    return Status(ErrorCode::kInvalidParameter, std::string(key) + ": missing required parameter");
  *out = std::move(*v);
  return Status::OK();
}

// Validates against the model (the same table the client uses), then runs the operation.
template <typename Request, typename Fn>
Result<std::string> run_validated(const Request& request, Fn fn) {
  Status s = transport::validate(request);
  if (!s.ok()) return s;
  return fn(request);
}

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
