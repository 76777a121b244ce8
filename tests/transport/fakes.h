// Fakes for what is hard to cause for real: a clock that never waits (and can be set off by
// minutes) and a transport that answers from a script.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "cairn/clock.h"
#include "cairn/http.h"
#include "fixtures/manual_clock.h"

namespace cairn::testing {

// Answers each send() with the next scripted result and records every request it was given.
class ScriptedTransport final : public HttpTransport {
 public:
  using Reply = std::function<Result<HttpResponse>(const HttpRequest&)>;

  void then(Result<HttpResponse> r) {
    std::lock_guard<std::mutex> l(mu_);
    script_.push_back([r](const HttpRequest&) { return r; });
  }
  void then(Reply reply) {
    std::lock_guard<std::mutex> l(mu_);
    script_.push_back(std::move(reply));
  }
  void then_status(int status, std::string body = "{}", HttpHeaders headers = {}) {
    then(Result<HttpResponse>(HttpResponse{status, std::move(headers), std::move(body)}));
  }
  void then_error(ErrorCode code, std::string message = "injected") {
    then(Result<HttpResponse>(Status(code, std::move(message))));
  }

  Result<HttpResponse> send(const HttpRequest& request) override {
    std::lock_guard<std::mutex> l(mu_);
    requests_.push_back(request);
    if (script_.empty()) return Status(ErrorCode::kNetwork, "script exhausted");
    auto reply = std::move(script_.front());
    script_.pop_front();
    return reply(request);
  }

  std::vector<HttpRequest> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  std::mutex mu_;
  std::deque<Reply> script_;
  std::vector<HttpRequest> requests_;
};

}  // namespace cairn::testing
