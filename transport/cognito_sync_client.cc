#include "cairn/cognito/sync.h"

#include "transport/client_call.h"
#include "transport/json.h"
#include "transport/sync_protocol.h"
#include "transport/uri.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include "transport/validation.h"

namespace cairn {

struct CognitoSyncClient::Impl : transport::ClientCore {};

namespace transport {

Result<std::unique_ptr<ServiceClient>> make_service(ClientConfig& config,
                                                    const std::string& endpoint_prefix,
                                                    Protocol protocol) {
  // Stub mode sends nothing, so it needs no region; retries are off so canned errors come back.
  if (config.stub) {
    if (!resolve_region(config).ok()) config.region = "us-east-1";
    config.retry.max_retries = 0;
  }
  return ServiceClient::create(config, endpoint_prefix, protocol);
}

}  // namespace transport

Result<std::unique_ptr<CognitoSyncClient>> CognitoSyncClient::create(ClientConfig config) {
  auto impl = std::make_unique<Impl>();
  auto service = transport::make_service(config, "cognito-sync", transport::Protocol::kRestJson);
  if (!service.ok()) return service.status();
  impl->config = std::move(config);
  impl->service = std::move(*service);
  return std::unique_ptr<CognitoSyncClient>(new CognitoSyncClient(std::move(impl)));
}

CognitoSyncClient::CognitoSyncClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CognitoSyncClient::~CognitoSyncClient() = default;

std::chrono::milliseconds CognitoSyncClient::clock_skew() const {
  return impl_->service->clock_skew();
}
ClientStats CognitoSyncClient::stats() const {
  return transport::to_client_stats(impl_->service->stats());
}
const std::string& CognitoSyncClient::region() const { return impl_->service->region(); }

#define CAIRN_SYNC_METHOD(Op, method)                                                      \
  Result<wire::Op##Response> CognitoSyncClient::method(const wire::Op##Request& request) { \
    return transport::call<wire::Op##Response>(                                            \
        *impl_, request, [](const auto& r) { return transport::validate(r); },             \
        [](const auto& r) { return transport::sync_wire::build(r); },                      \
        [](std::string body, wire::Op##Response* out) {                                    \
          return transport::sync_wire::parse(std::move(body), out);                        \
        });                                                                                \
  }

CAIRN_SYNC_METHOD(BulkPublish, bulk_publish)
CAIRN_SYNC_METHOD(DeleteDataset, delete_dataset)
CAIRN_SYNC_METHOD(DescribeDataset, describe_dataset)
CAIRN_SYNC_METHOD(DescribeIdentityPoolUsage, describe_identity_pool_usage)
CAIRN_SYNC_METHOD(DescribeIdentityUsage, describe_identity_usage)
CAIRN_SYNC_METHOD(GetBulkPublishDetails, get_bulk_publish_details)
CAIRN_SYNC_METHOD(GetCognitoEvents, get_cognito_events)
CAIRN_SYNC_METHOD(GetIdentityPoolConfiguration, get_identity_pool_configuration)
CAIRN_SYNC_METHOD(ListDatasets, list_datasets)
CAIRN_SYNC_METHOD(ListIdentityPoolUsage, list_identity_pool_usage)
CAIRN_SYNC_METHOD(ListRecords, list_records)
CAIRN_SYNC_METHOD(RegisterDevice, register_device)
CAIRN_SYNC_METHOD(SetCognitoEvents, set_cognito_events)
CAIRN_SYNC_METHOD(SetIdentityPoolConfiguration, set_identity_pool_configuration)
CAIRN_SYNC_METHOD(SubscribeToDataset, subscribe_to_dataset)
CAIRN_SYNC_METHOD(UnsubscribeFromDataset, unsubscribe_from_dataset)
CAIRN_SYNC_METHOD(UpdateRecords, update_records)
#undef CAIRN_SYNC_METHOD

Result<wire::PollNotificationsResponse> CognitoSyncClient::poll_notifications(
    const wire::PollNotificationsRequest& request) {
  auto validate = [](const wire::PollNotificationsRequest& r) -> Status {
    if (r.identity_pool_id.empty() || r.identity_id.empty() || r.device_id.empty()) {
      return Status(ErrorCode::kInvalidParameter,
                    "PollNotifications needs the pool, the identity and the device");
    }
    if (r.wait_seconds < 0 || r.wait_seconds > 50) {
      return Status(ErrorCode::kInvalidParameter, "PollNotifications waits 0 to 50 seconds");
    }
    return Status::OK();
  };
  auto build = [](const wire::PollNotificationsRequest& r) {
    return transport::sync_wire::build(r);
  };
  auto parse = [](std::string body, wire::PollNotificationsResponse* out) {
    return transport::sync_wire::parse(std::move(body), out);
  };
  return transport::call<wire::PollNotificationsResponse>(*impl_, request, validate, build, parse);
}

}  // namespace cairn
