// A WebSocket connection of HttpFront, once its upgrade is accepted.
#pragma once

#include <boost/beast/websocket.hpp>
#include <memory>
#include <string>

#include "server/http_front_impl.h"

namespace cairn::server {

// A WebSocket connection: text messages between the client and a Channel. One send is in flight
// at a time (the channel waits for sent()), so a client that stops reading holds one message.
template <class Stream>
class WsSession : public Connection, public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(HttpFront::Impl& front, Stream stream, std::shared_ptr<Channel> channel)
      : front_(front),
        ws_(std::move(stream)),
        channel_(std::move(channel)),
        stall_(ws_.get_executor()) {
    ++front_.websockets_;
  }
  ~WsSession() override {
    --front_.websockets_;
    front_.closed(this);
  }

  void start(http::request<http::string_body> upgrade) {
    beast::get_lowest_layer(ws_).expires_never();  // the websocket keeps its own time
    websocket::stream_base::timeout timeout;
    timeout.handshake_timeout = front_.options().read_timeout;
    timeout.idle_timeout = front_.options().ws_idle;
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    ws_.read_message_max(front_.options().ws_max_message);
    ws_.async_accept(upgrade, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return self->finish();
      self->open_ = true;
      std::weak_ptr<WsSession> weak = self;
      auto executor = self->ws_.get_executor();
      self->channel_->open([weak, executor](std::string text) {
        asio::post(executor, [weak, text = std::move(text)]() mutable {
          if (auto s = weak.lock()) s->send(std::move(text));
        });
      });
      self->read();
      if (self->front_.stopping()) self->close_now();
    });
  }

  void close_if_idle() override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this()] { self->close_now(); });
  }

 private:
  void read() {
    ws_.async_read(in_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->finish();  // closed, timed out, too large, unmasked, ...
      std::string text = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      Status s = self->channel_->received(text);
      if (!s.ok()) {
        return self->close_with(websocket::close_reason(websocket::close_code::policy_error,
                                                        s.message().substr(0, 120)));
      }
      self->read();
    });
  }

  void send(std::string text) {
    if (!open_ || closing_) return;
    out_ = std::move(text);
    ws_.text(true);
    stall_.expires_after(front_.options().ws_stall);
    stall_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return;  // the write finished first
      beast::error_code ignored;
      beast::get_lowest_layer(self->ws_).socket().close(ignored);  // a client that never reads
    });
    ws_.async_write(asio::buffer(out_),
                    [self = this->shared_from_this()](beast::error_code ec, size_t) {
                      self->stall_.cancel();
                      if (ec) return self->finish();
                      self->channel_->sent();
                    });
  }

  void close_now() {
    close_with(websocket::close_reason(websocket::close_code::going_away, "server stopping"));
  }
  void close_with(websocket::close_reason reason) {
    if (!open_ || closing_) return;
    closing_ = true;
    ws_.async_close(reason,
                    [self = this->shared_from_this()](beast::error_code) { self->finish(); });
  }
  void finish() {
    if (finished_) return;
    finished_ = true;
    channel_->closed();
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  HttpFront::Impl& front_;
  websocket::stream<Stream> ws_;
  std::shared_ptr<Channel> channel_;
  asio::steady_timer stall_;
  beast::flat_buffer in_;
  std::string out_;
  bool open_ = false, closing_ = false, finished_ = false;
};

}  // namespace cairn::server
