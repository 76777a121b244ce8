// Hashing primitives for SigV4, on OpenSSL's EVP interfaces.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace cairn::transport {

// A SHA-256 or HMAC-SHA256 digest, without an allocation.
using Digest = std::array<unsigned char, 32>;
Digest sha256_digest(std::string_view data);
Digest hmac_sha256_digest(std::string_view key, std::string_view data);
inline std::string_view view(const Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// Raw 32-byte SHA-256 digest.
inline std::string sha256(std::string_view data) { return std::string(view(sha256_digest(data))); }
// Raw 32-byte HMAC-SHA256 of data under key.
inline std::string hmac_sha256(std::string_view key, std::string_view data) {
  return std::string(view(hmac_sha256_digest(key, data)));
}
// Lower-case hex of raw bytes; the second appends it to out.
std::string hex_encode(std::string_view bytes);
void hex_encode_to(std::string& out, std::string_view bytes);
inline std::string sha256_hex(std::string_view data) {
  return hex_encode(view(sha256_digest(data)));
}

// URL-safe base64 without padding (RFC 4648 section 5), for opaque tokens.
std::string base64url_encode(std::string_view bytes);
// nullopt when the input holds a character outside the URL-safe alphabet.
std::optional<std::string> base64url_decode(std::string_view text);
// Constant-time comparison, for signatures and token MACs.
bool constant_time_equals(std::string_view a, std::string_view b);

// Cryptographically random bytes as lower-case hex (request ids, invocation ids).
std::string random_hex(size_t bytes);

}  // namespace cairn::transport
