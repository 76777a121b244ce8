// Server: cairn-server as a library. It opens storage, bootstraps pools, binds the listening
// socket and serves on a worker pool until stop(). The cairn-server binary and in-process tests
// (and the demo's embedded server) all run it this way.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/api.h"

namespace cairn::server {

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  // A port in use is a start-up error. With reuse_port, several servers on this host may listen
  // on one port (SO_REUSEPORT) and the kernel spreads connections among them: only for instances
  // that share one database.
  bool reuse_port = false;
  std::string db = "sqlite:./cairn-data/cairn.db";  // or postgresql://... (storage.h)
  int db_pool_size = 16;                            // PostgreSQL connections at most
  std::vector<std::string> bootstrap_pools;
  ServerOptions options;
  // Each open connection holds a worker, idle keep-alive ones for up to 2 s: size this to the
  // devices connected at once, not to the cores. Idle workers cost a stack and nothing else.
  int worker_threads = 256;
  // How long a connection may take to send the rest of a request once it has started one (and,
  // likewise, to take an answer): a client that stalls is cut off then and its worker freed.
  int read_timeout_seconds = 5;
  // HTTPS through OpenSSL when both are set: PEM files of the certificate (chain) and its key.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class Server {
 public:
  // Opens storage, bootstraps pools and binds; serving starts on a background thread.
  static Result<std::unique_ptr<Server>> start(ServerConfig config);
  ~Server();

  const std::string& host() const { return host_; }
  int port() const { return port_; }
  std::string url() const {
    return (tls_ ? "https://" : "http://") + host_ + ":" + std::to_string(port_);
  }
  // (name, pool id) for each --bootstrap-pool, in order.
  const std::vector<std::pair<std::string, std::string>>& pools() const { return pools_; }
  Api& api() { return *api_; }

  // Stops accepting, lets in-flight requests finish, then returns. Safe to call twice.
  void stop();
  // Blocks until the server stops.
  void wait();

 private:
  Server() = default;

  std::unique_ptr<Api> api_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable stopped_cv_;
  bool stopped_ = false;
  std::string host_;
  int port_ = 0;
  bool tls_ = false;
  std::vector<std::pair<std::string, std::string>> pools_;
};

}  // namespace cairn::server
