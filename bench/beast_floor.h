// The floor server built on the connection library cairn-server uses (Boost.Beast on Asio), in
// cairn-server's connection model and nothing else: I/O threads read and write every connection,
// a request read whole runs its work on a worker pool, and its canned answer goes back to the I/O
// threads. No routing, signing check, parsing or storage of its own. Beside it, FloorServer
// (cpp-httplib, a thread per connection) is the floor cairn-server was measured against before.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace cairn::bench {

class BeastFloorServer {
 public:
  // Work done for every request before its canned reply, on a worker: its method and path.
  using Work = std::function<void(const std::string& method, const std::string& path)>;

  BeastFloorServer();
  ~BeastFloorServer();
  BeastFloorServer(const BeastFloorServer&) = delete;
  BeastFloorServer& operator=(const BeastFloorServer&) = delete;

  // The reply to every request with this method; set before start().
  void set_reply(const std::string& method, std::string body) {
    replies_[method] = std::move(body);
  }
  void set_work(Work work) { work_ = std::move(work); }
  // Binds a free loopback port; `io_threads` and `workers` as cairn-server's flags of those names.
  bool start(int io_threads, int workers);
  std::string url() const;

  class Impl;

 private:
  std::map<std::string, std::string> replies_;
  Work work_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::bench
