// Server: cairn-server as a library. It opens storage, bootstraps pools, binds the listening
// socket and serves (server/http_front.h) until stop(). The cairn-server binary and in-process
// tests (and the demo's embedded server) all run it this way.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/api.h"
#include "server/http_front.h"

namespace cairn::server {

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  // A port in use is a start-up error. With reuse_port, several servers on this host may listen
  // on one port (SO_REUSEPORT) and the kernel spreads connections among them: only for instances
  // that share one database.
  bool reuse_port = false;
  // Where GET /metrics and GET /health are also served, HOST:PORT; empty: /metrics on `listen`.
  // An operator keeps metrics off the public address this way.
  std::string admin_listen;
  std::string db = "sqlite:./cairn-data/cairn.db";  // or postgresql://... (storage.h)
  int db_pool_size = 16;                            // PostgreSQL connections at most
  // SQLite: FULL syncs each group commit to disk before any of its writes is acknowledged;
  // NORMAL may lose the last acknowledged writes to a power loss (storage.h, Durability).
  Durability durability = Durability::kFull;
  std::vector<std::string> bootstrap_pools;
  ServerOptions options;
  // Threads that run requests (the ones that touch storage); 0 picks a number from the cores
  // and the storage: SQLite's writers group their commits, so a few per core keep its groups
  // full; PostgreSQL gets one per pooled connection. Connections hold no thread.
  int worker_threads = 0;
  // Threads that read and write connections; 0: one per two cores.
  int io_threads = 0;
  // How long a connection may take to send the rest of a request once it has started one (and,
  // likewise, to take an answer): a client that stalls is cut off then.
  int read_timeout_seconds = 5;
  // How long an idle keep-alive connection is kept for its next request.
  int keep_alive_seconds = 60;
  // gzip of response bodies of a kilobyte or more, for clients that send Accept-Encoding: gzip
  // (server/compression.h): zlib's level, 1 (fastest) to 9; 0 turns it off.
  int gzip_level = 1;
  // A WebSocket whose client has not taken a message for this long is closed (server_message.h:
  // it holds one message meanwhile, never a queue).
  int websocket_stall_seconds = 30;
  // A WebSocket that has said nothing for this long is pinged; one silent for as long again is
  // closed.
  int websocket_idle_seconds = 30;
  // Connections open at once at most; the next one is answered 503 and closed. The server
  // raises its open-file limit to match, and says at start when the system does not allow it.
  size_t max_connections = 50000;
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
  // Connections open now, parked polls among them, and connections turned away.
  FrontCounts connections() const { return front_->counts(); }
  // The port of --admin-listen (0 when the server has none).
  int admin_port() const { return admin_ ? admin_->port() : 0; }
  // GET /metrics: the Prometheus text exposition (server/metrics.h).
  std::string metrics_text();

  // Stops accepting, answers the waiting polls, lets in-flight requests finish, closes idle
  // connections, then returns. Safe to call twice.
  void stop();
  // Blocks until the server stops.
  void wait();

 private:
  Server() = default;

  std::unique_ptr<Api> api_;
  std::unique_ptr<HttpFront> front_;
  std::unique_ptr<HttpFront> admin_;  // --admin-listen
  std::mutex mu_;
  std::condition_variable stopped_cv_;
  bool stopped_ = false;
  std::string host_;
  int port_ = 0;
  bool tls_ = false;
  std::vector<std::pair<std::string, std::string>> pools_;
};

}  // namespace cairn::server
