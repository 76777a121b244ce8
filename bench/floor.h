// The HTTP floor every end-to-end figure is compared with: a minimal loopback server (cpp-httplib
// with TCP_NODELAY, answering canned bodies) and a bare libcurl loop on one reused connection.
// Same requests, same bodies, none of the work: no signing check, no parsing, no storage.
//
// Also the helpers the server benchmarks share: a child process that prints its URL, and the
// process's resident memory.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace cairn::bench {

using Headers = std::vector<std::pair<std::string, std::string>>;

class FloorServer {
 public:
  // Replies are looked up by "METHOD TARGET" first, then by "METHOD"; set them before start().
  void set_reply(const std::string& method, const std::string& target, std::string body);
  // Work done for every request before its canned reply (raw storage, for a floor that stores
  // what it is sent); set before start().
  void set_work(std::function<void(const httplib::Request&)> work) { work_ = std::move(work); }
  // Binds a free loopback port and serves on `workers` threads until destroyed.
  bool start(int workers);
  ~FloorServer();
  std::string url() const;

 private:
  std::map<std::string, std::string> replies_;
  std::function<void(const httplib::Request&)> work_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

// One libcurl easy handle, reused: keep-alive, TCP_NODELAY (libcurl's default), nothing else.
class BareCurl {
 public:
  BareCurl();
  ~BareCurl();
  BareCurl(const BareCurl&) = delete;
  BareCurl& operator=(const BareCurl&) = delete;

  // Sends one request; fills `response` and returns the HTTP status, or -1 on a network error.
  long exchange(const std::string& method, const std::string& url, const Headers& headers,
                const std::string& body, std::string* response);

 private:
  void* curl_;
};

// A child process whose first stdout line holding "http://" names the URL it serves on; killed
// (SIGTERM, then waited for) when destroyed.
class Child {
 public:
  static std::unique_ptr<Child> spawn(const std::vector<std::string>& argv);
  ~Child();
  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }
  // Other stdout lines read while waiting for the URL ("identity-pool NAME ID", ...).
  const std::vector<std::string>& lines() const { return lines_; }
  // User plus system CPU time the child has used so far.
  double cpu_seconds() const;

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string url_;
  std::vector<std::string> lines_;
};

// Directory of the running executable (where its sibling binaries are).
std::string self_dir();
// The peak and current resident set of this process, in bytes (VmHWM, VmRSS).
size_t peak_rss_bytes();
size_t current_rss_bytes();

// Seconds since `since`.
inline double seconds_since(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace cairn::bench
