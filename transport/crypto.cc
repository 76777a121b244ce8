#include "transport/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cstdint>
#include <stdexcept>

namespace cairn::transport {

namespace {

// OpenSSL 3 looks an algorithm up by name on every one-shot call (EVP_Digest, HMAC), which costs
// more than hashing a small request. Each thread fetches SHA-256 and HMAC once and keeps its
// contexts; an HMAC context set up for SHA-256 only takes a new key per call.
struct ThreadCrypto {
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* digest = EVP_MD_CTX_new();
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* mac = nullptr;
  ThreadCrypto() {
    if (!sha256 || !digest || !hmac) throw std::runtime_error("OpenSSL has no SHA-256 or HMAC");
    mac = EVP_MAC_CTX_new(hmac);
    char name[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", name, 0),
                           OSSL_PARAM_construct_end()};
    if (!mac || EVP_MAC_CTX_set_params(mac, params) != 1)
      throw std::runtime_error("OpenSSL cannot set up HMAC-SHA256");
  }
  ~ThreadCrypto() {
    EVP_MAC_CTX_free(mac);
    EVP_MAC_free(hmac);
    EVP_MD_CTX_free(digest);
    EVP_MD_free(sha256);
  }
  ThreadCrypto(const ThreadCrypto&) = delete;
  ThreadCrypto& operator=(const ThreadCrypto&) = delete;
};

ThreadCrypto& thread_crypto() {
  thread_local ThreadCrypto crypto;
  return crypto;
}

}  // namespace

Digest sha256_digest(std::string_view data) {
  ThreadCrypto& c = thread_crypto();
  Digest out;
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(c.digest, c.sha256, nullptr) != 1 ||
      EVP_DigestUpdate(c.digest, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(c.digest, out.data(), &len) != 1 || len != out.size()) {
    throw std::runtime_error("OpenSSL SHA-256 failed");
  }
  return out;
}

Digest hmac_sha256_digest(std::string_view key, std::string_view data) {
  ThreadCrypto& c = thread_crypto();
  Digest out;
  size_t len = 0;
  // A null key would mean "keep the last key": an empty one still needs a pointer.
  static const unsigned char kEmpty[1] = {0};
  const unsigned char* k =
      key.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(c.mac, k, key.size(), nullptr) != 1 ||
      EVP_MAC_update(c.mac, reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
          1 ||
      EVP_MAC_final(c.mac, out.data(), &len, out.size()) != 1 || len != out.size()) {
    throw std::runtime_error("OpenSSL HMAC-SHA256 failed");
  }
  return out;
}

std::string hex_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  hex_encode_to(out, bytes);
  return out;
}

void hex_encode_to(std::string& out, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t at = out.size();
  out.resize(at + bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto c = static_cast<unsigned char>(bytes[i]);
    out[at + 2 * i] = kHex[c >> 4];
    out[at + 2 * i + 1] = kHex[c & 0xf];
  }
}

std::string base64url_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-')
      v = 62;
    else if (c == '_')
      v = 63;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    // RAND_bytes only fails when the OS entropy source is gone; nothing sensible can continue.
    throw std::runtime_error("OpenSSL RAND_bytes failed");
  }
  return hex_encode(raw);
}

}  // namespace cairn::transport
