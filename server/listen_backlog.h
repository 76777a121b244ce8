// cpp-httplib (0.11, as Debian builds it) listens with a backlog of 5: a burst of devices
// connecting at once would see SYNs dropped and wait a second for their retransmit. These helpers
// catch the listening socket as cpp-httplib makes it and raise its backlog once it listens.
#pragma once

#include <httplib.h>
#include <sys/socket.h>

#include <memory>

namespace cairn::server {

// Call before binding; returns where the listening socket will be recorded.
inline std::shared_ptr<int> record_listen_socket(httplib::Server& http) {
  auto fd = std::make_shared<int>(-1);
  http.set_socket_options([fd](socket_t sock) {
    httplib::default_socket_options(sock);
    *fd = static_cast<int>(sock);
  });
  return fd;
}

// Call after binding: Linux takes a second listen() on a listening socket as a new backlog.
inline void raise_listen_backlog(const std::shared_ptr<int>& fd) {
  if (*fd >= 0) ::listen(*fd, SOMAXCONN);
}

}  // namespace cairn::server
