// CognitoIdentityClient: a typed client for the Cognito Identity operations a game and a
// cairn-server operator use. GetId, GetCredentialsForIdentity and GetOpenIdToken go out unsigned,
// as the model says; the others are signed with developer credentials.
//
// CognitoIdentityCredentialsProvider: the credential flow of a game client. It gets an identity id
// (GetId, cached through an IdentityIdStore the engine backs with the local store), exchanges it
// for temporary credentials (GetCredentialsForIdentity), caches them and refreshes them before they
// expire. When the service answers with a different identity id (logins merged two identities), it
// saves the new id and calls the identity-changed callback.
//
// Thread safety: both classes may be shared by every thread. The provider fetches at most once at a
// time; concurrent callers wait for that fetch and share its result.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cairn/cognito/client_config.h"
#include "cairn/cognito/identity_types.h"
#include "cairn/cognito/sync.h"  // ClientStats
#include "cairn/credentials.h"
#include "cairn/export.h"
#include "cairn/status.h"

namespace cairn {

class CAIRN_CPP_API CognitoIdentityClient {
 public:
  static Result<std::unique_ptr<CognitoIdentityClient>> create(ClientConfig config);
  ~CognitoIdentityClient();

  Result<identity::CreateIdentityPoolResponse> create_identity_pool(
      const identity::CreateIdentityPoolRequest& request);
  Result<identity::DescribeIdentityPoolResponse> describe_identity_pool(
      const identity::DescribeIdentityPoolRequest& request);
  Result<identity::ListIdentityPoolsResponse> list_identity_pools(
      const identity::ListIdentityPoolsRequest& request);
  Result<identity::DeleteIdentityPoolResponse> delete_identity_pool(
      const identity::DeleteIdentityPoolRequest& request);
  Result<identity::GetIdResponse> get_id(const identity::GetIdRequest& request);
  Result<identity::GetCredentialsForIdentityResponse> get_credentials_for_identity(
      const identity::GetCredentialsForIdentityRequest& request);
  Result<identity::GetOpenIdTokenResponse> get_open_id_token(
      const identity::GetOpenIdTokenRequest& request);
  Result<identity::GetOpenIdTokenForDeveloperIdentityResponse>
  get_open_id_token_for_developer_identity(
      const identity::GetOpenIdTokenForDeveloperIdentityRequest& request);
  Result<identity::LookupDeveloperIdentityResponse> lookup_developer_identity(
      const identity::LookupDeveloperIdentityRequest& request);
  Result<identity::MergeDeveloperIdentitiesResponse> merge_developer_identities(
      const identity::MergeDeveloperIdentitiesRequest& request);
  Result<identity::UnlinkDeveloperIdentityResponse> unlink_developer_identity(
      const identity::UnlinkDeveloperIdentityRequest& request);
  Result<identity::DescribeIdentityResponse> describe_identity(
      const identity::DescribeIdentityRequest& request);
  Result<identity::ListIdentitiesResponse> list_identities(
      const identity::ListIdentitiesRequest& request);
  Result<identity::DeleteIdentitiesResponse> delete_identities(
      const identity::DeleteIdentitiesRequest& request);

  std::chrono::milliseconds clock_skew() const;
  ClientStats stats() const;

  struct Impl;

 private:
  explicit CognitoIdentityClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Where the provider keeps the identity id between runs. The engine backs it with the local store.
class CAIRN_CPP_API IdentityIdStore {
 public:
  virtual ~IdentityIdStore() = default;
  virtual std::optional<std::string> load(const std::string& identity_pool_id) = 0;
  virtual void save(const std::string& identity_pool_id, const std::string& identity_id) = 0;
  virtual void clear(const std::string& identity_pool_id) = 0;
};

class CAIRN_CPP_API InMemoryIdentityIdStore final : public IdentityIdStore {
 public:
  std::optional<std::string> load(const std::string& identity_pool_id) override;
  void save(const std::string& identity_pool_id, const std::string& identity_id) override;
  void clear(const std::string& identity_pool_id) override;

 private:
  std::mutex mu_;
  std::map<std::string, std::string> ids_;
};

struct CognitoIdentityProviderOptions {
  std::string identity_pool_id;
  std::optional<std::string> account_id;
  identity::Logins logins;  // empty: an unauthenticated identity
  std::optional<std::string> custom_role_arn;
  std::shared_ptr<IdentityIdStore> store;  // null: in memory only
  // Credentials this close to expiry count as expired and are refreshed.
  std::chrono::seconds refresh_margin{300};
  // Called (outside any lock) when the identity id changes: old id (maybe empty), new id.
  std::function<void(const std::string& old_id, const std::string& new_id)> on_identity_changed;
  std::shared_ptr<Clock> clock;  // null: the system clock
};

class CAIRN_CPP_API CognitoIdentityCredentialsProvider final : public CredentialsProvider {
 public:
  CognitoIdentityCredentialsProvider(std::shared_ptr<CognitoIdentityClient> client,
                                     CognitoIdentityProviderOptions options);

  Result<AwsCredentials> credentials() override;
  void invalidate() override;
  std::string name() const override { return "cognito-identity"; }

  // The identity id, calling GetId first when none is cached or stored.
  Result<std::string> identity_id();
  std::optional<std::string> cached_identity_id() const;
  // New logins (a player signs in): cached credentials are dropped, the identity id is kept, and
  // the next fetch presents the logins (the service may answer with a merged identity).
  void set_logins(identity::Logins logins);
  // Forget the identity and credentials (sign out).
  void clear();

 private:
  Result<std::string> identity_id_locked();

  std::shared_ptr<CognitoIdentityClient> client_;
  CognitoIdentityProviderOptions options_;
  std::shared_ptr<Clock> clock_;
  mutable std::mutex mu_;
  std::optional<std::string> identity_id_;
  std::optional<AwsCredentials> cached_;
};

}  // namespace cairn
