// The EventHub (events.h): a committed change's notifications and its deliveries, staged in the
// change's transaction as an outbox row and made after the commit, in rounds until all are made.
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
