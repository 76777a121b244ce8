// Deliveries out of the server (events.h): the Outbox's webhook posts with their retries, and the
// stream sinks (NDJSON files, or an HTTP endpoint through the Outbox).
#include "server/events.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/backoff.h"
#include "transport/crypto.h"
#include "transport/json.h"
namespace cairn::server {

using transport::json::Writer;

// --- Outbox --------------------------------------------------------------------------------------

Outbox::Outbox(std::shared_ptr<HttpTransport> transport, const EventsOptions& options,
               LoggerPtr logger)
    : transport_(std::move(transport)), options_(options), logger_(std::move(logger)) {
  thread_ = std::thread([this] { run(); });
}

Outbox::~Outbox() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Outbox::post(const std::string& url, const std::string& json,
                  std::function<void(const Status&)> done, const std::string& id) {
  std::optional<Item> evicted;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (queue_.size() + retries_.size() >= options_.max_queued_deliveries) {
      if (!queue_.empty()) {
        evicted = std::move(queue_.front());
        queue_.pop_front();
      } else {
        evicted = std::move(retries_.begin()->second);
        retries_.erase(retries_.begin());
      }
      ++failed_;
    }
    queue_.push_back({url, json, std::move(done), id});
  }
  cv_.notify_all();
  if (evicted) {
    Status s(ErrorCode::kExternalService, "dropped: more than " +
                                              std::to_string(options_.max_queued_deliveries) +
                                              " deliveries were waiting");
    if (logger_) logger_->log(LogLevel::kWarn, "delivery to " + evicted->url + " " + s.message());
    if (evicted->done) evicted->done(s);
  }
}

Status Outbox::send_once(const std::string& url, const std::string& json, const std::string& id) {
  HttpRequest req{"POST", url, {{"Content-Type", "application/json"}}, json};
  if (!id.empty()) req.headers.emplace_back("X-Cairn-Delivery-Id", id);
  auto r = transport_->send(req);
  if (r.ok() && r->status >= 200 && r->status < 300) return Status::OK();
  return r.ok() ? Status(ErrorCode::kExternalService,
                         "POST " + url + " answered " + std::to_string(r->status))
                : r.status();
}

std::chrono::milliseconds Outbox::retry_delay(int attempt) const {
  // Each failed attempt waits twice as long as the one before. The cap, base * 2^attempts, is
  // never reached: it only keeps the doubling from overflowing.
  Backoff backoff(BackoffPolicy{
      options_.delivery_base_delay,
      options_.delivery_base_delay * (int64_t{1} << std::min(options_.delivery_attempts, 20)),
      0.0});
  return backoff.delay(attempt - 1);
}

Status Outbox::post_now(const std::string& url, const std::string& json, const std::string& id) {
  Status last;
  for (int attempt = 1; attempt <= options_.delivery_attempts; ++attempt) {
    last = send_once(url, json, id);
    if (last.ok() || attempt == options_.delivery_attempts) break;
    std::unique_lock<std::mutex> l(mu_);
    // A stopping server makes its last attempt at once rather than waiting out the backoff.
    cv_.wait_for(l, retry_delay(attempt), [&] { return stopping_; });
  }
  std::lock_guard<std::mutex> l(mu_);
  ++(last.ok() ? delivered_ : failed_);
  return last;
}

void Outbox::hurry() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

uint64_t Outbox::delivered() const {
  std::lock_guard<std::mutex> l(mu_);
  return delivered_;
}
uint64_t Outbox::failed() const {
  std::lock_guard<std::mutex> l(mu_);
  return failed_;
}

void Outbox::run() {
  for (;;) {
    Item item;
    {
      std::unique_lock<std::mutex> l(mu_);
      for (;;) {
        // A retry that is due goes first; a new post next. A retry waiting for its time holds
        // up nothing else, so one dead receiver does not delay the others' deliveries.
        if (!retries_.empty() &&
            (stopping_ || retries_.begin()->first <= std::chrono::steady_clock::now())) {
          item = std::move(retries_.begin()->second);
          retries_.erase(retries_.begin());
          break;
        }
        if (!queue_.empty()) {
          item = std::move(queue_.front());
          queue_.pop_front();
          break;
        }
        if (stopping_) return;  // everything queued has had its attempts
        if (retries_.empty()) {
          cv_.wait(l);
        } else {
          cv_.wait_until(l, retries_.begin()->first);
        }
      }
      delivering_ = true;
    }
    ++item.attempt;
    Status s = send_once(item.url, item.json, item.id);
    bool final = s.ok() || item.attempt >= options_.delivery_attempts;
    if (!final) {
      std::lock_guard<std::mutex> l(mu_);
      auto due = std::chrono::steady_clock::now() + retry_delay(item.attempt);
      retries_.emplace(due, std::move(item));
      delivering_ = false;
      continue;
    }
    if (!s.ok() && logger_) {
      logger_->log(LogLevel::kWarn, "delivery " + item.id + " to " + item.url + " failed " +
                                        std::to_string(options_.delivery_attempts) +
                                        " attempts: " + s.ToString());
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      ++(s.ok() ? delivered_ : failed_);
    }
    if (item.done) item.done(s);
    std::lock_guard<std::mutex> l(mu_);
    delivering_ = false;
  }
}

bool Outbox::idle() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.empty() && retries_.empty() && !delivering_;
}

// --- Streams -------------------------------------------------------------------------------------

std::string stream_record_json(const std::string& pool_id, const std::string& identity_id,
                               const std::string& dataset, const std::string& operation,
                               int64_t sync_count, Millis last_modified,
                               const std::vector<RecordRow>& records) {
  Writer w;
  w.begin_object();
  w.str("identityPoolId", pool_id);
  w.str("identityId", identity_id);
  w.str("dataSetName", dataset);
  w.str("operation", operation);
  w.begin_array("kinesisSyncRecords");
  for (const auto& r : records) {
    w.begin_object();
    w.str("key", r.key);
    if (r.value) w.str("value", *r.value);
    w.i64("syncCount", r.sync_count);
    w.i64("lastModifiedDate", r.modified);
    if (r.device_modified) w.i64("deviceLastModifiedDate", *r.device_modified);
    w.str("op", r.value ? "replace" : "remove");
    w.end_object();
  }
  w.end_array();
  w.i64("lastModifiedDate", last_modified);
  w.str("kinesisSyncRecordsURL", "");
  w.str("payloadType", "Inline");
  w.i64("syncCount", sync_count);
  w.end_object();
  return w.take();
}

std::string StreamSink::with_delivery_id(const std::string& record_json, const std::string& id) {
  if (id.empty() || record_json.size() < 2 || record_json[0] != '{') return record_json;
  Writer w;
  w.begin_object();
  w.str("deliveryId", id);
  w.end_object();
  std::string head = w.take();
  head.pop_back();  // '}'
  return head + (record_json[1] == '}' ? "" : ",") + record_json.substr(1);
}

namespace {

// A stream name becomes a file name: anything but [A-Za-z0-9._-] turns into '_'.
std::string file_safe(const std::string& name) {
  std::string out = name.empty() ? "stream" : name;
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  if (out[0] == '.') out[0] = '_';
  return out;
}

class NdjsonSink final : public StreamSink {
 public:
  NdjsonSink(std::string dir, int64_t rotate_bytes, LoggerPtr logger)
      : dir_(std::move(dir)), rotate_bytes_(rotate_bytes), logger_(std::move(logger)) {}

  // One line per record, appended with a single write(2) to a file opened O_APPEND, so a line is
  // never interleaved with another or torn by a concurrent writer of the file.
  Status write(const std::string& stream, const std::string& record_json) override {
    std::lock_guard<std::mutex> l(mu_);
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) return Status(ErrorCode::kStorage, "cannot create " + dir_ + ": " + ec.message());
    std::string name = file_safe(stream);
    std::string path = dir_ + "/" + name + ".ndjson";
    std::string line = record_json + "\n";
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && st.st_size > 0 &&
        st.st_size + static_cast<int64_t>(line.size()) > rotate_bytes_) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
      std::string rotated = dir_ + "/" + name + "." + std::to_string(ms) + ".ndjson";
      for (int n = 1; std::filesystem::exists(rotated); ++n) {
        rotated =
            dir_ + "/" + name + "." + std::to_string(ms) + "-" + std::to_string(n) + ".ndjson";
      }
      std::filesystem::rename(path, rotated, ec);
      if (ec) return Status(ErrorCode::kStorage, "cannot rotate " + path + ": " + ec.message());
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Status(ErrorCode::kStorage, "cannot open " + path + ": " + strerror(errno));
    ssize_t n = ::write(fd, line.data(), line.size());
    int err = errno;
    ::close(fd);
    if (n != static_cast<ssize_t>(line.size())) {
      return Status(ErrorCode::kStorage, "cannot append to " + path + ": " + strerror(err));
    }
    return Status::OK();
  }
  void write_async(const std::string& stream, const std::string& record_json, const std::string& id,
                   std::function<void(const Status&)> done) override {
    Status s = write(stream, with_delivery_id(record_json, id));
    if (!s.ok() && logger_) {
      logger_->log(LogLevel::kError, "stream record " + id + " not written: " + s.ToString());
    }
    done(s);
  }

 private:
  std::mutex mu_;
  std::string dir_;
  int64_t rotate_bytes_;
  LoggerPtr logger_;
};

class HttpSink final : public StreamSink {
 public:
  HttpSink(std::string url, Outbox* outbox) : url_(std::move(url)), outbox_(outbox) {}
  Status write(const std::string& stream, const std::string& record_json) override {
    return outbox_->post_now(url_, body(stream, record_json));
  }
  void write_async(const std::string& stream, const std::string& record_json, const std::string& id,
                   std::function<void(const Status&)> done) override {
    outbox_->post(url_, body(stream, with_delivery_id(record_json, id)), std::move(done), id);
  }

 private:
  static std::string body(const std::string& stream, const std::string& record_json) {
    Writer w;
    w.begin_object();
    w.str("streamName", stream);
    w.end_object();
    std::string head = w.take();
    head.pop_back();  // '}'
    return head + ",\"record\":" + record_json + "}";
  }
  std::string url_;
  Outbox* outbox_;
};

}  // namespace

std::unique_ptr<StreamSink> make_ndjson_sink(std::string dir, int64_t rotate_bytes,
                                             LoggerPtr logger) {
  return std::make_unique<NdjsonSink>(std::move(dir), rotate_bytes, std::move(logger));
}
std::unique_ptr<StreamSink> make_http_sink(std::string url, Outbox* outbox) {
  return std::make_unique<HttpSink>(std::move(url), outbox);
}

}  // namespace cairn::server
