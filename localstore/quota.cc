#include "localstore/quota.h"

#include "common/utf8.h"

namespace cairn::localstore {
namespace {

Status limit(const std::string& message) { return Status(ErrorCode::kLimitExceeded, message); }

// A string has no more characters than bytes, so only long ones need counting.
int64_t chars_up_to(const std::string& text, int64_t limit) {
  return static_cast<int64_t>(text.size()) <= limit ? static_cast<int64_t>(text.size())
                                                    : static_cast<int64_t>(utf8_length(text));
}

}  // namespace

Quota::Totals& Quota::totals(sqlite::Connection& writer, const std::string& owner,
                             const std::string& dataset) {
  auto key = std::make_pair(owner, dataset);
  auto it = totals_.find(key);
  if (it != totals_.end()) return it->second;
  Totals t;
  auto d = writer.prepare("SELECT 1 FROM datasets WHERE owner = ? AND name = ?");
  d.bind(owner).bind(dataset);
  t.exists = d.step();
  auto sizes = writer.prepare(
      "SELECT r.key, length(CAST(r.key AS BLOB)) + length(CAST(v.value AS BLOB)) "
      "FROM records r JOIN record_values v ON v.id = r.id "
      "WHERE r.owner = ? AND r.dataset = ? AND v.value IS NOT NULL");
  sizes.bind(owner).bind(dataset);
  while (sizes.step()) {
    t.live_bytes.emplace(sizes.text(0), sizes.i64(1));
    t.live += 1;
    t.bytes += sizes.i64(1);
  }
  return totals_.emplace(key, std::move(t)).first->second;
}

void Quota::count(Totals& t, const std::string& key, const std::optional<std::string>& value) {
  auto old = t.live_bytes.find(key);
  if (old != t.live_bytes.end()) {
    t.live -= 1;
    t.bytes -= old->second;
  }
  if (value) {
    int64_t bytes = static_cast<int64_t>(key.size() + value->size());
    t.live += 1;
    t.bytes += bytes;
    if (old != t.live_bytes.end()) {
      old->second = bytes;
    } else {
      t.live_bytes.emplace(key, bytes);
    }
  } else if (old != t.live_bytes.end()) {
    t.live_bytes.erase(old);
  }
}

void Quota::synced(
    const std::string& owner, const std::string& dataset,
    const std::vector<std::pair<const std::string*, const std::optional<std::string>*>>& written) {
  auto it = totals_.find(std::make_pair(owner, dataset));
  if (it == totals_.end()) return;
  it->second.exists = true;
  for (const auto& [key, value] : written) count(it->second, *key, *value);
}

Quota::Batch::Batch(Quota& quota, sqlite::Connection& writer, const std::string& owner,
                    const std::string& dataset)
    : quota_(quota),
      writer_(writer),
      owner_(owner),
      dataset_(dataset),
      totals_(quota.totals(writer, owner, dataset)),
      existed_(totals_.exists),
      live_before_(totals_.live),
      bytes_before_(totals_.bytes) {}

Status Quota::Batch::stage(const std::string& key, const std::optional<std::string>& value) {
  const Limits& limits = quota_.limits_;
  if (key.empty() || chars_up_to(key, limits.max_key_chars) > limits.max_key_chars) {
    return Status(
        ErrorCode::kInvalidParameter,
        "record key must be 1 to " + std::to_string(limits.max_key_chars) + " characters");
  }
  if (value && chars_up_to(*value, limits.max_value_chars) > limits.max_value_chars) {
    return Status(ErrorCode::kInvalidParameter,
                  "record value of '" + key.substr(0, 64) + "' exceeds " +
                      std::to_string(limits.max_value_chars) + " characters");
  }
  if (!totals_.exists && !counted_new_dataset_) {
    auto c = writer_.prepare("SELECT COUNT(*) FROM datasets WHERE owner = ?");
    c.bind(owner_);
    c.step();
    if (c.i64(0) >= limits.max_datasets) {
      return limit("an identity may hold at most " + std::to_string(limits.max_datasets) +
                   " datasets");
    }
    counted_new_dataset_ = true;
  }
  auto old = totals_.live_bytes.find(key);
  bool old_live = old != totals_.live_bytes.end();
  int64_t old_bytes = old_live ? old->second : 0;
  int64_t new_bytes = value ? static_cast<int64_t>(key.size() + value->size()) : 0;
  int64_t live = totals_.live - (old_live ? 1 : 0) + (value ? 1 : 0);
  int64_t bytes = totals_.bytes - old_bytes + new_bytes;
  if (live > limits.max_records) {
    return limit("dataset '" + dataset_ + "' may hold at most " +
                 std::to_string(limits.max_records) + " records");
  }
  if (bytes > limits.max_dataset_bytes) {
    return limit("dataset '" + dataset_ + "' may hold at most " +
                 std::to_string(limits.max_dataset_bytes) + " bytes of keys and values");
  }
  undo_.emplace_back(&key, old_live ? std::optional<int64_t>(old_bytes) : std::nullopt);
  count(totals_, key, value);
  return Status::OK();
}

void Quota::Batch::undo() {
  totals_.exists = existed_;
  totals_.live = live_before_;
  totals_.bytes = bytes_before_;
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    if (it->second) {
      totals_.live_bytes[*it->first] = *it->second;
    } else {
      totals_.live_bytes.erase(*it->first);
    }
  }
  undo_.clear();
}

}  // namespace cairn::localstore
