#include "cairn/cognito/identity.h"

#include "transport/client_call.h"
#include "transport/identity_protocol.h"
#include "transport/validation.h"

namespace cairn {

struct CognitoIdentityClient::Impl : transport::ClientCore {};

Result<std::unique_ptr<CognitoIdentityClient>> CognitoIdentityClient::create(ClientConfig config) {
  auto impl = std::make_unique<Impl>();
  auto service = transport::make_service(config, "cognito-identity", transport::Protocol::kAwsJson);
  if (!service.ok()) return service.status();
  impl->config = std::move(config);
  impl->service = std::move(*service);
  return std::unique_ptr<CognitoIdentityClient>(new CognitoIdentityClient(std::move(impl)));
}

CognitoIdentityClient::CognitoIdentityClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CognitoIdentityClient::~CognitoIdentityClient() = default;

std::chrono::milliseconds CognitoIdentityClient::clock_skew() const {
  return impl_->service->clock_skew();
}
ClientStats CognitoIdentityClient::stats() const {
  return transport::to_client_stats(impl_->service->stats());
}

#define CAIRN_IDENTITY_METHOD(Op, method)                                      \
  Result<identity::Op##Response> CognitoIdentityClient::method(                \
      const identity::Op##Request& request) {                                  \
    return transport::call<identity::Op##Response>(                            \
        *impl_, request, [](const auto& r) { return transport::validate(r); }, \
        [](const auto& r) { return transport::identity_wire::build(r); },      \
        [](std::string body, identity::Op##Response* out) {                    \
          return transport::identity_wire::parse(std::move(body), out);        \
        });                                                                    \
  }

CAIRN_IDENTITY_METHOD(CreateIdentityPool, create_identity_pool)
CAIRN_IDENTITY_METHOD(DescribeIdentityPool, describe_identity_pool)
CAIRN_IDENTITY_METHOD(ListIdentityPools, list_identity_pools)
CAIRN_IDENTITY_METHOD(DeleteIdentityPool, delete_identity_pool)
CAIRN_IDENTITY_METHOD(GetId, get_id)
CAIRN_IDENTITY_METHOD(GetCredentialsForIdentity, get_credentials_for_identity)
CAIRN_IDENTITY_METHOD(GetOpenIdToken, get_open_id_token)
CAIRN_IDENTITY_METHOD(GetOpenIdTokenForDeveloperIdentity, get_open_id_token_for_developer_identity)
CAIRN_IDENTITY_METHOD(LookupDeveloperIdentity, lookup_developer_identity)
CAIRN_IDENTITY_METHOD(MergeDeveloperIdentities, merge_developer_identities)
CAIRN_IDENTITY_METHOD(UnlinkDeveloperIdentity, unlink_developer_identity)
CAIRN_IDENTITY_METHOD(DescribeIdentity, describe_identity)
CAIRN_IDENTITY_METHOD(ListIdentities, list_identities)
CAIRN_IDENTITY_METHOD(DeleteIdentities, delete_identities)
#undef CAIRN_IDENTITY_METHOD

// --- identity id persistence -------------------------------------------------------------------

std::optional<std::string> InMemoryIdentityIdStore::load(const std::string& pool) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ids_.find(pool);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}
void InMemoryIdentityIdStore::save(const std::string& pool, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  ids_[pool] = id;
}
void InMemoryIdentityIdStore::clear(const std::string& pool) {
  std::lock_guard<std::mutex> lock(mu_);
  ids_.erase(pool);
}

// --- the Cognito Identity credential flow --------------------------------------------------------

CognitoIdentityCredentialsProvider::CognitoIdentityCredentialsProvider(
    std::shared_ptr<CognitoIdentityClient> client, CognitoIdentityProviderOptions options)
    : client_(std::move(client)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : Clock::system()) {
  if (!options_.store) options_.store = std::make_shared<InMemoryIdentityIdStore>();
}

std::optional<std::string> CognitoIdentityCredentialsProvider::cached_identity_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return identity_id_;
}

Result<std::string> CognitoIdentityCredentialsProvider::identity_id() {
  std::lock_guard<std::mutex> lock(mu_);
  return identity_id_locked();
}

Result<std::string> CognitoIdentityCredentialsProvider::identity_id_locked() {
  if (identity_id_) return *identity_id_;
  if (auto stored = options_.store->load(options_.identity_pool_id)) {
    identity_id_ = *stored;
    return *identity_id_;
  }
  auto r = client_->get_id({options_.account_id, options_.identity_pool_id, options_.logins});
  if (!r.ok()) return r.status();
  if (!r->identity_id || r->identity_id->empty()) {
    return Status(ErrorCode::kParse, "GetId response has no IdentityId");
  }
  identity_id_ = *r->identity_id;
  options_.store->save(options_.identity_pool_id, *identity_id_);
  return *identity_id_;
}

Result<AwsCredentials> CognitoIdentityCredentialsProvider::credentials() {
  std::string changed_from, changed_to;
  Result<AwsCredentials> result = Status(ErrorCode::kNoCredentials, "not fetched");
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = clock_->now();
    if (cached_ && cached_->expiration && *cached_->expiration - options_.refresh_margin > now) {
      return *cached_;
    }
    cached_.reset();
    // Two rounds at most: a stored identity the service no longer knows is dropped once.
    for (int round = 0; round < 2; ++round) {
      auto id = identity_id_locked();
      if (!id.ok()) return id.status();
      auto r =
          client_->get_credentials_for_identity({*id, options_.logins, options_.custom_role_arn});
      if (!r.ok()) {
        if (round == 0 && r.status().code() == ErrorCode::kResourceNotFound) {
          changed_from = *id;
          identity_id_.reset();
          options_.store->clear(options_.identity_pool_id);
          continue;
        }
        return r.status();
      }
      if (!r->credentials || !r->credentials->access_key_id || !r->credentials->secret_key) {
        return Status(ErrorCode::kParse, "GetCredentialsForIdentity response has no credentials");
      }
      if (r->identity_id && !r->identity_id->empty() && *r->identity_id != *id) {
        // Logins merged this identity into another: the service names the survivor.
        changed_from = *id;
        identity_id_ = *r->identity_id;
        options_.store->save(options_.identity_pool_id, *identity_id_);
      }
      if (!changed_from.empty()) changed_to = *identity_id_;
      AwsCredentials creds;
      creds.access_key_id = *r->credentials->access_key_id;
      creds.secret_access_key = *r->credentials->secret_key;
      creds.session_token = r->credentials->session_token.value_or("");
      creds.expiration = r->credentials->expiration;
      if (!creds.expiration) {
        // Without an expiry, treat them as good for the service's usual hour.
        creds.expiration = now + std::chrono::hours(1);
      }
      cached_ = creds;
      result = creds;
      break;
    }
  }
  if (!changed_to.empty() && changed_from != changed_to && options_.on_identity_changed) {
    options_.on_identity_changed(changed_from, changed_to);
  }
  return result;
}

void CognitoIdentityCredentialsProvider::invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  cached_.reset();
}

void CognitoIdentityCredentialsProvider::set_logins(identity::Logins logins) {
  std::lock_guard<std::mutex> lock(mu_);
  options_.logins = std::move(logins);
  cached_.reset();
}

void CognitoIdentityCredentialsProvider::clear() {
  std::lock_guard<std::mutex> lock(mu_);
  cached_.reset();
  identity_id_.reset();
  options_.store->clear(options_.identity_pool_id);
}

}  // namespace cairn
