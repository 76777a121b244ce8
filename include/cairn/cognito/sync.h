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

  Result<wire::BulkPublishResponse> bulk_publish(const wire::BulkPublishRequest& request);
  Result<wire::DeleteDatasetResponse> delete_dataset(const wire::DeleteDatasetRequest& request);
  Result<wire::DescribeDatasetResponse> describe_dataset(
      const wire::DescribeDatasetRequest& request);
  Result<wire::DescribeIdentityPoolUsageResponse> describe_identity_pool_usage(
      const wire::DescribeIdentityPoolUsageRequest& request);
  Result<wire::DescribeIdentityUsageResponse> describe_identity_usage(
      const wire::DescribeIdentityUsageRequest& request);
  Result<wire::GetBulkPublishDetailsResponse> get_bulk_publish_details(
      const wire::GetBulkPublishDetailsRequest& request);
  Result<wire::GetCognitoEventsResponse> get_cognito_events(
      const wire::GetCognitoEventsRequest& request);
  Result<wire::GetIdentityPoolConfigurationResponse> get_identity_pool_configuration(
      const wire::GetIdentityPoolConfigurationRequest& request);
  Result<wire::ListDatasetsResponse> list_datasets(const wire::ListDatasetsRequest& request);
  Result<wire::ListIdentityPoolUsageResponse> list_identity_pool_usage(
      const wire::ListIdentityPoolUsageRequest& request);
  Result<wire::ListRecordsResponse> list_records(const wire::ListRecordsRequest& request);
  Result<wire::RegisterDeviceResponse> register_device(const wire::RegisterDeviceRequest& request);
  Result<wire::SetCognitoEventsResponse> set_cognito_events(
      const wire::SetCognitoEventsRequest& request);
  Result<wire::SetIdentityPoolConfigurationResponse> set_identity_pool_configuration(
      const wire::SetIdentityPoolConfigurationRequest& request);
  Result<wire::SubscribeToDatasetResponse> subscribe_to_dataset(
      const wire::SubscribeToDatasetRequest& request);
  Result<wire::UnsubscribeFromDatasetResponse> unsubscribe_from_dataset(
      const wire::UnsubscribeFromDatasetRequest& request);
  Result<wire::UpdateRecordsResponse> update_records(const wire::UpdateRecordsRequest& request);

  // cairn extension, served by cairn-server only (docs/events.md): the push notifications of a
  // registered device after `after`, waiting up to wait_seconds for one.
  Result<wire::PollNotificationsResponse> poll_notifications(
      const wire::PollNotificationsRequest& request);

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
