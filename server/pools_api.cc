// Identity pools: CreateIdentityPool, DescribeIdentityPool, ListIdentityPools,
// DeleteIdentityPool, and the pool a fresh server makes for itself (--bootstrap-pool).
#include "server/api.h"
#include "server/api_internal.h"
#include "transport/identity_shapes.h"

namespace cairn::server {

using namespace internal;

namespace {

// The stored pool as the IdentityPool shape: its settings as they were created, with the stored
// id, name and flags over them.
Result<identity::IdentityPool> pool_shape(const PoolRow& pool) {
  identity::IdentityPool out;
  if (!pool.settings_json.empty()) {
    Status s = transport::codec::from_json(pool.settings_json, "IdentityPool", &out);
    if (!s.ok()) return s;
  }
  out.identity_pool_id = pool.id;
  out.identity_pool_name = pool.name;
  out.allow_unauthenticated_identities = pool.allow_unauthenticated;
  if (!pool.developer_provider_name.empty()) {
    out.developer_provider_name = pool.developer_provider_name;
  }
  return out;
}

}  // namespace

Result<identity::CreateIdentityPoolResponse> Api::serve(
    Call& c, const identity::CreateIdentityPoolRequest& r) {
  PoolRow pool;
  Status s = storage_->write([&](StorageTxn& txn) -> Status {
    if (txn.count_pools() >= options_.max_identity_pools) {
      return Status(ErrorCode::kLimitExceeded, "The account already has the maximum of " +
                                                   std::to_string(options_.max_identity_pools) +
                                                   " identity pools");
    }
    pool.id = new_identity_id();
    pool.name = r.identity_pool_name;
    pool.allow_unauthenticated = r.allow_unauthenticated_identities;
    pool.developer_provider_name = r.developer_provider_name.value_or("");
    // The request holds every optional IdentityPool member, as the model spells them;
    // pool_shape() overlays the stored id, name and flags on it.
    pool.settings_json = transport::codec::to_json(r);
    pool.created = pool.modified = c.now;
    txn.put_pool(pool);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return pool_shape(pool);
}

Result<std::string> Api::bootstrap_pool(const std::string& name) {
  std::string id;
  Status s = storage_->write([&](StorageTxn& txn) -> Status {
    if (auto existing = txn.pool_by_name(name)) {
      id = existing->id;
      return Status::OK();
    }
    PoolRow pool;
    pool.id = new_identity_id();
    pool.name = name;
    pool.allow_unauthenticated = true;
    pool.developer_provider_name = "login.cairn";
    pool.settings_json = "{}";
    pool.created = pool.modified = now();
    txn.put_pool(pool);
    id = pool.id;
    return Status::OK();
  });
  if (!s.ok()) return s;
  return id;
}

Result<identity::DescribeIdentityPoolResponse> Api::serve(
    Call&, const identity::DescribeIdentityPoolRequest& r) {
  PoolRow pool;
  Status s =
      storage_->read([&](StorageTxn& txn) { return require_pool(txn, r.identity_pool_id, &pool); });
  if (!s.ok()) return s;
  return pool_shape(pool);
}

Result<identity::ListIdentityPoolsResponse> Api::serve(
    Call&, const identity::ListIdentityPoolsRequest& r) {
  auto after = read_cursor(tokens_, "identity-pools", r.next_token);
  if (!after.ok()) return after.status();
  std::vector<PoolRow> pools;
  Status s = storage_->read([&](StorageTxn& txn) {
    pools = txn.pools_after(*after, r.max_results + 1);
    return Status::OK();
  });
  if (!s.ok()) return s;
  bool more = trim_page(pools, r.max_results);
  identity::ListIdentityPoolsResponse out;
  for (const auto& p : pools) out.identity_pools.push_back({p.id, p.name});
  if (more) out.next_token = make_cursor(tokens_, "identity-pools", pools.back().id);
  return out;
}

Result<identity::DeleteIdentityPoolResponse> Api::serve(
    Call&, const identity::DeleteIdentityPoolRequest& r) {
  Status s = storage_->write([&](StorageTxn& txn) -> Status {
    Status st = require_pool(txn, r.identity_pool_id, nullptr);
    if (!st.ok()) return st;
    txn.delete_pool(r.identity_pool_id);
    txn.announce_revocation();
    return Status::OK();
  });
  credentials_cache_.revoke_all();  // committed or not: revoking is never wrong
  if (!s.ok()) return s;
  return identity::DeleteIdentityPoolResponse{};
}

}  // namespace cairn::server
