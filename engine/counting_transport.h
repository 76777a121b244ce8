// CountingTransport: an HttpTransport decorator that counts the bytes a manager sends and
// receives (headers and bodies, a compressed body as it crossed the wire), for EngineStats.
#pragma once

#include <atomic>
#include <cstdlib>
#include <memory>

#include "cairn/http.h"
#include "transport/sigv4.h"

namespace cairn::engine {

class CountingTransport final : public HttpTransport {
 public:
  explicit CountingTransport(std::shared_ptr<HttpTransport> inner) : inner_(std::move(inner)) {}

  Result<HttpResponse> send(const HttpRequest& request) override {
    sent_ += request.method.size() + request.url.size() + request.body.size() +
             header_bytes(request.headers);
    auto response = inner_->send(request);
    if (response.ok()) received_ += wire_body_bytes(*response) + header_bytes(response->headers);
    return response;
  }

  uint64_t bytes_sent() const { return sent_.load(); }
  uint64_t bytes_received() const { return received_.load(); }

 private:
  // A body the transport decoded (Content-Encoding: gzip) crossed the wire as Content-Length
  // bytes; any other as itself.
  static uint64_t wire_body_bytes(const HttpResponse& response) {
    bool encoded = false;
    uint64_t length = 0;
    bool has_length = false;
    for (const auto& [name, value] : response.headers) {
      if (transport::iequals(name, "Content-Encoding") && !transport::iequals(value, "identity")) {
        encoded = true;
      } else if (transport::iequals(name, "Content-Length")) {
        char* end = nullptr;
        length = std::strtoull(value.c_str(), &end, 10);
        has_length = end != value.c_str();
      }
    }
    return encoded && has_length ? length : response.body.size();
  }
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
