// Bulk publish: every live dataset of a pool goes to the pool's stream, one stream record each
// (docs/events.md), at a bounded pace, then the outcome is recorded (IN_PROGRESS -> SUCCEEDED, or
// FAILED with the sink's reason).
#include <chrono>

#include "transport/json.h"

#include "server/api.h"

namespace cairn::server {

void Api::bulk_publish_requested(const std::string& pool_id) {
  {
    std::lock_guard<std::mutex> l(jobs_mu_);
    jobs_.push_back(pool_id);
  }
  jobs_cv_.notify_one();
}

void Api::bulk_publish_worker() {
  for (;;) {
    std::string pool_id;
    {
      std::unique_lock<std::mutex> l(jobs_mu_);
      jobs_cv_.wait(l, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      pool_id = jobs_.front();
      jobs_.pop_front();
    }
    int64_t published = 0;
    Status outcome = run_bulk_publish(pool_id, &published);
    if (!outcome.ok() && outcome.code() == ErrorCode::kCancelled) return;  // shutting down
    Status recorded = storage_->write([&](StorageTxn& txn) -> Status {
      auto pool = txn.pool_for_update(pool_id);
      if (!pool || pool->bulk_status != "IN_PROGRESS") return Status::OK();  // pool deleted
      pool->bulk_status = outcome.ok() ? "SUCCEEDED" : "FAILED";
      pool->bulk_completed = now();
      pool->bulk_failure = outcome.ok() ? "" : outcome.message();
      txn.put_pool(*pool);
      return Status::OK();
    });
    if (options_.logger) {
      options_.logger->log(recorded.ok() && outcome.ok() ? LogLevel::kInfo : LogLevel::kWarn,
                           "bulk publish of " + pool_id + ": " +
                               (outcome.ok() ? "succeeded" : outcome.ToString()) + ", " +
                               std::to_string(published) + " records");
    }
  }
}

Status Api::run_bulk_publish(const std::string& pool_id, int64_t* published) {
  // The stream the pool is configured with, read once: a bulk publish goes where it started.
  std::string stream = "stream";
  Status s = storage_->read([&](StorageTxn& txn) {
    auto pool = txn.pool(pool_id);
    if (!pool) return Status(ErrorCode::kResourceNotFound, "the pool was deleted");
    transport::json::Document d;
    if (transport::json::parse(pool->streams_json, d).ok() && d.IsObject()) {
      auto m = d.FindMember("StreamName");
      if (m != d.MemberEnd() && m->value.IsString()) stream = m->value.GetString();
    }
    return Status::OK();
  });
  if (!s.ok()) return s;

  std::string after_identity, after_name;
  auto started = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<DatasetRow> page;
    s = storage_->read([&](StorageTxn& txn) {
      page = txn.pool_datasets_after(pool_id, after_identity, after_name, 64);
      return Status::OK();
    });
    if (!s.ok()) return s;
    if (page.empty()) return Status::OK();
    for (const auto& ds : page) {
      // One stream record per dataset, with every live record, as a sync of all of it.
      std::vector<RecordRow> live;
      int64_t after_count = 0;
      std::string after_key;
      for (;;) {
        std::vector<RecordRow> records;
        s = storage_->read([&](StorageTxn& txn) {
          records = txn.records_after(ds.identity_id, ds.name, 0, after_count, after_key, 256);
          return Status::OK();
        });
        if (!s.ok()) return s;
        if (records.empty()) break;
        after_count = records.back().sync_count;
        after_key = records.back().key;
        for (auto& r : records) {
          if (r.value) live.push_back(std::move(r));
        }
      }
      s = events_->sink().write(
          stream, stream_record_json(pool_id, ds.identity_id, ds.name, "replace", ds.sync_count,
                                     ds.modified, live));
      if (!s.ok()) return Status(s.code(), "the stream sink refused a record: " + s.message());
      *published += static_cast<int64_t>(live.size());
      if (options_.bulk_publish_records_per_second > 0) {
        // Hold the pace: by now this many records may have gone out.
        auto due = started + std::chrono::milliseconds(*published * 1000 /
                                                       options_.bulk_publish_records_per_second);
        std::unique_lock<std::mutex> l(jobs_mu_);
        if (jobs_cv_.wait_until(l, due, [&] { return stopping_; })) {
          return Status(ErrorCode::kCancelled, "server stopping");
        }
      }
    }
    after_identity = page.back().identity_id;
    after_name = page.back().name;
  }
}

}  // namespace cairn::server
