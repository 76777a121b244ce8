// What a sync writes to the local store: remote records applied page by page with their
// conflicts, the dirty records to push and the write-back of what landed, resolutions, and the
// dataset's sync count and outcome.
#include "localstore/store_impl.h"

namespace cairn::localstore {

// --- sync ----------------------------------------------------------------------------------------

namespace {

// Stores a remote record as the local one, clean: its value is also its base (has_base 2). id is
// the local row's, or 0 when the caller knows of none.
void apply_clean_record(sqlite::Connection& c, const std::string& owner, const std::string& dataset,
                        const RemoteRecord& r, int64_t id) {
  int64_t device_last_modified = r.device_last_modified.value_or(r.last_modified);
  if (id == 0) {
    c.prepare(
         "INSERT OR IGNORE INTO records(owner, dataset, key, sync_count, last_modified, "
         "last_modified_by, dirty, has_base) VALUES(?, ?, ?, ?, ?, ?, 0, 2)")
        .bind(owner)
        .bind(dataset)
        .bind(r.key)
        .bind(r.sync_count)
        .bind(r.last_modified)
        .bind(r.last_modified_by)
        .run();
    if (sqlite3_changes(c.handle()) > 0) {
      c.prepare(
           "INSERT INTO record_values(id, value, base_value, local_version, "
           "device_last_modified) VALUES(?, ?, NULL, 0, ?)")
          .bind(static_cast<int64_t>(sqlite3_last_insert_rowid(c.handle())))
          .bind(r.value)
          .bind(device_last_modified)
          .run();
      return;
    }
    // The key is there already: a page that names a key twice.
    auto q = c.prepare("SELECT id FROM records WHERE owner = ? AND dataset = ? AND key = ?");
    q.bind(owner).bind(dataset).bind(r.key);
    q.step();
    id = q.i64(0);
  }
  c.prepare(
       "UPDATE records SET sync_count = ?, last_modified = ?, last_modified_by = ?, dirty = 0, "
       "has_base = 2 WHERE id = ?")
      .bind(r.sync_count)
      .bind(r.last_modified)
      .bind(r.last_modified_by)
      .bind(id)
      .run();
  c.prepare(
       "UPDATE record_values SET value = ?, base_value = NULL, device_last_modified = ? "
       "WHERE id = ?")
      .bind(r.value)
      .bind(device_last_modified)
      .bind(id)
      .run();
}

// The local row of a key, as a sync's write-back needs it; id 0 when there is none.
struct Found {
  int64_t id = 0;
  int64_t local_version = 0;
  bool base_stored = false;  // base_value holds a value of its own
};
Found find_record(sqlite::Connection& c, const std::string& owner, const std::string& dataset,
                  const std::string& key) {
  auto q = c.prepare(
      "SELECT r.id, v.local_version, v.base_value IS NOT NULL FROM records r JOIN record_values v "
      "ON v.id = r.id WHERE r.owner = ? AND r.dataset = ? AND r.key = ?");
  q.bind(owner).bind(dataset).bind(key);
  Found f;
  if (q.step()) f = {q.i64(0), q.i64(1), q.i64(2) != 0};
  return f;
}

}  // namespace

Result<std::vector<Conflict>> LocalStore::apply_remote(const std::string& dataset,
                                                       const std::vector<RemoteRecord>& records,
                                                       int64_t dataset_sync_count) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  std::vector<Conflict> conflicts;
  std::vector<std::pair<const std::string*, const std::optional<std::string>*>> written;
  Status s = impl_->translated([&] {
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
    // A dataset this device holds no record of (a first pull, a fresh device) can have no local
    // change to weigh against: its records go straight in, without a lookup each.
    bool any_local = false;
    {
      auto any = c.prepare("SELECT 1 FROM records WHERE owner = ? AND dataset = ? LIMIT 1");
      any.bind(owner).bind(dataset);
      any_local = any.step();
    }
    for (const auto& r : records) {
      std::optional<Record> local;
      int64_t id = 0;
      if (any_local) {
        auto q = c.prepare(CAIRN_LOCAL_RECORD_SELECT
                           "WHERE r.owner = ? AND r.dataset = ? AND r.key = ?");
        q.bind(owner).bind(dataset).bind(r.key);
        if (q.step()) {
          local = schema::read_record(q);
          id = q.i64(10);
        }
      }
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
      apply_clean_record(c, owner, dataset, r, id);
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
  return read_translated<std::vector<PushItem>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare(
        "SELECT r.key, v.value, r.sync_count, v.device_last_modified, v.local_version "
        "FROM records r JOIN record_values v ON v.id = r.id "
        "WHERE r.owner = ? AND r.dataset = ? AND r.dirty = 1 ORDER BY r.key");
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
  return impl_->translated([&] {
    auto& c = *impl_->writer;
    sqlite::Transaction t(c, "BEGIN IMMEDIATE");
    for (const auto& item : pushed) {
      auto it = by_key.find(item.key);
      if (it == by_key.end()) continue;
      const RemoteRecord& r = *it->second;
      // Clean only if nothing was written since the snapshot; the new count applies either way,
      // so the next push of a newer local write carries the right SyncCount. A clean record's
      // base is its value; a record written meanwhile keeps the pushed value as its base. The
      // value's row is rewritten only when its base changes.
      Found local = find_record(c, owner, dataset, item.key);
      if (local.id == 0) continue;
      bool clean = local.local_version == item.local_version;
      c.prepare(
           "UPDATE records SET sync_count = ?, last_modified = ?, last_modified_by = ?, "
           "has_base = ?, dirty = ? WHERE id = ?")
          .bind(r.sync_count)
          .bind(r.last_modified)
          .bind(r.last_modified_by)
          .bind(int64_t{clean ? 2 : 1})
          .bind(!clean)
          .bind(local.id)
          .run();
      if (clean && !local.base_stored) continue;  // no base to drop: the value's row stays
      std::optional<std::string> base = clean ? std::nullopt : item.value;
      c.prepare("UPDATE record_values SET base_value = ? WHERE id = ? AND base_value IS NOT ?")
          .bind(base)
          .bind(local.id)
          .bind(base)
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
  return impl_->translated([&] {
    auto& c = *impl_->writer;
    sqlite::Transaction t(c, "BEGIN IMMEDIATE");
    // A local write made after the conflict was reported wins over the resolution; it only takes
    // the remote count so its push can land.
    Found local = find_record(c, owner, dataset, conflict.local.key);
    if (local.id != 0) {
      bool unchanged = local.local_version == conflict.local.local_version;
      c.prepare(
           "UPDATE records SET dirty = ?, sync_count = ?, last_modified = ?, "
           "last_modified_by = ?, has_base = 1 WHERE id = ?")
          .bind(unchanged ? dirty : true)
          .bind(conflict.remote.sync_count)
          .bind(conflict.remote.last_modified)
          .bind(conflict.remote.last_modified_by)
          .bind(local.id)
          .run();
      auto values = c.prepare(unchanged ? "UPDATE record_values SET base_value = ?, value = ?, "
                                          "local_version = local_version + 1 WHERE id = ?"
                                        : "UPDATE record_values SET base_value = ?, "
                                          "local_version = local_version + 1 WHERE id = ?");
      values.bind(conflict.remote.value);
      if (unchanged) values.bind(value);
      values.bind(local.id).run();
    }
    t.commit();
    impl_->forget_totals(owner, dataset);
    return Status::OK();
  });
}

Status LocalStore::set_last_sync_count(const std::string& dataset, int64_t count) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->translated([&] {
    impl_->set_last_sync_count(owner, dataset, count);
    return Status::OK();
  });
}

Status LocalStore::reset_for_recreate(const std::string& dataset) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->translated([&] {
    auto& c = *impl_->writer;
    sqlite::Transaction t(c, "BEGIN IMMEDIATE");
    c.prepare(
         "DELETE FROM records WHERE id IN (SELECT r.id FROM records r JOIN record_values v ON "
         "v.id = r.id WHERE r.owner = ? AND r.dataset = ? AND v.value IS NULL)")
        .bind(owner)
        .bind(dataset)
        .run();
    c.prepare(
         "UPDATE records SET dirty = 1, sync_count = 0, has_base = 0 WHERE owner = ? AND "
         "dataset = ?")
        .bind(owner)
        .bind(dataset)
        .run();
    c.prepare(
         "UPDATE record_values SET base_value = NULL, local_version = local_version + 1 WHERE "
         "id IN (SELECT id FROM records WHERE owner = ? AND dataset = ?)")
        .bind(owner)
        .bind(dataset)
        .run();
    impl_->set_last_sync_count(owner, dataset, 0);
    t.commit();
    impl_->forget_totals(owner, dataset);
    return Status::OK();
  });
}

Status LocalStore::reoffer_after_server_rollback(const std::string& dataset,
                                                 const std::set<std::string>& server_keys) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->translated([&] {
    auto& c = *impl_->writer;
    sqlite::Transaction t(c, "BEGIN IMMEDIATE");
    std::vector<std::string> gone;  // removed here, and not on the server either
    {
      auto q = c.prepare(
          "SELECT r.key FROM records r JOIN record_values v ON v.id = r.id "
          "WHERE r.owner = ? AND r.dataset = ? AND v.value IS NULL");
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
    c.prepare("UPDATE records SET dirty = 1, sync_count = 0 WHERE owner = ? AND dataset = ?")
        .bind(owner)
        .bind(dataset)
        .run();
    c.prepare(
         "UPDATE record_values SET local_version = local_version + 1 WHERE id IN (SELECT id FROM "
         "records WHERE owner = ? AND dataset = ?)")
        .bind(owner)
        .bind(dataset)
        .run();
    impl_->set_last_sync_count(owner, dataset, 0);
    t.commit();
    impl_->forget_totals(owner, dataset);
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
  return impl_->translated([&] {
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
    impl_->forget_totals(owner, dataset);
    return Status::OK();
  });
}

Status LocalStore::record_sync_result(const std::string& dataset, const std::string& result) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string owner = impl_->current_owner();
  return impl_->translated([&] {
    impl_->set_sync_result(owner, dataset, result);
    return Status::OK();
  });
}

}  // namespace cairn::localstore
