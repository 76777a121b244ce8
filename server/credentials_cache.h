// CredentialsCache: the temporary credentials that signed recent requests, kept in memory so that
// verifying a signature needs no storage read. A row never changes once issued; it only goes away
// when its identity or pool is deleted or merged, and the Api revokes the whole cache after such a
// write commits. Expiry needs no revocation: every request checks the row's `expires`.
//
// A fill races a revocation safely: lookup() hands out the generation it saw, and fill() keeps
// the row only if no revocation has happened since. A row read before a deletion committed can
// therefore never be cached after the revocation that follows it.
//
// The cache is exact within one process. Instances sharing a PostgreSQL database also hear each
// other's revocations through Storage::watch_revocations: another instance's revocation empties
// this cache (revoked_elsewhere), and while that feed is down (feed_lost) the cache serves and
// keeps nothing, so every request reads storage.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "server/storage/storage.h"

namespace cairn::server {

class CredentialsCache {
 public:
  // Rows kept at most; past that an arbitrary one makes room. 64k rows are a few MB.
  static constexpr size_t kMaxRows = 65536;

  struct Lookup {
    std::optional<CredentialsRow> row;
    uint64_t generation = 0;  // pass to fill() after a miss
  };

  Lookup lookup(const std::string& access_key_id) const {
    std::lock_guard<std::mutex> l(mu_);
    if (!trusted_) return {std::nullopt, generation_};
    auto it = rows_.find(access_key_id);
    if (it == rows_.end()) return {std::nullopt, generation_};
    return {it->second, generation_};
  }

  // Keeps `row`, read from storage after lookup() returned `generation`, unless revoked since.
  void fill(const CredentialsRow& row, uint64_t generation) {
    std::lock_guard<std::mutex> l(mu_);
    if (generation != generation_ || !trusted_) return;
    if (rows_.size() >= kMaxRows) rows_.erase(rows_.begin());
    rows_[row.access_key_id] = row;
  }

  // After a committed write that deleted or merged identities or pools.
  void revoke_all() {
    std::lock_guard<std::mutex> l(mu_);
    ++generation_;
    rows_.clear();
  }

  // Another instance revoked credentials, or the feed that says so is back after a gap: nothing
  // held may stand, and what is read from now on may be kept again.
  void revoked_elsewhere() {
    std::lock_guard<std::mutex> l(mu_);
    ++generation_;
    rows_.clear();
    trusted_ = true;
  }

  // Revocations elsewhere may go unheard until the next revoked_elsewhere(): keep nothing.
  void feed_lost() {
    std::lock_guard<std::mutex> l(mu_);
    ++generation_;
    rows_.clear();
    trusted_ = false;
  }

  size_t size() const {
    std::lock_guard<std::mutex> l(mu_);
    return rows_.size();
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, CredentialsRow> rows_;
  uint64_t generation_ = 0;
  bool trusted_ = true;
};

}  // namespace cairn::server
