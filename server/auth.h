// Who is calling: SigV4 verification of a request as received, and the caller it identifies.
//
// Rules (docs/server.md): SignedHeaders are taken as given and must include host and x-amz-date;
// the signature is computed over the header values actually received and the raw path, encoded
// once more (the double-encoded canonical path); 15 minutes of clock skew are allowed; temporary
// credentials need their X-Amz-Security-Token. Failures are 403 with the conventional AWS codes.
#pragma once

#include "server/server_message.h"

#include <optional>
#include <string>

#include "cairn/status.h"
#include "server/credentials_cache.h"
#include "server/storage/storage.h"

namespace cairn::server {

struct Caller {
  enum class Kind { kAnonymous, kDeveloper, kIdentity };
  Kind kind = Kind::kAnonymous;
  std::string access_key_id;
  std::string identity_id;  // kIdentity only
  std::string pool_id;      // kIdentity only

  bool developer() const { return kind == Kind::kDeveloper; }
  bool identity() const { return kind == Kind::kIdentity; }
};

struct AdminCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  bool configured() const { return !access_key_id.empty() && !secret_access_key.empty(); }
};

constexpr Millis kAllowedClockSkew = 15 * 60 * 1000;

// Expired temporary credentials are kept this long, so that a device still holding them is told
// ExpiredTokenException (which makes every AWS client and cairn fetch new ones) rather than
// UnrecognizedClientException (which none of them retries).
constexpr Millis kExpiredCredentialsKept = 24LL * 3600 * 1000;

// Verifies the request's signature for `service` ("cognito-sync" or "cognito-identity").
// Temporary credentials are looked up in `cache` first, then in storage (and cached).
Result<Caller> authenticate(const ServerRequest& request, const std::string& service,
                            const AdminCredentials& admin, Storage& storage,
                            CredentialsCache& cache, Millis now);

}  // namespace cairn::server
