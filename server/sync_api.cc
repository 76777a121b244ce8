// The Cognito Sync operations on datasets, usage, devices and pool settings (docs/server.md has
// the rules in prose). The records' two, ListRecords and UpdateRecords, are in records_api.cc.
#include <map>
#include <set>

#include "server/api.h"
#include "server/api_internal.h"
#include "transport/crypto.h"
#include "transport/sync_shapes.h"

namespace cairn::server {

using namespace internal;
using transport::json::ObjectReader;
using transport::json::Writer;

namespace {

// The most datasets, and pool usages, one listing page holds (and its size when none is asked).
constexpr int kDatasetsPageSize = 64;
constexpr int kPoolsPageSize = 64;

wire::Dataset wire_dataset(const DatasetRow& d) {
  wire::Dataset out;
  out.identity_id = d.identity_id;
  out.dataset_name = d.name;
  out.creation_date = from_millis(d.created);
  out.last_modified_date = from_millis(d.modified);
  out.last_modified_by = d.modified_by;
  out.data_storage = d.data_storage;
  out.num_records = d.num_records;
  return out;
}

}  // namespace

Status Api::require_pool(StorageTxn& txn, const std::string& pool_id, PoolRow* out,
                         bool for_update) {
  if (!out) {
    if (!txn.pool_exists(pool_id)) return not_found("IdentityPool '" + pool_id + "' not found.");
    return Status::OK();
  }
  auto pool = for_update ? txn.pool_for_update(pool_id) : txn.pool(pool_id);
  if (!pool) return not_found("IdentityPool '" + pool_id + "' not found.");
  *out = std::move(*pool);
  return Status::OK();
}

// --- datasets ------------------------------------------------------------------------------------

Result<wire::DescribeDatasetResponse> Api::serve(Call& c, const wire::DescribeDatasetRequest& r) {
  Status s = authorize(c.caller, Access::kEither, r.identity_pool_id, r.identity_id);
  if (!s.ok()) return s;
  std::optional<DatasetRow> ds;
  s = storage_->read([&](StorageTxn& txn) {
    Status st = require_pool(txn, r.identity_pool_id, nullptr);
    if (!st.ok()) return st;
    ds = txn.dataset(r.identity_id, r.dataset_name);
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (!ds || ds->deleted) return not_found("Dataset '" + r.dataset_name + "' not found.");
  return wire::DescribeDatasetResponse{wire_dataset(*ds)};
}

Result<wire::DeleteDatasetResponse> Api::serve(Call& c, const wire::DeleteDatasetRequest& r) {
  Status s = authorize(c.caller, Access::kEither, r.identity_pool_id, r.identity_id);
  if (!s.ok()) return s;
  DatasetRow before;
  DatasetChange change;
  s = storage_->write([&](StorageTxn& txn) -> Status {
    auto streams = txn.pool_streams(r.identity_pool_id);
    if (!streams) return not_found("IdentityPool '" + r.identity_pool_id + "' not found.");
    auto ds = txn.dataset(r.identity_id, r.dataset_name);
    if (!ds || ds->deleted) return not_found("Dataset '" + r.dataset_name + "' not found.");
    before = *ds;
    // The deletion takes a sync count of its own, so clients that synced before it can be told.
    ds->sync_count += 1;
    ds->deleted = true;
    ds->deleted_at_count = ds->sync_count;
    ds->merge_root.clear();  // a deleted merged dataset is no longer reported on its root
    ds->num_records = 0;
    ds->data_storage = 0;
    ds->modified = c.now;
    txn.delete_records(r.identity_id, r.dataset_name);
    txn.put_dataset(*ds);
    change = DatasetChange{r.identity_pool_id, r.identity_id,  r.dataset_name, "remove",
                           std::nullopt,       ds->sync_count, c.now};
    events_->stage(txn, change, *streams, {}, c.now);
    return Status::OK();
  });
  if (!s.ok()) return s;
  pool_usage_.add(r.identity_pool_id, 0, -before.data_storage);
  events_->changed(std::move(change));
  return wire::DeleteDatasetResponse{wire_dataset(before)};
}

Result<wire::ListDatasetsResponse> Api::serve(Call& c, const wire::ListDatasetsRequest& r) {
  Status s = authorize(c.caller, Access::kEither, r.identity_pool_id, r.identity_id);
  if (!s.ok()) return s;
  auto limit = page_size(r.max_results, kDatasetsPageSize);
  if (!limit.ok()) return limit.status();
  std::string scope = "datasets\n" + r.identity_id;
  auto after = read_cursor(tokens_, scope, r.next_token);
  if (!after.ok()) return after.status();
  std::vector<DatasetRow> rows;
  s = storage_->read([&](StorageTxn& txn) {
    Status st = require_pool(txn, r.identity_pool_id, nullptr);
    if (!st.ok()) return st;
    rows = txn.datasets_after(r.identity_id, *after, *limit + 1);
    return Status::OK();
  });
  if (!s.ok()) return s;
  bool more = trim_page(rows, *limit);
  wire::ListDatasetsResponse out;
  for (const auto& d : rows) out.datasets.push_back(wire_dataset(d));
  out.count = static_cast<int32_t>(rows.size());
  if (more) out.next_token = make_cursor(tokens_, scope, rows.back().name);
  return out;
}

// --- usage ---------------------------------------------------------------------------------------

Result<wire::DescribeIdentityUsageResponse> Api::serve(
    Call& c, const wire::DescribeIdentityUsageRequest& r) {
  Status s = authorize(c.caller, Access::kEither, r.identity_pool_id, r.identity_id);
  if (!s.ok()) return s;
  StorageTxn::Usage usage;
  std::optional<IdentityRow> identity;
  s = storage_->read([&](StorageTxn& txn) {
    Status st = require_pool(txn, r.identity_pool_id, nullptr);
    if (st.ok()) st = check_identity_pool(txn, c.caller, r.identity_pool_id, r.identity_id);
    if (!st.ok()) return st;
    identity = txn.identity(r.identity_id);
    usage = txn.identity_usage(r.identity_id);
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (!identity && usage.datasets == 0)
    return not_found("Identity '" + r.identity_id + "' not found.");
  wire::IdentityUsage out;
  out.identity_id = r.identity_id;
  out.identity_pool_id = r.identity_pool_id;
  Millis modified = std::max(usage.last_modified, identity ? identity->modified : 0);
  if (modified > 0) out.last_modified_date = from_millis(modified);
  out.dataset_count = static_cast<int32_t>(usage.datasets);
  out.data_storage = usage.data_storage;
  return wire::DescribeIdentityUsageResponse{out};
}

namespace {

wire::IdentityPoolUsage wire_pool_usage(const PoolRow& pool, const StorageTxn::Usage& usage) {
  wire::IdentityPoolUsage out;
  out.identity_pool_id = pool.id;
  out.sync_sessions_count = pool.sync_sessions;
  out.data_storage = usage.data_storage;
  out.last_modified_date = from_millis(std::max(usage.last_modified, pool.modified));
  return out;
}

}  // namespace

Result<wire::DescribeIdentityPoolUsageResponse> Api::serve(
    Call& c, const wire::DescribeIdentityPoolUsageRequest& r) {
  Status s = authorize(c.caller, Access::kDeveloperOnly, r.identity_pool_id, "");
  if (!s.ok()) return s;
  s = flush_sync_sessions();  // so the count includes every session opened so far
  if (!s.ok()) return s;
  PoolRow pool;
  StorageTxn::Usage usage;
  s = storage_->read([&](StorageTxn& txn) {
    Status st = require_pool(txn, r.identity_pool_id, &pool);
    if (!st.ok()) return st;
    usage = txn.pool_usage(r.identity_pool_id);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return wire::DescribeIdentityPoolUsageResponse{wire_pool_usage(pool, usage)};
}

Result<wire::ListIdentityPoolUsageResponse> Api::serve(
    Call& c, const wire::ListIdentityPoolUsageRequest& r) {
  Status s = authorize(c.caller, Access::kDeveloperOnly, "", "");
  if (!s.ok()) return s;
  auto limit = page_size(r.max_results, kPoolsPageSize);
  if (!limit.ok()) return limit.status();
  auto after = read_cursor(tokens_, "pool-usage", r.next_token);
  if (!after.ok()) return after.status();
  s = flush_sync_sessions();
  if (!s.ok()) return s;
  std::vector<std::pair<PoolRow, StorageTxn::Usage>> rows;
  s = storage_->read([&](StorageTxn& txn) {
    for (auto& pool : txn.pools_after(*after, *limit + 1)) {
      auto usage = txn.pool_usage(pool.id);
      rows.emplace_back(std::move(pool), usage);
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  bool more = trim_page(rows, *limit);
  wire::ListIdentityPoolUsageResponse out;
  for (const auto& [pool, usage] : rows)
    out.identity_pool_usages.push_back(wire_pool_usage(pool, usage));
  out.max_results = *limit;
  out.count = static_cast<int32_t>(rows.size());
  if (more) out.next_token = make_cursor(tokens_, "pool-usage", rows.back().first.id);
  return out;
}

// --- devices -------------------------------------------------------------------------------------

Result<wire::RegisterDeviceResponse> Api::serve(Call& c, const wire::RegisterDeviceRequest& r) {
  Status s = authorize(c.caller, Access::kIdentityOnly, r.identity_pool_id, r.identity_id);
  if (!s.ok()) return s;
  std::string device_id;
  s = storage_->write([&](StorageTxn& txn) -> Status {
    Status st = require_pool(txn, r.identity_pool_id, nullptr);
    if (!st.ok()) return st;
    // The same identity, platform and token always get the same DeviceId.
    if (auto existing = txn.device_by_token(r.identity_id, r.platform, r.token)) {
      device_id = existing->id;
      return Status::OK();
    }
    device_id = transport::random_hex(16);
    txn.put_device({device_id, r.identity_id, r.identity_pool_id, r.platform, r.token, c.now});
    return Status::OK();
  });
  if (!s.ok()) return s;
  return wire::RegisterDeviceResponse{device_id};
}

namespace {

Status owned_device(StorageTxn& txn, const std::string& device_id, const std::string& identity) {
  auto device = txn.device(device_id);
  if (!device || device->identity_id != identity) {
    return not_found("Device '" + device_id + "' is not registered for this identity.");
  }
  return Status::OK();
}

}  // namespace

Result<wire::SubscribeToDatasetResponse> Api::serve(Call& c,
                                                    const wire::SubscribeToDatasetRequest& r) {
  Status s = authorize(c.caller, Access::kIdentityOnly, r.identity_pool_id, r.identity_id);
  if (!s.ok()) return s;
  s = storage_->write([&](StorageTxn& txn) -> Status {
    Status st = owned_device(txn, r.device_id, r.identity_id);
    if (!st.ok()) return st;
    txn.put_subscription(r.device_id, r.identity_id, r.dataset_name);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return wire::SubscribeToDatasetResponse{};
}

Result<wire::UnsubscribeFromDatasetResponse> Api::serve(
    Call& c, const wire::UnsubscribeFromDatasetRequest& r) {
  Status s = authorize(c.caller, Access::kIdentityOnly, r.identity_pool_id, r.identity_id);
  if (!s.ok()) return s;
  s = storage_->write([&](StorageTxn& txn) -> Status {
    Status st = owned_device(txn, r.device_id, r.identity_id);
    if (!st.ok()) return st;
    txn.delete_subscription(r.device_id, r.dataset_name);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return wire::UnsubscribeFromDatasetResponse{};
}

// --- pool administration -------------------------------------------------------------------------

namespace {

// A pool keeps its events as the JSON object GetCognitoEvents answers with.
Result<std::map<std::string, std::string>> stored_events(const PoolRow& pool) {
  transport::json::Document doc;
  Status parsed = transport::json::parse(pool.events_json, doc);
  if (!parsed.ok()) return parsed;
  std::map<std::string, std::string> events;
  for (const auto& m : doc.GetObject()) {
    if (m.value.IsString()) events[m.name.GetString()] = m.value.GetString();
  }
  return events;
}

}  // namespace

Result<wire::GetCognitoEventsResponse> Api::serve(Call& c, const wire::GetCognitoEventsRequest& r) {
  Status s = authorize(c.caller, Access::kDeveloperOnly, r.identity_pool_id, "");
  if (!s.ok()) return s;
  PoolRow pool;
  s = storage_->read([&](StorageTxn& txn) { return require_pool(txn, r.identity_pool_id, &pool); });
  if (!s.ok()) return s;
  auto events = stored_events(pool);
  if (!events.ok()) return events.status();
  return wire::GetCognitoEventsResponse{std::move(*events)};
}

Result<wire::SetCognitoEventsResponse> Api::serve(Call& c, const wire::SetCognitoEventsRequest& r) {
  Status s = authorize(c.caller, Access::kDeveloperOnly, r.identity_pool_id, "");
  if (!s.ok()) return s;
  for (const auto& [event, target] : r.events) {
    if (event != "SyncTrigger") return invalid("Events: unknown event type '" + event + "'");
    bool ok = target.empty() || target.rfind("arn:aws:lambda:", 0) == 0 ||
              target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0;
    if (!ok) return invalid("Events: SyncTrigger must be a Lambda ARN or an http(s) URL");
  }
  s = storage_->write([&](StorageTxn& txn) -> Status {
    PoolRow pool;
    Status st = require_pool(txn, r.identity_pool_id, &pool, /*for_update=*/true);
    if (!st.ok()) return st;
    auto stored = stored_events(pool);
    if (!stored.ok()) return stored.status();
    std::map<std::string, std::string>& events = *stored;
    // Only the keys given change; an empty value removes its key.
    for (const auto& [event, target] : r.events) {
      if (target.empty()) {
        events.erase(event);
      } else {
        events[event] = target;
      }
    }
    Writer w;
    w.begin_object();
    for (const auto& [k, v] : events) w.str(k.c_str(), v);
    w.end_object();
    pool.events_json = w.take();
    pool.modified = c.now;
    txn.put_pool(pool);
    return Status::OK();
  });
  {
    std::lock_guard<std::mutex> l(hooks_mu_);
    hooks_.erase(r.identity_pool_id);  // this instance uses the new hook at once
  }
  if (!s.ok()) return s;
  return wire::SetCognitoEventsResponse{};
}

namespace {

// A pool keeps its PushSync and CognitoStreams settings as the JSON objects the configuration
// operations answer with.
template <typename Response>
Result<Response> configuration(const PoolRow& pool) {
  Response out;
  out.identity_pool_id = pool.id;
  if (!pool.push_sync_json.empty()) {
    out.push_sync.emplace();
    Status s = transport::codec::from_json(pool.push_sync_json, "PushSync", &*out.push_sync);
    if (!s.ok()) return s;
  }
  if (!pool.streams_json.empty()) {
    out.cognito_streams.emplace();
    Status s =
        transport::codec::from_json(pool.streams_json, "CognitoStreams", &*out.cognito_streams);
    if (!s.ok()) return s;
  }
  return out;
}

}  // namespace

Result<wire::GetIdentityPoolConfigurationResponse> Api::serve(
    Call& c, const wire::GetIdentityPoolConfigurationRequest& r) {
  Status s = authorize(c.caller, Access::kDeveloperOnly, r.identity_pool_id, "");
  if (!s.ok()) return s;
  PoolRow pool;
  s = storage_->read([&](StorageTxn& txn) { return require_pool(txn, r.identity_pool_id, &pool); });
  if (!s.ok()) return s;
  return configuration<wire::GetIdentityPoolConfigurationResponse>(pool);
}

Result<wire::SetIdentityPoolConfigurationResponse> Api::serve(
    Call& c, const wire::SetIdentityPoolConfigurationRequest& r) {
  Status s = authorize(c.caller, Access::kDeveloperOnly, r.identity_pool_id, "");
  if (!s.ok()) return s;
  PoolRow pool;
  s = storage_->write([&](StorageTxn& txn) -> Status {
    Status st = require_pool(txn, r.identity_pool_id, &pool, /*for_update=*/true);
    if (!st.ok()) return st;
    if (r.push_sync) pool.push_sync_json = transport::codec::to_json(*r.push_sync);
    if (r.cognito_streams) {
      wire::CognitoStreams streams = *r.cognito_streams;
      if (!streams.streaming_status) streams.streaming_status = wire::kStreamingDisabled;
      pool.streams_json = transport::codec::to_json(streams);
    }
    pool.modified = c.now;
    txn.put_pool(pool);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return configuration<wire::SetIdentityPoolConfigurationResponse>(pool);
}

Result<wire::BulkPublishResponse> Api::serve(Call& c, const wire::BulkPublishRequest& r) {
  Status s = authorize(c.caller, Access::kDeveloperOnly, r.identity_pool_id, "");
  if (!s.ok()) return s;
  s = storage_->write([&](StorageTxn& txn) -> Status {
    PoolRow pool;
    Status st = require_pool(txn, r.identity_pool_id, &pool, /*for_update=*/true);
    if (!st.ok()) return st;
    if (pool.streams_json.find(R"("StreamingStatus":"ENABLED")") == std::string::npos) {
      return invalid("Cognito Streams must be configured and ENABLED before a bulk publish");
    }
    if (pool.bulk_status == "IN_PROGRESS") {
      return Status(ErrorCode::kDuplicateRequest, "A bulk publish is already in progress");
    }
    if (pool.bulk_status == "SUCCEEDED" && pool.bulk_completed > c.now - 24LL * 3600 * 1000) {
      return Status(ErrorCode::kAlreadyStreamed,
                    "A bulk publish succeeded less than 24 hours ago; wait before the next one");
    }
    pool.bulk_status = "IN_PROGRESS";
    pool.bulk_started = c.now;
    pool.bulk_completed = 0;
    pool.bulk_failure.clear();
    txn.put_pool(pool);
    return Status::OK();
  });
  if (!s.ok()) return s;
  bulk_publish_requested(r.identity_pool_id);
  return wire::BulkPublishResponse{r.identity_pool_id};
}

Result<wire::GetBulkPublishDetailsResponse> Api::serve(
    Call& c, const wire::GetBulkPublishDetailsRequest& r) {
  Status s = authorize(c.caller, Access::kDeveloperOnly, r.identity_pool_id, "");
  if (!s.ok()) return s;
  PoolRow pool;
  s = storage_->read([&](StorageTxn& txn) { return require_pool(txn, r.identity_pool_id, &pool); });
  if (!s.ok()) return s;
  wire::GetBulkPublishDetailsResponse out;
  out.identity_pool_id = pool.id;
  if (pool.bulk_started) out.bulk_publish_start_time = from_millis(pool.bulk_started);
  if (pool.bulk_completed) out.bulk_publish_complete_time = from_millis(pool.bulk_completed);
  out.bulk_publish_status = pool.bulk_status;
  if (!pool.bulk_failure.empty()) out.failure_message = pool.bulk_failure;
  return out;
}

}  // namespace cairn::server
