// Opaque, tamper-proof tokens: SyncSessionTokens, NextTokens and OpenID tokens.
//
// A token is base64url(JSON payload) "." base64url(HMAC-SHA256(key, kind "." payload)). The kind
// is signed in, so a NextToken can never pass for a SyncSessionToken. The key is generated on the
// first start and kept in the database, so every instance on one database shares it, unless the
// operator gives one (--signing-key-file, CAIRN_SIGNING_KEY).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <rapidjson/document.h>

#include "server/storage/storage.h"

namespace cairn::server {

class TokenSigner {
 public:
  explicit TokenSigner(std::string key) : key_(std::move(key)) {}

  // The configured key when one is given (at least 32 characters), else the key kept in storage,
  // created on first use.
  static Result<TokenSigner> load_or_create(Storage& storage, const std::string& configured = "");

  std::string sign(const std::string& kind, const std::string& payload_json) const;
  // The payload, or nullopt when the token is malformed, of another kind, or tampered with.
  std::optional<std::string> verify(const std::string& kind, const std::string& token) const;

  // An OpenID-style JWT (HS256) for an identity, as GetOpenIdToken returns.
  std::string jwt(const std::string& identity_id, const std::string& pool_id, Millis now,
                  int64_t ttl_seconds, const std::string& issuer) const;
  // The identity id (sub) of a valid, unexpired token for the pool; nullopt otherwise.
  std::optional<std::string> verify_jwt(const std::string& token, const std::string& pool_id,
                                        Millis now) const;

 private:
  std::string key_;
};

}  // namespace cairn::server
