// Stub mode: canned responses and errors for the Cognito clients, with no HTTP at all, so a game
// can unit-test its own sync handling (the seed's stub_responses). Requests are still validated
// and serialised, and every call is recorded, so a test can check what would have been sent.
//
// Responses are consumed in order per operation. A call with nothing queued fails with
// kStubExhausted. Retries are off in stub mode: a queued transient error is returned as is.
//
// Thread safety: all methods may be called from several threads at once.
#pragma once

#include <any>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

#include "cairn/export.h"
#include "cairn/status.h"

namespace cairn {

class CAIRN_CPP_API Stubber {
 public:
  struct Call {
    std::string operation;  // "ListRecords"
    std::string method;
    std::string path;
    std::string query;
    std::string body;  // the JSON that would have been sent
  };

  // A typed response, e.g. add_response("ListRecords", wire::ListRecordsResponse{...}).
  template <typename Response>
  void add_response(const std::string& operation, Response response) {
    push(operation, Entry{std::any(std::move(response))});
  }
  // A raw JSON body as the service would send it; parsed exactly like a real response.
  void add_json_response(const std::string& operation, std::string body) {
    push(operation, Entry{RawBody{std::move(body)}});
  }
  // An error, e.g. Status::FromService("ResourceConflictException", "...", 409).
  void add_error(const std::string& operation, Status error) {
    push(operation, Entry{std::move(error)});
  }

  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  // Queued responses not yet consumed, over all operations.
  size_t pending() const {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& [op, q] : queues_) n += q.size();
    return n;
  }

  struct RawBody {
    std::string body;
  };
  using Entry = std::variant<std::any, RawBody, Status>;

  // Used by the clients: records the call and hands out the next entry for the operation.
  Entry next(Call call) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string op = call.operation;
    calls_.push_back(std::move(call));
    auto it = queues_.find(op);
    if (it == queues_.end() || it->second.empty()) {
      return Status(ErrorCode::kStubExhausted, "stub mode: no response queued for " + op);
    }
    Entry e = std::move(it->second.front());
    it->second.pop_front();
    return e;
  }

 private:
  void push(const std::string& operation, Entry e) {
    std::lock_guard<std::mutex> lock(mu_);
    queues_[operation].push_back(std::move(e));
  }

  mutable std::mutex mu_;
  std::map<std::string, std::deque<Entry>> queues_;
  std::vector<Call> calls_;
};

}  // namespace cairn
