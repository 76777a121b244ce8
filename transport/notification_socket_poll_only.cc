// NotificationSocket in a build without Boost.Beast (a client-only build where Boost is not
// installed): there is no WebSocket to open, so connect() answers null, which the listener takes
// as "this endpoint cannot carry it" and listens on the long poll instead (docs/events.md).
#include "transport/notification_socket.h"

namespace cairn::transport {

class NotificationSocket::Impl {};

Result<std::unique_ptr<NotificationSocket>> NotificationSocket::connect(
    const NotificationTarget& /*target*/, CredentialsProvider& /*credentials*/,
    const HttpOptions& /*http*/) {
  return std::unique_ptr<NotificationSocket>();
}

NotificationSocket::NotificationSocket(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NotificationSocket::~NotificationSocket() = default;

Result<wire::PollNotificationsResponse> NotificationSocket::next() {
  return Status(ErrorCode::kInternalError, "no WebSocket in this build");
}
Status NotificationSocket::acknowledge(int64_t /*next*/) {
  return Status(ErrorCode::kInternalError, "no WebSocket in this build");
}

}  // namespace cairn::transport
