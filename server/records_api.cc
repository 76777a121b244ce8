// Cognito Sync's records: ListRecords, its pages and sync sessions, and UpdateRecords, with the
// sync trigger, the limits and quotas, and the outbox staged in its transaction.
#include <set>

#include "server/api.h"
#include "server/api_internal.h"
#include "transport/crypto.h"

namespace cairn::server {

using namespace internal;
using transport::json::ObjectReader;
using transport::json::Writer;

namespace {

// The most records one ListRecords page holds, and the page size when the client asks for none.
constexpr int kRecordsPageSize = 1024;

std::vector<wire::Record> wire_records(std::vector<RecordRow>&& rows) {
  std::vector<wire::Record> out;
  out.reserve(rows.size());
  for (auto& r : rows) {
    wire::Record rec;
    rec.key = std::move(r.key);
    rec.value = std::move(r.value);  // absent for a tombstone
    rec.sync_count = r.sync_count;
    rec.last_modified_date = from_millis(r.modified);
    rec.last_modified_by = std::move(r.modified_by);
    if (r.device_modified) rec.device_last_modified_date = from_millis(*r.device_modified);
    out.push_back(std::move(rec));
  }
  return out;
}

std::string session_payload(const std::string& pool, const std::string& identity,
                            const std::string& dataset, Millis expires) {
  Writer w;
  w.begin_object();
  w.str("p", pool);
  w.str("i", identity);
  w.str("d", dataset);
  w.i64("e", expires);
  w.str("n", transport::random_hex(8));
  w.end_object();
  return w.take();
}

bool session_valid(const TokenSigner& signer, const std::string& token, const std::string& pool,
                   const std::string& identity, const std::string& dataset, Millis now) {
  auto payload = signer.verify("session", token);
  if (!payload) return false;
  transport::json::Document d;
  if (!transport::json::parse(*payload, d).ok()) return false;
  ObjectReader r(d, "SyncSessionToken");
  auto p = r.str("p");
  auto i = r.str("i");
  auto ds = r.str("d");
  auto e = r.i64("e");
  return p && i && ds && e && *p == pool && *i == identity && *ds == dataset && *e > now;
}

}  // namespace

// --- records -------------------------------------------------------------------------------------

Result<wire::ListRecordsResponse> Api::serve(Call& c, const wire::ListRecordsRequest& r) {
  Status s = authorize(c.caller, Access::kEither, r.identity_pool_id, r.identity_id);
  if (!s.ok()) return s;
  auto limit = page_size(r.max_results, kRecordsPageSize);
  if (!limit.ok()) return limit.status();
  int64_t last = r.last_sync_count.value_or(0);
  if (last < 0) return invalid("LastSyncCount must not be negative");
  std::string scope =
      "records\n" + r.identity_id + "\n" + r.dataset_name + "\n" + std::to_string(last);
  auto cursor = read_cursor(tokens_, scope, r.next_token);
  if (!cursor.ok()) return cursor.status();
  int64_t after_count = last;
  std::string after_key;
  if (!cursor->empty()) {
    size_t nl = cursor->find('\n');
    after_count = std::strtoll(cursor->substr(0, nl).c_str(), nullptr, 10);
    after_key = cursor->substr(nl + 1);
  }

  // A call without a token opens a sync session; a later page presents the token it was given.
  std::string session = r.sync_session_token.value_or("");
  bool new_session = session.empty();
  if (!new_session &&
      !session_valid(tokens_, session, r.identity_pool_id, r.identity_id, r.dataset_name, c.now)) {
    return invalid("SyncSessionToken not valid for these inputs");
  }

  std::optional<DatasetRow> ds;
  std::vector<RecordRow> records;
  std::vector<std::string> merged;
  auto body = [&](StorageTxn& txn) -> Status {
    Status st = require_pool(txn, r.identity_pool_id, nullptr);
    if (st.ok()) st = check_identity_pool(txn, c.caller, r.identity_pool_id, r.identity_id);
    if (!st.ok()) return st;
    ds = txn.dataset(r.identity_id, r.dataset_name);
    records =
        txn.records_after(r.identity_id, r.dataset_name, last, after_count, after_key, *limit + 1);
    merged = txn.merged_into(r.identity_id, r.dataset_name);
    return Status::OK();
  };
  s = storage_->read(body);
  if (!s.ok()) return s;
  if (new_session) {
    count_sync_session(r.identity_pool_id);
    session =
        tokens_.sign("session", session_payload(r.identity_pool_id, r.identity_id, r.dataset_name,
                                                c.now + options_.sync_session_ttl_seconds * 1000));
  }

  bool exists = ds && !ds->deleted;
  // A client that synced before the last deletion must learn of it; a fresh client (count 0) has
  // nothing to drop, and telling it would only discard its unsynced writes.
  bool deleted_after = ds && ds->deleted_at_count > 0 && last > 0 && last < ds->deleted_at_count;
  bool more = trim_page(records, *limit);

  wire::ListRecordsResponse out;
  if (more) {
    const auto& tail = records.back();
    out.next_token = make_cursor(tokens_, scope, std::to_string(tail.sync_count) + "\n" + tail.key);
  }
  out.count = static_cast<int32_t>(records.size());
  out.records = wire_records(std::move(records));
  out.dataset_sync_count = exists ? ds->sync_count : 0;
  if (exists && !ds->modified_by.empty()) out.last_modified_by = ds->modified_by;
  out.merged_dataset_names = std::move(merged);
  out.dataset_exists = exists;
  out.dataset_deleted_after_requested_sync_count = deleted_after;
  out.sync_session_token = std::move(session);
  return out;
}

Result<wire::UpdateRecordsResponse> Api::serve(Call& c, const wire::UpdateRecordsRequest& r) {
  Status s = authorize(c.caller, Access::kEither, r.identity_pool_id, r.identity_id);
  if (!s.ok()) return s;
  if (!session_valid(tokens_, r.sync_session_token, r.identity_pool_id, r.identity_id,
                     r.dataset_name, c.now)) {
    return invalid("SyncSessionToken not valid for these inputs");
  }
  std::set<std::string> keys;
  for (const auto& p : r.record_patches) {
    if (!keys.insert(p.key).second)
      return invalid("RecordPatches: key '" + p.key + "' appears twice");
  }
  // A pool with an http(s) sync trigger hands identity callers' patches to its hook first
  // (docs/events.md); what the hook answers is what gets written, on the dataset count it saw.
  const std::vector<wire::RecordPatch>* patches = &r.record_patches;
  std::vector<wire::RecordPatch> hooked;
  std::optional<int64_t> required_count;
  if (c.caller.identity() && !r.record_patches.empty()) {
    if (auto hook = sync_trigger_hook(r.identity_pool_id)) {
      int64_t observed = 0;
      auto answered = run_sync_trigger(*hook, r, &observed);
      if (!answered.ok()) return answered.status();
      hooked = std::move(*answered);
      patches = &hooked;
      required_count = observed;
    }
  }
  std::string modified_by = r.device_id           ? *r.device_id
                            : c.caller.identity() ? c.caller.identity_id
                                                  : r.identity_id;
  // The pool's storage quota, against its usage as this process counts it.
  int64_t max_pool_bytes = limits_.max_storage_bytes(r.identity_pool_id);
  int64_t pool_bytes = 0;
  if (max_pool_bytes > 0) {
    auto usage = pool_usage_.get(r.identity_pool_id);
    if (!usage.ok()) return usage.status();
    pool_bytes = usage->bytes;
  }
  std::vector<RecordRow> written;
  DatasetChange change;
  int64_t grown = 0;  // bytes the dataset holds now, less those it held
  s = storage_->write([&](StorageTxn& txn) -> Status {
    written.clear();  // storage may run the transaction again after a serialization failure
    grown = 0;
    auto streams = txn.pool_streams(r.identity_pool_id);
    if (!streams) return not_found("IdentityPool '" + r.identity_pool_id + "' not found.");
    Status st = check_identity_pool(txn, c.caller, r.identity_pool_id, r.identity_id);
    if (!st.ok()) return st;
    auto existing = txn.dataset(r.identity_id, r.dataset_name);
    if (required_count && (existing ? existing->sync_count : 0) != *required_count) {
      return Status(
          ErrorCode::kResourceConflict,
          "Dataset '" + r.dataset_name + "' changed while its sync trigger ran; synchronize again");
    }
    bool creating = !existing || existing->deleted;
    if (creating && txn.count_live_datasets(r.identity_id) >= options_.max_datasets_per_identity) {
      return Status(ErrorCode::kLimitExceeded,
                    "Identity '" + r.identity_id + "' already has the maximum of " +
                        std::to_string(options_.max_datasets_per_identity) + " datasets");
    }
    DatasetRow ds = existing ? *existing : DatasetRow{};
    if (creating) {
      ds.pool_id = r.identity_pool_id;
      ds.identity_id = r.identity_id;
      ds.name = r.dataset_name;
      ds.created = c.now;
      ds.deleted = false;
      ds.num_records = 0;
      ds.data_storage = 0;
    }
    // Check every patch before writing anything: the call is all or nothing.
    int64_t live = ds.num_records;
    int64_t bytes = ds.data_storage;
    std::vector<std::string> patch_keys;
    patch_keys.reserve(patches->size());
    for (const auto& p : *patches) patch_keys.push_back(p.key);
    auto states = txn.record_states(r.identity_id, r.dataset_name, patch_keys);
    for (size_t i = 0; i < patches->size(); ++i) {
      const auto& p = (*patches)[i];
      const auto& current = states[i];
      int64_t current_count = current ? current->sync_count : 0;
      if (p.sync_count != current_count) {
        return Status(ErrorCode::kResourceConflict, "Current SyncCount for: " + p.key +
                                                        " is: " + std::to_string(current_count) +
                                                        " not: " + std::to_string(p.sync_count));
      }
      if (current && current->value_bytes) {
        live -= 1;
        bytes -= static_cast<int64_t>(p.key.size()) + *current->value_bytes;
      }
      if (p.op == wire::kOpReplace) {
        live += 1;
        bytes += static_cast<int64_t>(p.key.size() + p.value->size());
      }
    }
    if (live > options_.max_records_per_dataset) {
      return Status(ErrorCode::kLimitExceeded,
                    "Dataset '" + r.dataset_name + "' would hold " + std::to_string(live) +
                        " records; the limit is " +
                        std::to_string(options_.max_records_per_dataset));
    }
    if (bytes > options_.max_dataset_bytes) {
      return Status(ErrorCode::kLimitExceeded, "Dataset '" + r.dataset_name + "' would hold " +
                                                   std::to_string(bytes) + " bytes; the limit is " +
                                                   std::to_string(options_.max_dataset_bytes));
    }
    grown = bytes - ds.data_storage;
    if (max_pool_bytes > 0 && grown > 0 && pool_bytes + grown > max_pool_bytes) {
      limits_.refused(LimitReason::kMaxStorage);
      return Status(ErrorCode::kLimitExceeded,
                    "Identity pool '" + r.identity_pool_id + "' would hold " +
                        std::to_string(pool_bytes + grown) + " bytes; its quota is " +
                        std::to_string(max_pool_bytes));
    }
    if (!patches->empty()) {
      ds.sync_count += 1;  // one successful call, one count
      ds.modified = c.now;
      ds.modified_by = modified_by;
      for (const auto& p : *patches) {
        RecordRow row;
        row.identity_id = r.identity_id;
        row.dataset = r.dataset_name;
        row.key = p.key;
        if (p.op == wire::kOpReplace) row.value = p.value;
        row.sync_count = ds.sync_count;
        row.modified = c.now;
        row.modified_by = modified_by;
        if (p.device_last_modified_date)
          row.device_modified = to_millis(*p.device_last_modified_date);
        written.push_back(std::move(row));
      }
      txn.put_records(written);
    } else if (creating) {
      ds.modified = c.now;
      ds.modified_by = modified_by;
    }
    ds.num_records = live;
    ds.data_storage = bytes;
    if (creating || !patches->empty()) txn.put_dataset(ds);
    if (!written.empty()) {
      // Its webhook posts and stream record are staged in this transaction, so they are made
      // even if the server dies right after the commit.
      change = DatasetChange{r.identity_pool_id, r.identity_id, r.dataset_name, "replace",
                             r.device_id,        ds.sync_count, c.now};
      events_->stage(txn, change, *streams, written, c.now);
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (grown != 0) pool_usage_.add(r.identity_pool_id, 0, grown);
  // Notifications and deliveries, off this request's path.
  if (!written.empty()) events_->changed(std::move(change));
  wire::UpdateRecordsResponse out;
  out.records = wire_records(std::move(written));
  return out;
}

}  // namespace cairn::server
