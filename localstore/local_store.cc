// LocalStore on SQLite (docs/localstore.md).
#include "localstore/local_store.h"

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
namespace {

using sqlite::Stmt;

// user_version N means the first N entries have run. Never edit a shipped entry; append.
const char* const kMigrations[] = {
    // 1: datasets, records with their sync state and base value, metadata.
    R"sql(
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE datasets(
      owner TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
      last_modified INTEGER NOT NULL, last_modified_by TEXT NOT NULL,
      last_sync_count INTEGER NOT NULL, last_sync_time INTEGER NOT NULL,
      PRIMARY KEY(owner, name));
    CREATE TABLE records(
      owner TEXT NOT NULL, dataset TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
      sync_count INTEGER NOT NULL, last_modified INTEGER NOT NULL, last_modified_by TEXT NOT NULL,
      device_last_modified INTEGER NOT NULL, dirty INTEGER NOT NULL, local_version INTEGER NOT NULL,
      base_value TEXT, has_base INTEGER NOT NULL,
      PRIMARY KEY(owner, dataset, key),
      FOREIGN KEY(owner, dataset) REFERENCES datasets(owner, name));
    )sql",
    // 2: the outcome of the last sync, shown by status tools. Adding a column keeps every row.
    R"sql(
    ALTER TABLE datasets ADD COLUMN last_sync_result TEXT NOT NULL DEFAULT '';
    )sql",
    // 3: a partial index of the dirty records, so a sync finds its pending changes without
    // reading the whole dataset (cost grows with changes, not with size). Only dirty rows are in
    // it: a put adds one entry, a push removes it, a pulled record never touches it.
    // From this version on, has_base = 2 means "the base is the value itself": a clean record
    // stores its value once instead of twice, and the first local write moves it to base_value.
    R"sql(
    CREATE INDEX records_dirty ON records(owner, dataset, key) WHERE dirty = 1;
    )sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

#define RECORD_COLUMNS                                                                     \
  "key, value, sync_count, last_modified, last_modified_by, device_last_modified, dirty, " \
  "local_version, base_value, has_base"

Record read_record(const Stmt& s) {
  Record r;
  r.key = s.text(0);
  r.value = s.opt_text(1);
  r.sync_count = s.i64(2);
  r.last_modified = s.i64(3);
  r.last_modified_by = s.text(4);
  r.device_last_modified = s.i64(5);
  r.dirty = s.i64(6) != 0;
  r.local_version = s.i64(7);
  // has_base 2: the base is the value itself (clean since the last sync), stored once.
  int64_t has_base = s.i64(9);
  r.base_value = has_base == 2 ? r.value : s.opt_text(8);
  r.has_base = has_base != 0;
  return r;
}

Status invalid(const std::string& message) { return Status(ErrorCode::kInvalidParameter, message); }
Status limit(const std::string& message) { return Status(ErrorCode::kLimitExceeded, message); }

// Registry: one instance per open file in this process.
std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, std::weak_ptr<LocalStore>>& registry() {
  static std::map<std::string, std::weak_ptr<LocalStore>> r;
  return r;
}

}  // namespace

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
        if (impl->readers.size() < 8) impl->readers.push_back(std::move(c));
      }
    } give_back{this, c};
    return fn(*c);
  }

  void migrate() {
    auto s = writer->prepare("PRAGMA user_version");
    s.step();
    int64_t have = s.i64(0);
    if (have > kSchemaVersion) {
      throw sqlite::Error("the store's schema version " + std::to_string(have) +
                              " is newer than this build of cairn (" +
                              std::to_string(kSchemaVersion) + ")",
                          SQLITE_ERROR);
    }
    if (have == kSchemaVersion) return;
    sqlite::Transaction t(*writer, "BEGIN IMMEDIATE");
    for (int64_t v = have + 1; v <= kSchemaVersion; ++v) {
      writer->exec(kMigrations[v - 1]);
      std::string set = "PRAGMA user_version=" + std::to_string(v);
      writer->exec(set.c_str());
    }
    t.commit();
  }

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
      auto s =
          writer->prepare("SELECT " RECORD_COLUMNS " FROM records WHERE owner = ? AND dataset = ?");
      s.bind(from_owner).bind(from_name);
      while (s.step()) rows.push_back(read_record(s));
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

  Status guarded(const std::function<Status()>& fn) const {
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

template <typename T, typename Fn>
Result<T> read_guarded(LocalStore::Impl& impl, Fn fn) {
  try {
    return impl.with_reader(fn);
  } catch (const sqlite::Error& e) {
    return impl.translate(e);
  }
}

// --- opening -------------------------------------------------------------------------------------

Result<std::shared_ptr<LocalStore>> LocalStore::open(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->clock = options.clock ? options.clock : Clock::system();
  impl->memory = options.path.empty() || options.path == ":memory:";
  static std::atomic<int> memory_counter{0};
  if (impl->memory) {
    impl->path = "file:cairn-memory-" + std::to_string(getpid()) + "-" +
                 std::to_string(++memory_counter) + "?mode=memory&cache=shared";
  } else {
    std::error_code ec;
    auto parent = std::filesystem::path(options.path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    impl->path = std::filesystem::weakly_canonical(options.path, ec).string();
    if (ec) impl->path = options.path;
  }

  std::lock_guard<std::mutex> l(registry_mu());
  if (!impl->memory) {
    auto it = registry().find(impl->path);
    if (it != registry().end()) {
      if (auto existing = it->second.lock()) return existing;
    }
  }
  try {
    impl->writer = impl->connect();
    impl->migrate();
    impl->load_owner();
  } catch (const sqlite::Error& e) {
    return impl->translate(e);
  }
  std::string key = impl->path;
  bool memory = impl->memory;
  std::shared_ptr<LocalStore> store(new LocalStore(std::move(impl)));
  if (!memory) registry()[key] = store;
  return store;
}

LocalStore::LocalStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalStore::~LocalStore() = default;

const Limits& LocalStore::limits() const { return impl_->options.limits; }
std::string LocalStore::path() const { return impl_->path; }

// --- identity ------------------------------------------------------------------------------------

std::string LocalStore::owner() const { return impl_->current_owner(); }

bool LocalStore::has_identity() const {
  std::lock_guard<std::mutex> l(impl_->owner_mu);
  return impl_->has_identity;
}

Status LocalStore::set_identity(const std::string& identity_id, IdentityChange change) {
  if (identity_id.empty() || identity_id.rfind("provisional:", 0) == 0) {
    return Status(ErrorCode::kInvalidArgument, "not an identity id: '" + identity_id + "'");
  }
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string old = impl_->current_owner();
  if (old == identity_id) return Status::OK();
  bool from_provisional = !has_identity();
  Status s = impl_->guarded([&] {
    sqlite::Transaction t(*impl_->writer, "BEGIN IMMEDIATE");
    Millis now = impl_->now();
    if (from_provisional || change == IdentityChange::kMerge) {
      std::vector<std::string> names;
      auto s = impl_->writer->prepare("SELECT name FROM datasets WHERE owner = ? ORDER BY name");
      s.bind(old);
      while (s.step()) names.push_back(s.text(0));
      for (const auto& name : names) {
        std::string target = name;
        if (!from_provisional) {
          // As the server names a merged dataset: NAME.OLD_ID, NAME shortened to fit 128.
          std::string suffix = "." + old;
          target = name.substr(0, 128 - std::min<size_t>(suffix.size(), 127)) + suffix;
        }
        impl_->move_dataset(old, name, identity_id, target, now);
      }
    }
    impl_->set_meta_locked("cairn.identity_id", identity_id);
    t.commit();
    impl_->cache_clear();
    return Status::OK();
  });
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(impl_->owner_mu);
  impl_->owner = identity_id;
  impl_->has_identity = true;
  return s;
}

Status LocalStore::clear_identity() {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  return impl_->guarded([&] {
    impl_->writer->prepare("DELETE FROM meta WHERE key = 'cairn.identity_id'").run();
    impl_->cache_clear();
    impl_->load_owner();
    return Status::OK();
  });
}

// --- records -------------------------------------------------------------------------------------

Status LocalStore::put_all(const std::string& dataset,
                           const std::map<std::string, std::optional<std::string>>& entries) {
  if (!valid_dataset_name(dataset)) {
    return invalid("dataset name '" + dataset.substr(0, 64) +
                   "' must match [a-zA-Z0-9_.:-]{1,128}");
  }
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->guarded([&]() -> Status {
    // Stage in place against the running totals, keeping an undo log of only what is touched, so
    // a refused or failed batch leaves the totals exactly as they were.
    Impl::Stats& st = impl_->stats_for(owner, dataset);
    const bool existed = st.exists;
    const int64_t live_before = st.live, bytes_before = st.bytes;
    std::vector<std::pair<const std::string*, std::optional<int64_t>>> undo;
    undo.reserve(entries.size());
    auto restore = [&] {
      st.exists = existed;
      st.live = live_before;
      st.bytes = bytes_before;
      for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
        if (it->second) {
          st.live_bytes[*it->first] = *it->second;
        } else {
          st.live_bytes.erase(*it->first);
        }
      }
    };
    int64_t created = 0;
    for (const auto& [key, value] : entries) {
      auto old = st.live_bytes.find(key);
      undo.emplace_back(
          &key, old == st.live_bytes.end() ? std::nullopt : std::optional<int64_t>(old->second));
      Status s = impl_->stage_write(owner, dataset, key, value, st, &created);
      if (!s.ok()) {
        restore();
        return s;  // nothing written
      }
    }
    Millis now = impl_->now();
    try {
      sqlite::Transaction t(*impl_->writer, "BEGIN IMMEDIATE");
      if (!existed) impl_->ensure_dataset(owner, dataset, now);
      for (const auto& [key, value] : entries) impl_->write_local(owner, dataset, key, value, now);
      t.commit();
    } catch (...) {
      restore();
      throw;
    }
    st.exists = true;
    // A few writes stay readable from memory; a large batch starts the cache afresh.
    constexpr size_t kCacheWritesUpTo = 16;
    if (impl_->options.read_cache_bytes > 0 && entries.size() <= kCacheWritesUpTo) {
      std::lock_guard<std::mutex> l(impl_->cache.mu);
      ++impl_->cache.generation;
      for (const auto& [key, value] : entries)
        impl_->cache_put(Impl::cache_key(owner, dataset, key), value);
    } else if (impl_->options.read_cache_bytes > 0) {
      impl_->cache_clear();
    }
    return Status::OK();
  });
}

Status LocalStore::put(const std::string& dataset, const std::string& key,
                       const std::string& value) {
  return put_all(dataset, {{key, value}});
}

Status LocalStore::remove(const std::string& dataset, const std::string& key) {
  return put_all(dataset, {{key, std::nullopt}});
}

Result<std::optional<std::string>> LocalStore::get(const std::string& dataset,
                                                   const std::string& key) {
  std::string owner = impl_->current_owner();
  bool caching = impl_->options.read_cache_bytes > 0;
  std::string ck;
  uint64_t generation = 0;
  if (caching) {
    ck = Impl::cache_key(owner, dataset, key);
    std::lock_guard<std::mutex> l(impl_->cache.mu);
    auto it = impl_->cache.values.find(ck);
    if (it != impl_->cache.values.end()) return it->second;
    generation = impl_->cache.generation;
  }
  auto r = read_guarded<std::optional<std::string>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare("SELECT value FROM records WHERE owner = ? AND dataset = ? AND key = ?");
    s.bind(owner).bind(dataset).bind(key);
    std::optional<std::string> v;
    if (s.step()) v = s.opt_text(0);
    return v;
  });
  if (caching && r.ok()) {
    std::lock_guard<std::mutex> l(impl_->cache.mu);
    if (impl_->cache.generation == generation) impl_->cache_put(std::move(ck), *r);
  }
  return r;
}

Result<std::optional<Record>> LocalStore::record(const std::string& dataset,
                                                 const std::string& key) {
  std::string owner = impl_->current_owner();
  return read_guarded<std::optional<Record>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare("SELECT " RECORD_COLUMNS
                       " FROM records WHERE owner = ? AND dataset = ? AND key = ?");
    s.bind(owner).bind(dataset).bind(key);
    std::optional<Record> r;
    if (s.step()) r = read_record(s);
    return r;
  });
}

Result<std::map<std::string, std::string>> LocalStore::get_all(const std::string& dataset) {
  std::string owner = impl_->current_owner();
  return read_guarded<std::map<std::string, std::string>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare(
        "SELECT key, value FROM records WHERE owner = ? AND dataset = ? AND value IS NOT NULL");
    s.bind(owner).bind(dataset);
    std::map<std::string, std::string> out;
    while (s.step()) out.emplace(s.text(0), s.text(1));
    return out;
  });
}

Result<std::vector<Record>> LocalStore::get_all_records(const std::string& dataset) {
  std::string owner = impl_->current_owner();
  return read_guarded<std::vector<Record>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare("SELECT " RECORD_COLUMNS
                       " FROM records WHERE owner = ? AND dataset = ? ORDER BY key");
    s.bind(owner).bind(dataset);
    std::vector<Record> out;
    while (s.step()) out.push_back(read_record(s));
    return out;
  });
}

Result<int64_t> LocalStore::size_in_bytes(const std::string& dataset, const std::string& key) {
  auto r = get(dataset, key);
  if (!r.ok()) return r.status();
  return *r ? static_cast<int64_t>(key.size() + (*r)->size()) : int64_t{0};
}

Result<int64_t> LocalStore::total_size_in_bytes(const std::string& dataset) {
  std::string owner = impl_->current_owner();
  return read_guarded<int64_t>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare(
        "SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0) FROM "
        "records "
        "WHERE owner = ? AND dataset = ? AND value IS NOT NULL");
    s.bind(owner).bind(dataset);
    s.step();
    return s.i64(0);
  });
}

Result<bool> LocalStore::is_changed(const std::string& dataset, const std::string& key) {
  auto r = record(dataset, key);
  if (!r.ok()) return r.status();
  return *r && (*r)->dirty;
}

// --- datasets ------------------------------------------------------------------------------------

namespace {

constexpr const char* kDatasetQuery =
    "SELECT d.name, d.created, MAX(d.last_modified, COALESCE(MAX(r.device_last_modified), 0)), "
    "d.last_modified_by, "
    "COALESCE(SUM(CASE WHEN r.value IS NOT NULL THEN length(CAST(r.key AS BLOB)) + "
    "length(CAST(r.value AS BLOB)) END), 0), "
    "COUNT(r.value), COALESCE(SUM(r.dirty), 0), d.last_sync_count, d.last_sync_time, "
    "d.last_sync_result FROM datasets d LEFT JOIN records r ON r.owner = d.owner AND r.dataset = "
    "d.name "
    "WHERE d.owner = ? AND (? = '' OR d.name = ?) GROUP BY d.name ORDER BY d.name";

DatasetInfo read_info(const Stmt& s) {
  DatasetInfo d;
  d.name = s.text(0);
  d.created = s.i64(1);
  d.last_modified = s.i64(2);
  d.last_modified_by = s.text(3);
  d.storage_bytes = s.i64(4);
  d.record_count = s.i64(5);
  d.dirty_count = s.i64(6);
  d.last_sync_count = s.i64(7);
  d.last_sync_time = s.i64(8);
  d.last_sync_result = s.text(9);
  return d;
}

}  // namespace

Result<std::vector<DatasetInfo>> LocalStore::list_datasets() {
  std::string owner = impl_->current_owner();
  return read_guarded<std::vector<DatasetInfo>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare(kDatasetQuery);
    s.bind(owner).bind(std::string()).bind(std::string());
    std::vector<DatasetInfo> out;
    while (s.step()) out.push_back(read_info(s));
    return out;
  });
}

Result<std::optional<DatasetInfo>> LocalStore::dataset(const std::string& name) {
  std::string owner = impl_->current_owner();
  return read_guarded<std::optional<DatasetInfo>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare(kDatasetQuery);
    s.bind(owner).bind(name).bind(name);
    std::optional<DatasetInfo> out;
    if (s.step()) out = read_info(s);
    return out;
  });
}

Result<std::optional<SyncState>> LocalStore::sync_state(const std::string& name) {
  std::string owner = impl_->current_owner();
  return read_guarded<std::optional<SyncState>>(*impl_, [&](sqlite::Connection& c) {
    auto d = c.prepare("SELECT last_sync_count FROM datasets WHERE owner = ? AND name = ?");
    d.bind(owner).bind(name);
    if (!d.step()) return std::optional<SyncState>();
    SyncState st;
    st.last_sync_count = d.i64(0);
    auto dirty = c.prepare(  // served by the records_dirty partial index
        "SELECT COUNT(*) FROM records WHERE owner = ? AND dataset = ? AND dirty = 1");
    dirty.bind(owner).bind(name);
    dirty.step();
    st.dirty_count = dirty.i64(0);
    return std::optional<SyncState>(st);
  });
}

Status LocalStore::delete_dataset(const std::string& name) {
  if (!valid_dataset_name(name))
    return invalid("dataset name '" + name.substr(0, 64) + "' is not valid");
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->guarded([&] {
    sqlite::Transaction t(*impl_->writer, "BEGIN IMMEDIATE");
    impl_->ensure_dataset(owner, name, impl_->now());
    impl_->delete_records(owner, name);
    impl_->set_last_sync_count(owner, name, kDeletePending);
    t.commit();
    impl_->forget_stats(owner, name);
    return Status::OK();
  });
}

Status LocalStore::purge_dataset(const std::string& name) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->guarded([&] {
    sqlite::Transaction t(*impl_->writer, "BEGIN IMMEDIATE");
    impl_->delete_records(owner, name);
    impl_->writer->prepare("DELETE FROM datasets WHERE owner = ? AND name = ?")
        .bind(owner)
        .bind(name)
        .run();
    t.commit();
    impl_->forget_stats(owner, name);
    return Status::OK();
  });
}

Result<bool> LocalStore::holds_records_missing_from(const std::string& dataset,
                                                    const std::set<std::string>& on_server) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  bool missing = false;
  Status s = impl_->guarded([&] {
    auto q = impl_->writer->prepare(
        "SELECT key FROM records WHERE owner = ? AND dataset = ? AND sync_count > 0");
    q.bind(owner).bind(dataset);
    while (!missing && q.step()) missing = !on_server.count(q.text(0));
    return Status::OK();
  });
  if (!s.ok()) return s;
  return missing;
}

Status LocalStore::wipe() {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  Status s = impl_->guarded([&] {
    sqlite::Transaction t(*impl_->writer, "BEGIN IMMEDIATE");
    impl_->writer->exec("DELETE FROM records; DELETE FROM datasets; DELETE FROM meta;");
    t.commit();
    impl_->stats.clear();
    impl_->cache_clear();
    impl_->load_owner();
    return Status::OK();
  });
  return s;
}

// --- sync ----------------------------------------------------------------------------------------

Result<std::vector<Conflict>> LocalStore::apply_remote(const std::string& dataset,
                                                       const std::vector<RemoteRecord>& records,
                                                       int64_t dataset_sync_count) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  std::vector<Conflict> conflicts;
  std::vector<std::pair<const std::string*, const std::optional<std::string>*>> written;
  Status s = impl_->guarded([&] {
    auto& c = *impl_->writer;
    if (records.empty()) {
      // Nothing new on the server (the common case of a sync): no write unless the count moves.
      auto d = c.prepare("SELECT last_sync_count FROM datasets WHERE owner = ? AND name = ?");
      d.bind(owner).bind(dataset);
      if (d.step() && d.i64(0) >= dataset_sync_count) return Status::OK();
    }
    sqlite::Transaction t(c, "BEGIN IMMEDIATE");
    impl_->ensure_dataset(owner, dataset, impl_->now());
    int64_t first_conflict = INT64_MAX;
    Millis newest = 0;
    std::string newest_by;
    written.clear();
    for (const auto& r : records) {
      auto q = c.prepare("SELECT " RECORD_COLUMNS
                         " FROM records WHERE owner = ? AND dataset = ? AND key = ?");
      q.bind(owner).bind(dataset).bind(r.key);
      std::optional<Record> local;
      if (q.step()) local = read_record(q);
      if (r.last_modified > newest) {
        newest = r.last_modified;
        newest_by = r.last_modified_by;
      }
      if (local && local->dirty) {
        if (r.sync_count <= local->sync_count) continue;  // a version the local change is based on
        if (local->value != r.value) {
          conflicts.push_back({*local, r});
          first_conflict = std::min(first_conflict, r.sync_count);
          continue;
        }
        // Both sides wrote the same value: nothing to push any more.
      }
      c.prepare(
           "INSERT INTO records(owner, dataset, key, value, sync_count, last_modified, "
           "last_modified_by, device_last_modified, dirty, local_version, base_value, has_base) "
           "VALUES(?, ?, ?, ?, ?, ?, ?, ?, 0, 0, NULL, 2) "
           "ON CONFLICT(owner, dataset, key) DO UPDATE SET value = excluded.value, "
           "sync_count = excluded.sync_count, last_modified = excluded.last_modified, "
           "last_modified_by = excluded.last_modified_by, "
           "device_last_modified = excluded.device_last_modified, dirty = 0, "
           "base_value = NULL, has_base = 2")
          .bind(owner)
          .bind(dataset)
          .bind(r.key)
          .bind(r.value)
          .bind(r.sync_count)
          .bind(r.last_modified)
          .bind(r.last_modified_by)
          .bind(r.device_last_modified.value_or(r.last_modified))
          .run();
      written.emplace_back(&r.key, &r.value);
    }
    // Stop short of the first conflict, so an interrupted resolution sees it again.
    int64_t count = dataset_sync_count;
    if (first_conflict != INT64_MAX) count = std::min(count, first_conflict - 1);
    c.prepare(
         "UPDATE datasets SET last_sync_count = MAX(last_sync_count, ?), "
         "last_modified = MAX(last_modified, ?), "
         "last_modified_by = CASE WHEN ? > last_modified THEN ? ELSE last_modified_by END "
         "WHERE owner = ? AND name = ?")
        .bind(count)
        .bind(newest)
        .bind(newest)
        .bind(newest_by)
        .bind(owner)
        .bind(dataset)
        .run();
    t.commit();
    impl_->note_synced(owner, dataset, written);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return conflicts;
}

Result<std::vector<PushItem>> LocalStore::dirty_records(const std::string& dataset) {
  std::string owner = impl_->current_owner();
  return read_guarded<std::vector<PushItem>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare(
        "SELECT key, value, sync_count, device_last_modified, local_version FROM records "
        "WHERE owner = ? AND dataset = ? AND dirty = 1 ORDER BY key");
    s.bind(owner).bind(dataset);
    std::vector<PushItem> out;
    while (s.step()) out.push_back({s.text(0), s.opt_text(1), s.i64(2), s.i64(3), s.i64(4)});
    return out;
  });
}

Status LocalStore::mark_pushed(const std::string& dataset, const std::vector<PushItem>& pushed,
                               const std::vector<RemoteRecord>& results,
                               std::optional<int64_t> new_last_sync_count,
                               const std::optional<std::string>& sync_result) {
  std::map<std::string, const RemoteRecord*> by_key;
  for (const auto& r : results) by_key[r.key] = &r;
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->guarded([&] {
    auto& c = *impl_->writer;
    sqlite::Transaction t(c, "BEGIN IMMEDIATE");
    for (const auto& item : pushed) {
      auto it = by_key.find(item.key);
      if (it == by_key.end()) continue;
      const RemoteRecord& r = *it->second;
      // Clean only if nothing was written since the snapshot; the new count applies either way,
      // so the next push of a newer local write carries the right SyncCount. A clean record's
      // base is its value; a record written meanwhile keeps the pushed value as its base.
      c.prepare(
           "UPDATE records SET sync_count = ?, last_modified = ?, last_modified_by = ?, "
           "base_value = CASE WHEN local_version = ? THEN NULL ELSE ? END, "
           "has_base = CASE WHEN local_version = ? THEN 2 ELSE 1 END, "
           "dirty = CASE WHEN local_version = ? THEN 0 ELSE 1 END "
           "WHERE owner = ? AND dataset = ? AND key = ?")
          .bind(r.sync_count)
          .bind(r.last_modified)
          .bind(r.last_modified_by)
          .bind(item.local_version)
          .bind(item.value)
          .bind(item.local_version)
          .bind(item.local_version)
          .bind(owner)
          .bind(dataset)
          .bind(item.key)
          .run();
    }
    if (new_last_sync_count) impl_->set_last_sync_count(owner, dataset, *new_last_sync_count);
    if (sync_result) impl_->set_sync_result(owner, dataset, *sync_result);
    t.commit();
    return Status::OK();
  });
}

Status LocalStore::resolve(const std::string& dataset, const Conflict& conflict,
                           const std::optional<std::string>& value, bool dirty) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->guarded([&] {
    auto& c = *impl_->writer;
    sqlite::Transaction t(c, "BEGIN IMMEDIATE");
    // A local write made after the conflict was reported wins over the resolution; it only takes
    // the remote count so its push can land.
    c.prepare(
         "UPDATE records SET "
         "value = CASE WHEN local_version = ? THEN ? ELSE value END, "
         "dirty = CASE WHEN local_version = ? THEN ? ELSE 1 END, "
         "local_version = local_version + 1, sync_count = ?, last_modified = ?, "
         "last_modified_by = ?, base_value = ?, has_base = 1 "
         "WHERE owner = ? AND dataset = ? AND key = ?")
        .bind(conflict.local.local_version)
        .bind(value)
        .bind(conflict.local.local_version)
        .bind(dirty)
        .bind(conflict.remote.sync_count)
        .bind(conflict.remote.last_modified)
        .bind(conflict.remote.last_modified_by)
        .bind(conflict.remote.value)
        .bind(owner)
        .bind(dataset)
        .bind(conflict.local.key)
        .run();
    t.commit();
    impl_->forget_stats(owner, dataset);
    return Status::OK();
  });
}

Status LocalStore::set_last_sync_count(const std::string& dataset, int64_t count) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->guarded([&] {
    impl_->set_last_sync_count(owner, dataset, count);
    return Status::OK();
  });
}

Status LocalStore::reset_for_recreate(const std::string& dataset) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->guarded([&] {
    auto& c = *impl_->writer;
    sqlite::Transaction t(c, "BEGIN IMMEDIATE");
    c.prepare("DELETE FROM records WHERE owner = ? AND dataset = ? AND value IS NULL")
        .bind(owner)
        .bind(dataset)
        .run();
    c.prepare(
         "UPDATE records SET dirty = 1, sync_count = 0, local_version = local_version + 1, "
         "base_value = NULL, has_base = 0 WHERE owner = ? AND dataset = ?")
        .bind(owner)
        .bind(dataset)
        .run();
    impl_->set_last_sync_count(owner, dataset, 0);
    t.commit();
    impl_->forget_stats(owner, dataset);
    return Status::OK();
  });
}

Status LocalStore::reoffer_after_server_rollback(const std::string& dataset,
                                                 const std::set<std::string>& server_keys) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->guarded([&] {
    auto& c = *impl_->writer;
    sqlite::Transaction t(c, "BEGIN IMMEDIATE");
    std::vector<std::string> gone;  // removed here, and not on the server either
    {
      auto q =
          c.prepare("SELECT key FROM records WHERE owner = ? AND dataset = ? AND value IS NULL");
      q.bind(owner).bind(dataset);
      while (q.step()) {
        std::string key = q.text(0);
        if (!server_keys.count(key)) gone.push_back(std::move(key));
      }
    }
    for (const auto& key : gone) {
      c.prepare("DELETE FROM records WHERE owner = ? AND dataset = ? AND key = ?")
          .bind(owner)
          .bind(dataset)
          .bind(key)
          .run();
    }
    c.prepare(
         "UPDATE records SET dirty = 1, sync_count = 0, local_version = local_version + 1 "
         "WHERE owner = ? AND dataset = ?")
        .bind(owner)
        .bind(dataset)
        .run();
    impl_->set_last_sync_count(owner, dataset, 0);
    t.commit();
    impl_->forget_stats(owner, dataset);
    return Status::OK();
  });
}

Status LocalStore::update_dataset_metadata(const std::string& dataset, Millis created,
                                           Millis last_modified,
                                           const std::string& last_modified_by) {
  if (!valid_dataset_name(dataset))
    return invalid("dataset name '" + dataset.substr(0, 64) + "' is not valid");
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->guarded([&] {
    auto& c = *impl_->writer;
    sqlite::Transaction t(c, "BEGIN IMMEDIATE");
    impl_->ensure_dataset(owner, dataset, created);
    c.prepare(
         "UPDATE datasets SET created = ?, "
         "last_modified_by = CASE WHEN ? >= last_modified THEN ? ELSE last_modified_by END, "
         "last_modified = MAX(last_modified, ?) WHERE owner = ? AND name = ?")
        .bind(created)
        .bind(last_modified)
        .bind(last_modified_by)
        .bind(last_modified)
        .bind(owner)
        .bind(dataset)
        .run();
    t.commit();
    impl_->forget_stats(owner, dataset);
    return Status::OK();
  });
}

Status LocalStore::record_sync_result(const std::string& dataset, const std::string& result) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->guarded([&] {
    impl_->set_sync_result(owner, dataset, result);
    return Status::OK();
  });
}

// --- metadata and locks --------------------------------------------------------------------------

Result<int> LocalStore::synchronous() {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  try {
    auto s = impl_->writer->prepare("PRAGMA synchronous");
    s.step();
    return static_cast<int>(s.i64(0));
  } catch (const sqlite::Error& e) {
    return Status(ErrorCode::kStorage, e.what());
  }
}

Result<std::optional<std::string>> LocalStore::meta(const std::string& key) {
  return read_guarded<std::optional<std::string>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare("SELECT value FROM meta WHERE key = ?");
    s.bind(key);
    std::optional<std::string> v;
    if (s.step()) v = s.text(0);
    return v;
  });
}

Status LocalStore::set_meta(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  return impl_->guarded([&] {
    impl_->set_meta_locked(key, value);
    return Status::OK();
  });
}

Status LocalStore::delete_meta(const std::string& key) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  return impl_->guarded([&] {
    impl_->writer->prepare("DELETE FROM meta WHERE key = ?").bind(key).run();
    return Status::OK();
  });
}

Result<std::optional<std::string>> LocalStore::device_id(const std::string& platform) {
  return meta("cairn.device." + owner() + "." + platform);
}

Status LocalStore::set_device_id(const std::string& platform, const std::string& device_id) {
  return set_meta("cairn.device." + owner() + "." + platform, device_id);
}

Result<std::vector<std::string>> LocalStore::subscriptions() {
  std::string prefix = "cairn.subscription." + owner() + ".";
  return read_guarded<std::vector<std::string>>(*impl_, [&](sqlite::Connection& c) {
    // Keys in [prefix, prefix + 0xFF) are exactly those starting with prefix.
    auto s = c.prepare("SELECT key FROM meta WHERE key >= ? AND key < ? ORDER BY key");
    s.bind(prefix).bind(prefix + "\xff");
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0).substr(prefix.size()));
    return out;
  });
}

Status LocalStore::set_subscribed(const std::string& dataset, bool subscribed) {
  std::string key = "cairn.subscription." + owner() + "." + dataset;
  return subscribed ? set_meta(key, "1") : delete_meta(key);
}

std::shared_ptr<std::mutex> LocalStore::dataset_lock(const std::string& dataset) {
  std::string key = impl_->current_owner() + '\n' + dataset;
  std::lock_guard<std::mutex> l(impl_->locks_mu);
  auto& slot = impl_->locks[key];
  auto lock = slot.lock();
  if (!lock) {
    lock = std::make_shared<std::mutex>();
    slot = lock;
  }
  return lock;
}

bool valid_dataset_name(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (unsigned char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace cairn::localstore
