#include "server/auth.h"

#include <ctime>

#include "transport/crypto.h"
#include "transport/sigv4.h"

namespace cairn::server {
namespace {

Status auth_error(const char* code, std::string message) {
  return Status::FromService(code, std::move(message), 403);
}

// "20150830T123600Z" -> epoch ms; nullopt when malformed.
std::optional<Millis> parse_amz_date(const std::string& s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  std::tm tm{};
  if (std::sscanf(s.c_str(), "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<Millis>(timegm(&tm)) * 1000;
}

struct ParsedAuthorization {
  std::string access_key_id, date, region, service, signed_headers, signature;
};

std::optional<ParsedAuthorization> parse_authorization(const std::string& header) {
  const std::string prefix = "AWS4-HMAC-SHA256 ";
  if (header.rfind(prefix, 0) != 0) return std::nullopt;
  ParsedAuthorization p;
  std::string rest = header.substr(prefix.size());
  size_t pos = 0;
  while (pos < rest.size()) {
    size_t comma = rest.find(',', pos);
    if (comma == std::string::npos) comma = rest.size();
    std::string part = rest.substr(pos, comma - pos);
    pos = comma + 1;
    size_t b = part.find_first_not_of(' ');
    if (b == std::string::npos) continue;
    part = part.substr(b);
    size_t eq = part.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string key = part.substr(0, eq);
    std::string value = part.substr(eq + 1);
    while (!value.empty() && value.back() == ' ') value.pop_back();
    if (key == "Credential") {
      // AKID/DATE/REGION/SERVICE/aws4_request
      std::vector<std::string> scope;
      size_t s = 0;
      while (s <= value.size()) {
        size_t slash = value.find('/', s);
        if (slash == std::string::npos) slash = value.size();
        scope.push_back(value.substr(s, slash - s));
        s = slash + 1;
      }
      if (scope.size() != 5 || scope[4] != "aws4_request" || scope[0].empty()) return std::nullopt;
      p.access_key_id = scope[0];
      p.date = scope[1];
      p.region = scope[2];
      p.service = scope[3];
    } else if (key == "SignedHeaders") {
      p.signed_headers = value;
    } else if (key == "Signature") {
      p.signature = value;
    }
  }
  if (p.access_key_id.empty() || p.signed_headers.empty() || p.signature.empty())
    return std::nullopt;
  return p;
}

std::string header_values(const ServerRequest& r, const std::string& name) {
  std::string joined;
  auto range = r.headers.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) {
    if (!joined.empty()) joined.push_back(',');
    joined += it->second;
  }
  return joined;
}

}  // namespace

Result<Caller> authenticate(const ServerRequest& request, const std::string& service,
                            const AdminCredentials& admin, Storage& storage,
                            CredentialsCache& cache, Millis now) {
  if (!request.has_header("Authorization")) {
    return auth_error("MissingAuthenticationTokenException", "Missing Authentication Token");
  }
  auto auth = parse_authorization(request.get_header_value("Authorization"));
  if (!auth) {
    return auth_error("IncompleteSignatureException",
                      "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                      "in the AWS4-HMAC-SHA256 format");
  }
  // The signed header list, lower-case, must name host and x-amz-date.
  std::vector<std::string> names;
  bool has_host = false, has_date = false;
  size_t s = 0;
  while (s <= auth->signed_headers.size()) {
    size_t semi = auth->signed_headers.find(';', s);
    if (semi == std::string::npos) semi = auth->signed_headers.size();
    std::string name = auth->signed_headers.substr(s, semi - s);
    if (!name.empty()) names.push_back(name);
    has_host |= name == "host";
    has_date |= name == "x-amz-date";
    s = semi + 1;
  }
  if (!has_host || !has_date) {
    return auth_error("IncompleteSignatureException",
                      "SignedHeaders must include host and x-amz-date");
  }
  std::string amz_date = request.get_header_value("X-Amz-Date");
  auto signed_at = parse_amz_date(amz_date);
  if (!signed_at) {
    return auth_error("IncompleteSignatureException", "X-Amz-Date is missing or malformed");
  }
  if (auth->date != amz_date.substr(0, 8)) {
    return auth_error("InvalidSignatureException",
                      "Date in Credential scope does not match YYYYMMDD from X-Amz-Date");
  }
  if (*signed_at < now - kAllowedClockSkew || *signed_at > now + kAllowedClockSkew) {
    return auth_error(
        "InvalidSignatureException",
        "Signature expired: " + amz_date + " is more than 15 minutes from the server's time");
  }
  if (auth->service != service) {
    return auth_error("InvalidSignatureException",
                      "Credential should be scoped to correct service: '" + service + "'");
  }

  // Whose key is it?
  Caller caller;
  caller.access_key_id = auth->access_key_id;
  std::string secret;
  if (admin.configured() && auth->access_key_id == admin.access_key_id) {
    caller.kind = Caller::Kind::kDeveloper;
    secret = admin.secret_access_key;
  } else {
    auto cached = cache.lookup(auth->access_key_id);
    std::optional<CredentialsRow> row = std::move(cached.row);
    if (!row) {
      Status st = storage.read([&](StorageTxn& txn) {
        row = txn.credentials(auth->access_key_id);
        return Status::OK();
      });
      if (!st.ok()) return st;
      if (row) cache.fill(*row, cached.generation);
    }
    if (!row) {
      return auth_error("UnrecognizedClientException",
                        "The security token included in the request is invalid.");
    }
    std::string token = request.get_header_value("X-Amz-Security-Token");
    if (token.empty() ||
        !transport::constant_time_equals(transport::sha256_hex(token), row->session_token_sha256)) {
      return auth_error("UnrecognizedClientException",
                        "The security token included in the request is invalid.");
    }
    if (row->expires <= now) {
      return auth_error("ExpiredTokenException",
                        "The security token included in the request is expired");
    }
    caller.kind = Caller::Kind::kIdentity;
    caller.identity_id = row->identity_id;
    caller.pool_id = row->pool_id;
    secret = row->secret_access_key;
  }

  // Recompute over exactly what arrived.
  transport::SigV4Request sig;
  sig.method = request.method;
  size_t q = request.target.find('?');
  sig.path = request.target.substr(0, q);
  sig.query = q == std::string::npos ? "" : request.target.substr(q + 1);
  for (const auto& name : names) {
    if (!request.has_header(name)) {
      return auth_error("IncompleteSignatureException", "Signed header '" + name + "' is missing");
    }
    sig.headers.emplace_back(name, header_values(request, name));
  }
  sig.body = request.body;
  if (request.has_header("X-Amz-Content-Sha256")) {
    std::string claimed = request.get_header_value("X-Amz-Content-Sha256");
    // The payload hash is then the body's own (an unsigned header stays out of the canonical form).
    if (claimed != transport::sha256_hex(request.body)) {
      return auth_error("InvalidSignatureException",
                        "x-amz-content-sha256 does not match the request body");
    }
  }
  auto computed =
      transport::compute_sigv4(sig, AwsCredentials{auth->access_key_id, secret, "", std::nullopt},
                               {auth->region, auth->service}, amz_date);
  if (!transport::constant_time_equals(computed.signature, auth->signature)) {
    return auth_error("InvalidSignatureException",
                      "The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method.");
  }
  return caller;
}

}  // namespace cairn::server
