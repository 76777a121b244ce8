// Hashing primitives for SigV4, on OpenSSL's EVP interfaces.
#pragma once

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

// Cryptographically random bytes as lower-case hex (request ids, invocation ids).
std::string random_hex(size_t bytes);

}  // namespace cairn::transport
