// HttpFront (http_front.h): the HTTP sessions, accepting and stopping. The WebSocket session is in
// ws_session.h, the state both share in http_front_impl.h.
#include "server/http_front.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <type_traits>

#include "server/http_front_impl.h"
#include "server/ws_session.h"
#include "transport/json.h"

namespace cairn::server {

namespace {

using BeastResponse = http::response<http::string_body>;
using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr size_t kHeaderLimit = 64 * 1024;  // SigV4 headers with a session token fit many times

std::shared_ptr<BeastResponse> to_beast(ServerResponse response, unsigned version,
                                        bool keep_alive) {
  auto out = std::make_shared<BeastResponse>(static_cast<http::status>(response.status), version);
  for (auto& [name, value] : response.headers) out->insert(name, value);
  out->body() = std::move(response.body);
  out->keep_alive(keep_alive);
  out->prepare_payload();
  return out;
}

// What can be read of a request that is being refused.
ServerRequest partial_request(const http::request_parser<http::string_body>* parser) {
  ServerRequest request;
  if (parser != nullptr) {  // the header may be whole (a body over the limit) or cut short
    const auto& m = parser->get();
    request.set_target(std::string(m.method_string()), std::string(m.target()));
    for (const auto& field : m) {
      request.headers.emplace(std::string(field.name_string()), std::string(field.value()));
    }
  }
  return request;
}

template <class Stream>
class Session : public Connection, public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(HttpFront::Impl& front, tcp::socket socket, asio::ssl::context* ssl)
      : front_(front), stream_(make_stream(std::move(socket), ssl)) {}
  ~Session() override { front_.closed(this); }

  void start() {
    if constexpr (kTls) {
      lowest().expires_after(front_.options().read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) return self->close();
                                self->wait_request();
                              });
    } else {
      wait_request();
    }
  }

  void close_if_idle() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->state_ == State::kIdle) self->close();
    });
  }

 private:
  enum class State { kStarting, kIdle, kReading, kWorking, kWriting, kClosing, kClosed };

  static Stream make_stream(tcp::socket socket, asio::ssl::context* ssl) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *ssl);
    } else {
      (void)ssl;
      return Stream(std::move(socket));
    }
  }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  // Between requests: the idle timeout runs until the first byte of the next one.
  void wait_request() {
    if (front_.stopping()) return close();
    state_ = State::kIdle;
    if (buffer_.size() > 0) return read_header();  // pipelined: the next one is here already
    lowest().expires_after(front_.options().keep_alive_idle);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, size_t n) {
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  // Once a request has started, the client has read_timeout for the rest.
  void read_header() {
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(front_.options().max_body_bytes);
    lowest().expires_after(front_.options().read_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return self->read_failed(ec);
          const auto& m = self->parser_->get();
          auto expect = m.find(http::field::expect);
          if (expect != m.end() && beast::iequals(expect->value(), "100-continue") &&
              !self->parser_->is_done()) {
            static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            return asio::async_write(self->stream_, asio::buffer(kContinue),
                                     [self](beast::error_code wec, size_t) {
                                       if (wec) return self->close();
                                       self->read_body();
                                     });
          }
          self->read_body();
        });
  }

  void read_body() {
    // The parser has reserved the announced length; room beyond it lets the JSON be parsed where
    // it lies, instead of from a copy (transport/json.h).
    if (auto length = parser_->content_length();
        length && *length > 0 && *length <= front_.options().max_body_bytes) {
      parser_->get().body().reserve(static_cast<size_t>(*length) + transport::json::kParseSlack);
    }
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->read_failed(ec);
                       self->dispatch();
                     });
  }

  void read_failed(beast::error_code ec) {
    if (ec == http::error::body_limit) return refuse(413);
    if (ec.category() == beast::error_code(http::error::body_limit).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return refuse(400);  // it spoke, but not HTTP
    }
    close();  // gone, reset or timed out
  }

  void refuse(int status) {
    ServerRequest partial = partial_request(parser_ ? &*parser_ : nullptr);
    parser_.reset();
    keep_alive_ = false;
    lingering_ = true;
    write(front_.refuse(partial, status));
  }

  // After a refusal, the client may still be sending the body it was refused: read and drop it
  // for a moment, so that it reads the answer instead of a reset connection.
  void linger() {
    state_ = State::kClosing;
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest().expires_after(std::chrono::seconds(2));
    buffer_.clear();
    lowest().async_read_some(buffer_.prepare(64 * 1024),
                             [self = this->shared_from_this()](beast::error_code rec, size_t) {
                               self->buffer_.clear();
                               self->lingered_ += 64 * 1024;
                               if (rec || self->lingered_ > 16 * 1024 * 1024) return self->close();
                               self->linger();
                             });
  }

  void dispatch() {
    state_ = State::kWorking;
    auto message = parser_->release();
    parser_.reset();
    if (websocket::is_upgrade(message)) return upgrade(std::move(message));
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    ServerRequest request = to_request(message);
    request.body = std::move(message.body());
    front_.dispatch(std::move(request), stream_.get_executor(),
                    [self = this->shared_from_this()](ServerResponse response) {
                      self->write(std::move(response));
                    });
  }

  // Asks the upgrade handler; on yes, the stream moves to a WsSession and this session ends.
  void upgrade(http::request<http::string_body> message) {
    ServerRequest request = to_request(message);
    version_ = message.version();
    keep_alive_ = false;
    front_.upgrade(std::move(request), stream_.get_executor(),
                   [self = this->shared_from_this(), message = std::move(message)](
                       std::variant<ServerResponse, std::shared_ptr<Channel>> answer) mutable {
                     if (auto* refused = std::get_if<ServerResponse>(&answer)) {
                       return self->write(std::move(*refused));
                     }
                     auto ws = std::make_shared<WsSession<Stream>>(
                         self->front_, std::move(self->stream_),
                         std::move(std::get<std::shared_ptr<Channel>>(answer)));
                     self->state_ = State::kClosed;  // its stream is the WebSocket's now
                     self->front_.adopted(ws.get(), ws);
                     ws->start(std::move(message));
                   });
  }

  ServerRequest to_request(http::request<http::string_body>& message) {
    ServerRequest request;
    request.set_target(std::string(message.method_string()), std::string(message.target()));
    for (const auto& field : message) {
      request.headers.emplace(std::string(field.name_string()), std::string(field.value()));
    }
    beast::error_code ec;
    auto peer = lowest().socket().remote_endpoint(ec);
    if (!ec) request.remote_addr = peer.address().to_string();
    return request;
  }

  void write(ServerResponse response) {
    if (state_ == State::kClosed) return;
    state_ = State::kWriting;
    out_ = to_beast(std::move(response), version_, keep_alive_ && !front_.stopping());
    lowest().expires_after(front_.options().read_timeout);
    http::async_write(stream_, *out_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        bool again = !ec && self->out_->keep_alive();
                        self->out_.reset();
                        if (!ec && self->lingering_) return self->linger();
                        if (!again) return self->close();
                        self->wait_request();
                      });
  }

  void close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

  HttpFront::Impl& front_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<BeastResponse> out_;
  State state_ = State::kStarting;
  bool keep_alive_ = true;
  bool lingering_ = false;  // the answer is a refusal: drain what the client still sends
  size_t lingered_ = 0;
  unsigned version_ = 11;
};

}  // namespace

Status HttpFront::Impl::open() {
  if (!options_.tls_cert_file.empty()) {
    try {
      ssl_.emplace(asio::ssl::context::tls_server);
      ssl_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
      ssl_->use_certificate_chain_file(options_.tls_cert_file);
      ssl_->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem);
    } catch (const std::exception&) {
      return Status(ErrorCode::kInvalidArgument,
                    "cannot load the TLS certificate '" + options_.tls_cert_file + "' with key '" +
                        options_.tls_key_file + "' (PEM files that belong together?)");
    }
    tls_ = true;
  }
  std::string where = options_.host + ":" + std::to_string(options_.port);
  beast::error_code ec;
  tcp::resolver resolver(ioc_);
  auto found = resolver.resolve(options_.host, std::to_string(options_.port),
                                tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || found.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "cannot listen on " + where + ": unknown host '" + options_.host + "'");
  }
  tcp::endpoint endpoint = found.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && options_.reuse_port) {
    int yes = 1;
    ::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &yes, sizeof(yes));
  }
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::string why = ec == asio::error::address_in_use
                          ? "the port is in use by another process (--reuse-port shares it on "
                            "purpose, between instances of one database)"
                          : ec.message();
    return Status(ErrorCode::kInvalidArgument, "cannot listen on " + where + ": " + why);
  }
  port_ = acceptor_.local_endpoint().port();
  return Status::OK();
}

void HttpFront::Impl::run() {
  work_.emplace(ioc_.get_executor());
  accept();
  for (int i = 0; i < std::max(1, options_.io_threads); ++i) {
    io_threads_.emplace_back([this] { ioc_.run(); });
  }
}

void HttpFront::Impl::accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (stopping_) return;
    if (ec) {
      // Out of file descriptors, most likely: the connection waits in the backlog meanwhile.
      accept_retry_.expires_after(std::chrono::milliseconds(50));
      accept_retry_.async_wait([this](beast::error_code wec) {
        if (!wec && !stopping_) accept();
      });
      return;
    }
    bool full = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      full = open_ >= options_.max_connections;
      if (!full) ++open_;
    }
    if (full) {
      turn_away(std::move(socket));
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      std::shared_ptr<Connection> session;
      if (ssl_) {
        auto s = std::make_shared<Session<TlsStream>>(*this, std::move(socket), &*ssl_);
        opened(s.get(), s);
        s->start();
      } else {
        auto s = std::make_shared<Session<PlainStream>>(*this, std::move(socket), nullptr);
        opened(s.get(), s);
        s->start();
      }
    }
    accept();
  });
}

void HttpFront::Impl::turn_away(tcp::socket socket) {
  ++refused_;
  ServerResponse response = refusal_(ServerRequest(), 503);
  response.set_header("Retry-After", "1");
  auto out = to_beast(std::move(response), 11, false);
  auto held = std::make_shared<tcp::socket>(std::move(socket));
  http::async_write(*held, *out, [held, out](beast::error_code, size_t) {
    beast::error_code ec;
    held->shutdown(tcp::socket::shutdown_both, ec);
    held->close(ec);
  });
}

void HttpFront::Impl::stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  asio::post(ioc_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
  });
  std::vector<std::shared_ptr<Connection>> live;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [raw, weak] : connections_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) c->close_if_idle();
  live.clear();
  {
    // Requests in flight are answered, and their connections close after the answer. A client
    // that takes no answer is cut off by its write timeout; past a margin beyond that, stop.
    std::unique_lock<std::mutex> l(mu_);
    all_closed_.wait_for(l, options_.read_timeout * 2 + std::chrono::seconds(5),
                         [&] { return open_ == 0; });
  }
  workers_.join();
  work_.reset();
  ioc_.stop();
  for (auto& t : io_threads_) t.join();
}

Result<std::unique_ptr<HttpFront>> HttpFront::start(FrontOptions options, Handler handler,
                                                    Refusal refusal, Upgrade upgrade) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler), std::move(refusal),
                                     std::move(upgrade));
  Status s = impl->open();
  if (!s.ok()) return s;
  impl->run();
  return std::unique_ptr<HttpFront>(new HttpFront(std::move(impl)));
}

HttpFront::HttpFront(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpFront::~HttpFront() { stop(); }
int HttpFront::port() const { return impl_->port_; }
bool HttpFront::tls() const { return impl_->tls_; }
void HttpFront::stop() { impl_->stop(); }

FrontCounts HttpFront::counts() const {
  FrontCounts c;
  {
    std::lock_guard<std::mutex> l(impl_->mu_);
    c.open = impl_->open_;
  }
  c.parked = impl_->parked_.load();
  c.websockets = impl_->websockets_.load();
  c.refused = impl_->refused_.load();
  return c;
}

size_t raise_open_file_limit(size_t connections) {
  constexpr rlim_t kOtherFiles = 256;  // the database, logs, stream files, outgoing hooks
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return connections;
  rlim_t want = static_cast<rlim_t>(connections) + kOtherFiles;
  if (limit.rlim_cur < want) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? want : std::min(want, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= want) return connections;
  return limit.rlim_cur > kOtherFiles ? static_cast<size_t>(limit.rlim_cur - kOtherFiles) : 0;
}

}  // namespace cairn::server
