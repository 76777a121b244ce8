#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace cairn::server {

namespace {

// From half a millisecond (a cached read) to ten seconds (a sync trigger hook at its limit).
const prometheus::Histogram::BucketBoundaries kSeconds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// A counter kept elsewhere, brought up to `now` (counters only go up).
void advance(prometheus::Counter& counter, uint64_t now) {
  double delta = static_cast<double>(now) - counter.Value();
  if (delta > 0) counter.Increment(delta);
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("cairn_requests_total")
                   .Help("Requests answered, by operation and HTTP status")
                   .Register(*registry_);
  durations_ = &prometheus::BuildHistogram()
                    .Name("cairn_request_duration_seconds")
                    .Help("Time from a whole request to its answer, by operation")
                    .Register(*registry_);
  auto& txn = prometheus::BuildHistogram()
                  .Name("cairn_storage_transaction_seconds")
                  .Help("Storage transactions, commit included, by kind")
                  .Register(*registry_);
  read_txn_ = &txn.Add({{"kind", "read"}}, kSeconds);
  write_txn_ = &txn.Add({{"kind", "write"}}, kSeconds);
  connections_ = &prometheus::BuildGauge()
                      .Name("cairn_connections")
                      .Help(
                          "Connections open now: http (between or in requests), long_poll "
                          "(a poll waiting), websocket")
                      .Register(*registry_);
  refused_ = &prometheus::BuildCounter()
                  .Name("cairn_connections_refused_total")
                  .Help("Connections answered 503 past --max-connections")
                  .Register(*registry_)
                  .Add({});
  notifications_ = &prometheus::BuildCounter()
                        .Name("cairn_notifications_total")
                        .Help(
                            "Notifications posted to devices' mailboxes, delivered to a "
                            "waiting poll or WebSocket, or dropped from a full mailbox")
                        .Register(*registry_);
  webhooks_ = &prometheus::BuildCounter()
                   .Name("cairn_webhook_deliveries_total")
                   .Help(
                       "Push webhook and HTTP stream posts, delivered or failed after every "
                       "attempt of a round (the outbox tries a failed one again later)")
                   .Register(*registry_);
  outbox_ = &prometheus::BuildCounter()
                 .Name("cairn_outbox_changes_total")
                 .Help(
                     "Changes with deliveries to make: staged with their commit, completed, "
                     "retried after a failed round, taken over from a crashed process or "
                     "another instance, given up as too old (expired) or past the outbox's "
                     "size (evicted)")
                 .Register(*registry_);
  limited_ = &prometheus::BuildCounter()
                  .Name("cairn_limited_total")
                  .Help(
                      "Requests refused by a rate limit (identity_reads, identity_writes, "
                      "source, pool), a block (blocked_source, blocked_identity) or a quota "
                      "(max_identities, max_storage)")
                  .Register(*registry_);
  outbox_waiting_ = &prometheus::BuildGauge()
                         .Name("cairn_outbox_waiting")
                         .Help("Changes in the outbox whose deliveries are not all made yet")
                         .Register(*registry_)
                         .Add({});
  retries_ = &prometheus::BuildCounter()
                  .Name("cairn_storage_retries_total")
                  .Help("Write transactions run again after a conflict or a lost connection")
                  .Register(*registry_)
                  .Add({});
  pool_ = &prometheus::BuildGauge()
               .Name("cairn_storage_pool_connections")
               .Help("PostgreSQL connections: the most the pool opens, open now, in use now")
               .Register(*registry_);
}

Metrics::~Metrics() = default;

void Metrics::request(const std::string& operation, int status, double seconds) {
  requests_->Add({{"operation", operation}, {"status", std::to_string(status)}}).Increment();
  durations_->Add({{"operation", operation}}, kSeconds).Observe(seconds);
}

void Metrics::transaction(bool write, double seconds) {
  (write ? write_txn_ : read_txn_)->Observe(seconds);
}

std::string Metrics::render(const MetricsSnapshot& now) {
  std::lock_guard<std::mutex> l(render_mu_);
  connections_->Add({{"kind", "http"}}).Set(static_cast<double>(now.http));
  connections_->Add({{"kind", "long_poll"}}).Set(static_cast<double>(now.long_poll));
  connections_->Add({{"kind", "websocket"}}).Set(static_cast<double>(now.websocket));
  advance(*refused_, now.refused);
  advance(notifications_->Add({{"outcome", "posted"}}), now.posted);
  advance(notifications_->Add({{"outcome", "delivered"}}), now.delivered);
  advance(notifications_->Add({{"outcome", "dropped"}}), now.dropped);
  advance(webhooks_->Add({{"outcome", "delivered"}}), now.webhook_delivered);
  advance(webhooks_->Add({{"outcome", "failed"}}), now.webhook_failed);
  advance(outbox_->Add({{"outcome", "staged"}}), now.outbox_staged);
  advance(outbox_->Add({{"outcome", "completed"}}), now.outbox_completed);
  advance(outbox_->Add({{"outcome", "retried"}}), now.outbox_retried);
  advance(outbox_->Add({{"outcome", "taken_over"}}), now.outbox_taken_over);
  advance(outbox_->Add({{"outcome", "expired"}}), now.outbox_expired);
  advance(outbox_->Add({{"outcome", "evicted"}}), now.outbox_evicted);
  outbox_waiting_->Set(static_cast<double>(now.outbox_waiting));
  for (int i = 0; i < kLimitReasons; ++i) {
    advance(limited_->Add({{"reason", limit_reason_name(static_cast<LimitReason>(i))}}),
            now.limited[static_cast<size_t>(i)]);
  }
  advance(*retries_, now.storage_retries);
  pool_->Add({{"state", "max"}}).Set(now.pool_max);
  pool_->Add({{"state", "open"}}).Set(now.pool_open);
  pool_->Add({{"state", "in_use"}}).Set(now.pool_in_use);
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace cairn::server
