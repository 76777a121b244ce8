// The local store's state, shared by the files that implement LocalStore: the writer and the
// pooled readers, the owner, the dataset locks, the running totals that enforce the limits, and the
// read cache. Private to localstore/.
#pragma once

#include "localstore/local_store.h"
#include "localstore/schema.h"

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <random>
#include <unordered_map>

#include "common/sqlite.h"
#include "common/utf8.h"

namespace cairn::localstore {

// Readers kept open between reads: enough for the engine's threads and a game's, few enough to
// bound the file handles and page caches a store holds.
constexpr size_t kPooledReaders = 8;

using sqlite::Stmt;

inline Status invalid(const std::string& message) {
  return Status(ErrorCode::kInvalidParameter, message);
}
inline Status limit(const std::string& message) {
  return Status(ErrorCode::kLimitExceeded, message);
}

struct LocalStore::Impl {
  Options options;
  std::string path;  // canonical file path, or the in-memory URI
  bool memory = false;
  std::shared_ptr<Clock> clock;

  std::mutex write_mu;  // guards writer and stats
  std::unique_ptr<sqlite::Connection> writer;
  std::mutex readers_mu;
  std::vector<std::unique_ptr<sqlite::Connection>> readers;

  mutable std::mutex owner_mu;
  std::string owner;
  bool has_identity = false;

  std::mutex locks_mu;
  std::map<std::string, std::weak_ptr<std::mutex>> locks;

  // Live record count and bytes per (owner, dataset), kept under write_mu so put() need not add
  // them up on every write.
  struct Stats {
    bool exists = false;
    int64_t live = 0;
    int64_t bytes = 0;
    std::unordered_map<std::string, int64_t> live_bytes;  // key -> UTF-8 bytes of key plus value
  };

  // The read cache (see Options::read_cache_bytes). A reader that misses notes the generation,
  // reads the database, and inserts only if no write happened meanwhile.
  struct Cache {
    std::mutex mu;
    uint64_t generation = 0;
    size_t bytes = 0;
    std::unordered_map<std::string, std::optional<std::string>> values;
  } cache;

  static std::string cache_key(const std::string& owner_id, const std::string& dataset,
                               const std::string& key) {
    std::string k;
    k.reserve(owner_id.size() + dataset.size() + key.size() + 2);
    k.append(owner_id).push_back('\n');
    k.append(dataset).push_back('\n');
    k.append(key);
    return k;
  }
  void cache_clear() {
    std::lock_guard<std::mutex> l(cache.mu);
    ++cache.generation;
    cache.values.clear();
    cache.bytes = 0;
  }
  void cache_put(std::string k, const std::optional<std::string>& value) {
    // Caller holds cache.mu.
    size_t size = k.size() + (value ? value->size() : 0) + 64;
    if (cache.bytes + size > options.read_cache_bytes) {
      cache.values.clear();
      cache.bytes = 0;
      if (size > options.read_cache_bytes) return;
    }
    auto [it, inserted] = cache.values.try_emplace(std::move(k), value);
    if (!inserted) {
      cache.bytes -= it->first.size() + (it->second ? it->second->size() : 0) + 64;
      it->second = value;
    }
    cache.bytes += size;
  }
  std::map<std::pair<std::string, std::string>, Stats> stats;

  Millis now() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock->now().time_since_epoch())
        .count();
  }

  std::string current_owner() const {
    std::lock_guard<std::mutex> l(owner_mu);
    return owner;
  }

  std::unique_ptr<sqlite::Connection> connect() {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | (memory ? SQLITE_OPEN_URI : 0);
    auto c = std::make_unique<sqlite::Connection>(path, flags);
    sqlite3_busy_timeout(c->handle(), 5000);
    if (!memory) {
      c->exec("PRAGMA journal_mode=WAL");
      c->exec(options.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    }
    c->exec("PRAGMA foreign_keys=ON");
    return c;
  }

  // Runs fn on a reader connection (the writer, for in-memory stores).
  template <typename Fn>
  auto with_reader(Fn fn) {
    if (memory) {
      std::lock_guard<std::mutex> l(write_mu);
      return fn(*writer);
    }
    std::unique_ptr<sqlite::Connection> c;
    {
      std::lock_guard<std::mutex> l(readers_mu);
      if (!readers.empty()) {
        c = std::move(readers.back());
        readers.pop_back();
      }
    }
    if (!c) c = connect();
    struct Return {
      Impl* impl;
      std::unique_ptr<sqlite::Connection>& c;
      ~Return() {
        std::lock_guard<std::mutex> l(impl->readers_mu);
        if (impl->readers.size() < kPooledReaders) impl->readers.push_back(std::move(c));
      }
    } give_back{this, c};
    return fn(*c);
  }

  void migrate() { schema::migrate(*writer); }

  std::optional<std::string> meta_locked(const std::string& key) {
    auto s = writer->prepare("SELECT value FROM meta WHERE key = ?");
    s.bind(key);
    if (!s.step()) return std::nullopt;
    return s.text(0);
  }
  void set_meta_locked(const std::string& key, const std::string& value) {
    writer->prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)")
        .bind(key)
        .bind(value)
        .run();
  }

  void load_owner() {
    auto identity = meta_locked("cairn.identity_id");
    std::lock_guard<std::mutex> l(owner_mu);
    if (identity) {
      owner = *identity;
      has_identity = true;
      return;
    }
    auto provisional = meta_locked("cairn.provisional_owner");
    if (!provisional) {
      std::random_device rd;
      char buf[40];
      std::snprintf(buf, sizeof buf, "provisional:%08x%08x", rd(), rd());
      provisional = buf;
      set_meta_locked("cairn.provisional_owner", *provisional);
    }
    owner = *provisional;
    has_identity = false;
  }

  Stats& stats_for(const std::string& owner_id, const std::string& dataset) {
    auto key = std::make_pair(owner_id, dataset);
    auto it = stats.find(key);
    if (it != stats.end()) return it->second;
    Stats st;
    auto d = writer->prepare("SELECT 1 FROM datasets WHERE owner = ? AND name = ?");
    d.bind(owner_id).bind(dataset);
    st.exists = d.step();
    auto sizes = writer->prepare(
        "SELECT key, length(CAST(key AS BLOB)) + length(CAST(value AS BLOB)) FROM records "
        "WHERE owner = ? AND dataset = ? AND value IS NOT NULL");
    sizes.bind(owner_id).bind(dataset);
    while (sizes.step()) {
      st.live_bytes.emplace(sizes.text(0), sizes.i64(1));
      st.live += 1;
      st.bytes += sizes.i64(1);
    }
    return stats.emplace(key, std::move(st)).first->second;
  }

  // Validates and stages one local write against the running totals; nothing is written.
  Status stage_write(const std::string& owner_id, const std::string& dataset,
                     const std::string& key, const std::optional<std::string>& value, Stats& st,
                     int64_t* datasets_created) {
    // A string has no more characters than bytes, so only long ones need counting.
    auto chars = [](const std::string& text, int64_t limit) {
      return static_cast<int64_t>(text.size()) <= limit ? static_cast<int64_t>(text.size())
                                                        : static_cast<int64_t>(utf8_length(text));
    };
    if (key.empty() || chars(key, options.limits.max_key_chars) > options.limits.max_key_chars) {
      return invalid("record key must be 1 to " + std::to_string(options.limits.max_key_chars) +
                     " characters");
    }
    if (value && chars(*value, options.limits.max_value_chars) > options.limits.max_value_chars) {
      return invalid("record value of '" + key.substr(0, 64) + "' exceeds " +
                     std::to_string(options.limits.max_value_chars) + " characters");
    }
    if (!st.exists && *datasets_created == 0) {
      auto c = writer->prepare("SELECT COUNT(*) FROM datasets WHERE owner = ?");
      c.bind(owner_id);
      c.step();
      if (c.i64(0) >= options.limits.max_datasets) {
        return limit("an identity may hold at most " + std::to_string(options.limits.max_datasets) +
                     " datasets");
      }
      *datasets_created = 1;
    }
    auto old = st.live_bytes.find(key);
    bool old_live = old != st.live_bytes.end();
    int64_t old_bytes = old_live ? old->second : 0;
    int64_t new_bytes = value ? static_cast<int64_t>(key.size() + value->size()) : 0;
    int64_t live = st.live - (old_live ? 1 : 0) + (value ? 1 : 0);
    int64_t bytes = st.bytes - old_bytes + new_bytes;
    if (live > options.limits.max_records) {
      return limit("dataset '" + dataset + "' may hold at most " +
                   std::to_string(options.limits.max_records) + " records");
    }
    if (bytes > options.limits.max_dataset_bytes) {
      return limit("dataset '" + dataset + "' may hold at most " +
                   std::to_string(options.limits.max_dataset_bytes) + " bytes of keys and values");
    }
    note_value(st, key, value);
    return Status::OK();
  }

  // Moves the running totals to `key` holding `value` (nullopt: removed).
  static void note_value(Stats& st, const std::string& key,
                         const std::optional<std::string>& value) {
    auto old = st.live_bytes.find(key);
    if (old != st.live_bytes.end()) {
      st.live -= 1;
      st.bytes -= old->second;
    }
    if (value) {
      int64_t bytes = static_cast<int64_t>(key.size() + value->size());
      st.live += 1;
      st.bytes += bytes;
      if (old != st.live_bytes.end()) {
        old->second = bytes;
      } else {
        st.live_bytes.emplace(key, bytes);
      }
    } else if (old != st.live_bytes.end()) {
      st.live_bytes.erase(old);
    }
  }

  // After a sync wrote these records: the totals follow (when loaded) and the read cache forgets
  // them, instead of both starting over, so the next put costs no recount of the dataset.
  void note_synced(
      const std::string& owner_id, const std::string& dataset,
      const std::vector<std::pair<const std::string*, const std::optional<std::string>*>>&
          written) {
    if (written.empty()) return;
    auto it = stats.find(std::make_pair(owner_id, dataset));
    if (it != stats.end()) {
      it->second.exists = true;
      for (const auto& [key, value] : written) note_value(it->second, *key, *value);
    }
    std::lock_guard<std::mutex> l(cache.mu);
    ++cache.generation;
    for (const auto& [key, value] : written) {
      auto c = cache.values.find(cache_key(owner_id, dataset, *key));
      if (c == cache.values.end()) continue;
      cache.bytes -= c->first.size() + (c->second ? c->second->size() : 0) + 64;
      cache.values.erase(c);
    }
  }

  void ensure_dataset(const std::string& owner_id, const std::string& dataset, Millis t) {
    writer
        ->prepare(
            "INSERT OR IGNORE INTO datasets(owner, name, created, last_modified, last_modified_by, "
            "last_sync_count, last_sync_time) VALUES(?, ?, ?, ?, '', 0, 0)")
        .bind(owner_id)
        .bind(dataset)
        .bind(t)
        .bind(t)
        .run();
  }

  void write_local(const std::string& owner_id, const std::string& dataset, const std::string& key,
                   const std::optional<std::string>& value, Millis t) {
    // A local write: new value, dirty, one more local version; the server count and base stay.
    // A record that is dirty already only takes the new value: leaving `dirty` out of the SET
    // keeps the records_dirty index untouched, so rewriting a key between syncs costs no more
    // than it would without the index.
    writer
        ->prepare(
            "UPDATE records SET value = ?, local_version = local_version + 1, "
            "device_last_modified = ? WHERE owner = ? AND dataset = ? AND key = ? AND dirty = 1")
        .bind(value)
        .bind(t)
        .bind(owner_id)
        .bind(dataset)
        .bind(key)
        .run();
    if (sqlite3_changes(writer->handle()) > 0) return;
    writer
        ->prepare(
            "INSERT INTO records(owner, dataset, key, value, sync_count, last_modified, "
            "last_modified_by, device_last_modified, dirty, local_version, base_value, has_base) "
            "VALUES(?, ?, ?, ?, 0, 0, '', ?, 1, 1, NULL, 0) "
            "ON CONFLICT(owner, dataset, key) DO UPDATE SET value = excluded.value, dirty = 1, "
            "local_version = local_version + 1, device_last_modified = "
            "excluded.device_last_modified, "
            "base_value = CASE WHEN has_base = 2 THEN value ELSE base_value END, "
            "has_base = CASE WHEN has_base = 2 THEN 1 ELSE has_base END")
        .bind(owner_id)
        .bind(dataset)
        .bind(key)
        .bind(value)
        .bind(t)
        .run();
  }

  void set_last_sync_count(const std::string& owner_id, const std::string& dataset, int64_t count) {
    writer->prepare("UPDATE datasets SET last_sync_count = ? WHERE owner = ? AND name = ?")
        .bind(count)
        .bind(owner_id)
        .bind(dataset)
        .run();
  }
  void delete_records(const std::string& owner_id, const std::string& dataset) {
    writer->prepare("DELETE FROM records WHERE owner = ? AND dataset = ?")
        .bind(owner_id)
        .bind(dataset)
        .run();
  }

  void set_sync_result(const std::string& owner_id, const std::string& dataset,
                       const std::string& result) {
    writer
        ->prepare(
            "UPDATE datasets SET last_sync_time = ?, last_sync_result = ? WHERE owner = ? AND name "
            "= ?")
        .bind(now())
        .bind(result)
        .bind(owner_id)
        .bind(dataset)
        .run();
  }

  // After any write other than a local put: totals are recounted and cached values dropped.
  void forget_stats(const std::string& owner_id, const std::string& dataset) {
    stats.erase(std::make_pair(owner_id, dataset));
    cache_clear();
  }

  // Moves one owner's dataset into another owner's (possibly renamed), folding the records in as
  // local writes when the target already exists.
  void move_dataset(const std::string& from_owner, const std::string& from_name,
                    const std::string& to_owner, const std::string& to_name, Millis t) {
    auto exists = writer->prepare("SELECT 1 FROM datasets WHERE owner = ? AND name = ?");
    exists.bind(to_owner).bind(to_name);
    if (!exists.step()) {
      ensure_dataset(to_owner, to_name, t);
      writer
          ->prepare(
              "UPDATE datasets SET (created, last_modified, last_modified_by, last_sync_count, "
              "last_sync_time, last_sync_result) = (SELECT created, last_modified, "
              "last_modified_by, "
              "last_sync_count, last_sync_time, last_sync_result FROM datasets WHERE owner = ? AND "
              "name = ?) "
              "WHERE owner = ? AND name = ?")
          .bind(from_owner)
          .bind(from_name)
          .bind(to_owner)
          .bind(to_name)
          .run();
      writer->prepare("UPDATE records SET owner = ?, dataset = ? WHERE owner = ? AND dataset = ?")
          .bind(to_owner)
          .bind(to_name)
          .bind(from_owner)
          .bind(from_name)
          .run();
    } else {
      std::vector<Record> rows;
      auto s = writer->prepare("SELECT " CAIRN_LOCAL_RECORD_COLUMNS
                               " FROM records WHERE owner = ? AND dataset = ?");
      s.bind(from_owner).bind(from_name);
      while (s.step()) rows.push_back(schema::read_record(s));
      for (const auto& r : rows) {
        // Only local changes carry over: a clean record is the old owner's server state.
        if (r.dirty) write_local(to_owner, to_name, r.key, r.value, r.device_last_modified);
      }
      delete_records(from_owner, from_name);
    }
    writer->prepare("DELETE FROM datasets WHERE owner = ? AND name = ?")
        .bind(from_owner)
        .bind(from_name)
        .run();
    forget_stats(from_owner, from_name);
    forget_stats(to_owner, to_name);
  }

  // Runs fn, turning a SQLite exception into the Status a caller sees.
  Status translated(const std::function<Status()>& fn) const {
    try {
      return fn();
    } catch (const sqlite::Error& e) {
      return translate(e);
    }
  }

  Status translate(const sqlite::Error& e) const {
    if (e.corrupt()) {
      return Status(ErrorCode::kCorruption,
                    "local store " + path + " is corrupt or not a cairn database (" + e.what() +
                        "). Move the file aside (it may hold unsynced writes) and reopen: cairn "
                        "starts an empty store and the next sync refills it from the server.");
    }
    return Status(ErrorCode::kStorage, std::string("local store ") + path + ": " + e.what());
  }
};

// Runs a read on a pooled reader, turning a SQLite exception into the Status a caller sees.
template <typename T, typename Fn>
Result<T> read_translated(LocalStore::Impl& impl, Fn fn) {
  try {
    return impl.with_reader(fn);
  } catch (const sqlite::Error& e) {
    return impl.translate(e);
  }
}

}  // namespace cairn::localstore
