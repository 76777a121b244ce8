// HttpTransport on libcurl. One pool of easy handles: a handle keeps its connection cache across
// curl_easy_reset, so borrowing an idle handle reuses its keep-alive connection.
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "cairn/http.h"
#include "transport/curl_api.h"
#include "transport/json.h"
#include "transport/redact.h"
#include "transport/sigv4.h"

namespace cairn {

const std::string* HttpResponse::header(std::string_view name) const {
  return transport::find_header(headers, name);
}

namespace transport {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A Content-Length larger than this reserves nothing up front: a body is read as it comes, and a
// bogus length must not allocate what never arrives.
constexpr unsigned long long kMaxReserve = 64ull << 20;

struct Exchange {
  HttpResponse response;
  SteadyClock::time_point last_progress;
  curl_off_t last_down = -1;
  curl_off_t last_up = -1;
  std::chrono::milliseconds read_timeout{0};
  bool read_timed_out = false;
  const std::atomic<bool>* cancel = nullptr;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  ex->response.body.append(data, size * n);
  ex->last_progress = SteadyClock::now();
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::string_view line(data, size * n);
  ex->last_progress = SteadyClock::now();
  if (line.rfind("HTTP/", 0) == 0) {
    // A new status line (after "100 Continue", say): start the header list over.
    ex->response.headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string_view name = line.substr(0, colon);
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  if (iequals(name, "Content-Length")) {
    // The whole body in one allocation, with the room to be parsed where it lies (json.h).
    unsigned long long length = std::strtoull(std::string(value).c_str(), nullptr, 10);
    if (length > 0 && length <= kMaxReserve) {
      ex->response.body.reserve(static_cast<size_t>(length) + json::kParseSlack);
    }
  }
  ex->response.headers.emplace_back(std::string(name), std::string(value));
  return size * n;
}

// libcurl has no per-read timeout; abort when no byte has moved for read_timeout.
int on_progress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  auto* ex = static_cast<Exchange*>(user);
  if (ex->cancel && ex->cancel->load()) return 1;  // CURLE_ABORTED_BY_CALLBACK: kCancelled
  auto now = SteadyClock::now();
  if (dlnow != ex->last_down || ulnow != ex->last_up) {
    ex->last_down = dlnow;
    ex->last_up = ulnow;
    ex->last_progress = now;
    return 0;
  }
  if (ex->read_timeout.count() > 0 && now - ex->last_progress > ex->read_timeout) {
    ex->read_timed_out = true;
    return 1;
  }
  return 0;
}

Status curl_failure(const CurlApi& curl, CURLcode code, const char* detail, const Exchange& ex,
                    const HttpOptions& o) {
  std::string message = std::string(curl.easy_strerror(code));
  if (detail && *detail) message += ": " + std::string(detail);
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Status(ErrorCode::kTimeout, message);
    case CURLE_ABORTED_BY_CALLBACK:
      if (ex.read_timed_out) {
        return Status(ErrorCode::kTimeout,
                      "no data received for " + std::to_string(o.read_timeout.count()) + " ms");
      }
      return Status(ErrorCode::kCancelled, message);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return Status(ErrorCode::kTls, message);
    default:
      return Status(ErrorCode::kNetwork, message);
  }
}

class CurlTransport final : public HttpTransport {
 public:
  CurlTransport(HttpOptions options, LoggerPtr logger)
      : options_(std::move(options)), logger_(std::move(logger)) {}

  ~CurlTransport() override {
    if (idle_.empty()) return;
    Result<const CurlApi*> curl = curl_api();  // loaded, since a handle was pooled
    if (curl.ok()) {
      for (CURL* h : idle_) (*curl)->easy_cleanup(h);
    }
  }

  Result<HttpResponse> send(const HttpRequest& request) override {
    Result<const CurlApi*> loaded = curl_api();
    if (!loaded.ok()) return loaded.status();
    const CurlApi& curl = **loaded;
    auto cleanup = [&curl](CURL* h) { curl.easy_cleanup(h); };
    std::unique_ptr<CURL, decltype(cleanup)> handle(acquire(curl), cleanup);
    if (!handle) return Status(ErrorCode::kNetwork, "curl_easy_init failed");
    CURL* h = handle.get();

    Exchange ex;
    ex.read_timeout = options_.read_timeout;
    ex.cancel = options_.cancel.get();
    ex.last_progress = SteadyClock::now();
    char error_buffer[CURL_ERROR_SIZE] = {0};

    curl_slist* headers = nullptr;
    bool has_content_type = false;
    for (const auto& [name, value] : request.headers) {
      has_content_type |= iequals(name, "Content-Type");
      // "Name;" is curl's syntax for a header with an empty value.
      std::string line = name;
      line.append(value.empty() ? ";" : ": ").append(value);
      headers = curl.slist_append(headers, line.c_str());
    }
    // Stop curl adding its own Content-Type to bodiless POSTs; the signature did not cover one.
    if (!has_content_type) headers = curl.slist_append(headers, "Content-Type:");
    auto free_all = [&curl](curl_slist* l) { curl.slist_free_all(l); };
    std::unique_ptr<curl_slist, decltype(free_all)> header_list(headers, free_all);

    curl.easy_setopt(h, CURLOPT_URL, request.url.c_str());
    // The path goes out exactly as it was signed: curl would otherwise squash "/datasets/../"
    // (".." is a valid dataset name) into another operation's path.
    curl.easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl.easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl.easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl.easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    // curl decodes what it asked for; the response keeps its Content-Encoding and Content-Length
    // headers, so a counter can still tell the bytes that crossed the wire.
    curl.easy_setopt(h, CURLOPT_ACCEPT_ENCODING, options_.accept_gzip ? "gzip" : "identity");
    curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");

    if (request.method == "GET") {
      curl.easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "HEAD") {
      curl.easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
      curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      if (request.method == "POST" || !request.body.empty()) {
        curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
        curl.easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
      }
    }

    curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl.easy_setopt(h, CURLOPT_WRITEDATA, &ex);
    curl.easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl.easy_setopt(h, CURLOPT_HEADERDATA, &ex);
    curl.easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl.easy_setopt(h, CURLOPT_XFERINFODATA, &ex);

    curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
    curl.easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS,
                     static_cast<long>(options_.expect_continue_timeout.count()));
    long idle_seconds = static_cast<long>((options_.idle_timeout.count() + 999) / 1000);
    curl.easy_setopt(h, CURLOPT_MAXAGE_CONN, idle_seconds);

    curl.easy_setopt(h, CURLOPT_PROXY, options_.proxy.c_str());  // "" disables env proxies
    if (!options_.proxy_username.empty()) {
      curl.easy_setopt(h, CURLOPT_PROXYUSERNAME, options_.proxy_username.c_str());
      curl.easy_setopt(h, CURLOPT_PROXYPASSWORD, options_.proxy_password.c_str());
    }

    curl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
    curl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
    if (!options_.ca_file.empty()) curl.easy_setopt(h, CURLOPT_CAINFO, options_.ca_file.c_str());
    if (!options_.ca_path.empty()) curl.easy_setopt(h, CURLOPT_CAPATH, options_.ca_path.c_str());

    if (options_.wire_trace) trace_request(request);
    CURLcode rc = curl.easy_perform(h);
    if (rc != CURLE_OK) {
      Status failure = curl_failure(curl, rc, error_buffer, ex, options_);
      if (options_.wire_trace) trace("<< " + failure.ToString());
      // A failed exchange may leave the connection half-used; curl closes it itself, and the
      // handle is still fine to pool.
      release(curl, handle.release());
      return failure;
    }
    long status = 0;
    curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    ex.response.status = static_cast<int>(status);
    if (options_.wire_trace) trace_response(ex.response);
    release(curl, handle.release());
    return std::move(ex.response);
  }

 private:
  CURL* acquire(const CurlApi& curl) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        curl.easy_reset(h);  // options go; the connection cache stays
        return h;
      }
    }
    return curl.easy_init();
  }

  void release(const CurlApi& curl, CURL* h) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < options_.max_idle_connections) {
      idle_.push_back(h);
    } else {
      curl.easy_cleanup(h);
    }
  }

  void trace(const std::string& line) {
    if (logger_) logger_->log(LogLevel::kTrace, line);
  }

  void trace_request(const HttpRequest& r) {
    std::string out = ">> " + r.method + " " + r.url + "\n";
    for (const auto& [k, v] : r.headers) out += ">> " + k + ": " + redact_header(k, v) + "\n";
    if (!r.body.empty()) out += ">> " + redact_body(r.body);
    trace(out);
  }

  void trace_response(const HttpResponse& r) {
    std::string out = "<< " + std::to_string(r.status) + "\n";
    for (const auto& [k, v] : r.headers) out += "<< " + k + ": " + redact_header(k, v) + "\n";
    if (!r.body.empty()) out += "<< " + redact_body(r.body);
    trace(out);
  }

  const HttpOptions options_;
  const LoggerPtr logger_;
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

}  // namespace
}  // namespace transport

std::shared_ptr<HttpTransport> make_curl_transport(HttpOptions options, LoggerPtr logger) {
  return std::make_shared<transport::CurlTransport>(std::move(options), std::move(logger));
}

}  // namespace cairn
