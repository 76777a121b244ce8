// NotificationSocket: cairn-server's notification channel over WebSocket (docs/events.md), as a
// client. One connection carries every batch of a device's notifications; the client
// acknowledges its place after each. Boost.Beast on Asio, with TLS through OpenSSL for https
// endpoints.
//
// It is blocking, for a listener thread of its own; every wait checks HttpOptions::cancel about
// four times a second, so an owner that closes never waits it out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cairn/cognito/sync_types.h"
#include "cairn/credentials.h"
#include "cairn/http.h"
#include "cairn/status.h"

namespace cairn::transport {

struct NotificationTarget {
  std::string endpoint;  // http(s)://host[:port][/prefix], as the sync client's
  std::string region;
  std::string pool, identity, device;
  int64_t after = 0;  // the Next last handled
};

class NotificationSocket {
 public:
  // Connects, and upgrades the device's notification path with a SigV4-signed request.
  //  - null when this endpoint cannot carry it: a proxy is configured, or the server declined the
  //    upgrade (an older server, a proxy that strips Upgrade, or a refusal, which the long poll
  //    will then report with its reason);
  //  - kNetwork (kTls) when the server cannot be reached; kCancelled when cancelled.
  static Result<std::unique_ptr<NotificationSocket>> connect(const NotificationTarget& target,
                                                             CredentialsProvider& credentials,
                                                             const HttpOptions& http);
  ~NotificationSocket();

  // The next batch, once the server sends one. kNetwork when the connection ends (the
  // server's close frame at its stop included), kCancelled when cancelled.
  Result<wire::PollNotificationsResponse> next();
  // Tells the server the batch up to `next` is handled.
  Status acknowledge(int64_t next);

  class Impl;

 private:
  explicit NotificationSocket(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::transport
