// CountingTransport: an HttpTransport decorator that counts the bytes a manager sends and
// receives (headers and bodies), for EngineStats.
#pragma once

#include <atomic>
#include <memory>

#include "cairn/http.h"

namespace cairn::engine {

class CountingTransport final : public HttpTransport {
 public:
  explicit CountingTransport(std::shared_ptr<HttpTransport> inner) : inner_(std::move(inner)) {}

  Result<HttpResponse> send(const HttpRequest& request) override {
    sent_ += request.method.size() + request.url.size() + request.body.size() +
             header_bytes(request.headers);
    auto response = inner_->send(request);
    if (response.ok()) received_ += response->body.size() + header_bytes(response->headers);
    return response;
  }

  uint64_t bytes_sent() const { return sent_.load(); }
  uint64_t bytes_received() const { return received_.load(); }

 private:
  static uint64_t header_bytes(const HttpHeaders& headers) {
    uint64_t n = 0;
    for (const auto& [name, value] : headers) n += name.size() + value.size() + 4;  // ": " CRLF
    return n;
  }

  std::shared_ptr<HttpTransport> inner_;
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> received_{0};
};

}  // namespace cairn::engine
