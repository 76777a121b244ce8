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

std::string push_payload_json(const std::string& pool_id, const std::string& identity_id,
                              const std::string& dataset, int64_t sync_count) {
  Writer w;
  w.begin_object();
  w.str("source", "cognito-sync");
  w.str("identityPoolId", pool_id);
  w.str("identityId", identity_id);
  w.str("datasetName", dataset);
  w.str("syncCount", std::to_string(sync_count));
  w.end_object();
  return w.take();
}

// --- Notifications -------------------------------------------------------------------------------

Notifications::Notifications() : timer_([this] { expire(); }) {}

Notifications::~Notifications() {
  shutdown();
  timer_.join();
}

std::vector<Notifications::Entry> Notifications::entries_after(const std::string& device_id,
                                                               int64_t after) {
  std::vector<Entry> out;
  auto it = boxes_.find(device_id);
  if (it == boxes_.end()) return out;
  it->second.touched = ++clock_;
  for (const auto& e : it->second.entries) {
    if (e.seq > after) out.push_back(e);
  }
  return out;
}

void Notifications::delivered(const std::string& device_id, const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  delivered_ += entries.size();
  auto it = boxes_.find(device_id);
  if (it != boxes_.end()) {
    it->second.delivered_upto = std::max(it->second.delivered_upto, entries.back().seq);
  }
}

size_t Notifications::undelivered(const Mailbox& box) {
  size_t n = 0;
  for (const auto& e : box.entries) n += e.seq > box.delivered_upto;
  return n;
}

Notifications::Counts Notifications::counts() const {
  std::lock_guard<std::mutex> l(mu_);
  return {posted_, delivered_, dropped_};
}

int64_t Notifications::next_after(const std::vector<Entry>& entries, int64_t after) const {
  // A device that has never been told anything starts from now: what came before it listened
  // is what its next sync brings anyway.
  return entries.empty() ? std::max(after, last_seq_) : entries.back().seq;
}

std::optional<Notifications::Watcher> Notifications::take(uint64_t id) {
  auto w = watchers_.find(id);
  if (w == watchers_.end()) return std::nullopt;
  // By the positions kept: many watchers share a deadline (a WebSocket's is "never").
  by_device_.erase(w->second.device_pos);
  by_deadline_.erase(w->second.deadline_pos);
  Watcher out = std::move(w->second);
  watchers_.erase(w);
  return out;
}

void Notifications::post(const std::string& device_id, const std::string& payload_json) {
  std::vector<std::pair<Fire, std::vector<Entry>>> due;
  int64_t next = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (boxes_.size() >= kDevices && boxes_.find(device_id) == boxes_.end()) {
      // Forget the mailbox touched longest ago: that device has not listened for a while.
      auto oldest = boxes_.begin();
      for (auto it = boxes_.begin(); it != boxes_.end(); ++it) {
        if (it->second.touched < oldest->second.touched) oldest = it;
      }
      dropped_ += undelivered(oldest->second);
      boxes_.erase(oldest);
    }
    Mailbox& box = boxes_[device_id];
    // Numbers are epoch microseconds (kept increasing): a device that moves to another instance
    // behind a load balancer carries its `after` there, and the numbers still compare, as long as
    // the instances' clocks agree (NTP; SigV4 needs that anyway).
    int64_t now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    last_seq_ = std::max(last_seq_ + 1, now_us);
    box.entries.push_back({last_seq_, payload_json});
    ++posted_;
    if (box.entries.size() > kPerDevice) {
      if (box.entries.front().seq > box.delivered_upto) ++dropped_;  // never heard
      box.entries.pop_front();
    }
    box.touched = ++clock_;
    next = last_seq_;
    std::vector<uint64_t> ids;
    auto range = by_device_.equal_range(device_id);
    for (auto it = range.first; it != range.second; ++it) {
      if (watchers_.at(it->second).after < last_seq_) ids.push_back(it->second);
    }
    for (uint64_t id : ids) {
      auto w = take(id);
      due.emplace_back(std::move(w->fire), entries_after(device_id, w->after));
      delivered(device_id, due.back().second);
    }
  }
  for (auto& [fire, entries] : due) fire(std::move(entries), next);
}

uint64_t Notifications::watch(const std::string& device_id, int64_t after, Deadline deadline,
                              Fire fire) {
  std::vector<Entry> entries;
  int64_t next = 0;
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    id = ++next_id_;
    entries = entries_after(device_id, after);
    if (entries.empty() && !stopping_) {
      bool earliest = by_deadline_.empty() || deadline < by_deadline_.begin()->first;
      watchers_.emplace(
          id, Watcher{device_id, after, deadline, std::move(fire),
                      by_device_.emplace(device_id, id), by_deadline_.emplace(deadline, id)});
      if (earliest) cv_.notify_all();
      return id;
    }
    next = next_after(entries, after);
    delivered(device_id, entries);
  }
  fire(std::move(entries), next);
  return id;
}

bool Notifications::cancel(uint64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  return take(id).has_value();
}

void Notifications::expire() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    std::vector<std::pair<Fire, int64_t>> due;
    auto now = std::chrono::steady_clock::now();
    while (!by_deadline_.empty() && (stopping_ || by_deadline_.begin()->first <= now)) {
      auto w = take(by_deadline_.begin()->second);
      due.emplace_back(std::move(w->fire), next_after({}, w->after));
    }
    if (!due.empty()) {
      l.unlock();
      for (auto& [fire, next] : due) fire({}, next);
      l.lock();
      continue;
    }
    if (stopping_) return;
    // A copy: the node may be gone (its watcher fired) by the time the wait returns. A WebSocket's
    // watcher waits "never", which is no deadline at all.
    Deadline until = by_deadline_.empty() ? Deadline::max() : by_deadline_.begin()->first;
    if (until == Deadline::max()) {
      cv_.wait(l);
    } else {
      cv_.wait_until(l, until);
    }
  }
}

std::vector<Notifications::Entry> Notifications::wait(const std::string& device_id, int64_t after,
                                                      std::chrono::milliseconds wait,
                                                      int64_t* next) {
  struct Outcome {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::vector<Entry> entries;
    int64_t next = 0;
  };
  auto outcome = std::make_shared<Outcome>();
  watch(device_id, after, std::chrono::steady_clock::now() + wait,
        [outcome](std::vector<Entry> entries, int64_t n) {
          std::lock_guard<std::mutex> l(outcome->mu);
          outcome->entries = std::move(entries);
          outcome->next = n;
          outcome->done = true;
          outcome->cv.notify_all();
        });
  std::unique_lock<std::mutex> l(outcome->mu);
  outcome->cv.wait(l, [&] { return outcome->done; });
  *next = outcome->next;
  return std::move(outcome->entries);
}

size_t Notifications::waiting() const {
  std::lock_guard<std::mutex> l(mu_);
  return watchers_.size();
}

void Notifications::shutdown() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

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

// --- EventHub ------------------------------------------------------------------------------------

namespace {
std::shared_ptr<HttpTransport> delivery_transport(const EventsOptions& o,
                                                  std::shared_ptr<HttpTransport> given) {
  if (given) return given;
  HttpOptions h;
  h.connect_timeout = o.delivery_timeout;
  h.read_timeout = o.delivery_timeout;
  h.total_timeout = o.delivery_timeout;
  return make_curl_transport(h);
}
}  // namespace

EventHub::EventHub(Storage* storage, EventsOptions options, LoggerPtr logger,
                   std::shared_ptr<HttpTransport> transport)
    : storage_(storage),
      options_(std::move(options)),
      logger_(logger),
      outbox_(delivery_transport(options_, std::move(transport)), options_, logger) {
  if (options_.stream_sink.rfind("http://", 0) == 0 ||
      options_.stream_sink.rfind("https://", 0) == 0) {
    sink_ = make_http_sink(options_.stream_sink, &outbox_);
  } else {
    sink_ = make_ndjson_sink(options_.data_dir + "/streams", options_.stream_rotate_bytes, logger);
  }
  // Instances on one database hear each other's notifications (PostgreSQL NOTIFY), so a device
  // polling any of them hears a change written through another.
  instance_ = transport::random_hex(8);
  storage_->watch_broadcasts([this](const std::string& message) { received(message); });
  thread_ = std::thread([this] { run(); });
}

void EventHub::received(const std::string& message) {
  size_t space = message.find(' ');
  if (space == std::string::npos || message.compare(0, space, instance_) == 0) return;  // ours
  rapidjson::Document d;
  d.Parse(message.data() + space + 1, message.size() - space - 1);
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("devices") || !d["devices"].IsArray() ||
      !d.HasMember("payload") || !d["payload"].IsObject()) {
    return;
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  d["payload"].Accept(w);
  std::string payload(buf.GetString(), buf.GetSize());
  for (const auto& device : d["devices"].GetArray()) {
    if (device.IsString()) notifications_.post(device.GetString(), payload);
  }
}

EventHub::~EventHub() {
  storage_->watch_broadcasts({});  // no delivery runs into this object from here on
  shutdown();
  thread_.join();
}

void EventHub::shutdown() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  notifications_.shutdown();
}

namespace {

Millis now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool streaming(const std::string& streams_json) {
  return streams_json.find(R"("StreamingStatus":"ENABLED")") != std::string::npos;
}

std::string stream_name(const std::string& streams_json) {
  transport::json::Document d;
  if (transport::json::parse(streams_json, d).ok() && d.IsObject() && d.HasMember("StreamName") &&
      d["StreamName"].IsString()) {
    return d["StreamName"].GetString();
  }
  return "stream";
}

std::set<std::string> split_ids(const std::string& done) {
  std::set<std::string> out;
  size_t from = 0;
  while (from < done.size()) {
    size_t space = done.find(' ', from);
    if (space == std::string::npos) space = done.size();
    if (space > from) out.insert(done.substr(from, space - from));
    from = space + 1;
  }
  return out;
}

std::string join_ids(const std::set<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : " ") + id;
  return out;
}

DatasetChange change_of(const OutboxRow& r) {
  DatasetChange c(r.pool_id, r.identity_id, r.dataset, r.operation, r.device_id, r.sync_count,
                  r.modified);
  c.outbox_id = r.id;
  c.webhook = r.webhook;
  c.stream = r.stream;
  c.stream_record = r.stream_record;
  c.done = split_ids(r.done);
  c.attempts = r.attempts;
  return c;
}

}  // namespace

// One change's deliveries in flight: when the last has its outcome, the row is deleted (all made)
// or scheduled again (some failed), by the hub's thread.
struct EventHub::Round {
  int64_t outbox_id = 0;
  int64_t attempts = 0;
  std::mutex mu;
  int outstanding = 1;  // the deliveries not yet finished, plus one while they are being posted
  std::set<std::string> done;
  bool failed = false;
};

void EventHub::stage(StorageTxn& txn, DatasetChange& c, const std::string& streams_json,
                     const std::vector<RecordRow>& records, Millis now) const {
  c.webhook = c.operation == "replace" && webhook_for(c.pool_id).has_value();
  c.stream.clear();
  c.stream_record.clear();
  if (streaming(streams_json)) {
    c.stream = stream_name(streams_json);
    c.stream_record = stream_record_json(c.pool_id, c.identity_id, c.dataset, c.operation,
                                         c.sync_count, c.modified, records);
  }
  c.outbox_id = 0;
  if (!c.webhook && c.stream.empty()) return;
  OutboxRow row;
  row.pool_id = c.pool_id;
  row.identity_id = c.identity_id;
  row.dataset = c.dataset;
  row.operation = c.operation;
  row.device_id = c.device_id;
  row.sync_count = c.sync_count;
  row.modified = c.modified;
  row.webhook = c.webhook;
  row.stream = c.stream;
  row.stream_record = c.stream_record;
  row.created = now;
  // This process delivers it at once; another takes it over only if this one dies first.
  row.lease_until = now + options_.outbox_lease.count();
  c.outbox_id = txn.add_outbox(row);
}

void EventHub::changed(DatasetChange change) {
  const bool staged = change.outbox_id != 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_) return;
    if (staged) in_flight_.insert(change.outbox_id);
    queue_.push_back(std::move(change));
    ++taken_;
  }
  if (staged) {
    std::lock_guard<std::mutex> l(counts_mu_);
    ++counts_.staged;
  }
  cv_.notify_all();
}

OutboxCounts EventHub::outbox_counts() const {
  std::lock_guard<std::mutex> l(counts_mu_);
  return counts_;
}

void EventHub::drain() {
  std::unique_lock<std::mutex> l(mu_);
  uint64_t target = taken_;
  drained_cv_.wait(l, [&] { return processed_ >= target || (stopping_ && queue_.empty()); });
}

void EventHub::sweep_now() {
  {
    std::lock_guard<std::mutex> l(mu_);
    sweep_asked_ = true;
  }
  cv_.notify_all();
}

std::optional<std::string> EventHub::webhook_for(const std::string& pool_id) const {
  auto it = options_.push_webhooks.find(pool_id);
  if (it == options_.push_webhooks.end()) it = options_.push_webhooks.find("*");
  if (it == options_.push_webhooks.end()) return std::nullopt;
  return it->second;
}

void EventHub::run() {
  // A storage no other process uses holds, at start, only rows a previous run left: take them
  // all at once, leased or not.
  if (!storage_->shared()) {
    // Batch after batch, each after the last row of the one before: a row taken here is leased
    // to this process, and must not be taken again while its round runs.
    int64_t after = 0;
    while (housekeep(true, true, &after) == kClaimBatch) {
    }
  }
  auto next_sweep = std::chrono::steady_clock::now() + options_.outbox_sweep;
  bool hurried = false;
  int64_t sweep_after = 0;
  for (;;) {
    std::optional<DatasetChange> change;
    bool sweep = false, finish = false, stopping = false;
    {
      std::unique_lock<std::mutex> l(mu_);
      // Stopping, the hub waits for the deliveries in flight to end, looking every 10 ms.
      auto until =
          stopping_ ? std::chrono::steady_clock::now() + std::chrono::milliseconds(10) : next_sweep;
      cv_.wait_until(l, until, [&] {
        return stopping_ || !queue_.empty() || !finished_.empty() || sweep_asked_;
      });
      if (!queue_.empty()) {
        change = std::move(queue_.front());
        queue_.pop_front();
      }
      stopping = stopping_ && queue_.empty() && !change;
      finish = !finished_.empty();
      sweep = !stopping_ && (sweep_asked_ || std::chrono::steady_clock::now() >= next_sweep);
      sweep_asked_ = false;
    }
    if (change) {
      process(*change);
      {
        std::lock_guard<std::mutex> l(mu_);
        ++processed_;
      }
      drained_cv_.notify_all();
    }
    if (finish || sweep) {
      // Sweeps walk the table from the front, a batch at a time, so that rows this process is
      // still delivering (taken again when their lease ran out) never hide the ones behind them.
      size_t taken = housekeep(sweep, false, sweep ? &sweep_after : nullptr);
      if (sweep && taken < static_cast<size_t>(kClaimBatch)) sweep_after = 0;
    }
    if (sweep) next_sweep = std::chrono::steady_clock::now() + options_.outbox_sweep;
    if (stopping && !finish) {
      // Nothing more will be posted: the outbox makes its last attempts without waiting, and
      // once it is idle every round has reported and been written back.
      if (!hurried) outbox_.hurry();
      hurried = true;
      if (outbox_.idle()) {
        std::lock_guard<std::mutex> l(mu_);
        if (finished_.empty()) return;
      }
    }
  }
}

void EventHub::finished(const std::shared_ptr<Round>& round) {
  {
    std::lock_guard<std::mutex> l(mu_);
    finished_.push_back(round);
  }
  cv_.notify_all();
}

size_t EventHub::housekeep(bool sweep, bool take_everything, int64_t* after_id) {
  std::vector<std::shared_ptr<Round>> rounds;
  {
    std::lock_guard<std::mutex> l(mu_);
    rounds.swap(finished_);
  }
  Millis now = now_millis();
  std::vector<int64_t> completed;
  std::vector<std::shared_ptr<Round>> failed;
  for (const auto& r : rounds) {
    if (r->failed) {
      failed.push_back(r);
    } else {
      completed.push_back(r->outbox_id);
    }
  }
  std::vector<OutboxRow> claimed;
  std::pair<int64_t, int64_t> trimmed{0, 0};
  std::pair<int64_t, Millis> size{0, 0};
  Status s = storage_->write([&](StorageTxn& txn) {
    claimed.clear();
    if (!completed.empty()) txn.delete_outbox(completed);
    for (const auto& r : failed) {
      // The next round after a delay that doubles with each failed one, up to an hour.
      int64_t shift = std::min<int64_t>(r->attempts, 7);
      Millis delay = std::min<Millis>(options_.outbox_retry_delay.count() << shift, 3600 * 1000);
      txn.retry_outbox(r->outbox_id, join_ids(r->done), r->attempts + 1, now + delay);
    }
    if (sweep) {
      trimmed = txn.trim_outbox(now - options_.outbox_max_age.count(), options_.outbox_max_rows);
      claimed = txn.claim_outbox(take_everything ? std::numeric_limits<Millis>::max() : now,
                                 now + options_.outbox_lease.count(), after_id ? *after_id : 0,
                                 kClaimBatch);
      size = txn.outbox_size();
    }
    return Status::OK();
  });
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& r : rounds) in_flight_.erase(r->outbox_id);
  }
  if (!s.ok()) {
    // The rows stay as they were: their leases run out, and a later sweep delivers them again.
    if (logger_) logger_->log(LogLevel::kError, "outbox: " + s.ToString());
    return 0;
  }
  {
    std::lock_guard<std::mutex> l(counts_mu_);
    counts_.completed += completed.size();
    counts_.retried += failed.size();
    counts_.expired += static_cast<uint64_t>(trimmed.first);
    counts_.evicted += static_cast<uint64_t>(trimmed.second);
    if (sweep) {
      counts_.waiting = size.first;
      ++counts_.sweeps;
    }
  }
  if (logger_ && (trimmed.first || trimmed.second)) {
    logger_->log(LogLevel::kWarn,
                 "outbox: gave up " + std::to_string(trimmed.first) + " changes older than " +
                     std::to_string(options_.outbox_max_age.count() / 1000) + " s and " +
                     std::to_string(trimmed.second) + " beyond the newest " +
                     std::to_string(options_.outbox_max_rows) + "; their deliveries are lost");
  }
  if (after_id && !claimed.empty()) *after_id = claimed.back().id;
  for (const auto& row : claimed) {
    {
      std::lock_guard<std::mutex> l(mu_);
      // A row this process is still delivering (its lease ran out meanwhile) stays with that
      // round.
      if (!in_flight_.insert(row.id).second) continue;
    }
    if (row.attempts == 0) {
      std::lock_guard<std::mutex> l(counts_mu_);
      ++counts_.taken_over;
    }
    process(change_of(row));
  }
  return claimed.size();
}

void EventHub::process(const DatasetChange& c) {
  std::vector<DeviceRow> subscribers;
  std::optional<PoolRow> pool;
  // A round after a failed one only makes the deliveries still missing: the devices heard the
  // notifications the first time.
  bool notify = c.attempts == 0;
  Status s = storage_->read([&](StorageTxn& txn) {
    pool = txn.pool(c.pool_id);
    if (pool && c.operation == "replace" && (notify || c.webhook))
      subscribers = txn.subscribers_of(c.identity_id, c.dataset);
    return Status::OK();
  });
  if (!s.ok()) {
    if (logger_) {
      logger_->log(LogLevel::kError, "events of " + c.dataset + " delayed: " + s.ToString());
    }
    if (c.outbox_id) {
      // Its lease runs out and a later sweep takes it again.
      std::lock_guard<std::mutex> l(mu_);
      in_flight_.erase(c.outbox_id);
    }
    return;
  }
  auto round = std::make_shared<Round>();
  round->outbox_id = c.outbox_id;
  round->attempts = c.attempts;
  round->done = c.done;
  auto settle = [this, round](const std::string& id, const Status& outcome) {
    bool last = false;
    {
      std::lock_guard<std::mutex> l(round->mu);
      if (outcome.ok() && !id.empty()) round->done.insert(id);
      if (!outcome.ok()) round->failed = true;
      last = --round->outstanding == 0;
    }
    if (last && round->outbox_id) finished(round);
  };
  auto deliver = [&](const std::string& id) {
    std::lock_guard<std::mutex> l(round->mu);
    if (round->done.count(id)) return false;
    ++round->outstanding;
    return true;
  };
  std::string prefix = std::to_string(c.outbox_id) + ".";

  if (pool) {
    // Notifications: every subscribed device but the one that made the change, here and on the
    // other instances; the webhook, once, from here.
    std::string payload = push_payload_json(c.pool_id, c.identity_id, c.dataset, c.sync_count);
    auto webhook = c.webhook ? webhook_for(c.pool_id) : std::nullopt;
    Writer others;
    others.begin_object();
    others.begin_array("devices");
    for (const auto& d : subscribers) {
      if (!(c.device_id && *c.device_id == d.id)) others.value(d.id);
    }
    others.end_array();
    others.end_object();
    for (const auto& d : subscribers) {
      if (c.device_id && *c.device_id == d.id) continue;
      if (notify) notifications_.post(d.id, payload);
      std::string id = prefix + d.id;
      if (webhook && deliver(id)) {
        Writer w;
        w.begin_object();
        w.str("deliveryId", id);
        w.key("payload");
        w.raw().RawValue(payload.data(), payload.size(), rapidjson::kObjectType);
        w.key("device");
        w.begin_object();
        w.str("deviceId", d.id);
        w.str("platform", d.platform);
        w.str("token", d.token);
        w.end_object();
        w.end_object();
        outbox_.post(
            *webhook, w.take(), [settle, id](const Status& st) { settle(id, st); }, id);
      }
    }
    if (notify && !subscribers.empty()) {
      // After the local posts: a device moving here from another instance then finds these
      // numbered before the copies the others make, so it is not told twice.
      std::string message = others.take();
      message.pop_back();  // '}'
      message = instance_ + " " + message + ",\"payload\":" + payload + "}";
      Status sent = storage_->broadcast(message);
      if (!sent.ok() && logger_) {
        logger_->log(LogLevel::kWarn, "notifications of " + c.dataset +
                                          " not sent to other instances: " + sent.ToString());
      }
    }
    // Streams: one record per sync, as the pool's configuration stood when the change committed.
    std::string id = prefix + "stream";
    if (!c.stream.empty() && deliver(id)) {
      sink_->write_async(c.stream, c.stream_record, id,
                         [settle, id](const Status& st) { settle(id, st); });
    }
  }
  // A deleted pool's deliveries are dropped with it.
  settle("", Status::OK());
}

}  // namespace cairn::server
