// Hashing primitives for SigV4, on OpenSSL's EVP interfaces.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cairn::transport {

// Raw 32-byte SHA-256 digest.
std::string sha256(std::string_view data);
// Raw 32-byte HMAC-SHA256 of data under key.
std::string hmac_sha256(std::string_view key, std::string_view data);
// Lower-case hex of raw bytes.
std::string hex_encode(std::string_view bytes);
inline std::string sha256_hex(std::string_view data) { return hex_encode(sha256(data)); }

// URL-safe base64 without padding (RFC 4648 section 5), for opaque tokens.
std::string base64url_encode(std::string_view bytes);
// nullopt when the input holds a character outside the URL-safe alphabet.
std::optional<std::string> base64url_decode(std::string_view text);
// Constant-time comparison, for signatures and token MACs.
bool constant_time_equals(std::string_view a, std::string_view b);

// Cryptographically random bytes as lower-case hex (request ids, invocation ids).
std::string random_hex(size_t bytes);

}  // namespace cairn::transport
