// What keeps one client from taking the server from everyone else (docs/server.md, Limits):
//
//  - rate limits, as token buckets with bursts: per identity for reads and for writes, per source
//    address for the unauthenticated Cognito Identity operations, and per pool overall. A request
//    over one gets TooManyRequestsException, with Retry-After;
//  - blocks, of source ranges and identities, from the policy file (reloaded on SIGHUP);
//  - quotas per pool, of identities and of storage, checked against usage this process keeps
//    counted (PoolUsage);
//  - the client's address: the peer's, or from X-Forwarded-For when the peer is a trusted proxy.
//
// Every default is a flag, and each pool may have its own in the policy file. Limits hold per
// server instance: N instances behind a balancer let a client through at up to N times a rate.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cairn/clock.h"
#include "cairn/status.h"

namespace cairn::server {

// A token bucket's settings: `per_second` tokens a second, holding at most `burst`. A
// per_second of 0 or less is no limit.
struct Rate {
  double per_second = 0;
  double burst = 0;
  bool unlimited() const { return per_second <= 0; }
};

// An IPv4 or IPv6 address range: "203.0.113.0/24", "2001:db8::/32", or one address.
class Cidr {
 public:
  static Result<Cidr> parse(const std::string& text);
  // Whether `address` (as the peer's address reads, "1.2.3.4" or "::1") is in the range. An
  // IPv4-mapped IPv6 address (::ffff:1.2.3.4) matches IPv4 ranges.
  bool contains(const std::string& address) const;
  const std::string& text() const { return text_; }

 private:
  std::array<uint8_t, 16> bytes_{};
  int bits_ = 0;
  bool v4_ = false;
  std::string text_;
};

// Any of several ranges.
class CidrSet {
 public:
  void add(Cidr c) { ranges_.push_back(std::move(c)); }
  bool contains(const std::string& address) const;
  bool empty() const { return ranges_.empty(); }

 private:
  std::vector<Cidr> ranges_;
};

// A pool's own settings from the policy file; what is unset takes the server's default.
struct PoolPolicy {
  std::optional<Rate> identity_reads, identity_writes, requests;
  std::optional<int64_t> max_identities, max_storage_bytes;
};

// The operator's policy file (JSON; docs/server.md, Limits):
//   {"blocked_sources": ["203.0.113.0/24", ...], "blocked_identities": ["us-east-1:...", ...],
//    "pools": {"POOL_ID": {"identity_reads_per_second": 5, "identity_reads_burst": 50,
//                          "identity_writes_per_second": ..., "identity_writes_burst": ...,
//                          "requests_per_second": ..., "requests_burst": ...,
//                          "max_identities": ..., "max_storage_bytes": ...}}}
// Every member is optional; an unknown one is an error, so a typo never passes silently.
struct Policy {
  CidrSet blocked_sources;
  std::set<std::string> blocked_identities;
  std::map<std::string, PoolPolicy> pools;
  static Result<Policy> parse(const std::string& json);
  static Result<Policy> load(const std::string& path);
};

struct LimitsOptions {
  // Per identity, for the Cognito Sync calls acting on it: reads (ListRecords, ListDatasets,
  // DescribeDataset, DescribeIdentityUsage, the notification channel) and writes (UpdateRecords,
  // DeleteDataset, RegisterDevice, SubscribeToDataset, UnsubscribeFromDataset).
  // Developer credentials (the game's backend) are not limited per identity.
  Rate identity_reads{50, 500};
  Rate identity_writes{25, 250};
  // Per source address, GetId, GetCredentialsForIdentity and GetOpenIdToken together.
  Rate source_unauthenticated{50, 500};
  // Per pool, every call naming it, on this instance.
  Rate pool_requests{50000, 100000};
  // Quotas per pool; 0: none.
  int64_t max_identities_per_pool = 0;
  int64_t max_storage_bytes_per_pool = 0;
  // Peers whose X-Forwarded-For names the client (a load balancer in front).
  CidrSet trusted_proxies;
  // The policy file, read at start and again by reload(); empty: none.
  std::string policy_file;
  // A refused request (a rate limit or a block) is answered this late, so that a client that
  // sends again as soon as it is answered slows to one request per delay and connection (0: at
  // once). At most `max_delayed` answers wait at once; past that they go at once.
  std::chrono::milliseconds refusal_delay{1000};
  size_t max_delayed = 10000;
};

// Why a request was refused, for cairn_limited_total{reason}.
enum class LimitReason {
  kIdentityReads,
  kIdentityWrites,
  kSource,
  kPool,
  kBlockedSource,
  kBlockedIdentity,
  kMaxIdentities,
  kMaxStorage,
};
constexpr int kLimitReasons = 8;
const char* limit_reason_name(LimitReason reason);

// Buckets by key, sharded, that forget a key once its bucket would be full again.
class TokenBuckets {
 public:
  // Takes a token from `key`'s bucket; false (and how long until one is there) when empty.
  bool take(const std::string& key, const Rate& rate, Clock::MonotonicTime now,
            std::chrono::milliseconds* wait);

 private:
  struct Bucket {
    double tokens = 0;
    Clock::MonotonicTime at;
    double burst = 0;
    double per_second = 0;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
    size_t pruned_at = 0;  // size after the last prune
  };
  // Buckets are split by key over this many locks, so that workers admitting requests from
  // different sources rarely wait on one another.
  static constexpr size_t kShards = 16;
  std::array<Shard, kShards> shards_;
};

class Limits {
 public:
  Limits(LimitsOptions options, std::shared_ptr<Clock> clock);

  // Reads the policy file again; on an error the policy in force stays, and the error says why.
  Status reload();

  // The client's address: the peer's, or, when the peer is a trusted proxy, the last address in
  // X-Forwarded-For that is not itself a trusted proxy.
  std::string client_address(const std::string& peer, const std::string& forwarded_for) const;

  // Each check returns OK, or the refusal to answer with. Rate refusals carry how long to wait
  // in *retry_after (whole seconds, at least 1).
  Status admit_source(const std::string& address);  // blocked ranges
  Status admit_unauthenticated(const std::string& address, int* retry_after);
  Status admit_identity(const std::string& identity_id);  // blocked identities
  Status admit_pool(const std::string& pool_id, int* retry_after);
  Status admit_identity_call(const std::string& pool_id, const std::string& identity_id, bool write,
                             int* retry_after);

  // The pool's quotas (0: none).
  int64_t max_identities(const std::string& pool_id) const;
  int64_t max_storage_bytes(const std::string& pool_id) const;
  // Counts a quota refusal (the handlers decide those).
  void refused(LimitReason reason);

  // Refusals since start, by reason.
  std::array<uint64_t, kLimitReasons> counts() const;

 private:
  std::shared_ptr<const Policy> policy() const;
  Status throttled(LimitReason reason, const std::string& what, std::chrono::milliseconds wait,
                   int* retry_after);

  LimitsOptions options_;
  std::shared_ptr<Clock> clock_;
  mutable std::mutex policy_mu_;
  std::shared_ptr<const Policy> policy_;
  TokenBuckets buckets_;
  std::array<std::atomic<uint64_t>, kLimitReasons> counts_{};
};

// Answers held back for a while, then sent from one timer thread: a held answer costs its
// connection and a closure, not a thread.
class Tarpit {
 public:
  Tarpit(std::chrono::milliseconds delay, size_t max, std::shared_ptr<Clock> clock);
  ~Tarpit();  // sends everything still held, at once
  // Holds `answer` for the delay; false (and `answer` untouched) when the delay is 0 or `max`
  // answers are held already: the caller answers now.
  bool hold(std::function<void()>& answer);
  size_t held() const;
  // Sends everything held at once, and holds nothing from then on (the server is stopping).
  void release_all();

 private:
  void run();
  std::chrono::milliseconds delay_;
  size_t max_;
  std::shared_ptr<Clock> clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::MonotonicTime, std::function<void()>> due_;
  bool stopping_ = false;
  std::thread thread_;
};

// A pool's identities and stored bytes, for its quotas: counted from storage when first asked
// and again every `recount` (another instance's writes), and moved by this process's own changes
// in between.
class PoolUsage {
 public:
  struct Usage {
    int64_t identities = 0;
    int64_t bytes = 0;
  };
  using Count = std::function<Result<Usage>(const std::string& pool_id)>;
  PoolUsage(Count count, std::shared_ptr<Clock> clock,
            std::chrono::seconds recount = std::chrono::seconds(30));

  Result<Usage> get(const std::string& pool_id);
  // This process changed the pool's usage (a new identity, bytes written or freed).
  void add(const std::string& pool_id, int64_t identities, int64_t bytes);
  // Every pool is counted afresh when next asked (identities were deleted).
  void forget();

 private:
  struct Entry {
    Usage usage;
    Clock::MonotonicTime counted;
  };
  Count count_;
  std::shared_ptr<Clock> clock_;
  std::chrono::seconds recount_;
  std::mutex mu_;
  std::map<std::string, Entry> pools_;
};

}  // namespace cairn::server
