// restJson1 serialisation for Cognito Sync (docs/wire-protocol.md sections 1.2, 3 and 4).
#include "transport/sync_protocol.h"

#include "transport/json.h"
#include "transport/uri.h"

namespace cairn::transport::sync_wire {
namespace {

using json::ObjectReader;

constexpr char kJson[] = "application/json";

// Path labels are percent-encoded, keeping only unreserved characters: ':' -> %3A, '/' -> %2F.
std::string pool_path(const std::string& pool) { return "/identitypools/" + uri_encode(pool); }
std::string identity_path(const std::string& pool, const std::string& identity) {
  return pool_path(pool) + "/identities/" + uri_encode(identity);
}
std::string dataset_path(const std::string& pool, const std::string& identity,
                         const std::string& dataset) {
  return identity_path(pool, identity) + "/datasets/" + uri_encode(dataset);
}

// Query parameters in name order, as botocore emits them.
class Query {
 public:
  void add(const char* name, const std::optional<std::string>& v) {
    if (v) append(name, uri_encode(*v));
  }
  void add(const char* name, const std::optional<int64_t>& v) {
    if (v) append(name, std::to_string(*v));
  }
  void add(const char* name, const std::optional<int32_t>& v) {
    if (v) append(name, std::to_string(*v));
  }
  std::string take() { return std::move(q_); }

 private:
  void append(const char* name, const std::string& value) {
    if (!q_.empty()) q_.push_back('&');
    q_ += name;
    q_.push_back('=');
    q_ += value;
  }
  std::string q_;
};

WireRequest make(const char* op, const char* method, std::string path, std::string query = {}) {
  WireRequest r;
  r.operation = op;
  r.method = method;
  r.path = std::move(path);
  r.query = std::move(query);
  return r;
}

void set_json_body(WireRequest& r, std::string body) {
  r.headers.emplace_back("Content-Type", kJson);
  r.body = std::move(body);
}

void write_push_sync(json::Writer& w, const sync::PushSync& p) {
  w.key("PushSync");
  w.begin_object();
  if (!p.application_arns.empty()) w.string_list("ApplicationArns", p.application_arns);
  w.str("RoleArn", p.role_arn);
  w.end_object();
}

void write_streams(json::Writer& w, const sync::CognitoStreams& s) {
  w.key("CognitoStreams");
  w.begin_object();
  w.str("StreamName", s.stream_name);
  w.str("RoleArn", s.role_arn);
  w.str("StreamingStatus", s.streaming_status);
  w.end_object();
}

// --- response readers ----------------------------------------------------------------------

sync::Record read_record(const rapidjson::Value& v, ObjectReader& parent) {
  ObjectReader r(v, "Record");
  sync::Record rec;
  rec.key = r.str("Key");
  rec.value = r.str("Value");
  rec.sync_count = r.i64("SyncCount");
  rec.last_modified_date = r.time("LastModifiedDate");
  rec.last_modified_by = r.str("LastModifiedBy");
  rec.device_last_modified_date = r.time("DeviceLastModifiedDate");
  parent.merge(r);
  return rec;
}

std::vector<sync::Record> read_records(ObjectReader& r) {
  std::vector<sync::Record> out;
  if (const auto* a = r.array("Records")) {
    for (const auto& item : a->GetArray()) {
      if (!item.IsNull()) out.push_back(read_record(item, r));
    }
  }
  return out;
}

std::optional<sync::Dataset> read_dataset(const rapidjson::Value* v, ObjectReader& parent) {
  if (!v) return std::nullopt;
  ObjectReader r(*v, "Dataset");
  sync::Dataset d;
  d.identity_id = r.str("IdentityId");
  d.dataset_name = r.str("DatasetName");
  d.creation_date = r.time("CreationDate");
  d.last_modified_date = r.time("LastModifiedDate");
  d.last_modified_by = r.str("LastModifiedBy");
  d.data_storage = r.i64("DataStorage");
  d.num_records = r.i64("NumRecords");
  parent.merge(r);
  return d;
}

std::optional<sync::IdentityPoolUsage> read_pool_usage(const rapidjson::Value* v,
                                                       ObjectReader& parent) {
  if (!v) return std::nullopt;
  ObjectReader r(*v, "IdentityPoolUsage");
  sync::IdentityPoolUsage u;
  u.identity_pool_id = r.str("IdentityPoolId");
  u.sync_sessions_count = r.i64("SyncSessionsCount");
  u.data_storage = r.i64("DataStorage");
  u.last_modified_date = r.time("LastModifiedDate");
  parent.merge(r);
  return u;
}

std::optional<sync::PushSync> read_push_sync(const rapidjson::Value* v, ObjectReader& parent) {
  if (!v) return std::nullopt;
  ObjectReader r(*v, "PushSync");
  sync::PushSync p;
  p.application_arns = r.string_list("ApplicationArns");
  p.role_arn = r.str("RoleArn");
  parent.merge(r);
  return p;
}

std::optional<sync::CognitoStreams> read_streams(const rapidjson::Value* v, ObjectReader& parent) {
  if (!v) return std::nullopt;
  ObjectReader r(*v, "CognitoStreams");
  sync::CognitoStreams s;
  s.stream_name = r.str("StreamName");
  s.role_arn = r.str("RoleArn");
  s.streaming_status = r.str("StreamingStatus");
  parent.merge(r);
  return s;
}

// Parses body and runs fill(reader) over the top-level object.

}  // namespace

// --- requests ------------------------------------------------------------------------------

WireRequest build(const sync::BulkPublishRequest& q) {
  return make("BulkPublish", "POST", pool_path(q.identity_pool_id) + "/bulkpublish");
}

WireRequest build(const sync::DeleteDatasetRequest& q) {
  return make("DeleteDataset", "DELETE",
              dataset_path(q.identity_pool_id, q.identity_id, q.dataset_name));
}

WireRequest build(const sync::DescribeDatasetRequest& q) {
  return make("DescribeDataset", "GET",
              dataset_path(q.identity_pool_id, q.identity_id, q.dataset_name));
}

WireRequest build(const sync::DescribeIdentityPoolUsageRequest& q) {
  return make("DescribeIdentityPoolUsage", "GET", pool_path(q.identity_pool_id));
}

WireRequest build(const sync::DescribeIdentityUsageRequest& q) {
  return make("DescribeIdentityUsage", "GET", identity_path(q.identity_pool_id, q.identity_id));
}

WireRequest build(const sync::GetBulkPublishDetailsRequest& q) {
  return make("GetBulkPublishDetails", "POST",
              pool_path(q.identity_pool_id) + "/getBulkPublishDetails");
}

WireRequest build(const sync::GetCognitoEventsRequest& q) {
  return make("GetCognitoEvents", "GET", pool_path(q.identity_pool_id) + "/events");
}

WireRequest build(const sync::GetIdentityPoolConfigurationRequest& q) {
  return make("GetIdentityPoolConfiguration", "GET",
              pool_path(q.identity_pool_id) + "/configuration");
}

WireRequest build(const sync::ListDatasetsRequest& q) {
  Query query;
  query.add("maxResults", q.max_results);
  query.add("nextToken", q.next_token);
  return make("ListDatasets", "GET", identity_path(q.identity_pool_id, q.identity_id) + "/datasets",
              query.take());
}

WireRequest build(const sync::ListIdentityPoolUsageRequest& q) {
  Query query;
  query.add("maxResults", q.max_results);
  query.add("nextToken", q.next_token);
  return make("ListIdentityPoolUsage", "GET", "/identitypools", query.take());
}

WireRequest build(const sync::ListRecordsRequest& q) {
  Query query;
  query.add("lastSyncCount", q.last_sync_count);
  query.add("maxResults", q.max_results);
  query.add("nextToken", q.next_token);
  query.add("syncSessionToken", q.sync_session_token);
  return make("ListRecords", "GET",
              dataset_path(q.identity_pool_id, q.identity_id, q.dataset_name) + "/records",
              query.take());
}

WireRequest build(const sync::RegisterDeviceRequest& q) {
  // Note the singular "identity" in this one path (model requestUri).
  WireRequest r =
      make("RegisterDevice", "POST",
           pool_path(q.identity_pool_id) + "/identity/" + uri_encode(q.identity_id) + "/device");
  json::Writer w;
  w.begin_object();
  w.str("Platform", q.platform);
  w.str("Token", q.token);
  w.end_object();
  set_json_body(r, w.take());
  return r;
}

WireRequest build(const sync::SetCognitoEventsRequest& q) {
  WireRequest r = make("SetCognitoEvents", "POST", pool_path(q.identity_pool_id) + "/events");
  json::Writer w;
  w.begin_object();
  // Events is required: an empty map is still sent, as {}.
  w.key("Events");
  w.begin_object();
  for (const auto& [k, v] : q.events) w.str(k.c_str(), v);
  w.end_object();
  w.end_object();
  set_json_body(r, w.take());
  return r;
}

WireRequest build(const sync::SetIdentityPoolConfigurationRequest& q) {
  WireRequest r = make("SetIdentityPoolConfiguration", "POST",
                       pool_path(q.identity_pool_id) + "/configuration");
  json::Writer w;
  w.begin_object();
  if (q.push_sync) write_push_sync(w, *q.push_sync);
  if (q.cognito_streams) write_streams(w, *q.cognito_streams);
  w.end_object();
  set_json_body(r, w.take());
  return r;
}

WireRequest build(const sync::SubscribeToDatasetRequest& q) {
  return make("SubscribeToDataset", "POST",
              dataset_path(q.identity_pool_id, q.identity_id, q.dataset_name) + "/subscriptions/" +
                  uri_encode(q.device_id));
}

WireRequest build(const sync::UnsubscribeFromDatasetRequest& q) {
  return make("UnsubscribeFromDataset", "DELETE",
              dataset_path(q.identity_pool_id, q.identity_id, q.dataset_name) + "/subscriptions/" +
                  uri_encode(q.device_id));
}

WireRequest build(const sync::UpdateRecordsRequest& q) {
  WireRequest r = make("UpdateRecords", "POST",
                       dataset_path(q.identity_pool_id, q.identity_id, q.dataset_name));
  if (q.client_context) r.headers.emplace_back("x-amz-Client-Context", *q.client_context);
  json::Writer w;
  w.begin_object();
  w.str("DeviceId", q.device_id);
  w.str("SyncSessionToken", q.sync_session_token);
  if (!q.record_patches.empty()) {
    w.begin_array("RecordPatches");
    for (const auto& p : q.record_patches) {
      w.begin_object();
      w.str("Op", p.op);
      w.str("Key", p.key);
      w.str("Value", p.value);
      w.i64("SyncCount", p.sync_count);
      // Milliseconds, as JS v3 sends them (botocore truncates to seconds): a write's time is
      // what last-writer-wins compares, and a second is too coarse for it.
      if (p.device_last_modified_date) {
        w.time_millis("DeviceLastModifiedDate",
                      std::chrono::duration_cast<std::chrono::milliseconds>(
                          p.device_last_modified_date->time_since_epoch())
                          .count());
      }
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
  set_json_body(r, w.take());
  return r;
}

// --- responses -----------------------------------------------------------------------------

Status parse(std::string_view body, sync::BulkPublishResponse* out) {
  return json::parse_response(body, "BulkPublish", [&](ObjectReader& r) {
    out->identity_pool_id = r.str("IdentityPoolId");
  });
}

Status parse(std::string_view body, sync::DeleteDatasetResponse* out) {
  return json::parse_response(body, "DeleteDataset", [&](ObjectReader& r) {
    out->dataset = read_dataset(r.object("Dataset"), r);
  });
}

Status parse(std::string_view body, sync::DescribeDatasetResponse* out) {
  return json::parse_response(body, "DescribeDataset", [&](ObjectReader& r) {
    out->dataset = read_dataset(r.object("Dataset"), r);
  });
}

Status parse(std::string_view body, sync::DescribeIdentityPoolUsageResponse* out) {
  return json::parse_response(body, "DescribeIdentityPoolUsage", [&](ObjectReader& r) {
    out->identity_pool_usage = read_pool_usage(r.object("IdentityPoolUsage"), r);
  });
}

Status parse(std::string_view body, sync::DescribeIdentityUsageResponse* out) {
  return json::parse_response(body, "DescribeIdentityUsage", [&](ObjectReader& r) {
    if (const auto* v = r.object("IdentityUsage")) {
      ObjectReader u(*v, "IdentityUsage");
      sync::IdentityUsage usage;
      usage.identity_id = u.str("IdentityId");
      usage.identity_pool_id = u.str("IdentityPoolId");
      usage.last_modified_date = u.time("LastModifiedDate");
      usage.dataset_count = u.i32("DatasetCount");
      usage.data_storage = u.i64("DataStorage");
      r.merge(u);
      out->identity_usage = usage;
    }
  });
}

Status parse(std::string_view body, sync::GetBulkPublishDetailsResponse* out) {
  return json::parse_response(body, "GetBulkPublishDetails", [&](ObjectReader& r) {
    out->identity_pool_id = r.str("IdentityPoolId");
    out->bulk_publish_start_time = r.time("BulkPublishStartTime");
    out->bulk_publish_complete_time = r.time("BulkPublishCompleteTime");
    out->bulk_publish_status = r.str("BulkPublishStatus");
    out->failure_message = r.str("FailureMessage");
  });
}

Status parse(std::string_view body, sync::GetCognitoEventsResponse* out) {
  return json::parse_response(body, "GetCognitoEvents",
                              [&](ObjectReader& r) { out->events = r.string_map("Events"); });
}

Status parse(std::string_view body, sync::GetIdentityPoolConfigurationResponse* out) {
  return json::parse_response(body, "GetIdentityPoolConfiguration", [&](ObjectReader& r) {
    out->identity_pool_id = r.str("IdentityPoolId");
    out->push_sync = read_push_sync(r.object("PushSync"), r);
    out->cognito_streams = read_streams(r.object("CognitoStreams"), r);
  });
}

Status parse(std::string_view body, sync::ListDatasetsResponse* out) {
  return json::parse_response(body, "ListDatasets", [&](ObjectReader& r) {
    if (const auto* a = r.array("Datasets")) {
      for (const auto& item : a->GetArray()) {
        if (auto d = read_dataset(&item, r)) out->datasets.push_back(std::move(*d));
      }
    }
    out->count = r.i32("Count");
    out->next_token = r.str("NextToken");
  });
}

Status parse(std::string_view body, sync::ListIdentityPoolUsageResponse* out) {
  return json::parse_response(body, "ListIdentityPoolUsage", [&](ObjectReader& r) {
    if (const auto* a = r.array("IdentityPoolUsages")) {
      for (const auto& item : a->GetArray()) {
        if (auto u = read_pool_usage(&item, r)) out->identity_pool_usages.push_back(std::move(*u));
      }
    }
    out->max_results = r.i32("MaxResults");
    out->count = r.i32("Count");
    out->next_token = r.str("NextToken");
  });
}

Status parse(std::string_view body, sync::ListRecordsResponse* out) {
  return json::parse_response(body, "ListRecords", [&](ObjectReader& r) {
    out->records = read_records(r);
    out->next_token = r.str("NextToken");
    out->count = r.i32("Count");
    out->dataset_sync_count = r.i64("DatasetSyncCount");
    out->last_modified_by = r.str("LastModifiedBy");
    out->merged_dataset_names = r.string_list("MergedDatasetNames");
    out->dataset_exists = r.boolean("DatasetExists");
    out->dataset_deleted_after_requested_sync_count =
        r.boolean("DatasetDeletedAfterRequestedSyncCount");
    out->sync_session_token = r.str("SyncSessionToken");
  });
}

Status parse(std::string_view body, sync::RegisterDeviceResponse* out) {
  return json::parse_response(body, "RegisterDevice",
                              [&](ObjectReader& r) { out->device_id = r.str("DeviceId"); });
}

Status parse(std::string_view body, sync::SetCognitoEventsResponse*) {
  // No output shape: the body is ignored, whatever it holds (as both SDKs do).
  (void)body;
  return Status::OK();
}

Status parse(std::string_view body, sync::SetIdentityPoolConfigurationResponse* out) {
  return json::parse_response(body, "SetIdentityPoolConfiguration", [&](ObjectReader& r) {
    out->identity_pool_id = r.str("IdentityPoolId");
    out->push_sync = read_push_sync(r.object("PushSync"), r);
    out->cognito_streams = read_streams(r.object("CognitoStreams"), r);
  });
}

Status parse(std::string_view body, sync::SubscribeToDatasetResponse*) {
  return json::parse_response(body, "SubscribeToDataset", [](ObjectReader&) {});
}

Status parse(std::string_view body, sync::UnsubscribeFromDatasetResponse*) {
  return json::parse_response(body, "UnsubscribeFromDataset", [](ObjectReader&) {});
}

Status parse(std::string_view body, sync::UpdateRecordsResponse* out) {
  return json::parse_response(body, "UpdateRecords",
                              [&](ObjectReader& r) { out->records = read_records(r); });
}

WireRequest build(const sync::PollNotificationsRequest& r) {
  WireRequest w;
  w.operation = "PollNotifications";
  w.method = "GET";
  w.path = "/identitypools/" + uri_encode(r.identity_pool_id) + "/identities/" +
           uri_encode(r.identity_id) + "/devices/" + uri_encode(r.device_id) + "/notifications";
  w.query = "after=" + std::to_string(r.after) + "&wait=" + std::to_string(r.wait_seconds);
  return w;
}

Status parse(std::string_view body, sync::PollNotificationsResponse* out) {
  json::Document d;
  Status s = json::parse(body, d);
  if (!s.ok()) return s;
  auto bad = [] { return Status(ErrorCode::kParse, "PollNotifications: unexpected answer"); };
  if (!d.IsObject() || !d.HasMember("Notifications") || !d["Notifications"].IsArray() ||
      !d.HasMember("Next") || !d["Next"].IsInt64()) {
    return bad();
  }
  out->next = d["Next"].GetInt64();
  for (const auto& n : d["Notifications"].GetArray()) {
    if (!n.IsObject() || !n.HasMember("Seq") || !n["Seq"].IsInt64() || !n.HasMember("Payload") ||
        !n["Payload"].IsObject()) {
      return bad();
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    n["Payload"].Accept(w);
    out->notifications.push_back(
        {n["Seq"].GetInt64(), std::string(buf.GetString(), buf.GetSize())});
  }
  return Status::OK();
}

}  // namespace cairn::transport::sync_wire
