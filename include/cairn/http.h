// The HTTP seam. cairn's clients send every request through an HttpTransport; the default one is
// libcurl with a pool of keep-alive connections. Tests and hosts with their own network stack can
// supply another (a fault injector, a platform HTTP client).
//
// Thread safety: send() may be called from several threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cairn/export.h"
#include "cairn/logging.h"
#include "cairn/status.h"

namespace cairn {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;
  std::string url;  // absolute: scheme://host[:port]/path?query
  HttpHeaders headers;
  std::string body;
};

struct CAIRN_CPP_API HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;

  // Case-insensitive; nullptr when absent.
  const std::string* header(std::string_view name) const;
};

// Defaults are the AWS SDKs' option defaults.
struct HttpOptions {
  std::chrono::milliseconds connect_timeout{15000};
  // Longest wait for the next byte of a response; libcurl checks it about once a second.
  std::chrono::milliseconds read_timeout{60000};
  // A pooled connection idle this long is closed instead of reused.
  std::chrono::milliseconds idle_timeout{5000};
  // How long to wait for "100 Continue" before sending a large body anyway.
  std::chrono::milliseconds expect_continue_timeout{1000};
  // Upper bound on the whole exchange; zero means none (read_timeout still applies).
  std::chrono::milliseconds total_timeout{0};
  // Keep-alive connections kept for reuse.
  size_t max_idle_connections = 8;
  // Sends "Accept-Encoding: gzip" and decodes what comes back that way: a full pull of JSON
  // saves is a fraction of the bytes from cairn-server. Off: "identity", as the AWS SDKs send.
  bool accept_gzip = true;

  // "http://host:port" (or https://, socks5://). Empty: connect directly. The environment's
  // http_proxy/https_proxy are deliberately not read, so loopback tests never leave the machine.
  std::string proxy;
  std::string proxy_username;
  std::string proxy_password;

  bool verify_tls = true;  // turning this off is for local testing only
  std::string ca_file;     // PEM bundle; empty: the system store
  std::string ca_path;     // directory of hashed certificates

  // While this flag is set, every exchange of the transport stops within about a second with
  // kCancelled (libcurl checks it as it checks the read timeout). For long polls a closing
  // owner must not wait out.
  std::shared_ptr<const std::atomic<bool>> cancel;

  // Logs every request and response through the logger at kTrace, with Authorization,
  // X-Amz-Security-Token, secret keys, session tokens and login tokens redacted.
  bool wire_trace = false;
};

class CAIRN_CPP_API HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends one request. Any HTTP status is a successful exchange; a failure is a network, timeout
  // or TLS error.
  virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

// libcurl with a pool of reusable easy handles (so keep-alive connections are reused).
CAIRN_CPP_API std::shared_ptr<HttpTransport> make_curl_transport(HttpOptions options,
                                                                 LoggerPtr logger = nullptr);

}  // namespace cairn
