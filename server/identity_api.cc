// The Cognito Identity subset: unauthenticated and developer-authenticated identities, OpenID
// tokens, temporary credentials, merges (docs/server.md). Pools are in pools_api.cc.
#include <algorithm>

#include "server/api.h"
#include "server/api_internal.h"
#include "transport/crypto.h"
#include "transport/identity_protocol.h"
#include "transport/identity_shapes.h"

namespace cairn::server {

using namespace internal;
using transport::json::ObjectReader;

namespace {

// The provider name under which GetId and GetCredentialsForIdentity accept this server's OpenID
// tokens, as Cognito does for its own.
constexpr char kCognitoProvider[] = "cognito-identity.amazonaws.com";
constexpr char kIssuer[] = "https://cognito-identity.amazonaws.com";
constexpr int64_t kOpenIdTokenSeconds = 600;            // GetOpenIdToken: 10 minutes, as AWS
constexpr int64_t kDeveloperTokenDefaultSeconds = 900;  // GetOpenIdTokenForDeveloperIdentity
constexpr int kIdentityPageSize = 60;  // the model's QueryLimit maximum, when none is asked

std::string guid() {
  std::string h = transport::random_hex(16);
  h[12] = '4';  // RFC 4122 version 4 layout, lower-case hex as the id patterns require
  h[16] = "89ab"[h[16] % 4];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

std::string random_alnum(size_t n, const char* alphabet, size_t alphabet_size) {
  std::string raw = transport::random_hex(n);  // 2n hex digits of entropy, one byte per output char
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    unsigned v = static_cast<unsigned>(std::stoul(raw.substr(i * 2, 2), nullptr, 16));
    out.push_back(alphabet[v % alphabet_size]);
  }
  return out;
}

identity::IdentityDescription describe(const IdentityRow& id, const std::vector<LoginRow>& logins) {
  identity::IdentityDescription out;
  out.identity_id = id.id;
  for (const auto& l : logins) {
    if (std::find(out.logins.begin(), out.logins.end(), l.provider) == out.logins.end()) {
      out.logins.push_back(l.provider);
    }
  }
  out.creation_date = from_millis(id.created);
  out.last_modified_date = from_millis(id.modified);
  return out;
}

}  // namespace

std::string Api::new_identity_id() { return options_.region + ":" + guid(); }

Result<std::optional<std::string>> Api::identity_from_logins(StorageTxn& txn, const PoolRow& pool,
                                                             const identity::Logins& logins,
                                                             Millis now) {
  std::optional<std::string> found;
  for (const auto& [provider, token] : logins) {
    if (provider != kCognitoProvider) {
      // Tokens of public providers (Facebook, Google, ...) cannot be verified offline.
      return Status(ErrorCode::kNotAuthorized,
                    "cairn-server cannot verify logins from '" + provider +
                        "'; use developer-authenticated identities and present the token under " +
                        kCognitoProvider);
    }
    auto subject = tokens_.verify_jwt(token, pool.id, now);
    if (!subject) return Status(ErrorCode::kNotAuthorized, "Invalid login token.");
    auto row = txn.identity(*subject);
    if (!row || row->pool_id != pool.id) {
      return Status(ErrorCode::kNotAuthorized, "Invalid login token: identity not in this pool.");
    }
    if (found && *found != *subject) {
      return Status(ErrorCode::kResourceConflict, "The logins belong to different identities.");
    }
    found = *subject;
  }
  return found;
}

void Api::merge_identity(StorageTxn& txn, const std::string& source_id, const std::string& dest_id,
                         Millis now) {
  txn.announce_revocation();  // the source identity's credentials end here, on every instance
  for (auto login : txn.logins_of(source_id)) {
    login.identity_id = dest_id;
    txn.put_login(login);
  }
  auto dest = txn.identity(dest_id);
  // Each dataset of the source moves to the destination as NAME.SOURCE_ID, reported on NAME's
  // ListRecords as a merged dataset until it is deleted. The name part is shortened when the
  // whole would pass the model's 128 characters.
  std::string after;
  for (;;) {
    auto page = txn.datasets_after(source_id, after, 64);
    if (page.empty()) break;
    for (const auto& ds : page) {
      std::string suffix = "." + source_id;
      std::string name = ds.name.substr(0, 128 - std::min<size_t>(suffix.size(), 127)) + suffix;
      DatasetRow moved = ds;
      moved.identity_id = dest_id;
      moved.pool_id = dest ? dest->pool_id : ds.pool_id;
      moved.name = name;
      moved.merge_root = ds.name;
      moved.modified = now;
      txn.move_dataset(source_id, ds.name, moved);
    }
    after = page.back().name;
  }
  if (dest) {
    dest->modified = now;
    txn.put_identity(*dest);
  }
  txn.delete_identity(source_id);  // what is left: deleted datasets, devices, credentials
}

// --- identities ----------------------------------------------------------------------------------

Status Api::identity_quota(const std::string& pool_id, bool* full) {
  *full = false;
  int64_t max = limits_.max_identities(pool_id);
  if (max <= 0) return Status::OK();
  auto usage = pool_usage_.get(pool_id);
  if (!usage.ok()) return usage.status();
  *full = usage->identities >= max;
  return Status::OK();
}

Status Api::identity_quota_refusal(const std::string& pool_id) {
  limits_.refused(LimitReason::kMaxIdentities);
  return Status(ErrorCode::kLimitExceeded, "Identity pool '" + pool_id + "' holds its maximum of " +
                                               std::to_string(limits_.max_identities(pool_id)) +
                                               " identities");
}

Result<identity::GetIdResponse> Api::serve(Call& c, const identity::GetIdRequest& r) {
  Status admitted = limits_.admit_pool(r.identity_pool_id, &retry_after_of_this_request());
  if (!admitted.ok()) return refused_by_limits(admitted);
  bool full = false;
  Status quota = identity_quota(r.identity_pool_id, &full);
  if (!quota.ok()) return quota;
  std::string id;
  bool created = false;
  Status s = storage_->write([&](StorageTxn& txn) -> Status {
    created = false;
    PoolRow pool;
    Status st = require_pool(txn, r.identity_pool_id, &pool);
    if (!st.ok()) return st;
    if (!r.logins.empty()) {
      auto proven = identity_from_logins(txn, pool, r.logins, c.now);
      if (!proven.ok()) return proven.status();
      id = **proven;
      return Status::OK();
    }
    if (!pool.allow_unauthenticated) {
      return not_authorized("Unauthenticated access is not supported for this identity pool.");
    }
    if (full) return identity_quota_refusal(pool.id);
    id = new_identity_id();
    txn.put_identity({id, pool.id, c.now, c.now});
    created = true;
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (created) pool_usage_.add(r.identity_pool_id, 1, 0);
  return identity::GetIdResponse{id};
}

namespace {

struct Resolved {
  std::string identity_id;
  std::string pool_id;
};

// Which identity a GetCredentialsForIdentity or GetOpenIdToken call acts as. An authenticated
// identity must present one of its logins; an unauthenticated one presenting another identity's
// login is merged into that identity, which the call then acts as.
Result<Resolved> resolve_identity(
    StorageTxn& txn, const std::string& identity_id, const identity::Logins& logins,
    const std::function<Result<std::optional<std::string>>(StorageTxn&, const PoolRow&)>& prove,
    const std::function<void(const std::string&, const std::string&)>& merge) {
  auto row = txn.identity(identity_id);
  if (!row) return not_found("Identity '" + identity_id + "' not found.");
  auto pool = txn.pool(row->pool_id);
  if (!pool) return not_found("IdentityPool '" + row->pool_id + "' not found.");
  bool authenticated = !txn.logins_of(identity_id).empty();
  if (logins.empty()) {
    if (authenticated) {
      return not_authorized(
          "Logins don't match. Please include at least one valid login for this identity or "
          "identity pool.");
    }
    if (!pool->allow_unauthenticated) {
      return not_authorized("Unauthenticated access is not supported for this identity pool.");
    }
    return Resolved{identity_id, pool->id};
  }
  auto proven = prove(txn, *pool);
  if (!proven.ok()) return proven.status();
  const std::string& target = **proven;
  if (target == identity_id) return Resolved{identity_id, pool->id};
  if (authenticated) {
    return Status(ErrorCode::kResourceConflict,
                  "The logins belong to identity '" + target + "', not '" + identity_id + "'.");
  }
  merge(identity_id, target);
  return Resolved{target, pool->id};
}

}  // namespace

Result<identity::GetCredentialsForIdentityResponse> Api::serve(
    Call& c, const identity::GetCredentialsForIdentityRequest& r) {
  Status admitted = limits_.admit_identity(r.identity_id);
  if (!admitted.ok()) return refused_by_limits(admitted);
  CredentialsRow creds;
  std::string session_token;
  bool merged = false;  // then the source identity's credentials are gone
  Status s = storage_->write([&](StorageTxn& txn) -> Status {
    merged = false;  // this attempt's, should storage run the transaction again
    auto resolved = resolve_identity(
        txn, r.identity_id, r.logins,
        [&](StorageTxn& t, const PoolRow& pool) {
          return identity_from_logins(t, pool, r.logins, c.now);
        },
        [&](const std::string& from, const std::string& to) {
          merge_identity(txn, from, to, c.now);
          merged = true;
        });
    if (!resolved.ok()) return resolved.status();
    static constexpr char kUpperAlnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static constexpr char kSecretAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    creds.access_key_id = "ASIA" + random_alnum(16, kUpperAlnum, 36);
    creds.secret_access_key = random_alnum(40, kSecretAlphabet, 64);
    session_token = transport::base64url_encode(transport::random_hex(48));
    creds.session_token_sha256 = transport::sha256_hex(session_token);
    creds.identity_id = resolved->identity_id;
    creds.pool_id = resolved->pool_id;
    creds.expires = c.now + options_.credentials_ttl_seconds * 1000;
    txn.delete_expired_credentials(c.now - kExpiredCredentialsKept);
    txn.put_credentials(creds);
    txn.touch_identity(creds.identity_id, c.now);  // its last activity, for expiry
    return Status::OK();
  });
  if (merged) credentials_cache_.revoke_all();
  if (!s.ok()) return s;
  identity::GetCredentialsForIdentityResponse out;
  out.identity_id = creds.identity_id;
  out.credentials = identity::Credentials{creds.access_key_id, creds.secret_access_key,
                                          session_token, from_millis(creds.expires)};
  return out;
}

Result<identity::GetOpenIdTokenResponse> Api::serve(Call& c,
                                                    const identity::GetOpenIdTokenRequest& r) {
  Status admitted = limits_.admit_identity(r.identity_id);
  if (!admitted.ok()) return refused_by_limits(admitted);
  std::string id, pool_id;
  bool merged = false;  // then the source identity's credentials are gone
  Status s = storage_->write([&](StorageTxn& txn) -> Status {
    merged = false;  // this attempt's, should storage run the transaction again
    auto resolved = resolve_identity(
        txn, r.identity_id, r.logins,
        [&](StorageTxn& t, const PoolRow& pool) {
          return identity_from_logins(t, pool, r.logins, c.now);
        },
        [&](const std::string& from, const std::string& to) {
          merge_identity(txn, from, to, c.now);
          merged = true;
        });
    if (!resolved.ok()) return resolved.status();
    id = resolved->identity_id;
    pool_id = resolved->pool_id;
    txn.touch_identity(id, c.now);  // its last activity, for expiry
    return Status::OK();
  });
  if (merged) credentials_cache_.revoke_all();
  if (!s.ok()) return s;
  return identity::GetOpenIdTokenResponse{
      id, tokens_.jwt(id, pool_id, c.now, kOpenIdTokenSeconds, kIssuer)};
}

Result<identity::GetOpenIdTokenForDeveloperIdentityResponse> Api::serve(
    Call& c, const identity::GetOpenIdTokenForDeveloperIdentityRequest& r) {
  bool full = false;
  Status quota = identity_quota(r.identity_pool_id, &full);
  if (!quota.ok()) return quota;
  std::string id;
  bool created = false;
  Status s = storage_->write([&](StorageTxn& txn) -> Status {
    created = false;
    PoolRow pool;
    Status st = require_pool(txn, r.identity_pool_id, &pool);
    if (!st.ok()) return st;
    if (pool.developer_provider_name.empty()) {
      return not_authorized("Identity pool '" + pool.id + "' has no developer provider name.");
    }
    auto it = r.logins.find(pool.developer_provider_name);
    if (it == r.logins.end() || r.logins.size() != 1) {
      return invalid("Logins must hold exactly the pool's developer provider '" +
                     pool.developer_provider_name + "'");
    }
    const std::string& user = it->second;
    auto linked = txn.login(pool.id, pool.developer_provider_name, user);
    if (r.identity_id) {
      auto row = txn.identity(*r.identity_id);
      if (!row || row->pool_id != pool.id)
        return not_found("Identity '" + *r.identity_id + "' not found.");
      if (linked && linked->identity_id != *r.identity_id) {
        return Status(ErrorCode::kDeveloperUserAlreadyRegistered,
                      "Developer user '" + user + "' is already registered with identity '" +
                          linked->identity_id + "'.");
      }
      id = *r.identity_id;
    } else if (linked) {
      id = linked->identity_id;
    } else {
      if (full) return identity_quota_refusal(pool.id);
      id = new_identity_id();
      txn.put_identity({id, pool.id, c.now, c.now});
      created = true;
    }
    if (!linked) txn.put_login({pool.id, pool.developer_provider_name, user, id});
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (created) pool_usage_.add(r.identity_pool_id, 1, 0);
  return identity::GetOpenIdTokenForDeveloperIdentityResponse{
      id, tokens_.jwt(id, r.identity_pool_id, c.now,
                      r.token_duration.value_or(kDeveloperTokenDefaultSeconds), kIssuer)};
}

Result<identity::LookupDeveloperIdentityResponse> Api::serve(
    Call&, const identity::LookupDeveloperIdentityRequest& r) {
  if (!r.identity_id && !r.developer_user_identifier) {
    return invalid("Either IdentityId or DeveloperUserIdentifier is required");
  }
  int limit = r.max_results.value_or(kIdentityPageSize);
  std::string id;
  std::vector<std::string> users;
  std::optional<std::string> next;
  Status s = storage_->read([&](StorageTxn& txn) -> Status {
    PoolRow pool;
    Status st = require_pool(txn, r.identity_pool_id, &pool);
    if (!st.ok()) return st;
    if (r.developer_user_identifier) {
      auto linked = txn.login(pool.id, pool.developer_provider_name, *r.developer_user_identifier);
      if (!linked)
        return not_found("Developer user '" + *r.developer_user_identifier + "' not found.");
      if (r.identity_id && *r.identity_id != linked->identity_id) {
        return Status(ErrorCode::kResourceConflict,
                      "Developer user and IdentityId name different identities.");
      }
      id = linked->identity_id;
    } else {
      auto row = txn.identity(*r.identity_id);
      if (!row || row->pool_id != pool.id)
        return not_found("Identity '" + *r.identity_id + "' not found.");
      id = row->id;
    }
    std::string scope = "developer-users\n" + id;
    auto after = read_cursor(tokens_, scope, r.next_token);
    if (!after.ok()) return after.status();
    for (const auto& l : txn.logins_of(id)) {
      if (l.provider == pool.developer_provider_name && l.subject > *after)
        users.push_back(l.subject);
    }
    if (trim_page(users, limit)) next = make_cursor(tokens_, scope, users.back());
    return Status::OK();
  });
  if (!s.ok()) return s;
  return identity::LookupDeveloperIdentityResponse{id, users, next};
}

Result<identity::MergeDeveloperIdentitiesResponse> Api::serve(
    Call& c, const identity::MergeDeveloperIdentitiesRequest& r) {
  std::string dest;
  Status s = storage_->write([&](StorageTxn& txn) -> Status {
    PoolRow pool;
    Status st = require_pool(txn, r.identity_pool_id, &pool);
    if (!st.ok()) return st;
    if (r.developer_provider_name != pool.developer_provider_name) {
      return invalid("DeveloperProviderName does not match the pool's developer provider");
    }
    auto source = txn.login(pool.id, r.developer_provider_name, r.source_user_identifier);
    if (!source) return not_found("Developer user '" + r.source_user_identifier + "' not found.");
    auto target = txn.login(pool.id, r.developer_provider_name, r.destination_user_identifier);
    if (!target)
      return not_found("Developer user '" + r.destination_user_identifier + "' not found.");
    dest = target->identity_id;
    if (source->identity_id != dest) merge_identity(txn, source->identity_id, dest, c.now);
    return Status::OK();
  });
  credentials_cache_.revoke_all();
  if (!s.ok()) return s;
  return identity::MergeDeveloperIdentitiesResponse{dest};
}

Result<identity::UnlinkDeveloperIdentityResponse> Api::serve(
    Call& c, const identity::UnlinkDeveloperIdentityRequest& r) {
  Status s = storage_->write([&](StorageTxn& txn) -> Status {
    PoolRow pool;
    Status st = require_pool(txn, r.identity_pool_id, &pool);
    if (!st.ok()) return st;
    auto linked = txn.login(pool.id, r.developer_provider_name, r.developer_user_identifier);
    if (!linked)
      return not_found("Developer user '" + r.developer_user_identifier + "' not found.");
    if (linked->identity_id != r.identity_id) {
      return Status(ErrorCode::kResourceConflict, "Developer user '" + r.developer_user_identifier +
                                                      "' is not linked to '" + r.identity_id +
                                                      "'.");
    }
    txn.delete_login(pool.id, r.developer_provider_name, r.developer_user_identifier);
    if (auto row = txn.identity(r.identity_id)) {
      row->modified = c.now;
      txn.put_identity(*row);
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  return identity::UnlinkDeveloperIdentityResponse{};
}

Result<identity::DescribeIdentityResponse> Api::serve(Call&,
                                                      const identity::DescribeIdentityRequest& r) {
  std::optional<IdentityRow> row;
  std::vector<LoginRow> logins;
  Status s = storage_->read([&](StorageTxn& txn) {
    row = txn.identity(r.identity_id);
    if (row) logins = txn.logins_of(r.identity_id);
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (!row) return not_found("Identity '" + r.identity_id + "' not found.");
  return describe(*row, logins);
}

Result<identity::ListIdentitiesResponse> Api::serve(Call&,
                                                    const identity::ListIdentitiesRequest& r) {
  std::string scope = "identities\n" + r.identity_pool_id;
  auto after = read_cursor(tokens_, scope, r.next_token);
  if (!after.ok()) return after.status();
  std::vector<std::pair<IdentityRow, std::vector<LoginRow>>> rows;
  Status s = storage_->read([&](StorageTxn& txn) {
    Status st = require_pool(txn, r.identity_pool_id, nullptr);
    if (!st.ok()) return st;
    for (auto& id : txn.identities_after(r.identity_pool_id, *after, r.max_results + 1)) {
      auto logins = txn.logins_of(id.id);
      rows.emplace_back(std::move(id), std::move(logins));
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  bool more = trim_page(rows, r.max_results);
  identity::ListIdentitiesResponse out;
  out.identity_pool_id = r.identity_pool_id;
  for (const auto& [id, logins] : rows) out.identities.push_back(describe(id, logins));
  if (more) out.next_token = make_cursor(tokens_, scope, rows.back().first.id);
  return out;
}

Result<identity::DeleteIdentitiesResponse> Api::serve(Call&,
                                                      const identity::DeleteIdentitiesRequest& r) {
  Status s = storage_->write([&](StorageTxn& txn) {
    // An id that does not exist is already gone: nothing to report. Its Cognito Sync data goes
    // with it (StorageTxn::delete_identity).
    for (const auto& id : r.identity_ids_to_delete) txn.delete_identity(id);
    txn.announce_revocation();
    return Status::OK();
  });
  credentials_cache_.revoke_all();
  pool_usage_.forget();  // counted afresh when next asked
  if (!s.ok()) return s;
  return identity::DeleteIdentitiesResponse{};
}

}  // namespace cairn::server
