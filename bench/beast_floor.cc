#include "bench/beast_floor.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>
#include <vector>

namespace cairn::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

class BeastFloorServer::Impl {
 public:
  Impl(const std::map<std::string, std::string>& replies, const Work& work, int workers)
      : replies_(replies), work_(work), acceptor_(ioc_), pool_(static_cast<size_t>(workers)) {}

  ~Impl() {
    ioc_.stop();
    for (auto& t : threads_) t.join();
    pool_.join();
  }

  bool start(int io_threads) {
    beast::error_code ec;
    tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(at.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(at, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return false;
    port_ = acceptor_.local_endpoint().port();
    accept();
    for (int i = 0; i < std::max(1, io_threads); ++i) threads_.emplace_back([this] { ioc_.run(); });
    return true;
  }

  int port() const { return port_; }

 private:
  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(Impl& server, tcp::socket socket) : server_(server), stream_(std::move(socket)) {}

    void read() {
      request_ = {};
      http::async_read(stream_, buffer_, request_,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) return self->close();
                         self->work();
                       });
    }

   private:
    // The work runs on a worker; the answer is written from the connection's strand.
    void work() {
      asio::post(server_.pool_, [self = shared_from_this()] {
        std::string method(self->request_.method_string());
        if (self->server_.work_) self->server_.work_(method, std::string(self->request_.target()));
        auto it = self->server_.replies_.find(method);
        auto response = std::make_shared<http::response<http::string_body>>(
            http::status::ok, self->request_.version());
        response->set(http::field::content_type, "application/json");
        response->body() = it == self->server_.replies_.end() ? "{}" : it->second;
        response->keep_alive(self->request_.keep_alive());
        response->prepare_payload();
        asio::post(self->stream_.get_executor(), [self, response] { self->write(response); });
      });
    }

    void write(std::shared_ptr<http::response<http::string_body>> response) {
      http::async_write(stream_, *response,
                        [self = shared_from_this(), response](beast::error_code ec, size_t) {
                          if (ec || !response->keep_alive()) return self->close();
                          self->read();
                        });
    }

    void close() {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    }

    Impl& server_;
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> request_;
  };

  void accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      s.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(*this, std::move(s))->read();
      accept();
    });
  }

  const std::map<std::string, std::string>& replies_;
  const Work& work_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  asio::thread_pool pool_;
  std::vector<std::thread> threads_;
  int port_ = 0;
};

BeastFloorServer::BeastFloorServer() = default;
BeastFloorServer::~BeastFloorServer() = default;

bool BeastFloorServer::start(int io_threads, int workers) {
  impl_ = std::make_unique<Impl>(replies_, work_, workers);
  return impl_->start(io_threads);
}

std::string BeastFloorServer::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_ ? impl_->port() : 0);
}

}  // namespace cairn::bench
