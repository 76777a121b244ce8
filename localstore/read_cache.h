// The read cache (Options::read_cache_bytes): recent values by (owner, dataset, key), bounded in
// bytes, so that a game reading the same keys every frame does not go to SQLite each time.
//
// A reader that misses notes the generation, reads the database, and inserts only if no write
// happened meanwhile (insert_if_unchanged); every write moves the generation on. When the next
// insert would pass the bound, the cache starts over rather than tracking recency: reads that
// matter are the ones a game repeats, and those come back at once. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace cairn::localstore {

class ReadCache {
 public:
  explicit ReadCache(size_t capacity_bytes = 0) : capacity_(capacity_bytes) {}

  void set_capacity(size_t bytes) { capacity_ = bytes; }
  bool enabled() const { return capacity_ > 0; }

  static std::string key(const std::string& owner, const std::string& dataset,
                         const std::string& record_key) {
    std::string k;
    k.reserve(owner.size() + dataset.size() + record_key.size() + 2);
    k.append(owner).push_back('\n');
    k.append(dataset).push_back('\n');
    k.append(record_key);
    return k;
  }

  // True and the value (nullopt: absent or deleted) on a hit; on a miss, the generation to hand
  // to insert_if_unchanged after the read.
  bool find(const std::string& k, std::optional<std::string>* value, uint64_t* generation) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = values_.find(k);
    if (it != values_.end()) {
      *value = it->second;
      return true;
    }
    *generation = generation_;
    return false;
  }

  void insert_if_unchanged(std::string k, uint64_t generation,
                           const std::optional<std::string>& value) {
    std::lock_guard<std::mutex> l(mu_);
    if (generation_ == generation) put_locked(std::move(k), value);
  }

  // A local write of these (key, value) pairs: they stay readable from memory.
  template <typename Entries>
  void wrote(const std::string& owner, const std::string& dataset, const Entries& entries) {
    std::lock_guard<std::mutex> l(mu_);
    ++generation_;
    for (const auto& [record_key, value] : entries)
      put_locked(key(owner, dataset, record_key), value);
  }

  // A sync wrote these records (pairs whose first is a pointer to the key): they are read afresh
  // next time, and the rest stays.
  template <typename Written>
  void forget(const std::string& owner, const std::string& dataset, const Written& written) {
    std::lock_guard<std::mutex> l(mu_);
    ++generation_;
    for (const auto& entry : written) {
      auto it = values_.find(key(owner, dataset, *entry.first));
      if (it == values_.end()) continue;
      bytes_ -= cost(it->first, it->second);
      values_.erase(it);
    }
  }

  void clear() {
    std::lock_guard<std::mutex> l(mu_);
    ++generation_;
    values_.clear();
    bytes_ = 0;
  }

 private:
  // What an entry is counted as: its bytes plus the map's bookkeeping, roughly.
  static size_t cost(const std::string& k, const std::optional<std::string>& value) {
    return k.size() + (value ? value->size() : 0) + 64;
  }

  void put_locked(std::string k, const std::optional<std::string>& value) {
    size_t size = cost(k, value);
    if (bytes_ + size > capacity_) {
      values_.clear();
      bytes_ = 0;
      if (size > capacity_) return;
    }
    auto [it, inserted] = values_.try_emplace(std::move(k), value);
    if (!inserted) {
      bytes_ -= cost(it->first, it->second);
      it->second = value;
    }
    bytes_ += size;
  }

  size_t capacity_;
  std::mutex mu_;
  uint64_t generation_ = 0;
  size_t bytes_ = 0;
  std::unordered_map<std::string, std::optional<std::string>> values_;
};

}  // namespace cairn::localstore
