// The local store's records and datasets as the game reads and writes them: puts within the
// limits, reads through the cache, and the datasets' listing and deletion.
#include "localstore/store_impl.h"

namespace cairn::localstore {

// --- records -------------------------------------------------------------------------------------

Status LocalStore::put_all(const std::string& dataset,
                           const std::map<std::string, std::optional<std::string>>& entries) {
  if (!valid_dataset_name(dataset)) {
    return invalid("dataset name '" + dataset.substr(0, 64) +
                   "' must match [a-zA-Z0-9_.:-]{1,128}");
  }
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->translated([&]() -> Status {
    Quota::Batch batch(impl_->quota, *impl_->writer, owner, dataset);
    for (const auto& [key, value] : entries) {
      Status s = batch.stage(key, value);
      if (!s.ok()) {
        batch.undo();
        return s;  // nothing written
      }
    }
    Millis now = impl_->now();
    try {
      sqlite::Transaction t(*impl_->writer, "BEGIN IMMEDIATE");
      if (!batch.existed()) impl_->ensure_dataset(owner, dataset, now);
      for (const auto& [key, value] : entries) impl_->write_local(owner, dataset, key, value, now);
      t.commit();
    } catch (...) {
      batch.undo();
      throw;
    }
    batch.committed();
    // A few writes stay readable from memory; a large batch starts the cache afresh.
    constexpr size_t kCacheWritesUpTo = 16;
    if (entries.size() <= kCacheWritesUpTo) {
      impl_->cache.wrote(owner, dataset, entries);
    } else {
      impl_->cache.clear();
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
  bool caching = impl_->cache.enabled();
  std::string ck;
  uint64_t generation = 0;
  if (caching) {
    ck = ReadCache::key(owner, dataset, key);
    std::optional<std::string> cached;
    if (impl_->cache.find(ck, &cached, &generation)) return cached;
  }
  auto r = read_translated<std::optional<std::string>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare(
        "SELECT v.value FROM records r JOIN record_values v ON v.id = r.id "
        "WHERE r.owner = ? AND r.dataset = ? AND r.key = ?");
    s.bind(owner).bind(dataset).bind(key);
    std::optional<std::string> v;
    if (s.step()) v = s.opt_text(0);
    return v;
  });
  if (caching && r.ok()) impl_->cache.insert_if_unchanged(std::move(ck), generation, *r);
  return r;
}

Result<std::optional<Record>> LocalStore::record(const std::string& dataset,
                                                 const std::string& key) {
  std::string owner = impl_->current_owner();
  return read_translated<std::optional<Record>>(*impl_, [&](sqlite::Connection& c) {
    auto s =
        c.prepare(CAIRN_LOCAL_RECORD_SELECT "WHERE r.owner = ? AND r.dataset = ? AND r.key = ?");
    s.bind(owner).bind(dataset).bind(key);
    std::optional<Record> r;
    if (s.step()) r = schema::read_record(s);
    return r;
  });
}

Result<std::map<std::string, std::string>> LocalStore::get_all(const std::string& dataset) {
  std::string owner = impl_->current_owner();
  return read_translated<std::map<std::string, std::string>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare(
        "SELECT r.key, v.value FROM records r JOIN record_values v ON v.id = r.id "
        "WHERE r.owner = ? AND r.dataset = ? AND v.value IS NOT NULL");
    s.bind(owner).bind(dataset);
    std::map<std::string, std::string> out;
    while (s.step()) out.emplace(s.text(0), s.text(1));
    return out;
  });
}

Result<std::vector<Record>> LocalStore::get_all_records(const std::string& dataset) {
  std::string owner = impl_->current_owner();
  return read_translated<std::vector<Record>>(*impl_, [&](sqlite::Connection& c) {
    auto s =
        c.prepare(CAIRN_LOCAL_RECORD_SELECT "WHERE r.owner = ? AND r.dataset = ? ORDER BY r.key");
    s.bind(owner).bind(dataset);
    std::vector<Record> out;
    while (s.step()) out.push_back(schema::read_record(s));
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
  return read_translated<int64_t>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare(
        "SELECT COALESCE(SUM(length(CAST(r.key AS BLOB)) + length(CAST(v.value AS BLOB))), 0) "
        "FROM records r JOIN record_values v ON v.id = r.id "
        "WHERE r.owner = ? AND r.dataset = ? AND v.value IS NOT NULL");
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
    "SELECT d.name, d.created, MAX(d.last_modified, COALESCE(MAX(v.device_last_modified), 0)), "
    "d.last_modified_by, "
    "COALESCE(SUM(CASE WHEN v.value IS NOT NULL THEN length(CAST(r.key AS BLOB)) + "
    "length(CAST(v.value AS BLOB)) END), 0), "
    "COUNT(v.value), COALESCE(SUM(r.dirty), 0), d.last_sync_count, d.last_sync_time, "
    "d.last_sync_result FROM datasets d LEFT JOIN records r ON r.owner = d.owner AND r.dataset = "
    "d.name LEFT JOIN record_values v ON v.id = r.id "
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
  return read_translated<std::vector<DatasetInfo>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare(kDatasetQuery);
    s.bind(owner).bind(std::string()).bind(std::string());
    std::vector<DatasetInfo> out;
    while (s.step()) out.push_back(read_info(s));
    return out;
  });
}

Result<std::optional<DatasetInfo>> LocalStore::dataset(const std::string& name) {
  std::string owner = impl_->current_owner();
  return read_translated<std::optional<DatasetInfo>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare(kDatasetQuery);
    s.bind(owner).bind(name).bind(name);
    std::optional<DatasetInfo> out;
    if (s.step()) out = read_info(s);
    return out;
  });
}

Result<std::optional<SyncState>> LocalStore::sync_state(const std::string& name) {
  std::string owner = impl_->current_owner();
  return read_translated<std::optional<SyncState>>(*impl_, [&](sqlite::Connection& c) {
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
  return impl_->translated([&] {
    sqlite::Transaction t(*impl_->writer, "BEGIN IMMEDIATE");
    impl_->ensure_dataset(owner, name, impl_->now());
    impl_->delete_records(owner, name);
    impl_->set_last_sync_count(owner, name, kDeletePending);
    t.commit();
    impl_->forget_totals(owner, name);
    return Status::OK();
  });
}

Status LocalStore::purge_dataset(const std::string& name) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->translated([&] {
    sqlite::Transaction t(*impl_->writer, "BEGIN IMMEDIATE");
    impl_->delete_records(owner, name);
    impl_->writer->prepare("DELETE FROM datasets WHERE owner = ? AND name = ?")
        .bind(owner)
        .bind(name)
        .run();
    t.commit();
    impl_->forget_totals(owner, name);
    return Status::OK();
  });
}

Result<bool> LocalStore::holds_records_missing_from(const std::string& dataset,
                                                    const std::set<std::string>& on_server) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  bool missing = false;
  Status s = impl_->translated([&] {
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
  Status s = impl_->translated([&] {
    sqlite::Transaction t(*impl_->writer, "BEGIN IMMEDIATE");
    impl_->writer->exec(
        "DELETE FROM record_values; DELETE FROM records; DELETE FROM datasets; DELETE FROM meta;");
    t.commit();
    impl_->quota.clear();
    impl_->cache.clear();
    impl_->load_owner();
    return Status::OK();
  });
  return s;
}

}  // namespace cairn::localstore
