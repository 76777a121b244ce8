// ServerRequest and ServerResponse: what the protocol layer (Api) reads and writes, apart from the
// connection library that carries them (server/http_front.h). Header names compare without
// regard to case, as HTTP has them.
#pragma once

#include <strings.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include "cairn/status.h"

namespace cairn::server {

struct HeaderNameLess {
  bool operator()(const std::string& a, const std::string& b) const {
    return ::strcasecmp(a.c_str(), b.c_str()) < 0;
  }
};
// A name may repeat; its values keep the order they came in.
using HttpHeaders = std::multimap<std::string, std::string, HeaderNameLess>;

struct ServerRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: the path and the query string, percent-encoded
  std::string path;    // target up to the '?'
  HttpHeaders headers;
  std::string body;
  std::string remote_addr;  // the peer's address, for logs

  bool has_header(const std::string& name) const { return headers.count(name) != 0; }
  // The first value of `name`, or "".
  std::string get_header_value(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  // Sets method, target and path from a request line's parts.
  void set_target(std::string m, std::string t) {
    method = std::move(m);
    target = std::move(t);
    path = target.substr(0, target.find('?'));
  }
};

struct ServerResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;

  bool has_header(const std::string& name) const { return headers.count(name) != 0; }
  std::string get_header_value(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  // Replaces any earlier value.
  void set_header(const std::string& name, std::string value) {
    headers.erase(name);
    headers.emplace(name, std::move(value));
  }
  void set_content(std::string content, const std::string& content_type) {
    body = std::move(content);
    set_header("Content-Type", content_type);
  }
};

// What an upgraded (WebSocket) connection talks to: the messages it sends and the ones it gets.
// The connection calls open() once, then received() for each client message and sent() after
// each send() has been written, and closed() once at the end. send() may be called from any
// thread, one message at a time: the next only after sent() (so a client that stops reading
// holds one message, not a queue).
class Channel {
 public:
  virtual ~Channel() = default;
  using Send = std::function<void(std::string text)>;
  virtual void open(Send send) = 0;
  virtual void sent() = 0;
  // A client's text message; a non-OK status closes the connection (policy violation).
  virtual Status received(const std::string& text) = 0;
  virtual void closed() = 0;
};

}  // namespace cairn::server
