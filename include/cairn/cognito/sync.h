// CognitoSyncClient: a typed client for all 17 operations of Amazon Cognito Sync, for real AWS or a
// cairn-server. Each call validates its request (unless turned off), signs it with SigV4, sends it
// over a pooled keep-alive connection, retries throttling, 5xx and network failures with backoff,
// and returns either the parsed response or a Status whose code names the service error.
//
// Thread safety: a client may be shared by every thread; calls may run concurrently.
#pragma once

#include <chrono>
#include <memory>

#include "cairn/cognito/client_config.h"
#include "cairn/cognito/sync_types.h"
#include "cairn/export.h"
#include "cairn/status.h"

namespace cairn {

struct ClientStats {
  uint64_t requests = 0;
  uint64_t attempts = 0;  // HTTP exchanges, retries included
  uint64_t retries = 0;
  uint64_t failures = 0;
};

class CAIRN_CPP_API CognitoSyncClient {
 public:
  // Fails with InvalidArgument when no region can be resolved or the endpoint is malformed.
  static Result<std::unique_ptr<CognitoSyncClient>> create(ClientConfig config);
  ~CognitoSyncClient();

  Result<sync::BulkPublishResponse> bulk_publish(const sync::BulkPublishRequest& request);
  Result<sync::DeleteDatasetResponse> delete_dataset(const sync::DeleteDatasetRequest& request);
  Result<sync::DescribeDatasetResponse> describe_dataset(
      const sync::DescribeDatasetRequest& request);
  Result<sync::DescribeIdentityPoolUsageResponse> describe_identity_pool_usage(
      const sync::DescribeIdentityPoolUsageRequest& request);
  Result<sync::DescribeIdentityUsageResponse> describe_identity_usage(
      const sync::DescribeIdentityUsageRequest& request);
  Result<sync::GetBulkPublishDetailsResponse> get_bulk_publish_details(
      const sync::GetBulkPublishDetailsRequest& request);
  Result<sync::GetCognitoEventsResponse> get_cognito_events(
      const sync::GetCognitoEventsRequest& request);
  Result<sync::GetIdentityPoolConfigurationResponse> get_identity_pool_configuration(
      const sync::GetIdentityPoolConfigurationRequest& request);
  Result<sync::ListDatasetsResponse> list_datasets(const sync::ListDatasetsRequest& request);
  Result<sync::ListIdentityPoolUsageResponse> list_identity_pool_usage(
      const sync::ListIdentityPoolUsageRequest& request);
  Result<sync::ListRecordsResponse> list_records(const sync::ListRecordsRequest& request);
  Result<sync::RegisterDeviceResponse> register_device(const sync::RegisterDeviceRequest& request);
  Result<sync::SetCognitoEventsResponse> set_cognito_events(
      const sync::SetCognitoEventsRequest& request);
  Result<sync::SetIdentityPoolConfigurationResponse> set_identity_pool_configuration(
      const sync::SetIdentityPoolConfigurationRequest& request);
  Result<sync::SubscribeToDatasetResponse> subscribe_to_dataset(
      const sync::SubscribeToDatasetRequest& request);
  Result<sync::UnsubscribeFromDatasetResponse> unsubscribe_from_dataset(
      const sync::UnsubscribeFromDatasetRequest& request);
  Result<sync::UpdateRecordsResponse> update_records(const sync::UpdateRecordsRequest& request);

  // cairn extension, served by cairn-server only (docs/events.md): the push notifications of a
  // registered device after `after`, waiting up to wait_seconds for one.
  Result<sync::PollNotificationsResponse> poll_notifications(
      const sync::PollNotificationsRequest& request);

  // Server time minus local time, measured from the last response's Date header.
  std::chrono::milliseconds clock_skew() const;
  ClientStats stats() const;
  const std::string& region() const;

  struct Impl;

 private:
  explicit CognitoSyncClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn
