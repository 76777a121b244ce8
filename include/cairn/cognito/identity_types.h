// Request and response structs for the Cognito Identity operations cairn uses (2014-06-30,
// awsJson 1.1). Conventions as in cognito_sync_types.h: optional members are std::optional, and an
// empty map or list is not sent.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cairn/logins.h"
#include "cairn/timestamp.h"

namespace cairn {
namespace identity {

struct CognitoIdentityProviderInfo {
  std::optional<std::string> provider_name;
  std::optional<std::string> client_id;
  std::optional<bool> server_side_token_check;
};

struct IdentityPool {
  std::string identity_pool_id;
  std::string identity_pool_name;
  bool allow_unauthenticated_identities = false;
  std::optional<bool> allow_classic_flow;
  std::map<std::string, std::string> supported_login_providers;
  std::optional<std::string> developer_provider_name;
  std::vector<std::string> open_id_connect_provider_arns;
  std::vector<CognitoIdentityProviderInfo> cognito_identity_providers;
  std::vector<std::string> saml_provider_arns;
  std::map<std::string, std::string> identity_pool_tags;
};

struct Credentials {
  std::optional<std::string> access_key_id;
  std::optional<std::string> secret_key;
  std::optional<std::string> session_token;
  std::optional<Timestamp> expiration;
};

struct IdentityDescription {
  std::optional<std::string> identity_id;
  std::vector<std::string> logins;  // provider names
  std::optional<Timestamp> creation_date;
  std::optional<Timestamp> last_modified_date;
};

struct IdentityPoolShortDescription {
  std::optional<std::string> identity_pool_id;
  std::optional<std::string> identity_pool_name;
};

struct UnprocessedIdentityId {
  std::optional<std::string> identity_id;
  std::optional<std::string> error_code;  // AccessDenied, InternalServerError
};

// --- operations -----------------------------------------------------------------------------

struct CreateIdentityPoolRequest {
  std::string identity_pool_name;
  bool allow_unauthenticated_identities = false;
  std::optional<bool> allow_classic_flow;
  std::map<std::string, std::string> supported_login_providers;
  std::optional<std::string> developer_provider_name;
  std::vector<std::string> open_id_connect_provider_arns;
  std::vector<CognitoIdentityProviderInfo> cognito_identity_providers;
  std::vector<std::string> saml_provider_arns;
  std::map<std::string, std::string> identity_pool_tags;
};
using CreateIdentityPoolResponse = IdentityPool;

struct DescribeIdentityPoolRequest {
  std::string identity_pool_id;
};
using DescribeIdentityPoolResponse = IdentityPool;

struct ListIdentityPoolsRequest {
  int32_t max_results = 60;
  std::optional<std::string> next_token;
};
struct ListIdentityPoolsResponse {
  std::vector<IdentityPoolShortDescription> identity_pools;
  std::optional<std::string> next_token;
};

struct DeleteIdentityPoolRequest {
  std::string identity_pool_id;
};
struct DeleteIdentityPoolResponse {};

struct GetIdRequest {
  std::optional<std::string> account_id;
  std::string identity_pool_id;
  Logins logins;
};
struct GetIdResponse {
  std::optional<std::string> identity_id;
};

struct GetCredentialsForIdentityRequest {
  std::string identity_id;
  Logins logins;
  std::optional<std::string> custom_role_arn;
};
struct GetCredentialsForIdentityResponse {
  std::optional<std::string> identity_id;
  std::optional<Credentials> credentials;
};

struct GetOpenIdTokenRequest {
  std::string identity_id;
  Logins logins;
};
struct GetOpenIdTokenResponse {
  std::optional<std::string> identity_id;
  std::optional<std::string> token;
};

struct GetOpenIdTokenForDeveloperIdentityRequest {
  std::string identity_pool_id;
  std::optional<std::string> identity_id;
  Logins logins;
  std::map<std::string, std::string> principal_tags;
  std::optional<int64_t> token_duration;
};
struct GetOpenIdTokenForDeveloperIdentityResponse {
  std::optional<std::string> identity_id;
  std::optional<std::string> token;
};

struct LookupDeveloperIdentityRequest {
  std::string identity_pool_id;
  std::optional<std::string> identity_id;
  std::optional<std::string> developer_user_identifier;
  std::optional<int32_t> max_results;
  std::optional<std::string> next_token;
};
struct LookupDeveloperIdentityResponse {
  std::optional<std::string> identity_id;
  std::vector<std::string> developer_user_identifier_list;
  std::optional<std::string> next_token;
};

struct MergeDeveloperIdentitiesRequest {
  std::string source_user_identifier;
  std::string destination_user_identifier;
  std::string developer_provider_name;
  std::string identity_pool_id;
};
struct MergeDeveloperIdentitiesResponse {
  std::optional<std::string> identity_id;
};

struct UnlinkDeveloperIdentityRequest {
  std::string identity_id;
  std::string identity_pool_id;
  std::string developer_provider_name;
  std::string developer_user_identifier;
};
struct UnlinkDeveloperIdentityResponse {};

struct DescribeIdentityRequest {
  std::string identity_id;
};
using DescribeIdentityResponse = IdentityDescription;

struct ListIdentitiesRequest {
  std::string identity_pool_id;
  int32_t max_results = 60;
  std::optional<std::string> next_token;
  std::optional<bool> hide_disabled;
};
struct ListIdentitiesResponse {
  std::optional<std::string> identity_pool_id;
  std::vector<IdentityDescription> identities;
  std::optional<std::string> next_token;
};

struct DeleteIdentitiesRequest {
  std::vector<std::string> identity_ids_to_delete;
};
struct DeleteIdentitiesResponse {
  std::vector<UnprocessedIdentityId> unprocessed_identity_ids;
};

}  // namespace identity
}  // namespace cairn
