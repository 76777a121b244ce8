// The notification listener: the channel to cairn-server (a WebSocket, or the long poll), on its
// own thread and client, which syncs a dataset when the server says it changed.
#include "engine/engine.h"

#include "transport/notification_socket.h"

namespace cairn::engine {

// --- the notification channel ------------------------------------------------------------------

void Engine::start_listening() {
  if (!options_.listen_for_notifications || !sync_ || closing_) return;
  std::lock_guard<std::mutex> l(listen_mu_);
  if (listener_.joinable()) {
    ++listen_kicks_;  // a device was just registered: the loop need not finish its pause
    listen_cv_.notify_all();
    return;
  }
  // A client of its own, on libcurl even when the host gave a transport: its long poll must not
  // hold up syncs on a shared connection, and close() must be able to cut it short.
  ClientConfig config;
  config.region = options_.region;
  config.endpoint = options_.endpoint;
  config.http = options_.http;
  config.http.cancel = listen_cancel_;
  config.retry = options_.retry;
  config.retry.max_retries = 0;  // the loop below backs off itself
  config.logger = options_.logger;
  config.clock = options_.clock;
  config.transport = make_curl_transport(config.http, options_.logger);
  config.credentials =
      provider_ ? std::static_pointer_cast<CredentialsProvider>(provider_) : options_.credentials;
  auto client = CognitoSyncClient::create(config);
  if (!client.ok()) return;
  listen_sync_ = std::move(*client);
  listen_http_ = config.http;
  listen_credentials_ = config.credentials;
  listener_ = std::thread([this] { listen_loop(); });
}

void Engine::listen_loop() {
  // Each poll waits on the server up to 25 s (or less, under a shorter read timeout); a failure
  // waits listen_backoff_ (0.5 to 0.625 s, doubling to 30 s) before the next.
  int32_t wait = static_cast<int32_t>(std::clamp<int64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(options_.http.read_timeout).count() - 5, 0,
      25));
  int64_t after = 0;
  int failures = 0;
  // WebSocket first; a server that declines it is long-polled, and asked again after a while.
  constexpr std::chrono::minutes kAskAgain{5};
  auto websocket_from = options_.clock->monotonic_now();
  auto pause = [&](std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(listen_mu_);
    uint64_t kicks = listen_kicks_;
    options_.clock->wait_for(l, listen_cv_, d,
                             [&] { return closing_.load() || listen_kicks_ != kicks; });
  };
  auto trouble = [&](const Status& s) {
    if (options_.logger) {
      options_.logger->log(LogLevel::kDebug, "notification channel: " + s.ToString());
    }
    pause(listen_backoff_.delay(failures++));
  };
  while (!closing_) {
    auto device = device_id({});
    auto identity = cached_identity_id();
    if (!device || !identity || !network_reachable()) {
      pause(std::chrono::milliseconds(500));
      continue;
    }
    if (options_.notifications_over_websocket && !options_.endpoint.empty() &&
        options_.clock->monotonic_now() >= websocket_from) {
      auto socket = transport::NotificationSocket::connect(
          {options_.endpoint, options_.region, options_.identity_pool_id, *identity, *device,
           after},
          *listen_credentials_, listen_http_);
      if (closing_) break;
      if (!socket.ok()) {
        trouble(socket.status());
        continue;
      }
      if (*socket) {
        failures = 0;
        for (;;) {
          auto batch = (*socket)->next();
          if (closing_) break;
          if (!batch.ok()) {
            trouble(batch.status());  // the server stopped, or the connection was lost
            break;
          }
          after = batch->next;
          handle_notifications(*batch);
          Status acked = (*socket)->acknowledge(after);
          if (!acked.ok()) {
            trouble(acked);
            break;
          }
        }
        continue;
      }
      websocket_from = options_.clock->monotonic_now() + kAskAgain;  // declined: the long poll
    }
    auto r = listen_sync_->poll_notifications(
        {options_.identity_pool_id, *identity, *device, after, wait});
    if (closing_) break;
    if (!r.ok()) {
      trouble(r.status());
      continue;
    }
    failures = 0;
    after = r->next;
    handle_notifications(*r);
  }
}

void Engine::handle_notifications(const wire::PollNotificationsResponse& batch) {
  for (const auto& n : batch.notifications) {
    auto handled = handle_push_json(n.payload_json);
    if (!handled.ok() && options_.logger) {
      options_.logger->log(LogLevel::kWarn,
                           "notification not handled: " + handled.status().ToString());
    }
    notifications_received_ += 1;  // counted once handled: a sync it started is queued by now
  }
}

}  // namespace cairn::engine
