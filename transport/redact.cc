#include "transport/redact.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "transport/sigv4.h"

namespace cairn::transport {
namespace {

bool is_secret_key(std::string_view key) {
  return key == "SecretKey" || key == "SessionToken" || key == "Token" || key == "SecretAccessKey";
}

void redact_value(rapidjson::Value& v, rapidjson::Document::AllocatorType& alloc) {
  if (v.IsObject()) {
    for (auto& m : v.GetObject()) {
      std::string_view key(m.name.GetString(), m.name.GetStringLength());
      if (key == "Logins" && m.value.IsObject()) {
        for (auto& login : m.value.GetObject()) login.value.SetString(kRedacted, alloc);
      } else if (is_secret_key(key) && m.value.IsString()) {
        m.value.SetString(kRedacted, alloc);
      } else {
        redact_value(m.value, alloc);
      }
    }
  } else if (v.IsArray()) {
    for (auto& item : v.GetArray()) redact_value(item, alloc);
  }
}

}  // namespace

std::string redact_header(std::string_view name, std::string_view value) {
  if (iequals(name, "X-Amz-Security-Token")) return kRedacted;
  if (iequals(name, "Authorization")) {
    size_t sig = value.find("Signature=");
    if (sig == std::string_view::npos) return kRedacted;
    return std::string(value.substr(0, sig)) + "Signature=" + kRedacted;
  }
  return std::string(value);
}

std::string redact_body(std::string_view body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError()) {
    // Not JSON: an HTML page from a proxy passes as it is, but a body cut short in the middle
    // of a credentials answer cannot be redacted member by member, so it is not shown at all.
    for (std::string_view name :
         {"SecretKey", "SessionToken", "Token", "SecretAccessKey", "Logins"}) {
      if (body.find(name) != std::string_view::npos) {
        return std::string(kRedacted) + " (" + std::to_string(body.size()) +
               " bytes that are not JSON and name a secret)";
      }
    }
    return std::string(body);
  }
  redact_value(doc, doc.GetAllocator());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace cairn::transport
