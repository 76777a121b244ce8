// What a sync writes to the local store: remote records applied page by page with their
// conflicts, the dirty records to push and the write-back of what landed, resolutions, and the
// dataset's sync count and outcome.
#include "localstore/store_impl.h"

namespace cairn::localstore {

// --- sync ----------------------------------------------------------------------------------------

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
      if (any_local) {
        auto q = c.prepare("SELECT " CAIRN_LOCAL_RECORD_COLUMNS
                           " FROM records WHERE owner = ? AND dataset = ? AND key = ?");
        q.bind(owner).bind(dataset).bind(r.key);
        if (q.step()) local = schema::read_record(q);
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
  return read_translated<std::vector<PushItem>>(*impl_, [&](sqlite::Connection& c) {
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
  return impl_->translated([&] {
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
  return impl_->translated([&] {
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
