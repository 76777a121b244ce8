#include "server/tokens.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "transport/crypto.h"
#include "transport/json.h"

namespace cairn::server {

using transport::base64url_decode;
using transport::base64url_encode;
using transport::hmac_sha256;

Result<TokenSigner> TokenSigner::load_or_create(Storage& storage, const std::string& configured) {
  if (!configured.empty()) {
    if (configured.size() < 32) {
      return Status(ErrorCode::kInvalidArgument,
                    "the token signing key must have at least 32 characters (it has " +
                        std::to_string(configured.size()) + ")");
    }
    return TokenSigner(configured);
  }
  std::string key;
  Status s = storage.write([&](StorageTxn& txn) {
    if (auto existing = txn.meta("token_signing_key")) {
      key = *existing;
    } else {
      key = transport::random_hex(32);
      txn.set_meta("token_signing_key", key);
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  return TokenSigner(key);
}

std::string TokenSigner::sign(const std::string& kind, const std::string& payload_json) const {
  std::string body = base64url_encode(payload_json);
  return body + "." + base64url_encode(hmac_sha256(key_, kind + "." + body));
}

std::optional<std::string> TokenSigner::verify(const std::string& kind,
                                               const std::string& token) const {
  size_t dot = token.find('.');
  if (dot == std::string::npos || token.size() > 8192) return std::nullopt;
  std::string body = token.substr(0, dot);
  std::string expected = base64url_encode(hmac_sha256(key_, kind + "." + body));
  if (!transport::constant_time_equals(expected, token.substr(dot + 1))) return std::nullopt;
  return base64url_decode(body);
}

std::string TokenSigner::jwt(const std::string& identity_id, const std::string& pool_id, Millis now,
                             int64_t ttl_seconds, const std::string& issuer) const {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("iss");
  w.String(issuer.c_str());
  w.Key("sub");
  w.String(identity_id.c_str());
  w.Key("aud");
  w.String(pool_id.c_str());
  w.Key("iat");
  w.Int64(now / 1000);
  w.Key("exp");
  w.Int64(now / 1000 + ttl_seconds);
  w.EndObject();
  std::string header = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  std::string payload = base64url_encode(std::string(buf.GetString(), buf.GetSize()));
  std::string signing_input = header + "." + payload;
  return signing_input + "." + base64url_encode(hmac_sha256(key_, "jwt." + signing_input));
}

std::optional<std::string> TokenSigner::verify_jwt(const std::string& token,
                                                   const std::string& pool_id, Millis now) const {
  size_t a = token.find('.');
  size_t b = a == std::string::npos ? a : token.find('.', a + 1);
  if (b == std::string::npos || token.size() > 8192) return std::nullopt;
  std::string signing_input = token.substr(0, b);
  std::string expected = base64url_encode(hmac_sha256(key_, "jwt." + signing_input));
  if (!transport::constant_time_equals(expected, token.substr(b + 1))) return std::nullopt;
  auto payload = base64url_decode(token.substr(a + 1, b - a - 1));
  if (!payload) return std::nullopt;
  transport::json::Document d;
  d.Parse(payload->c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("sub") || !d["sub"].IsString() ||
      !d.HasMember("aud") || !d["aud"].IsString() || !d.HasMember("exp") || !d["exp"].IsInt64()) {
    return std::nullopt;
  }
  if (d["aud"].GetString() != pool_id || d["exp"].GetInt64() * 1000 < now) return std::nullopt;
  return std::string(d["sub"].GetString());
}

}  // namespace cairn::server
