#include "server/limits.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include "transport/json.h"

namespace cairn::server {

const char* limit_reason_name(LimitReason reason) {
  switch (reason) {
    case LimitReason::kIdentityReads:
      return "identity_reads";
    case LimitReason::kIdentityWrites:
      return "identity_writes";
    case LimitReason::kSource:
      return "source";
    case LimitReason::kPool:
      return "pool";
    case LimitReason::kBlockedSource:
      return "blocked_source";
    case LimitReason::kBlockedIdentity:
      return "blocked_identity";
    case LimitReason::kMaxIdentities:
      return "max_identities";
    case LimitReason::kMaxStorage:
      return "max_storage";
  }
  return "unknown";
}

// --- addresses -----------------------------------------------------------------------------------

namespace {

// An address as 16 bytes; IPv4 (and IPv4-mapped IPv6) as its 4 bytes first, with *v4 set.
bool parse_address(const std::string& text, std::array<uint8_t, 16>* out, bool* v4) {
  out->fill(0);
  in_addr a4{};
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    std::memcpy(out->data(), &a4, 4);
    *v4 = true;
    return true;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, text.c_str(), &a6) != 1) return false;
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a6.s6_addr, kMapped, 12) == 0) {
    std::memcpy(out->data(), a6.s6_addr + 12, 4);
    *v4 = true;
    return true;
  }
  std::memcpy(out->data(), a6.s6_addr, 16);
  *v4 = false;
  return true;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

}  // namespace

Result<Cidr> Cidr::parse(const std::string& text) {
  Cidr c;
  c.text_ = text;
  std::string address = text;
  int bits = -1;
  size_t slash = text.find('/');
  if (slash != std::string::npos) {
    address = text.substr(0, slash);
    std::string b = text.substr(slash + 1);
    if (b.empty() || b.size() > 3 || b.find_first_not_of("0123456789") != std::string::npos) {
      return Status(ErrorCode::kInvalidArgument, "'" + text + "' is not an address range");
    }
    bits = std::stoi(b);
  }
  if (!parse_address(address, &c.bytes_, &c.v4_)) {
    return Status(ErrorCode::kInvalidArgument,
                  "'" + text + "' is not an address range (1.2.3.0/24, 2001:db8::/32, 1.2.3.4)");
  }
  int max = c.v4_ ? 32 : 128;
  if (bits < 0) bits = max;
  if (bits > max) {
    return Status(ErrorCode::kInvalidArgument,
                  "'" + text + "': a prefix of at most " + std::to_string(max) + " bits");
  }
  c.bits_ = bits;
  return c;
}

bool Cidr::contains(const std::string& address) const {
  std::array<uint8_t, 16> a{};
  bool v4 = false;
  if (!parse_address(address, &a, &v4) || v4 != v4_) return false;
  int full = bits_ / 8, rest = bits_ % 8;
  if (std::memcmp(a.data(), bytes_.data(), static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[static_cast<size_t>(full)] & mask) == (bytes_[static_cast<size_t>(full)] & mask);
}

bool CidrSet::contains(const std::string& address) const {
  for (const auto& r : ranges_) {
    if (r.contains(address)) return true;
  }
  return false;
}

// --- the policy file -----------------------------------------------------------------------------

Result<Policy> Policy::parse(const std::string& json) {
  transport::json::Document d;
  Status parsed = transport::json::parse(json, d);
  if (!parsed.ok()) return Status(ErrorCode::kInvalidArgument, parsed.message());
  if (!d.IsObject()) return Status(ErrorCode::kInvalidArgument, "the policy is not a JSON object");
  Policy p;
  auto strings = [](const rapidjson::Value& v, const char* name,
                    const std::function<Status(const std::string&)>& each) -> Status {
    if (!v.IsArray()) return Status(ErrorCode::kInvalidArgument, std::string(name) + ": a list");
    for (const auto& item : v.GetArray()) {
      if (!item.IsString()) {
        return Status(ErrorCode::kInvalidArgument, std::string(name) + ": a list of strings");
      }
      Status s = each(item.GetString());
      if (!s.ok()) return s;
    }
    return Status::OK();
  };
  for (const auto& m : d.GetObject()) {
    std::string key = m.name.GetString();
    Status s;
    if (key == "blocked_sources") {
      s = strings(m.value, "blocked_sources", [&](const std::string& text) {
        auto c = Cidr::parse(text);
        if (!c.ok())
          return Status(ErrorCode::kInvalidArgument, "blocked_sources: " + c.status().message());
        p.blocked_sources.add(*c);
        return Status::OK();
      });
    } else if (key == "blocked_identities") {
      s = strings(m.value, "blocked_identities", [&](const std::string& id) {
        p.blocked_identities.insert(id);
        return Status::OK();
      });
    } else if (key == "pools") {
      if (!m.value.IsObject()) return Status(ErrorCode::kInvalidArgument, "pools: an object");
      for (const auto& pool : m.value.GetObject()) {
        std::string id = pool.name.GetString();
        if (!pool.value.IsObject()) {
          return Status(ErrorCode::kInvalidArgument, "pools." + id + ": an object");
        }
        PoolPolicy pp;
        std::map<std::string, double> numbers;
        for (const auto& setting : pool.value.GetObject()) {
          std::string name = setting.name.GetString();
          static const char* const kKnown[] = {"identity_reads_per_second",
                                               "identity_reads_burst",
                                               "identity_writes_per_second",
                                               "identity_writes_burst",
                                               "requests_per_second",
                                               "requests_burst",
                                               "max_identities",
                                               "max_storage_bytes"};
          if (std::find_if(std::begin(kKnown), std::end(kKnown),
                           [&](const char* k) { return name == k; }) == std::end(kKnown)) {
            std::string what = "pools.";
            what.append(id).append(": unknown setting '").append(name).append("'");
            return Status(ErrorCode::kInvalidArgument, what);
          }
          if (!setting.value.IsNumber() || setting.value.GetDouble() < 0) {
            std::string what = "pools.";
            what.append(id).append(".").append(name).append(": a number, 0 or more");
            return Status(ErrorCode::kInvalidArgument, what);
          }
          numbers[name] = setting.value.GetDouble();
        }
        auto rate = [&](const std::string& prefix) -> std::optional<Rate> {
          auto r = numbers.find(prefix + "_per_second");
          auto b = numbers.find(prefix + "_burst");
          if (r == numbers.end() && b == numbers.end()) return std::nullopt;
          Rate out;
          out.per_second = r == numbers.end() ? 0 : r->second;
          // A burst left out is one second's worth.
          out.burst = b == numbers.end() ? std::max(1.0, out.per_second) : b->second;
          return out;
        };
        pp.identity_reads = rate("identity_reads");
        pp.identity_writes = rate("identity_writes");
        pp.requests = rate("requests");
        if (numbers.count("max_identities"))
          pp.max_identities = static_cast<int64_t>(numbers["max_identities"]);
        if (numbers.count("max_storage_bytes"))
          pp.max_storage_bytes = static_cast<int64_t>(numbers["max_storage_bytes"]);
        p.pools[id] = pp;
      }
    } else {
      return Status(ErrorCode::kInvalidArgument, "unknown member '" + key +
                                                     "' (blocked_sources, blocked_identities, "
                                                     "pools)");
    }
    if (!s.ok()) return s;
  }
  return p;
}

Result<Policy> Policy::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(ErrorCode::kInvalidArgument, "cannot read the policy file " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto p = parse(text.str());
  if (!p.ok()) return Status(ErrorCode::kInvalidArgument, path + ": " + p.status().message());
  return p;
}

// --- token buckets -------------------------------------------------------------------------------

bool TokenBuckets::take(const std::string& key, const Rate& rate, Clock::MonotonicTime now,
                        std::chrono::milliseconds* wait) {
  if (rate.unlimited()) return true;
  Shard& shard = shards_[std::hash<std::string>()(key) % kShards];
  std::lock_guard<std::mutex> l(shard.mu);
  auto refill = [&](Bucket& b) {
    double seconds = std::chrono::duration<double>(now - b.at).count();
    if (seconds > 0) {
      b.tokens = std::min(b.burst, b.tokens + seconds * b.per_second);
      b.at = now;
    }
  };
  // A bucket that would be full again tells nothing: forget those when the shard has grown, so
  // memory follows the clients active now, not every client ever seen.
  if (shard.buckets.size() > 4096 && shard.buckets.size() > 2 * shard.pruned_at) {
    for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
      refill(it->second);
      it = it->second.tokens >= it->second.burst ? shard.buckets.erase(it) : std::next(it);
    }
    shard.pruned_at = shard.buckets.size();
  }
  double burst = std::max(1.0, rate.burst);
  auto [it, fresh] = shard.buckets.try_emplace(key);
  Bucket& b = it->second;
  if (fresh || b.burst != burst || b.per_second != rate.per_second) {
    // New, or its settings changed (a reloaded policy): it starts full under the new ones.
    b = Bucket{burst, now, burst, rate.per_second};
  }
  refill(b);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return true;
  }
  double seconds = (1 - b.tokens) / b.per_second;
  *wait = std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000)));
  return false;
}

// --- limits --------------------------------------------------------------------------------------

Limits::Limits(LimitsOptions options, std::shared_ptr<Clock> clock)
    : options_(std::move(options)),
      clock_(clock ? std::move(clock) : Clock::system()),
      policy_(std::make_shared<Policy>()) {}

Status Limits::reload() {
  if (options_.policy_file.empty()) return Status::OK();
  auto p = Policy::load(options_.policy_file);
  if (!p.ok()) return p.status();
  std::lock_guard<std::mutex> l(policy_mu_);
  policy_ = std::make_shared<Policy>(std::move(*p));
  return Status::OK();
}

std::shared_ptr<const Policy> Limits::policy() const {
  std::lock_guard<std::mutex> l(policy_mu_);
  return policy_;
}

std::string Limits::client_address(const std::string& peer,
                                   const std::string& forwarded_for) const {
  if (forwarded_for.empty() || !options_.trusted_proxies.contains(peer)) return peer;
  // Each proxy appends the address it heard from: walking back from the end, the first one that
  // is not a trusted proxy is the client. What comes before it, anyone could have written.
  std::vector<std::string> hops;
  std::stringstream in(forwarded_for);
  for (std::string hop; std::getline(in, hop, ',');) hops.push_back(trim(hop));
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    std::array<uint8_t, 16> bytes{};
    bool v4 = false;
    if (!parse_address(*it, &bytes, &v4)) return peer;  // garbage: trust nothing in it
    if (!options_.trusted_proxies.contains(*it)) return *it;
  }
  return peer;
}

Status Limits::throttled(LimitReason reason, const std::string& what,
                         std::chrono::milliseconds wait, int* retry_after) {
  counts_[static_cast<size_t>(reason)]++;
  int64_t seconds = std::max<int64_t>(1, (wait.count() + 999) / 1000);
  if (retry_after) *retry_after = static_cast<int>(std::min<int64_t>(seconds, 3600));
  return Status(ErrorCode::kTooManyRequests,
                "Rate exceeded: " + what + "; retry after " + std::to_string(seconds) + " s");
}

Status Limits::admit_source(const std::string& address) {
  if (!policy()->blocked_sources.contains(address)) return Status::OK();
  counts_[static_cast<size_t>(LimitReason::kBlockedSource)]++;
  return Status(ErrorCode::kNotAuthorized, "Requests from " + address + " are blocked");
}

Status Limits::admit_unauthenticated(const std::string& address, int* retry_after) {
  std::chrono::milliseconds wait{0};
  if (buckets_.take("source\n" + address, options_.source_unauthenticated, clock_->monotonic_now(),
                    &wait)) {
    return Status::OK();
  }
  return throttled(LimitReason::kSource, "too many identity requests from " + address, wait,
                   retry_after);
}

Status Limits::admit_identity(const std::string& identity_id) {
  if (identity_id.empty() || !policy()->blocked_identities.count(identity_id)) {
    return Status::OK();
  }
  counts_[static_cast<size_t>(LimitReason::kBlockedIdentity)]++;
  return Status(ErrorCode::kNotAuthorized, "Identity '" + identity_id + "' is blocked");
}

Status Limits::admit_pool(const std::string& pool_id, int* retry_after) {
  if (pool_id.empty()) return Status::OK();
  auto p = policy();
  auto own = p->pools.find(pool_id);
  Rate rate = own != p->pools.end() && own->second.requests ? *own->second.requests
                                                            : options_.pool_requests;
  std::chrono::milliseconds wait{0};
  if (buckets_.take("pool\n" + pool_id, rate, clock_->monotonic_now(), &wait)) {
    return Status::OK();
  }
  return throttled(LimitReason::kPool, "too many requests for pool " + pool_id, wait, retry_after);
}

Status Limits::admit_identity_call(const std::string& pool_id, const std::string& identity_id,
                                   bool write, int* retry_after) {
  Status s = admit_identity(identity_id);
  if (!s.ok()) return s;
  s = admit_pool(pool_id, retry_after);
  if (!s.ok() || identity_id.empty()) return s;
  auto p = policy();
  auto own = p->pools.find(pool_id);
  const PoolPolicy* pp = own != p->pools.end() ? &own->second : nullptr;
  Rate rate = write ? (pp && pp->identity_writes ? *pp->identity_writes : options_.identity_writes)
                    : (pp && pp->identity_reads ? *pp->identity_reads : options_.identity_reads);
  std::chrono::milliseconds wait{0};
  if (buckets_.take((write ? "w\n" : "r\n") + identity_id, rate, clock_->monotonic_now(), &wait)) {
    return Status::OK();
  }
  return throttled(
      write ? LimitReason::kIdentityWrites : LimitReason::kIdentityReads,
      std::string("too many ") + (write ? "writes" : "reads") + " by identity " + identity_id, wait,
      retry_after);
}

int64_t Limits::max_identities(const std::string& pool_id) const {
  auto p = policy();
  auto own = p->pools.find(pool_id);
  if (own != p->pools.end() && own->second.max_identities) return *own->second.max_identities;
  return options_.max_identities_per_pool;
}

int64_t Limits::max_storage_bytes(const std::string& pool_id) const {
  auto p = policy();
  auto own = p->pools.find(pool_id);
  if (own != p->pools.end() && own->second.max_storage_bytes) {
    return *own->second.max_storage_bytes;
  }
  return options_.max_storage_bytes_per_pool;
}

void Limits::refused(LimitReason reason) { counts_[static_cast<size_t>(reason)]++; }

std::array<uint64_t, kLimitReasons> Limits::counts() const {
  std::array<uint64_t, kLimitReasons> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load();
  return out;
}

// --- tarpit --------------------------------------------------------------------------------------

Tarpit::Tarpit(std::chrono::milliseconds delay, size_t max, std::shared_ptr<Clock> clock)
    : delay_(delay), max_(max), clock_(clock ? std::move(clock) : Clock::system()) {
  if (delay_.count() > 0) thread_ = std::thread([this] { run(); });
}

Tarpit::~Tarpit() {
  release_all();
  if (thread_.joinable()) thread_.join();
}

void Tarpit::release_all() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

bool Tarpit::hold(std::function<void()>& answer) {
  if (delay_.count() <= 0) return false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopping_ || due_.size() >= max_) return false;
    due_.emplace(clock_->monotonic_now() + delay_, std::move(answer));
  }
  cv_.notify_all();
  return true;
}

size_t Tarpit::held() const {
  std::lock_guard<std::mutex> l(mu_);
  return due_.size();
}

void Tarpit::run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    std::vector<std::function<void()>> now;
    auto at = clock_->monotonic_now();
    while (!due_.empty() && (stopping_ || due_.begin()->first <= at)) {
      now.push_back(std::move(due_.begin()->second));
      due_.erase(due_.begin());
    }
    if (!now.empty()) {
      l.unlock();
      for (auto& answer : now) answer();
      l.lock();
      continue;
    }
    if (stopping_) return;
    if (due_.empty()) {
      cv_.wait(l);
    } else {
      clock_->wait_until(l, cv_, due_.begin()->first);
    }
  }
}

// --- pool usage ----------------------------------------------------------------------------------

PoolUsage::PoolUsage(Count count, std::shared_ptr<Clock> clock, std::chrono::seconds recount)
    : count_(std::move(count)),
      clock_(clock ? std::move(clock) : Clock::system()),
      recount_(recount) {}

Result<PoolUsage::Usage> PoolUsage::get(const std::string& pool_id) {
  auto now = clock_->monotonic_now();
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = pools_.find(pool_id);
    if (it != pools_.end() && now - it->second.counted < recount_) return it->second.usage;
  }
  auto counted = count_(pool_id);
  if (!counted.ok()) return counted.status();
  std::lock_guard<std::mutex> l(mu_);
  pools_[pool_id] = Entry{*counted, now};
  return *counted;
}

void PoolUsage::add(const std::string& pool_id, int64_t identities, int64_t bytes) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = pools_.find(pool_id);
  if (it == pools_.end()) return;  // counted afresh when next asked
  it->second.usage.identities += identities;
  it->second.usage.bytes += bytes;
}

void PoolUsage::forget() {
  std::lock_guard<std::mutex> l(mu_);
  pools_.clear();
}

}  // namespace cairn::server
