// What cairn-server writes for an operator: one line per request, and the log sink that puts a
// timestamp and a level on every line, as text or as JSON for log pipelines (--log-format).
//
// A request line says which operation was asked for, how it ended (status, error type and reason),
// how long the server took and the request id the client saw in x-amzn-RequestId. A request that
// matched no operation, or that was refused before it reached one (a body over the limit, a
// malformed request), also names its method and path. The query string is never logged.
//
// Thread safety: the functions are pure; the sink serialises its writes.
#pragma once

#include <chrono>
#include <ostream>
#include <string>

#include "cairn/logging.h"

namespace cairn::server {

enum class LogFormat { kText, kJson };

struct RequestRecord {
  std::string operation;     // "Unknown" when no operation matched
  std::string method, path;  // logged when operation is "Unknown"
  int status = 0;
  std::string error_type;  // empty on success
  std::string reason;      // the error's message
  std::chrono::nanoseconds latency{0};
  std::string request_id;
};

// The message of a request line: `OP STATUS 0.123ms rid=ID [error=TYPE reason="..."]` as text, or
// one JSON object (op, status, ms, request_id, and error, reason, method, path when they apply).
std::string format_request(const RequestRecord& r, LogFormat format);

// The level a request line is logged at: warn for a 5xx, info otherwise.
LogLevel request_level(int status);

// Writes each message as a line on `out` (which must outlive the callback): as text,
// `2026-12-05T05:44:37.123Z INFO message`; as JSON, an object with "time" and "level" first and
// then the message's own fields when the message is a JSON object, or "msg" when it is not.
LogCallback make_log_sink(LogFormat format, std::ostream& out);

}  // namespace cairn::server
