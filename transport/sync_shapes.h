// The declarations of Cognito Sync (2014-06-30): one Fields<> per shape of the service model
// and one Operation<> per operation, in the model's own order and names. Everything that crosses
// the wire for this service is encoded, decoded and validated from these (codec.h);
// tests/transport/codec_test.cc checks them against ../shared/spec/models member by member.
//
// To add a member: add it to the struct in include/cairn/cognito/sync_types.h and declare it here.
#pragma once

#include "cairn/cognito/sync_types.h"
#include "transport/codec.h"

namespace cairn::transport::codec {

// The path labels most operations share: the pool and the identity, and the dataset.
template <typename V, typename S>
void identity_labels(V& v, S& s) {
  v.label("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
  v.label("IdentityId", s.identity_id, is("IdentityId").must());
}
template <typename V, typename S>
void dataset_labels(V& v, S& s) {
  identity_labels(v, s);
  v.label("DatasetName", s.dataset_name, is("DatasetName").must());
}

template <>
struct Fields<wire::Record> {
  static constexpr char kShape[] = "Record";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("Key", s.key, is("RecordKey"));
    v.member("Value", s.value, is("RecordValue"));
    v.member("SyncCount", s.sync_count, is("Long"));
    v.member("LastModifiedDate", s.last_modified_date, is("Date"));
    v.member("LastModifiedBy", s.last_modified_by, is("String"));
    v.member("DeviceLastModifiedDate", s.device_last_modified_date, is("Date"));
  }
};

template <>
struct Fields<wire::RecordPatch> {
  static constexpr char kShape[] = "RecordPatch";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("Op", s.op, is("Operation").must());
    v.member("Key", s.key, is("RecordKey").must());
    v.member("Value", s.value, is("RecordValue"));
    v.member("SyncCount", s.sync_count, is("Long").must());
    v.member("DeviceLastModifiedDate", s.device_last_modified_date, is("Date"));
    // Beyond the model: what a patch means.
    v.check(s.op != wire::kOpReplace || s.value.has_value(), "Value: a replace needs a value");
    v.check(s.sync_count >= 0, "SyncCount: negative");
  }
};

template <>
struct Fields<wire::Dataset> {
  static constexpr char kShape[] = "Dataset";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId"));
    v.member("DatasetName", s.dataset_name, is("DatasetName"));
    v.member("CreationDate", s.creation_date, is("Date"));
    v.member("LastModifiedDate", s.last_modified_date, is("Date"));
    v.member("LastModifiedBy", s.last_modified_by, is("String"));
    v.member("DataStorage", s.data_storage, is("Long"));
    v.member("NumRecords", s.num_records, is("Long"));
  }
};

template <>
struct Fields<wire::IdentityPoolUsage> {
  static constexpr char kShape[] = "IdentityPoolUsage";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId"));
    v.member("SyncSessionsCount", s.sync_sessions_count, is("Long"));
    v.member("DataStorage", s.data_storage, is("Long"));
    v.member("LastModifiedDate", s.last_modified_date, is("Date"));
  }
};

template <>
struct Fields<wire::IdentityUsage> {
  static constexpr char kShape[] = "IdentityUsage";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId"));
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId"));
    v.member("LastModifiedDate", s.last_modified_date, is("Date"));
    v.member("DatasetCount", s.dataset_count, is("Integer"));
    v.member("DataStorage", s.data_storage, is("Long"));
  }
};

template <>
struct Fields<wire::PushSync> {
  static constexpr char kShape[] = "PushSync";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("ApplicationArns", s.application_arns,
             list_of("ApplicationArnList", "ApplicationArn"));
    v.member("RoleArn", s.role_arn, is("AssumeRoleArn"));
  }
};

template <>
struct Fields<wire::CognitoStreams> {
  static constexpr char kShape[] = "CognitoStreams";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("StreamName", s.stream_name, is("StreamName"));
    v.member("RoleArn", s.role_arn, is("AssumeRoleArn"));
    v.member("StreamingStatus", s.streaming_status, is("StreamingStatus"));
  }
};

template <>
struct Operation<wire::BulkPublishRequest> {
  using Response = wire::BulkPublishResponse;
  static constexpr OperationInfo kInfo{"BulkPublish", "POST",
                                       "/identitypools/{IdentityPoolId}/bulkpublish"};
};
template <>
struct Fields<wire::BulkPublishRequest> {
  static constexpr char kShape[] = "BulkPublishRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.label("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
  }
};

template <>
struct Fields<wire::BulkPublishResponse> {
  static constexpr char kShape[] = "BulkPublishResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId"));
  }
};

template <>
struct Operation<wire::DeleteDatasetRequest> {
  using Response = wire::DeleteDatasetResponse;
  static constexpr OperationInfo kInfo{
      "DeleteDataset", "DELETE",
      "/identitypools/{IdentityPoolId}/identities/{IdentityId}/datasets/{DatasetName}"};
};
template <>
struct Fields<wire::DeleteDatasetRequest> {
  static constexpr char kShape[] = "DeleteDatasetRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    dataset_labels(v, s);
  }
};

template <>
struct Fields<wire::DeleteDatasetResponse> {
  static constexpr char kShape[] = "DeleteDatasetResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("Dataset", s.dataset, is("Dataset"));
  }
};

template <>
struct Operation<wire::DescribeDatasetRequest> {
  using Response = wire::DescribeDatasetResponse;
  static constexpr OperationInfo kInfo{
      "DescribeDataset", "GET",
      "/identitypools/{IdentityPoolId}/identities/{IdentityId}/datasets/{DatasetName}"};
};
template <>
struct Fields<wire::DescribeDatasetRequest> {
  static constexpr char kShape[] = "DescribeDatasetRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    dataset_labels(v, s);
  }
};

template <>
struct Fields<wire::DescribeDatasetResponse> {
  static constexpr char kShape[] = "DescribeDatasetResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("Dataset", s.dataset, is("Dataset"));
  }
};

template <>
struct Operation<wire::DescribeIdentityPoolUsageRequest> {
  using Response = wire::DescribeIdentityPoolUsageResponse;
  static constexpr OperationInfo kInfo{"DescribeIdentityPoolUsage", "GET",
                                       "/identitypools/{IdentityPoolId}"};
};
template <>
struct Fields<wire::DescribeIdentityPoolUsageRequest> {
  static constexpr char kShape[] = "DescribeIdentityPoolUsageRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.label("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
  }
};

template <>
struct Fields<wire::DescribeIdentityPoolUsageResponse> {
  static constexpr char kShape[] = "DescribeIdentityPoolUsageResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolUsage", s.identity_pool_usage, is("IdentityPoolUsage"));
  }
};

template <>
struct Operation<wire::DescribeIdentityUsageRequest> {
  using Response = wire::DescribeIdentityUsageResponse;
  static constexpr OperationInfo kInfo{"DescribeIdentityUsage", "GET",
                                       "/identitypools/{IdentityPoolId}/identities/{IdentityId}"};
};
template <>
struct Fields<wire::DescribeIdentityUsageRequest> {
  static constexpr char kShape[] = "DescribeIdentityUsageRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    identity_labels(v, s);
  }
};

template <>
struct Fields<wire::DescribeIdentityUsageResponse> {
  static constexpr char kShape[] = "DescribeIdentityUsageResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityUsage", s.identity_usage, is("IdentityUsage"));
  }
};

template <>
struct Operation<wire::GetBulkPublishDetailsRequest> {
  using Response = wire::GetBulkPublishDetailsResponse;
  static constexpr OperationInfo kInfo{"GetBulkPublishDetails", "POST",
                                       "/identitypools/{IdentityPoolId}/getBulkPublishDetails"};
};
template <>
struct Fields<wire::GetBulkPublishDetailsRequest> {
  static constexpr char kShape[] = "GetBulkPublishDetailsRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.label("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
  }
};

template <>
struct Fields<wire::GetBulkPublishDetailsResponse> {
  static constexpr char kShape[] = "GetBulkPublishDetailsResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId"));
    v.member("BulkPublishStartTime", s.bulk_publish_start_time, is("Date"));
    v.member("BulkPublishCompleteTime", s.bulk_publish_complete_time, is("Date"));
    v.member("BulkPublishStatus", s.bulk_publish_status, is("BulkPublishStatus"));
    v.member("FailureMessage", s.failure_message, is("String"));
  }
};

template <>
struct Operation<wire::GetCognitoEventsRequest> {
  using Response = wire::GetCognitoEventsResponse;
  static constexpr OperationInfo kInfo{"GetCognitoEvents", "GET",
                                       "/identitypools/{IdentityPoolId}/events"};
};
template <>
struct Fields<wire::GetCognitoEventsRequest> {
  static constexpr char kShape[] = "GetCognitoEventsRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.label("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
  }
};

template <>
struct Fields<wire::GetCognitoEventsResponse> {
  static constexpr char kShape[] = "GetCognitoEventsResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("Events", s.events, map_of("Events", "CognitoEventType", "LambdaFunctionArn"));
  }
};

template <>
struct Operation<wire::GetIdentityPoolConfigurationRequest> {
  using Response = wire::GetIdentityPoolConfigurationResponse;
  static constexpr OperationInfo kInfo{"GetIdentityPoolConfiguration", "GET",
                                       "/identitypools/{IdentityPoolId}/configuration"};
};
template <>
struct Fields<wire::GetIdentityPoolConfigurationRequest> {
  static constexpr char kShape[] = "GetIdentityPoolConfigurationRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.label("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
  }
};

template <>
struct Fields<wire::GetIdentityPoolConfigurationResponse> {
  static constexpr char kShape[] = "GetIdentityPoolConfigurationResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId"));
    v.member("PushSync", s.push_sync, is("PushSync"));
    v.member("CognitoStreams", s.cognito_streams, is("CognitoStreams"));
  }
};

template <>
struct Operation<wire::ListDatasetsRequest> {
  using Response = wire::ListDatasetsResponse;
  static constexpr OperationInfo kInfo{
      "ListDatasets", "GET", "/identitypools/{IdentityPoolId}/identities/{IdentityId}/datasets"};
};
template <>
struct Fields<wire::ListDatasetsRequest> {
  static constexpr char kShape[] = "ListDatasetsRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    identity_labels(v, s);
    v.query("nextToken", s.next_token, is("String"));
    v.query("maxResults", s.max_results, is("IntegerString"));
  }
};

template <>
struct Fields<wire::ListDatasetsResponse> {
  static constexpr char kShape[] = "ListDatasetsResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("Datasets", s.datasets, list_of("DatasetList", "Dataset"));
    v.member("Count", s.count, is("Integer"));
    v.member("NextToken", s.next_token, is("String"));
  }
};

template <>
struct Operation<wire::ListIdentityPoolUsageRequest> {
  using Response = wire::ListIdentityPoolUsageResponse;
  static constexpr OperationInfo kInfo{"ListIdentityPoolUsage", "GET", "/identitypools"};
};
template <>
struct Fields<wire::ListIdentityPoolUsageRequest> {
  static constexpr char kShape[] = "ListIdentityPoolUsageRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.query("nextToken", s.next_token, is("String"));
    v.query("maxResults", s.max_results, is("IntegerString"));
  }
};

template <>
struct Fields<wire::ListIdentityPoolUsageResponse> {
  static constexpr char kShape[] = "ListIdentityPoolUsageResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolUsages", s.identity_pool_usages,
             list_of("IdentityPoolUsageList", "IdentityPoolUsage"));
    v.member("MaxResults", s.max_results, is("Integer"));
    v.member("Count", s.count, is("Integer"));
    v.member("NextToken", s.next_token, is("String"));
  }
};

template <>
struct Operation<wire::ListRecordsRequest> {
  using Response = wire::ListRecordsResponse;
  static constexpr OperationInfo kInfo{
      "ListRecords", "GET",
      "/identitypools/{IdentityPoolId}/identities/{IdentityId}/datasets/{DatasetName}/records"};
};
template <>
struct Fields<wire::ListRecordsRequest> {
  static constexpr char kShape[] = "ListRecordsRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    dataset_labels(v, s);
    v.query("lastSyncCount", s.last_sync_count, is("Long"));
    v.query("nextToken", s.next_token, is("String"));
    v.query("maxResults", s.max_results, is("IntegerString"));
    v.query("syncSessionToken", s.sync_session_token, is("SyncSessionToken"));
  }
};

template <>
struct Fields<wire::ListRecordsResponse> {
  static constexpr char kShape[] = "ListRecordsResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("Records", s.records, list_of("RecordList", "Record"));
    v.member("NextToken", s.next_token, is("String"));
    v.member("Count", s.count, is("Integer"));
    v.member("DatasetSyncCount", s.dataset_sync_count, is("Long"));
    v.member("LastModifiedBy", s.last_modified_by, is("String"));
    v.member("MergedDatasetNames", s.merged_dataset_names,
             list_of("MergedDatasetNameList", "String"));
    v.member("DatasetExists", s.dataset_exists, is("Boolean"));
    v.member("DatasetDeletedAfterRequestedSyncCount", s.dataset_deleted_after_requested_sync_count,
             is("Boolean"));
    v.member("SyncSessionToken", s.sync_session_token, is("String"));
  }
};

template <>
struct Operation<wire::RegisterDeviceRequest> {
  using Response = wire::RegisterDeviceResponse;
  static constexpr OperationInfo kInfo{
      "RegisterDevice", "POST", "/identitypools/{IdentityPoolId}/identity/{IdentityId}/device"};
};
template <>
struct Fields<wire::RegisterDeviceRequest> {
  static constexpr char kShape[] = "RegisterDeviceRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    identity_labels(v, s);
    v.member("Platform", s.platform, is("Platform").must());
    v.member("Token", s.token, is("PushToken").must());
  }
};

template <>
struct Fields<wire::RegisterDeviceResponse> {
  static constexpr char kShape[] = "RegisterDeviceResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("DeviceId", s.device_id, is("DeviceId"));
  }
};

template <>
struct Operation<wire::SetCognitoEventsRequest> {
  using Response = wire::SetCognitoEventsResponse;
  static constexpr OperationInfo kInfo{"SetCognitoEvents", "POST",
                                       "/identitypools/{IdentityPoolId}/events"};
};
template <>
struct Fields<wire::SetCognitoEventsRequest> {
  static constexpr char kShape[] = "SetCognitoEventsRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.label("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
    v.member("Events", s.events, map_of("Events", "CognitoEventType", "LambdaFunctionArn").must());
  }
};

template <>
struct Operation<wire::SetIdentityPoolConfigurationRequest> {
  using Response = wire::SetIdentityPoolConfigurationResponse;
  static constexpr OperationInfo kInfo{"SetIdentityPoolConfiguration", "POST",
                                       "/identitypools/{IdentityPoolId}/configuration"};
};
template <>
struct Fields<wire::SetIdentityPoolConfigurationRequest> {
  static constexpr char kShape[] = "SetIdentityPoolConfigurationRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.label("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
    v.member("PushSync", s.push_sync, is("PushSync"));
    v.member("CognitoStreams", s.cognito_streams, is("CognitoStreams"));
  }
};

template <>
struct Fields<wire::SetIdentityPoolConfigurationResponse> {
  static constexpr char kShape[] = "SetIdentityPoolConfigurationResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId"));
    v.member("PushSync", s.push_sync, is("PushSync"));
    v.member("CognitoStreams", s.cognito_streams, is("CognitoStreams"));
  }
};

// The model gives SetCognitoEvents no output shape: the service answers an empty object.
template <>
struct Fields<wire::SetCognitoEventsResponse> {
  static constexpr char kShape[] = "SetCognitoEventsResponse";
  template <typename V, typename S>
  static void visit(V&, S&) {}
};

template <>
struct Operation<wire::SubscribeToDatasetRequest> {
  using Response = wire::SubscribeToDatasetResponse;
  static constexpr OperationInfo kInfo{"SubscribeToDataset", "POST",
                                       "/identitypools/{IdentityPoolId}/identities/{IdentityId}/"
                                       "datasets/{DatasetName}/subscriptions/{DeviceId}"};
};
template <>
struct Fields<wire::SubscribeToDatasetRequest> {
  static constexpr char kShape[] = "SubscribeToDatasetRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    dataset_labels(v, s);
    v.label("DeviceId", s.device_id, is("DeviceId").must());
  }
};

template <>
struct Fields<wire::SubscribeToDatasetResponse> {
  static constexpr char kShape[] = "SubscribeToDatasetResponse";
  template <typename V, typename S>
  static void visit(V&, S&) {}
};

template <>
struct Operation<wire::UnsubscribeFromDatasetRequest> {
  using Response = wire::UnsubscribeFromDatasetResponse;
  static constexpr OperationInfo kInfo{"UnsubscribeFromDataset", "DELETE",
                                       "/identitypools/{IdentityPoolId}/identities/{IdentityId}/"
                                       "datasets/{DatasetName}/subscriptions/{DeviceId}"};
};
template <>
struct Fields<wire::UnsubscribeFromDatasetRequest> {
  static constexpr char kShape[] = "UnsubscribeFromDatasetRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    dataset_labels(v, s);
    v.label("DeviceId", s.device_id, is("DeviceId").must());
  }
};

template <>
struct Fields<wire::UnsubscribeFromDatasetResponse> {
  static constexpr char kShape[] = "UnsubscribeFromDatasetResponse";
  template <typename V, typename S>
  static void visit(V&, S&) {}
};

template <>
struct Operation<wire::UpdateRecordsRequest> {
  using Response = wire::UpdateRecordsResponse;
  static constexpr OperationInfo kInfo{
      "UpdateRecords", "POST",
      "/identitypools/{IdentityPoolId}/identities/{IdentityId}/datasets/{DatasetName}"};
};
template <>
struct Fields<wire::UpdateRecordsRequest> {
  static constexpr char kShape[] = "UpdateRecordsRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    dataset_labels(v, s);
    v.member("DeviceId", s.device_id, is("DeviceId"));
    v.member("RecordPatches", s.record_patches, list_of("RecordPatchList", "RecordPatch"));
    v.member("SyncSessionToken", s.sync_session_token, is("SyncSessionToken").must());
    v.header("x-amz-Client-Context", s.client_context, is("ClientContext"));
  }
};

template <>
struct Fields<wire::UpdateRecordsResponse> {
  static constexpr char kShape[] = "UpdateRecordsResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("Records", s.records, list_of("RecordList", "Record"));
  }
};

// cairn's notification channel, an extension only cairn-server serves (docs/events.md). Its
// answer carries each push payload as raw JSON, which no model shape describes: it is parsed by
// hand in sync_protocol.cc.
template <>
struct Operation<wire::PollNotificationsRequest> {
  using Response = wire::PollNotificationsResponse;
  static constexpr OperationInfo kInfo{
      "PollNotifications", "GET",
      "/identitypools/{IdentityPoolId}/identities/{IdentityId}/devices/{DeviceId}/notifications"};
};
template <>
struct Fields<wire::PollNotificationsRequest> {
  static constexpr char kShape[] = "PollNotificationsRequest";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    identity_labels(v, s);
    v.label("DeviceId", s.device_id, is("DeviceId").must());
    v.query("after", s.after);
    v.query("wait", s.wait_seconds);
  }
};

}  // namespace cairn::transport::codec
