#include "transport/notification_socket.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <optional>
#include <variant>

#include "transport/sigv4.h"
#include "transport/sync_protocol.h"

namespace cairn::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

using PlainSocket = websocket::stream<beast::tcp_stream>;
using TlsSocket = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

struct Endpoint {
  bool tls = false;
  std::string host, port, authority, prefix;
};

Result<Endpoint> split(const std::string& url) {
  Endpoint e;
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return Status(ErrorCode::kInvalidArgument, "bad endpoint");
  e.tls = url.compare(0, scheme, "https") == 0;
  std::string rest = url.substr(scheme + 3);
  size_t slash = rest.find('/');
  e.authority = rest.substr(0, slash);
  if (slash != std::string::npos) e.prefix = rest.substr(slash);
  while (!e.prefix.empty() && e.prefix.back() == '/') e.prefix.pop_back();
  size_t colon = e.authority.rfind(':');
  bool bracketed = !e.authority.empty() && e.authority.back() == ']';
  if (colon != std::string::npos && !bracketed) {
    e.host = e.authority.substr(0, colon);
    e.port = e.authority.substr(colon + 1);
  } else {
    e.host = e.authority;
    e.port = e.tls ? "443" : "80";
  }
  if (e.host.size() > 1 && e.host.front() == '[') e.host = e.host.substr(1, e.host.size() - 2);
  return e;
}

Status network(const std::string& what, const beast::error_code& ec) {
  return Status(ErrorCode::kNetwork, "notification socket: " + what + ": " + ec.message());
}

}  // namespace

class NotificationSocket::Impl {
 public:
  explicit Impl(const HttpOptions& http) : http_(http) {}

  // Runs the asynchronous operation `start` until it completes, checking the cancel flag; on a
  // cancel the socket is closed and kCancelled returned.
  template <typename Start>
  Status run(Start start, beast::error_code* ec) {
    bool done = false;
    start([&](beast::error_code e) {
      *ec = e;
      done = true;
    });
    ioc_.restart();
    while (!done) {
      // One handler at a time: the websocket's own timers keep the context busy, so running
      // "for" a while would sit out the whole while after the operation completed.
      ioc_.run_one_for(std::chrono::milliseconds(250));
      if (!done && http_.cancel && http_.cancel->load()) {
        close_socket();
        // The operation ends with its error; its handler, run here, sets `done`.
        while (!done) ioc_.run_one();  // NOLINT(bugprone-infinite-loop)
        return Status(ErrorCode::kCancelled, "notification socket: closed by its owner");
      }
    }
    return Status::OK();
  }

  Status open(const NotificationTarget& t, CredentialsProvider& credentials) {
    auto endpoint = split(t.endpoint);
    if (!endpoint.ok()) return endpoint.status();
    Endpoint e = *endpoint;
    wire::PollNotificationsRequest poll{t.pool, t.identity, t.device, t.after, 0};
    WireRequest wire = sync_wire::build(poll);
    SigV4Request sig;
    sig.method = "GET";
    sig.path = e.prefix + wire.path;
    sig.query = "after=" + std::to_string(t.after);
    sig.headers = {{"Host", e.authority}};
    auto creds = credentials.credentials();
    if (!creds.ok()) return creds.status();
    Status s =
        sign_request(sig, *creds, {t.region, "cognito-sync"}, std::chrono::system_clock::now());
    if (!s.ok()) return s;

    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    auto found = resolver.resolve(e.host, e.port, ec);
    if (ec) return network("resolve " + e.host, ec);
    if (e.tls) {
      tls_.emplace(asio::ssl::context::tls_client);
      if (http_.verify_tls) {
        tls_->set_verify_mode(asio::ssl::verify_peer);
        if (!http_.ca_file.empty()) tls_->load_verify_file(http_.ca_file, ec);
        if (!ec && !http_.ca_path.empty()) tls_->add_verify_path(http_.ca_path, ec);
        if (!ec && http_.ca_file.empty() && http_.ca_path.empty())
          tls_->set_default_verify_paths(ec);
        if (ec) return Status(ErrorCode::kTls, "notification socket: CA: " + ec.message());
      }
      auto& ws = socket_.emplace<TlsSocket>(ioc_, *tls_);
      if (!SSL_set_tlsext_host_name(ws.next_layer().native_handle(), e.host.c_str())) {
        return Status(ErrorCode::kTls, "notification socket: cannot set SNI");
      }
      if (http_.verify_tls)
        ws.next_layer().set_verify_callback(asio::ssl::host_name_verification(e.host));
      return handshake(ws, found, e, sig);
    }
    return handshake(socket_.emplace<PlainSocket>(ioc_), found, e, sig);
  }

  template <typename Ws>
  Status handshake(Ws& ws, const tcp::resolver::results_type& found, const Endpoint& e,
                   const SigV4Request& sig) {
    beast::error_code ec;
    auto& lowest = beast::get_lowest_layer(ws);
    lowest.expires_after(http_.connect_timeout);
    Status s = run(
        [&](auto done) {
          lowest.async_connect(found,
                               [done](beast::error_code c, const tcp::endpoint&) { done(c); });
        },
        &ec);
    if (!s.ok()) return s;
    if (ec) return network("connect to " + e.authority, ec);
    lowest.socket().set_option(tcp::no_delay(true), ec);
    if constexpr (std::is_same_v<Ws, TlsSocket>) {
      s = run(
          [&](auto done) { ws.next_layer().async_handshake(asio::ssl::stream_base::client, done); },
          &ec);
      if (!s.ok()) return s;
      if (ec) return Status(ErrorCode::kTls, "notification socket: TLS: " + ec.message());
    }
    lowest.expires_never();  // the websocket keeps its own time from here
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = http_.connect_timeout;
    // The server pings every 30 s; a connection that stays silent past the read timeout is gone.
    timeout.idle_timeout =
        std::max<std::chrono::milliseconds>(http_.read_timeout, std::chrono::seconds(5));
    timeout.keep_alive_pings = true;
    ws.set_option(timeout);
    ws.set_option(
        websocket::stream_base::decorator([headers = sig.headers](websocket::request_type& req) {
          for (const auto& [name, value] : headers) {
            if (name != "Host") req.set(name, value);
          }
        }));
    s = run([&](auto done) { ws.async_handshake(e.authority, sig.path + "?" + sig.query, done); },
            &ec);
    if (!s.ok()) return s;
    if (ec == websocket::error::upgrade_declined) {
      declined_ = true;
      return Status::OK();
    }
    if (ec) return network("upgrade", ec);
    return Status::OK();
  }

  Result<wire::PollNotificationsResponse> next() {
    return std::visit(
        [&](auto& ws) -> Result<wire::PollNotificationsResponse> {
          if constexpr (std::is_same_v<std::decay_t<decltype(ws)>, std::monostate>) {
            return Status(ErrorCode::kNetwork, "notification socket: not connected");
          } else {
            beast::error_code ec;
            buffer_.clear();
            Status s = run(
                [&](auto done) {
                  ws.async_read(buffer_, [done](beast::error_code e, size_t) { done(e); });
                },
                &ec);
            if (!s.ok()) return s;
            if (ec) return network("read", ec);
            wire::PollNotificationsResponse batch;
            s = sync_wire::parse(beast::buffers_to_string(buffer_.data()), &batch);
            if (!s.ok()) return s;
            return batch;
          }
        },
        socket_);
  }

  Status acknowledge(int64_t next) {
    return std::visit(
        [&](auto& ws) -> Status {
          if constexpr (std::is_same_v<std::decay_t<decltype(ws)>, std::monostate>) {
            return Status(ErrorCode::kNetwork, "notification socket: not connected");
          } else {
            std::string ack = "{\"after\":" + std::to_string(next) + "}";
            beast::error_code ec;
            ws.text(true);
            Status s = run(
                [&](auto done) {
                  ws.async_write(asio::buffer(ack),
                                 [done](beast::error_code e, size_t) { done(e); });
                },
                &ec);
            if (!s.ok()) return s;
            if (ec) return network("acknowledge", ec);
            return Status::OK();
          }
        },
        socket_);
  }

  void close_socket() {
    std::visit(
        [](auto& ws) {
          if constexpr (!std::is_same_v<std::decay_t<decltype(ws)>, std::monostate>) {
            beast::error_code ignored;
            beast::get_lowest_layer(ws).socket().close(ignored);
          }
        },
        socket_);
  }

  bool declined() const { return declined_; }

 private:
  HttpOptions http_;
  asio::io_context ioc_;
  std::optional<asio::ssl::context> tls_;
  std::variant<std::monostate, PlainSocket, TlsSocket> socket_;
  beast::flat_buffer buffer_;
  bool declined_ = false;
};

Result<std::unique_ptr<NotificationSocket>> NotificationSocket::connect(
    const NotificationTarget& target, CredentialsProvider& credentials, const HttpOptions& http) {
  if (!http.proxy.empty()) return std::unique_ptr<NotificationSocket>();  // the long poll, then
  auto impl = std::make_unique<Impl>(http);
  Status s = impl->open(target, credentials);
  if (!s.ok()) return s;
  if (impl->declined()) return std::unique_ptr<NotificationSocket>();
  return std::unique_ptr<NotificationSocket>(new NotificationSocket(std::move(impl)));
}

NotificationSocket::NotificationSocket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

NotificationSocket::~NotificationSocket() {
  if (impl_) impl_->close_socket();
}

Result<wire::PollNotificationsResponse> NotificationSocket::next() { return impl_->next(); }

Status NotificationSocket::acknowledge(int64_t next) { return impl_->acknowledge(next); }

}  // namespace cairn::transport
