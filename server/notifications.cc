// Notifications to devices: the push payload, and each device's mailbox that its listener (a
// WebSocket or a long poll) reads (events.h).
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

}  // namespace cairn::server
