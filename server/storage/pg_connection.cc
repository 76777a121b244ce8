#include "server/storage/pg_connection.h"

namespace cairn::server::pg {

Result<PgUrl> parse_url(const std::string& url) {
  PgUrl out;
  size_t q = url.find('?');
  std::string base = url.substr(0, q);
  std::vector<std::string> kept;
  bool has_password_param = false;
  if (q != std::string::npos) {
    std::string query = url.substr(q + 1);
    size_t start = 0;
    while (start <= query.size()) {
      size_t amp = query.find('&', start);
      std::string param = query.substr(start, amp == std::string::npos ? amp : amp - start);
      if (param.rfind("schema=", 0) == 0) {
        out.schema = param.substr(7);
      } else if (!param.empty()) {
        if (param.rfind("password=", 0) == 0) has_password_param = true;
        kept.push_back(param);
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  if (!out.schema.empty()) {
    bool ok = out.schema.size() <= 63 && !(out.schema[0] >= '0' && out.schema[0] <= '9');
    for (char ch : out.schema) {
      ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_');
    }
    if (!ok) {
      return Status(ErrorCode::kInvalidArgument,
                    "--db schema='" + out.schema +
                        "' must be lower-case letters, digits and _ (at most 63), not starting "
                        "with a digit");
    }
  }
  out.conninfo = base;
  for (size_t i = 0; i < kept.size(); ++i) out.conninfo += (i == 0 ? "?" : "&") + kept[i];

  // The redacted form drops USER:PASSWORD's password and any password= parameter.
  std::string shown = base;
  size_t scheme_end = shown.find("://");
  size_t at = shown.find('@', scheme_end + 3);
  size_t slash = shown.find('/', scheme_end + 3);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    size_t colon = shown.find(':', scheme_end + 3);
    if (colon != std::string::npos && colon < at) shown.erase(colon, at - colon);
  }
  out.redacted = shown + (out.schema.empty() ? "" : "?schema=" + out.schema) +
                 (has_password_param ? " (password given)" : "");
  return out;
}

}  // namespace cairn::server::pg
