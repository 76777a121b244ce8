// HttpFront's private parts, shared by its sessions (ws_session.h, http_front.cc): the
// connection bookkeeping and the hand-off of requests to the workers. Included by nothing else.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/http_front.h"

namespace cairn::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// A connection as the front keeps track of it, whatever its stream.
class Connection {
 public:
  virtual ~Connection() = default;
  // Closes the connection if it is between requests (stop()).
  virtual void close_if_idle() = 0;
};

class HttpFront::Impl {
 public:
  Impl(FrontOptions options, Handler handler, Refusal refusal, Upgrade upgrade)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        refusal_(std::move(refusal)),
        upgrade_(std::move(upgrade)),
        acceptor_(ioc_),
        accept_retry_(ioc_),
        workers_(static_cast<size_t>(std::max(1, options_.workers))) {}

  Status open();
  void run();
  void stop();

  // Connection bookkeeping, for the sessions.
  void opened(Connection* c, std::weak_ptr<Connection> weak) {
    std::lock_guard<std::mutex> l(mu_);
    connections_.emplace(c, std::move(weak));
  }
  // A connection that takes over from another (an upgrade), counted apart from it.
  void adopted(Connection* c, std::weak_ptr<Connection> weak) {
    std::lock_guard<std::mutex> l(mu_);
    ++open_;
    connections_.emplace(c, std::move(weak));
  }
  void closed(Connection* c) {
    std::lock_guard<std::mutex> l(mu_);
    connections_.erase(c);
    --open_;
    if (open_ == 0) all_closed_.notify_all();
  }

  const FrontOptions& options() const { return options_; }
  bool stopping() const { return stopping_.load(); }
  // Runs the handler on a worker; `respond` runs once, on the connection's executor.
  template <class Executor>
  void dispatch(ServerRequest request, Executor executor,
                std::function<void(ServerResponse)> on_answer);
  ServerResponse refuse(const ServerRequest& request, int status) {
    return refusal_(request, status);
  }
  // Runs the upgrade handler on a worker; `on_answer` runs on `executor`.
  template <class Executor, class OnAnswer>
  void upgrade(ServerRequest request, Executor executor, OnAnswer on_answer) {
    asio::post(workers_, [this, request = std::move(request), executor,
                          on_answer = std::move(on_answer)]() mutable {
      auto answer = upgrade_(request);
      asio::post(executor,
                 [on_answer = std::move(on_answer), answer = std::move(answer)]() mutable {
                   on_answer(std::move(answer));
                 });
    });
  }

  std::atomic<size_t> parked_{0};
  std::atomic<size_t> websockets_{0};
  std::atomic<size_t> refused_{0};
  int port_ = 0;
  bool tls_ = false;

 private:
  void accept();
  void turn_away(tcp::socket socket);

  FrontOptions options_;
  Handler handler_;
  Refusal refusal_;
  Upgrade upgrade_;
  // Declared before ioc_: handlers that io_context's destructor drops may end sessions, and those
  // report here.
  std::mutex mu_;
  std::condition_variable all_closed_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;
  size_t open_ = 0;
  std::optional<asio::ssl::context> ssl_;
  std::atomic<bool> stopping_{false};

  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  std::vector<std::thread> io_threads_;
  asio::thread_pool workers_;
  bool stopped_ = false;
  friend class HttpFront;
};

template <class Executor>
void HttpFront::Impl::dispatch(ServerRequest request, Executor executor,
                               std::function<void(ServerResponse)> on_answer) {
  // 0: the handler runs; 1: answered; 2: parked (the handler returned without answering).
  auto phase = std::make_shared<std::atomic<int>>(0);
  asio::post(workers_, [this, request = std::move(request), executor, phase,
                        on_answer = std::move(on_answer)]() mutable {
    bool gzip = false;
    if (options_.compression.level > 0) {
      std::string accepted;
      auto [from, to] = request.headers.equal_range("Accept-Encoding");
      for (auto it = from; it != to; ++it) accepted.append(it->second).push_back(',');
      gzip = accepts_gzip(accepted);
    }
    handler_(std::move(request), [this, executor, phase, on_answer, gzip](ServerResponse response) {
      if (phase->exchange(1) == 2) --parked_;
      // Here, on the thread that answered (a worker, mostly), not on the I/O threads.
      compress_response(gzip, options_.compression, response);
      asio::post(executor, [on_answer, response = std::move(response)]() mutable {
        on_answer(std::move(response));
      });
    });
    int running = 0;
    if (phase->compare_exchange_strong(running, 2)) ++parked_;
  });
}

}  // namespace cairn::server
