// HttpFront: cairn-server's connections, event-driven (Boost.Beast on Asio).
//
// A connection costs memory, not a thread. A few I/O threads move the bytes of every connection;
// a request, once read whole, runs on a bounded pool of workers (the ones that touch storage);
// its answer goes back to the I/O threads to be written. A handler that parks its request (a
// notification poll with nothing to say yet) holds neither kind of thread while it waits.
//
//  - An idle keep-alive connection is kept `keep_alive_idle`; once a request has started, the
//    client has `read_timeout` to send the rest (and to take the answer), or it is cut off.
//  - Beyond `max_connections` open at once, a new connection is answered 503 and closed, and the
//    server carries on.
//  - stop() stops accepting, lets every request in flight be answered, closes idle connections
//    and returns once every connection is gone.
//
//  - A request that asks to upgrade to WebSocket goes to the Upgrade handler; once accepted, the
//    connection carries text messages to and from a Channel (server/server_message.h), with
//    pings, close frames and a bound on message size. stop() sends WebSockets a close frame.
//
// Thread safety: start(), stop() and the accessors may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include "cairn/status.h"
#include "server/compression.h"
#include "server/server_message.h"

namespace cairn::server {

struct FrontOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free one
  bool reuse_port = false;
  size_t max_body_bytes = 4 * 1024 * 1024;
  int workers = 8;     // threads that run handlers
  int io_threads = 1;  // threads that read and write
  std::chrono::seconds keep_alive_idle{60};
  std::chrono::seconds read_timeout{5};
  size_t max_connections = 50000;
  // WebSocket: a connection with nothing to say for this long is pinged, and closed if the
  // client has said nothing either by twice this; a send the client has not taken within
  // stall_timeout closes it.
  std::chrono::seconds ws_idle{30};
  std::chrono::seconds ws_stall{30};
  size_t ws_max_message = 4096;  // a client message larger than this closes the connection
  // gzip for the clients that ask for it (compression.h).
  CompressionOptions compression;
  // HTTPS when both are set: PEM files of the certificate (chain) and its key.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// Connections open now, by what they are doing.
struct FrontCounts {
  size_t open = 0;    // every connection
  size_t parked = 0;  // a request parked by its handler (a long poll)
  size_t websockets = 0;
  size_t refused = 0;  // connections answered 503 since start: over max_connections
};

class HttpFront {
 public:
  using Respond = std::function<void(ServerResponse)>;
  // Runs on a worker thread; answers through `respond` once, from any thread, now or later.
  using Handler = std::function<void(ServerRequest request, Respond respond)>;
  // The answer to a request refused before it reached the handler: status 400 (malformed), 413
  // (body over the limit) or 503 (too many connections). `request` holds what was read of it.
  using Refusal = std::function<ServerResponse(const ServerRequest& request, int status)>;
  // A WebSocket upgrade request, on a worker: the channel to talk to, or the answer that refuses
  // it (the connection closes after it).
  using Upgrade =
      std::function<std::variant<ServerResponse, std::shared_ptr<Channel>>(const ServerRequest&)>;

  static Result<std::unique_ptr<HttpFront>> start(FrontOptions options, Handler handler,
                                                  Refusal refusal, Upgrade upgrade);
  ~HttpFront();

  int port() const;
  bool tls() const;
  FrontCounts counts() const;
  // See the header comment. Safe to call twice.
  void stop();

  class Impl;

 private:
  explicit HttpFront(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Raises this process's open-file limit to hold `connections` sockets beside its other files.
// Returns the number of connections the limit allows once raised (at least `connections` when
// the system allowed it).
size_t raise_open_file_limit(size_t connections);

}  // namespace cairn::server
