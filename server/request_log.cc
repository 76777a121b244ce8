#include "server/request_log.h"

#include <cstdio>
#include <ctime>
#include <mutex>

#include <rapidjson/document.h>

#include "transport/json.h"

namespace cairn::server {
namespace {

std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

// A reason in a text line: quoted, with quotes, backslashes and line breaks escaped, so that one
// request is always one line.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

}  // namespace

LogLevel request_level(int status) { return status >= 500 ? LogLevel::kWarn : LogLevel::kInfo; }

std::string format_request(const RequestRecord& r, LogFormat format) {
  double ms = std::chrono::duration<double, std::milli>(r.latency).count();
  bool unknown = r.operation == "Unknown";
  if (format == LogFormat::kJson) {
    transport::json::Writer w;
    w.begin_object();
    w.str("op", r.operation);
    if (unknown) {
      w.str("method", r.method);
      w.str("path", r.path);
    }
    w.i64("status", r.status);
    w.f64("ms", static_cast<double>(static_cast<int64_t>(ms * 1000)) / 1000.0);
    w.str("request_id", r.request_id);
    if (!r.error_type.empty()) {
      w.str("error", r.error_type);
      w.str("reason", r.reason);
    }
    w.end_object();
    return w.take();
  }
  char head[64];
  std::snprintf(head, sizeof head, " %d %.3fms rid=", r.status, ms);
  std::string line = r.operation;
  if (unknown) line += " " + r.method + " " + r.path;
  line += head + r.request_id;
  if (!r.error_type.empty()) line += " error=" + r.error_type + " reason=" + quoted(r.reason);
  return line;
}

LogCallback make_log_sink(LogFormat format, std::ostream& out) {
  auto mu = std::make_shared<std::mutex>();
  return [format, &out, mu](LogLevel level, std::string_view message) {
    std::string line;
    if (format == LogFormat::kJson) {
      transport::json::Writer w;
      w.begin_object();
      w.str("time", utc_now());
      w.str("level", lower(log_level_name(level)));
      // A message that is a JSON object (a request line) lends its fields; any other is "msg".
      bool object = false;
      if (!message.empty() && message.front() == '{') {
        rapidjson::Document d;
        d.Parse(message.data(), message.size());
        object = !d.HasParseError() && d.IsObject() && d.MemberCount() > 0;
      }
      if (!object) w.str("msg", message);
      w.end_object();
      line = w.take();
      if (object) {
        line.pop_back();  // the closing brace: the message's own fields follow
        line += ",";
        line.append(message.substr(1));
      }
    } else {
      line = utc_now() + " " + std::string(log_level_name(level)) + " " + std::string(message);
    }
    line += "\n";
    std::lock_guard<std::mutex> l(*mu);
    out << line << std::flush;
  };
}

}  // namespace cairn::server
