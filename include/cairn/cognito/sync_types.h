// Request and response structs for the 17 operations of Amazon Cognito Sync (2014-06-30).
//
// Each struct mirrors its shape in the service model, member for member. Members the model marks
// optional are std::optional (or an empty container, which is never sent); required members are
// plain values and are checked by client-side validation before anything is sent. Model enums are
// strings, so a value the client does not know still round-trips; the constants below name the
// legal ones. Timestamps are epoch-based time points; the wire carries epoch seconds.
//
// The namespace names the layer: cairn::wire::Record is a record as the service sends it, beside
// cairn::Record (what the game reads) and localstore::Record (a row of the device's cache).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cairn/timestamp.h"

namespace cairn {

namespace wire {

// Operation (RecordPatch.Op)
inline constexpr char kOpReplace[] = "replace";
inline constexpr char kOpRemove[] = "remove";
// Platform (RegisterDevice)
inline constexpr char kPlatformApns[] = "APNS";
inline constexpr char kPlatformApnsSandbox[] = "APNS_SANDBOX";
inline constexpr char kPlatformGcm[] = "GCM";
inline constexpr char kPlatformAdm[] = "ADM";
// StreamingStatus
inline constexpr char kStreamingEnabled[] = "ENABLED";
inline constexpr char kStreamingDisabled[] = "DISABLED";

struct Record {
  std::optional<std::string> key;
  std::optional<std::string> value;  // absent: the record was deleted (a tombstone)
  std::optional<int64_t> sync_count;
  std::optional<Timestamp> last_modified_date;
  std::optional<std::string> last_modified_by;
  std::optional<Timestamp> device_last_modified_date;
};

struct RecordPatch {
  std::string op;  // kOpReplace or kOpRemove
  std::string key;
  std::optional<std::string> value;  // absent for remove
  int64_t sync_count = 0;            // last known server count of this record, 0 for a new one
  std::optional<Timestamp> device_last_modified_date;
};

struct Dataset {
  std::optional<std::string> identity_id;
  std::optional<std::string> dataset_name;
  std::optional<Timestamp> creation_date;
  std::optional<Timestamp> last_modified_date;
  std::optional<std::string> last_modified_by;
  std::optional<int64_t> data_storage;
  std::optional<int64_t> num_records;
};

struct IdentityPoolUsage {
  std::optional<std::string> identity_pool_id;
  std::optional<int64_t> sync_sessions_count;
  std::optional<int64_t> data_storage;
  std::optional<Timestamp> last_modified_date;
};

struct IdentityUsage {
  std::optional<std::string> identity_id;
  std::optional<std::string> identity_pool_id;
  std::optional<Timestamp> last_modified_date;
  std::optional<int32_t> dataset_count;
  std::optional<int64_t> data_storage;
};

struct PushSync {
  std::vector<std::string> application_arns;
  std::optional<std::string> role_arn;
};

struct CognitoStreams {
  std::optional<std::string> stream_name;
  std::optional<std::string> role_arn;
  std::optional<std::string> streaming_status;  // kStreamingEnabled / kStreamingDisabled
};

// --- operations -----------------------------------------------------------------------------

struct BulkPublishRequest {
  std::string identity_pool_id;
};
struct BulkPublishResponse {
  std::optional<std::string> identity_pool_id;
};

struct DeleteDatasetRequest {
  std::string identity_pool_id;
  std::string identity_id;
  std::string dataset_name;
};
struct DeleteDatasetResponse {
  std::optional<Dataset> dataset;
};

struct DescribeDatasetRequest {
  std::string identity_pool_id;
  std::string identity_id;
  std::string dataset_name;
};
struct DescribeDatasetResponse {
  std::optional<Dataset> dataset;
};

struct DescribeIdentityPoolUsageRequest {
  std::string identity_pool_id;
};
struct DescribeIdentityPoolUsageResponse {
  std::optional<IdentityPoolUsage> identity_pool_usage;
};

struct DescribeIdentityUsageRequest {
  std::string identity_pool_id;
  std::string identity_id;
};
struct DescribeIdentityUsageResponse {
  std::optional<IdentityUsage> identity_usage;
};

struct GetBulkPublishDetailsRequest {
  std::string identity_pool_id;
};
struct GetBulkPublishDetailsResponse {
  std::optional<std::string> identity_pool_id;
  std::optional<Timestamp> bulk_publish_start_time;
  std::optional<Timestamp> bulk_publish_complete_time;
  std::optional<std::string> bulk_publish_status;  // NOT_STARTED, IN_PROGRESS, FAILED, SUCCEEDED
  std::optional<std::string> failure_message;
};

struct GetCognitoEventsRequest {
  std::string identity_pool_id;
};
struct GetCognitoEventsResponse {
  std::map<std::string, std::string> events;
};

struct GetIdentityPoolConfigurationRequest {
  std::string identity_pool_id;
};
struct GetIdentityPoolConfigurationResponse {
  std::optional<std::string> identity_pool_id;
  std::optional<PushSync> push_sync;
  std::optional<CognitoStreams> cognito_streams;
};

struct ListDatasetsRequest {
  std::string identity_pool_id;
  std::string identity_id;
  std::optional<std::string> next_token;
  std::optional<int32_t> max_results;
};
struct ListDatasetsResponse {
  std::vector<Dataset> datasets;
  std::optional<int32_t> count;
  std::optional<std::string> next_token;
};

struct ListIdentityPoolUsageRequest {
  std::optional<std::string> next_token;
  std::optional<int32_t> max_results;
};
struct ListIdentityPoolUsageResponse {
  std::vector<IdentityPoolUsage> identity_pool_usages;
  std::optional<int32_t> max_results;
  std::optional<int32_t> count;
  std::optional<std::string> next_token;
};

struct ListRecordsRequest {
  std::string identity_pool_id;
  std::string identity_id;
  std::string dataset_name;
  std::optional<int64_t> last_sync_count;
  std::optional<std::string> next_token;
  std::optional<int32_t> max_results;
  std::optional<std::string> sync_session_token;
};
struct ListRecordsResponse {
  std::vector<Record> records;
  std::optional<std::string> next_token;
  std::optional<int32_t> count;
  std::optional<int64_t> dataset_sync_count;
  std::optional<std::string> last_modified_by;
  std::vector<std::string> merged_dataset_names;
  std::optional<bool> dataset_exists;
  std::optional<bool> dataset_deleted_after_requested_sync_count;
  std::optional<std::string> sync_session_token;
};

struct RegisterDeviceRequest {
  std::string identity_pool_id;
  std::string identity_id;
  std::string platform;  // kPlatformApns, kPlatformApnsSandbox, kPlatformGcm, kPlatformAdm
  std::string token;
};
struct RegisterDeviceResponse {
  std::optional<std::string> device_id;
};

struct SetCognitoEventsRequest {
  std::string identity_pool_id;
  std::map<std::string, std::string> events;  // e.g. {"SyncTrigger": ARN or URL}; "" removes
};
struct SetCognitoEventsResponse {};

struct SetIdentityPoolConfigurationRequest {
  std::string identity_pool_id;
  std::optional<PushSync> push_sync;
  std::optional<CognitoStreams> cognito_streams;
};
struct SetIdentityPoolConfigurationResponse {
  std::optional<std::string> identity_pool_id;
  std::optional<PushSync> push_sync;
  std::optional<CognitoStreams> cognito_streams;
};

struct SubscribeToDatasetRequest {
  std::string identity_pool_id;
  std::string identity_id;
  std::string dataset_name;
  std::string device_id;
};
struct SubscribeToDatasetResponse {};

struct UnsubscribeFromDatasetRequest {
  std::string identity_pool_id;
  std::string identity_id;
  std::string dataset_name;
  std::string device_id;
};
struct UnsubscribeFromDatasetResponse {};

struct UpdateRecordsRequest {
  std::string identity_pool_id;
  std::string identity_id;
  std::string dataset_name;
  std::optional<std::string> device_id;
  std::vector<RecordPatch> record_patches;
  std::string sync_session_token;
  std::optional<std::string> client_context;  // sent verbatim as x-amz-Client-Context
};
struct UpdateRecordsResponse {
  std::vector<Record> records;
};

// cairn's notification channel, an extension only cairn-server serves (docs/events.md).
struct PollNotificationsRequest {
  std::string identity_pool_id;
  std::string identity_id;
  std::string device_id;
  int64_t after = 0;          // the Next of the previous answer; 0 at first
  int32_t wait_seconds = 25;  // how long the server holds the poll when it has nothing (0 to 50)
};
struct Notification {
  int64_t seq = 0;
  std::string payload_json;  // the Cognito push payload: source, identityPoolId, ... syncCount
};
struct PollNotificationsResponse {
  std::vector<Notification> notifications;
  int64_t next = 0;
};

}  // namespace wire

// The name these types had before the namespaces were named after their layer. Kept so that code
// written against it still compiles; new code says wire::.
namespace sync = wire;

}  // namespace cairn
