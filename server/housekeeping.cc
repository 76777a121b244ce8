// Api's background work: sync sessions counted in memory and written in batches, and the hourly
// expiry of idle unauthenticated identities. One thread runs it (usage_flusher, started by create).
#include <chrono>

#include "server/api.h"

namespace cairn::server {

void Api::count_sync_session(const std::string& pool_id) {
  std::lock_guard<std::mutex> l(usage_mu_);
  pending_sessions_[pool_id] += 1;
}

Status Api::flush_sync_sessions() {
  std::map<std::string, int64_t> pending;
  {
    std::lock_guard<std::mutex> l(usage_mu_);
    pending.swap(pending_sessions_);
  }
  if (pending.empty()) return Status::OK();
  Status s = storage_->write([&](StorageTxn& txn) {
    // In place: other instances on the same database add theirs at the same time. A pool
    // deleted meanwhile took its usage with it.
    for (const auto& [pool_id, sessions] : pending) txn.add_sync_sessions(pool_id, sessions);
    return Status::OK();
  });
  if (!s.ok()) {
    // Counted again next time: a failed write loses no session.
    std::lock_guard<std::mutex> l(usage_mu_);
    for (const auto& [pool_id, sessions] : pending) pending_sessions_[pool_id] += sessions;
  }
  return s;
}

void Api::usage_flusher() {
  std::unique_lock<std::mutex> l(usage_mu_);
  while (!usage_stopping_) {
    usage_cv_.wait_for(l, std::chrono::seconds(1));
    if (usage_stopping_) continue;
    if (options_.expire_unauthenticated_days > 0 && now() - expired_at_ >= 3600 * 1000) {
      // Hourly (and once at start): identities idle past the expiry, with nothing to keep.
      expired_at_ = now();
      l.unlock();
      auto gone =
          expire_idle_identities(expired_at_ - options_.expire_unauthenticated_days * 86400 * 1000);
      if (options_.logger) {
        if (!gone.ok()) {
          options_.logger->log(LogLevel::kWarn, "identity expiry: " + gone.status().ToString());
        } else if (*gone > 0) {
          options_.logger->log(LogLevel::kInfo,
                               "identity expiry: deleted " + std::to_string(*gone) +
                                   " unauthenticated identities with no login and no data, idle " +
                                   std::to_string(options_.expire_unauthenticated_days) +
                                   " days or more");
        }
      }
      l.lock();
    }
    if (pending_sessions_.empty()) continue;
    l.unlock();
    Status s = flush_sync_sessions();
    if (!s.ok() && options_.logger) {
      options_.logger->log(LogLevel::kWarn, "sync session counts not written yet: " + s.ToString());
    }
    l.lock();
  }
}

Result<int64_t> Api::expire_idle_identities(Millis before) {
  int64_t deleted = 0;
  std::string after;
  for (;;) {
    std::vector<std::string> batch;
    Status s = storage_->write([&](StorageTxn& txn) {
      // The query's conditions hold in this transaction, so nothing that gained a login or a
      // dataset meanwhile goes.
      batch = txn.idle_unauthenticated_identities(before, after, 200);
      for (const auto& id : batch) txn.delete_identity(id);
      if (!batch.empty()) txn.announce_revocation();
      return Status::OK();
    });
    if (!s.ok()) return s;
    if (batch.empty()) break;
    deleted += static_cast<int64_t>(batch.size());
    after = batch.back();
    credentials_cache_.revoke_all();
  }
  if (deleted > 0) pool_usage_.forget();
  return deleted;
}

}  // namespace cairn::server
