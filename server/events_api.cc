// The operations behind server-side events (docs/events.md): cairn's notification channel (a long
// poll, a cairn extension of the protocol) and the sync trigger's call to an http(s) hook.
#include <rapidjson/document.h>

#include "server/api.h"
#include "server/api_internal.h"
#include "transport/sync_protocol.h"

#include <set>

namespace cairn::server {

using namespace internal;
using transport::json::Writer;

namespace {

constexpr auto kHookCacheFor = std::chrono::seconds(1);

// The event the reference sends (version 2): every record in the dataset, with the patch's
// value as newValue for the keys it writes.
std::string sync_trigger_event(const std::string& region, const wire::UpdateRecordsRequest& r,
                               const std::vector<RecordRow>& current) {
  std::map<std::string, const wire::RecordPatch*> patched;
  for (const auto& p : r.record_patches) patched[p.key] = &p;
  Writer w;
  w.begin_object();
  w.i64("version", 2);
  w.str("eventType", "SyncTrigger");
  w.str("region", region);
  w.str("identityPoolId", r.identity_pool_id);
  w.str("identityId", r.identity_id);
  w.str("datasetName", r.dataset_name);
  w.key("datasetRecords");
  w.begin_object();
  auto record = [&](const std::string& key, const std::optional<std::string>& old_value,
                    const std::optional<std::string>& new_value, const char* op) {
    auto& raw = w.raw();
    raw.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    w.begin_object();
    for (const auto& [name, v] :
         {std::make_pair("oldValue", &old_value), std::make_pair("newValue", &new_value)}) {
      w.key(name);
      if (*v) {
        w.value(**v);
      } else {
        raw.Null();
      }
    }
    w.str("op", op);
    w.end_object();
  };
  std::set<std::string> seen;
  for (const auto& row : current) {
    if (!row.value) continue;  // removed: not in the dataset any more
    seen.insert(row.key);
    auto it = patched.find(row.key);
    if (it == patched.end()) {
      record(row.key, row.value, row.value, "replace");
    } else {
      const auto& p = *it->second;
      bool remove = p.op == wire::kOpRemove;
      record(row.key, row.value, remove ? std::nullopt : p.value, remove ? "remove" : "replace");
    }
  }
  for (const auto& p : r.record_patches) {
    if (seen.count(p.key)) continue;
    bool remove = p.op == wire::kOpRemove;
    record(p.key, std::nullopt, remove ? std::nullopt : p.value, remove ? "remove" : "replace");
  }
  w.end_object();
  w.end_object();
  return w.take();
}

Status bad_output(const std::string& why) {
  return Status(ErrorCode::kInvalidLambdaFunctionOutput, "The sync trigger's answer " + why);
}

}  // namespace

std::optional<std::string> Api::sync_trigger_hook(const std::string& pool_id) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> l(hooks_mu_);
    auto it = hooks_.find(pool_id);
    if (it != hooks_.end() && now - it->second.read < kHookCacheFor) return it->second.url;
  }
  std::optional<std::string> url;
  Status s = storage_->read([&](StorageTxn& txn) {
    auto pool = txn.pool(pool_id);
    if (!pool) return Status::OK();
    transport::json::Document d;
    if (!transport::json::parse(pool->events_json, d).ok() || !d.IsObject()) return Status::OK();
    auto m = d.FindMember("SyncTrigger");
    if (m != d.MemberEnd() && m->value.IsString()) {
      std::string target = m->value.GetString();
      if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) url = target;
    }
    return Status::OK();
  });
  if (!s.ok()) return std::nullopt;  // the write's own storage error will say it
  std::lock_guard<std::mutex> l(hooks_mu_);
  if (hooks_.size() > 10000) hooks_.clear();
  hooks_[pool_id] = {url, now};
  return url;
}

Result<std::vector<wire::RecordPatch>> Api::run_sync_trigger(const std::string& hook,
                                                             const wire::UpdateRecordsRequest& r,
                                                             int64_t* observed_count) {
  // The dataset as the hook will see it. The write then requires the same count, so nothing
  // that happened meanwhile is overwritten by an answer computed without it.
  std::vector<RecordRow> current;
  Status s = storage_->read([&](StorageTxn& txn) {
    auto ds = txn.dataset(r.identity_id, r.dataset_name);
    *observed_count = ds ? ds->sync_count : 0;
    if (!ds || ds->deleted) return Status::OK();
    int64_t after_count = -1;
    std::string after_key;
    for (;;) {
      auto page = txn.records_after(r.identity_id, r.dataset_name, -1, after_count, after_key, 512);
      if (page.empty()) break;
      after_count = page.back().sync_count;
      after_key = page.back().key;
      for (auto& row : page) current.push_back(std::move(row));
    }
    return Status::OK();
  });
  if (!s.ok()) return s;

  HttpRequest req{"POST",
                  hook,
                  {{"Content-Type", "application/json"}},
                  sync_trigger_event(options_.region, r, current)};
  auto answer = hook_transport_->send(req);
  auto limit_ms = std::to_string(options_.events.sync_trigger_timeout.count());
  if (!answer.ok()) {
    return Status(
        ErrorCode::kLambdaSocketTimeout,
        "The sync trigger did not answer within " + limit_ms + " ms: " + answer.status().message());
  }
  if (answer->status == 429) {
    return Status(ErrorCode::kLambdaThrottled, "The sync trigger is throttled (HTTP 429)");
  }
  if (answer->status < 200 || answer->status >= 300) {
    return bad_output("was HTTP " + std::to_string(answer->status));
  }
  transport::json::Document d;
  if (!transport::json::parse(answer->body, d).ok() || !d.IsObject()) {
    return bad_output("is not a JSON object");
  }
  auto records = d.FindMember("datasetRecords");
  if (records == d.MemberEnd() || !records->value.IsObject()) {
    return bad_output("has no datasetRecords object");
  }

  std::map<std::string, const RecordRow*> now;
  for (const auto& row : current) now[row.key] = &row;
  std::map<std::string, const wire::RecordPatch*> patched;
  for (const auto& p : r.record_patches) patched[p.key] = &p;
  std::vector<wire::RecordPatch> out;
  std::set<std::string> answered;
  for (const auto& m : records->value.GetObject()) {
    std::string key(m.name.GetString(), m.name.GetStringLength());
    if (!answered.insert(key).second) return bad_output("names '" + key + "' twice");
    if (key.empty() || key.size() > 1024)
      return bad_output("has a key of " + std::to_string(key.size()) + " bytes");
    if (!m.value.IsObject()) return bad_output("has a record '" + key + "' that is not an object");
    auto op_member = m.value.FindMember("op");
    std::string op = "replace";
    if (op_member != m.value.MemberEnd()) {
      if (!op_member->value.IsString()) return bad_output("has a non-string op for '" + key + "'");
      op = op_member->value.GetString();
      if (op != "replace" && op != "remove") {
        std::string what = "has op '";
        what.append(op).append("' for '").append(key).append("'");
        return bad_output(what);
      }
    }
    std::optional<std::string> value;
    auto nv = m.value.FindMember("newValue");
    if (nv != m.value.MemberEnd() && !nv->value.IsNull()) {
      if (!nv->value.IsString()) return bad_output("has a non-string newValue for '" + key + "'");
      value = std::string(nv->value.GetString(), nv->value.GetStringLength());
    }
    bool remove = op == "remove" || !value;

    auto was = now.find(key);
    bool existed = was != now.end() && was->second->value;
    auto p = patched.find(key);
    if (p != patched.end()) {
      // The device's own patch, as the hook left it, with the device's count.
      out.push_back({remove ? wire::kOpRemove : wire::kOpReplace, key,
                     remove ? std::nullopt : value, p->second->sync_count,
                     p->second->device_last_modified_date});
      continue;
    }
    // A record the device did not send: written only when the hook changed it (or added it).
    bool unchanged = remove ? !existed : (existed && *was->second->value == *value);
    if (unchanged) continue;
    int64_t count = was != now.end() ? was->second->sync_count : 0;
    out.push_back({remove ? wire::kOpRemove : wire::kOpReplace, key, remove ? std::nullopt : value,
                   count, std::nullopt});
  }
  return out;
}

Reply Api::serve(Call& c, const wire::PollNotificationsRequest& r) {
  const std::string& pool = r.identity_pool_id;
  const std::string& identity = r.identity_id;
  const std::string& device_id = r.device_id;
  int64_t after = r.after;
  int64_t wait_seconds = r.wait_seconds;
  Status s = authorize(c.caller, Access::kEither, pool, identity);
  if (!s.ok()) return s;
  if (wait_seconds < 0 || wait_seconds > options_.events.max_poll_seconds) {
    return invalid("wait must be between 0 and " +
                   std::to_string(options_.events.max_poll_seconds) + " seconds");
  }
  s = storage_->read([&](StorageTxn& txn) -> Status {
    Status st = require_pool(txn, pool, nullptr);
    if (!st.ok()) return st;
    auto device = txn.device(device_id);
    if (!device || device->identity_id != identity) {
      return not_found("Device '" + device_id + "' is not registered for this identity.");
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  std::shared_ptr<void> slot;
  if (c.upgrade || wait_seconds > 0) {
    slot = take_listener_slot(identity);
    if (!slot) {
      return Status::FromService("LimitExceededException",
                                 "This identity has " +
                                     std::to_string(options_.max_listeners_per_identity) +
                                     " connections listening already, the most it may",
                                 400);
    }
  }
  if (c.upgrade) {
    c.channel =
        std::make_shared<NotificationChannel>(events_.get(), device_id, after, std::move(slot));
    return std::string();
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  c.park = [this, device_id, after, deadline, slot](std::function<void(Reply)> answer) {
    events_->notifications().watch(
        device_id, after, deadline,
        [answer = std::move(answer), slot](std::vector<Notifications::Entry> entries,
                                           int64_t next) mutable {
          slot.reset();  // before the answer: the device may listen again at once
          answer(notifications_json(entries, next));
        });
  };
  return std::string();
}

std::shared_ptr<void> Api::take_listener_slot(const std::string& identity) {
  std::lock_guard<std::mutex> l(listeners_mu_);
  int& count = listeners_[identity];
  if (count >= options_.max_listeners_per_identity) {
    if (count == 0) listeners_.erase(identity);
    return nullptr;
  }
  ++count;
  struct Slot {
    Api* api;
    std::string identity;
    ~Slot() {
      std::lock_guard<std::mutex> l(api->listeners_mu_);
      auto it = api->listeners_.find(identity);
      if (it != api->listeners_.end() && --it->second <= 0) api->listeners_.erase(it);
    }
  };
  return std::shared_ptr<Slot>(new Slot{this, identity});
}

// --- the WebSocket channel
// ------------------------------------------------------------------------

NotificationChannel::NotificationChannel(EventHub* events, std::string device_id, int64_t after,
                                         std::shared_ptr<void> slot)
    : events_(events), device_id_(std::move(device_id)), slot_(std::move(slot)), next_(after) {}

void NotificationChannel::open(Send send) {
  {
    std::lock_guard<std::mutex> l(mu_);
    send_ = std::move(send);
  }
  watch();
}

void NotificationChannel::watch() {
  int64_t after = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return;
    after = next_;
  }
  std::weak_ptr<NotificationChannel> weak = shared_from_this();
  // No deadline: the connection's pings keep it honest. An empty fire is the server stopping.
  // The watcher may fire on this thread, before watch() returns.
  uint64_t id = events_->notifications().watch(
      device_id_, after, Notifications::Deadline::max(),
      [weak](std::vector<Notifications::Entry> entries, int64_t next) {
        auto self = weak.lock();
        if (!self || entries.empty()) return;
        Send send;
        {
          std::lock_guard<std::mutex> l(self->mu_);
          if (self->closed_) return;
          self->next_ = next;
          send = self->send_;
        }
        send(notifications_json(entries, next));
      });
  bool closed = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    watch_id_ = id;
    closed = closed_;
  }
  if (closed) events_->notifications().cancel(id);  // closed() ran while it was being set up
}

void NotificationChannel::sent() { watch(); }

Status NotificationChannel::received(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("after") || !d["after"].IsInt64()) {
    return Status(ErrorCode::kInvalidArgument, "expected {\"after\": N}");
  }
  std::lock_guard<std::mutex> l(mu_);
  acked_ = d["after"].GetInt64();
  return Status::OK();
}

void NotificationChannel::closed() {
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    send_ = nullptr;
    slot_.reset();
    id = watch_id_;
  }
  events_->notifications().cancel(id);
}

int64_t NotificationChannel::acked() const {
  std::lock_guard<std::mutex> l(mu_);
  return acked_;
}

std::string notifications_json(const std::vector<Notifications::Entry>& entries, int64_t next) {
  wire::PollNotificationsResponse response;
  response.next = next;
  for (const auto& e : entries) response.notifications.push_back({e.seq, e.payload_json});
  return transport::sync_wire::encode(response);
}

}  // namespace cairn::server
