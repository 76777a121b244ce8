// The listening socket, as cpp-httplib (0.11, as Debian builds it) makes it, needs two changes:
// - its default options set SO_REUSEPORT, which lets a second server start on a port in use and
//   take half of its connections (two databases answering one address). The port is the
//   server's alone unless the operator asks otherwise (--reuse-port); SO_REUSEADDR still lets a
//   restarted server bind while old connections linger in TIME_WAIT;
// - it listens with a backlog of 5: a burst of devices connecting at once would see SYNs dropped
//   and wait a second for their retransmit. The backlog is raised once it listens.
#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <memory>

namespace cairn::server {

// Call before binding: sets the socket's options (SO_REUSEPORT only when `reuse_port`); returns
// where the listening socket will be recorded.
inline std::shared_ptr<int> record_listen_socket(httplib::Server& http, bool reuse_port) {
  auto fd = std::make_shared<int>(-1);
  http.set_socket_options([fd, reuse_port](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (reuse_port) setsockopt(sock, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof(yes));
    *fd = static_cast<int>(sock);
  });
  return fd;
}

// Call after binding: Linux takes a second listen() on a listening socket as a new backlog.
inline void raise_listen_backlog(const std::shared_ptr<int>& fd) {
  if (*fd >= 0) ::listen(*fd, SOMAXCONN);
}

}  // namespace cairn::server
