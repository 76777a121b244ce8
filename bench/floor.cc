#include "bench/floor.h"

#include <curl/curl.h>
#include <httplib.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include <sys/socket.h>

namespace cairn::bench {

namespace {

// cpp-httplib (0.11, as Debian builds it) sets SO_REUSEPORT on its listening socket and listens
// with a backlog of 5; the floor listens as cairn-server does: SO_REUSEADDR only, and a backlog
// raised once bound (Linux takes a second listen() as a new backlog).
std::shared_ptr<int> record_listen_socket(httplib::Server& http) {
  auto fd = std::make_shared<int>(-1);
  http.set_socket_options([fd](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    *fd = static_cast<int>(sock);
  });
  return fd;
}

}  // namespace

// --- FloorServer -----------------------------------------------------------------------------

void FloorServer::set_reply(const std::string& method, const std::string& target,
                            std::string body) {
  replies_[target.empty() ? method : method + " " + target] = std::move(body);
}

bool FloorServer::start(int workers) {
  http_ = std::make_unique<httplib::Server>();
  http_->set_tcp_nodelay(true);
  http_->set_keep_alive_max_count(100000);
  http_->set_keep_alive_timeout(2);
  http_->set_payload_max_length(16 << 20);
  http_->new_task_queue = [workers] {
    return new httplib::ThreadPool(static_cast<size_t>(workers));
  };
  const auto* replies = &replies_;
  const auto* work = &work_;
  auto answer = [replies, work](const httplib::Request& req, httplib::Response& res) {
    if (*work) (*work)(req);
    auto it = replies->find(req.method + " " + req.target);
    if (it == replies->end()) it = replies->find(req.method);
    res.set_content(it == replies->end() ? std::string("{}") : it->second, "application/json");
  };
  http_->Get(".*", answer);
  http_->Post(".*", answer);
  http_->Delete(".*", answer);
  auto listen_socket = record_listen_socket(*http_);
  port_ = http_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) return false;
  if (*listen_socket >= 0) ::listen(*listen_socket, SOMAXCONN);
  httplib::Server* raw = http_.get();
  thread_ = std::thread([raw] { raw->listen_after_bind(); });
  while (!raw->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return true;
}

FloorServer::~FloorServer() {
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string FloorServer::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

// --- BareCurl --------------------------------------------------------------------------------

namespace {
size_t collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}
}  // namespace

BareCurl::BareCurl() : curl_(curl_easy_init()) {}
BareCurl::~BareCurl() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

long BareCurl::exchange(const std::string& method, const std::string& url, const Headers& headers,
                        const std::string& body, std::string* response) {
  CURL* c = static_cast<CURL*>(curl_);
  response->clear();
  curl_slist* list = nullptr;
  for (const auto& [name, value] : headers)
    list = curl_slist_append(list, (name + ": " + value).c_str());
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  if (method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, nullptr);
  } else {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);  // a stuck exchange fails, never hangs
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, response);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) return -1;
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

// --- Child -----------------------------------------------------------------------------------

std::unique_ptr<Child> Child::spawn(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe(fds) != 0) return nullptr;
  pid_t pid = fork();
  if (pid < 0) return nullptr;
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::perror(args[0]);
    _exit(127);
  }
  close(fds[1]);
  std::unique_ptr<Child> child(new Child());
  child->pid_ = pid;
  child->out_ = fds[0];
  std::string pending;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (child->url_.empty() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{child->out_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    ssize_t n = read(child->out_, buf, sizeof buf);
    if (n <= 0) break;  // the child exited before serving
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      size_t at = line.find("http://");
      if (at != std::string::npos && child->url_.empty()) {
        child->url_ = line.substr(at);
      } else {
        child->lines_.push_back(line);
      }
    }
  }
  if (child->url_.empty()) return nullptr;  // the destructor stops it
  return child;
}

Child::~Child() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  if (out_ >= 0) close(out_);
}

double Child::cpu_seconds() const {
  std::ifstream stat("/proc/" + std::to_string(pid_) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command name, which sits in parentheses and may hold spaces.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// --- The process ------------------------------------------------------------------------------

std::string self_dir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

namespace {
size_t status_kb(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  size_t len = std::strlen(field);
  while (std::getline(status, line)) {
    if (line.compare(0, len, field) == 0) return std::stoul(line.substr(len + 1)) * 1024;
  }
  return 0;
}
}  // namespace

size_t peak_rss_bytes() { return status_kb("VmHWM"); }
size_t current_rss_bytes() { return status_kb("VmRSS"); }

}  // namespace cairn::bench
