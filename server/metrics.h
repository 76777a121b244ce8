// Metrics: what GET /metrics shows, in the Prometheus text format (through prometheus-cpp).
//
//  cairn_requests_total{operation,status}            requests answered
//  cairn_request_duration_seconds{operation}          handler time, as a histogram
//  cairn_connections{kind="http|long_poll|websocket"} connections open now
//  cairn_connections_refused_total                    turned away past --max-connections
//  cairn_notifications_total{outcome="posted|delivered|dropped"}
//  cairn_webhook_deliveries_total{outcome="delivered|failed"}  HTTP posts (webhooks, the stream
//                                                     sink); a failed one is tried again later
//  cairn_outbox_changes_total{outcome="staged|completed|retried|taken_over|expired|evicted"}
//  cairn_outbox_waiting                               changes whose deliveries are not all made
//  cairn_limited_total{reason}                        requests refused by a rate limit, a block or
//                                                     a quota (server/limits.h)
//  cairn_storage_transaction_seconds{kind="read|write"}  as a histogram
//  cairn_storage_retries_total                        writes run again (PostgreSQL)
//  cairn_storage_pool_connections{state="max|open|in_use"}  PostgreSQL's pool
//
// Requests and transactions are counted as they happen; the rest is read at each scrape.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "server/limits.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace cairn::server {

// What the scrape reads off the server's parts.
struct MetricsSnapshot {
  size_t http = 0, long_poll = 0, websocket = 0;    // connections open now, by kind
  size_t refused = 0;                               // connections turned away since start
  uint64_t posted = 0, delivered = 0, dropped = 0;  // notifications, since start
  uint64_t webhook_delivered = 0, webhook_failed = 0;
  uint64_t outbox_staged = 0, outbox_completed = 0, outbox_retried = 0, outbox_taken_over = 0,
           outbox_expired = 0, outbox_evicted = 0;
  int64_t outbox_waiting = 0;
  std::array<uint64_t, kLimitReasons> limited{};  // by LimitReason
  uint64_t storage_retries = 0;
  int pool_max = 0, pool_open = 0, pool_in_use = 0;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();

  void request(const std::string& operation, int status, double seconds);
  void transaction(bool write, double seconds);
  // The text exposition, with `now` read into the gauges and the read-at-scrape counters.
  std::string render(const MetricsSnapshot& now);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* durations_;
  prometheus::Histogram* read_txn_;
  prometheus::Histogram* write_txn_;
  prometheus::Family<prometheus::Gauge>* connections_;
  prometheus::Counter* refused_;
  prometheus::Family<prometheus::Counter>* notifications_;
  prometheus::Family<prometheus::Counter>* webhooks_;
  prometheus::Family<prometheus::Counter>* outbox_;
  prometheus::Gauge* outbox_waiting_;
  prometheus::Family<prometheus::Counter>* limited_;
  prometheus::Counter* retries_;
  prometheus::Family<prometheus::Gauge>* pool_;
  std::mutex render_mu_;
};

}  // namespace cairn::server
