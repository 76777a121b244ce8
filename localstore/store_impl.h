// The local store's state, shared by the files that implement LocalStore: the writer and the
// pooled readers, the owner, the dataset locks, the quota's running totals (quota.h) and the read
// cache (read_cache.h). Private to localstore/.
#pragma once

#include "localstore/local_store.h"
#include "localstore/quota.h"
#include "localstore/read_cache.h"
#include "localstore/schema.h"

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <random>
#include <unordered_map>

#include "common/checkpointer.h"
#include "common/sqlite.h"

namespace cairn::localstore {

// Readers kept open between reads: enough for the engine's threads and a game's, few enough to
// bound the file handles and page caches a store holds.
constexpr size_t kPooledReaders = 8;

using sqlite::Stmt;

inline Status invalid(const std::string& message) {
  return Status(ErrorCode::kInvalidParameter, message);
}

struct LocalStore::Impl {
  Options options;
  std::string path;  // canonical file path, or the in-memory URI
  bool memory = false;
  std::shared_ptr<Clock> clock;

  // The writer's checkpoints, off its commits (common/checkpointer.h); none in memory. Declared
  // before the connections, so it outlives them.
  std::unique_ptr<sqlite::Checkpointer> checkpointer;
  std::mutex write_mu;  // guards writer and quota
  std::unique_ptr<sqlite::Connection> writer;
  std::mutex readers_mu;
  std::vector<std::unique_ptr<sqlite::Connection>> readers;

  mutable std::mutex owner_mu;
  std::string owner;
  bool has_identity = false;

  std::mutex locks_mu;
  std::map<std::string, std::weak_ptr<std::mutex>> locks;

  ReadCache cache;
  Quota quota;  // kept under write_mu

  explicit Impl(const Options& o) : options(o), cache(o.read_cache_bytes), quota(o.limits) {}

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

  // After a sync wrote these records: the totals follow (when loaded) and the read cache forgets
  // them, instead of both starting over, so the next put costs no recount of the dataset.
  void note_synced(
      const std::string& owner_id, const std::string& dataset,
      const std::vector<std::pair<const std::string*, const std::optional<std::string>*>>&
          written) {
    if (written.empty()) return;
    quota.synced(owner_id, dataset, written);
    cache.forget(owner_id, dataset, written);
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
    // A record that is dirty already only takes the new value, in one statement that leaves the
    // sync state and the records_dirty index untouched: rewriting a key between syncs costs no
    // more than it would without them.
    writer
        ->prepare(
            "UPDATE record_values SET value = ?, local_version = local_version + 1, "
            "device_last_modified = ? WHERE id = (SELECT id FROM records WHERE owner = ? AND "
            "dataset = ? AND key = ? AND dirty = 1)")
        .bind(value)
        .bind(t)
        .bind(owner_id)
        .bind(dataset)
        .bind(key)
        .run();
    if (sqlite3_changes(writer->handle()) > 0) return;
    int64_t id = 0;
    bool base_is_value = false;  // has_base 2: a clean record's base is its value
    {
      auto found = writer->prepare(
          "SELECT id, has_base FROM records WHERE owner = ? AND dataset = ? AND key = ?");
      found.bind(owner_id).bind(dataset).bind(key);
      if (found.step()) {
        id = found.i64(0);
        base_is_value = found.i64(1) == 2;
      }
    }
    if (id == 0) {
      writer
          ->prepare(
              "INSERT INTO records(owner, dataset, key, sync_count, last_modified, "
              "last_modified_by, dirty, has_base) VALUES(?, ?, ?, 0, 0, '', 1, 0)")
          .bind(owner_id)
          .bind(dataset)
          .bind(key)
          .run();
      writer
          ->prepare(
              "INSERT INTO record_values(id, value, base_value, local_version, "
              "device_last_modified) VALUES(?, ?, NULL, 1, ?)")
          .bind(static_cast<int64_t>(sqlite3_last_insert_rowid(writer->handle())))
          .bind(value)
          .bind(t)
          .run();
      return;
    }
    // A clean record: the value it had becomes the stored base when the base was the value.
    writer
        ->prepare(
            "UPDATE records SET dirty = 1, has_base = CASE WHEN has_base = 2 THEN 1 ELSE "
            "has_base END WHERE id = ?")
        .bind(id)
        .run();
    writer
        ->prepare(base_is_value ? "UPDATE record_values SET base_value = value, value = ?, "
                                  "local_version = local_version + 1, device_last_modified = ? "
                                  "WHERE id = ?"
                                : "UPDATE record_values SET value = ?, local_version = "
                                  "local_version + 1, device_last_modified = ? WHERE id = ?")
        .bind(value)
        .bind(t)
        .bind(id)
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
  void forget_totals(const std::string& owner_id, const std::string& dataset) {
    quota.forget(owner_id, dataset);
    cache.clear();
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
      auto s = writer->prepare(CAIRN_LOCAL_RECORD_SELECT "WHERE r.owner = ? AND r.dataset = ?");
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
    forget_totals(from_owner, from_name);
    forget_totals(to_owner, to_name);
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
