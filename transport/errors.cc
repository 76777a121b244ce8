#include "transport/errors.h"

#include <rapidjson/document.h>

namespace cairn::transport {
namespace {

std::string member_string(const rapidjson::Document& doc, const char* key) {
  if (!doc.IsObject()) return {};
  auto it = doc.FindMember(key);
  if (it == doc.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::string reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "HTTP " + std::to_string(status);
  }
}

}  // namespace

std::string sanitize_error_code(std::string_view raw) {
  std::string_view code = raw;
  if (size_t comma = code.find(','); comma != std::string_view::npos) code = code.substr(0, comma);
  if (size_t colon = code.find(':'); colon != std::string_view::npos) code = code.substr(0, colon);
  if (size_t hash = code.rfind('#'); hash != std::string_view::npos) code = code.substr(hash + 1);
  while (!code.empty() && (code.front() == ' ' || code.front() == '\t')) code.remove_prefix(1);
  while (!code.empty() && (code.back() == ' ' || code.back() == '\t')) code.remove_suffix(1);
  return std::string(code);
}

Status parse_error_response(Protocol protocol, const HttpResponse& response) {
  rapidjson::Document doc;
  doc.Parse(response.body.c_str(), response.body.size());
  if (doc.HasParseError()) doc.SetObject();  // HTML from a proxy, or nothing at all

  std::string header;
  if (const std::string* h = response.header("x-amzn-ErrorType")) header = *h;
  std::string body_code = member_string(doc, "code");
  if (body_code.empty()) body_code = member_string(doc, "Code");
  std::string type = member_string(doc, "__type");

  std::string raw;
  if (protocol == Protocol::kRestJson) {
    raw = !header.empty() ? header : !body_code.empty() ? body_code : type;
  } else {
    raw = !type.empty() ? type : !body_code.empty() ? body_code : header;
  }
  std::string code = sanitize_error_code(raw);

  std::string message = member_string(doc, "message");
  if (message.empty()) message = member_string(doc, "Message");
  if (message.empty() && code.empty()) message = reason_phrase(response.status);

  std::string request_id;
  if (const std::string* id = response.header("x-amzn-RequestId")) request_id = *id;
  return Status::FromService(code, std::move(message), response.status, std::move(request_id));
}

}  // namespace cairn::transport
