// The declarations of Cognito Identity (2014-06-30), for the operations cairn implements: one
// Fields<> per shape of the service model and one Operation<> per operation, in the model's own
// order and names. Everything that crosses the wire for this service is encoded, decoded and
// validated from these (codec.h); tests/transport/codec_test.cc checks them against
// ../shared/spec/models member by member.
//
// To add a member: add it to the struct in include/cairn/cognito/identity_types.h and declare it
// here.
#pragma once

#include "cairn/cognito/identity_types.h"
#include "transport/codec.h"

namespace cairn::transport::codec {

inline constexpr char kIdentityTargetPrefix[] = "AWSCognitoIdentityService.";

template <>
struct Operation<identity::CreateIdentityPoolRequest> {
  using Response = identity::CreateIdentityPoolResponse;
  static constexpr OperationInfo kInfo{"CreateIdentityPool", "POST", "/", Protocol::kAwsJson,
                                       kIdentityTargetPrefix};
};
template <>
struct Fields<identity::CognitoIdentityProviderInfo> {
  static constexpr char kShape[] = "CognitoIdentityProvider";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("ProviderName", s.provider_name, is("CognitoIdentityProviderName"));
    v.member("ClientId", s.client_id, is("CognitoIdentityProviderClientId"));
    v.member("ServerSideTokenCheck", s.server_side_token_check,
             is("CognitoIdentityProviderTokenCheck"));
  }
};

// The settings of a pool, as CreateIdentityPool takes them and IdentityPool answers them.
template <typename V, typename S>
void pool_settings(V& v, S& s) {
  v.member("IdentityPoolName", s.identity_pool_name, is("IdentityPoolName").must());
  v.member("AllowUnauthenticatedIdentities", s.allow_unauthenticated_identities,
           is("IdentityPoolUnauthenticated").must());
  v.member("AllowClassicFlow", s.allow_classic_flow, is("ClassicFlow"));
  v.member("SupportedLoginProviders", s.supported_login_providers,
           map_of("IdentityProviders", "IdentityProviderName", "IdentityProviderId"));
  v.member("DeveloperProviderName", s.developer_provider_name, is("DeveloperProviderName"));
  v.member("OpenIdConnectProviderARNs", s.open_id_connect_provider_arns,
           list_of("OIDCProviderList", "ARNString"));
  v.member("CognitoIdentityProviders", s.cognito_identity_providers,
           list_of("CognitoIdentityProviderList", "CognitoIdentityProvider"));
  v.member("SamlProviderARNs", s.saml_provider_arns, list_of("SAMLProviderList", "ARNString"));
  v.member("IdentityPoolTags", s.identity_pool_tags,
           map_of("IdentityPoolTagsType", "TagKeysType", "TagValueType"));
}

template <>
struct Fields<identity::CreateIdentityPoolRequest> {
  static constexpr char kShape[] = "CreateIdentityPoolInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    pool_settings(v, s);
  }
};

template <>
struct Fields<identity::IdentityPool> {
  static constexpr char kShape[] = "IdentityPool";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
    pool_settings(v, s);
  }
};

template <>
struct Operation<identity::DescribeIdentityPoolRequest> {
  using Response = identity::DescribeIdentityPoolResponse;
  static constexpr OperationInfo kInfo{"DescribeIdentityPool", "POST", "/", Protocol::kAwsJson,
                                       kIdentityTargetPrefix};
};
template <>
struct Fields<identity::DescribeIdentityPoolRequest> {
  static constexpr char kShape[] = "DescribeIdentityPoolInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
  }
};

template <>
struct Operation<identity::ListIdentityPoolsRequest> {
  using Response = identity::ListIdentityPoolsResponse;
  static constexpr OperationInfo kInfo{"ListIdentityPools", "POST", "/", Protocol::kAwsJson,
                                       kIdentityTargetPrefix};
};
template <>
struct Fields<identity::ListIdentityPoolsRequest> {
  static constexpr char kShape[] = "ListIdentityPoolsInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("MaxResults", s.max_results, is("QueryLimit").must());
    v.member("NextToken", s.next_token, is("PaginationKey"));
  }
};

template <>
struct Fields<identity::IdentityPoolShortDescription> {
  static constexpr char kShape[] = "IdentityPoolShortDescription";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId"));
    v.member("IdentityPoolName", s.identity_pool_name, is("IdentityPoolName"));
  }
};

template <>
struct Fields<identity::ListIdentityPoolsResponse> {
  static constexpr char kShape[] = "ListIdentityPoolsResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPools", s.identity_pools,
             list_of("IdentityPoolsList", "IdentityPoolShortDescription"));
    v.member("NextToken", s.next_token, is("PaginationKey"));
  }
};

template <>
struct Operation<identity::DeleteIdentityPoolRequest> {
  using Response = identity::DeleteIdentityPoolResponse;
  static constexpr OperationInfo kInfo{"DeleteIdentityPool", "POST", "/", Protocol::kAwsJson,
                                       kIdentityTargetPrefix};
};
template <>
struct Fields<identity::DeleteIdentityPoolRequest> {
  static constexpr char kShape[] = "DeleteIdentityPoolInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
  }
};

template <>
struct Operation<identity::GetIdRequest> {
  using Response = identity::GetIdResponse;
  static constexpr OperationInfo kInfo{
      "GetId", "POST", "/", Protocol::kAwsJson, kIdentityTargetPrefix, /*sign=*/false};
};
template <>
struct Fields<identity::GetIdRequest> {
  static constexpr char kShape[] = "GetIdInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("AccountId", s.account_id, is("AccountId"));
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
    v.member("Logins", s.logins,
             map_of("LoginsMap", "IdentityProviderName", "IdentityProviderToken"));
  }
};

template <>
struct Fields<identity::GetIdResponse> {
  static constexpr char kShape[] = "GetIdResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId"));
  }
};

template <>
struct Operation<identity::GetCredentialsForIdentityRequest> {
  using Response = identity::GetCredentialsForIdentityResponse;
  static constexpr OperationInfo kInfo{
      "GetCredentialsForIdentity", "POST",        "/", Protocol::kAwsJson,
      kIdentityTargetPrefix,       /*sign=*/false};
};
template <>
struct Fields<identity::GetCredentialsForIdentityRequest> {
  static constexpr char kShape[] = "GetCredentialsForIdentityInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId").must());
    v.member("Logins", s.logins,
             map_of("LoginsMap", "IdentityProviderName", "IdentityProviderToken"));
    v.member("CustomRoleArn", s.custom_role_arn, is("ARNString"));
  }
};

template <>
struct Fields<identity::Credentials> {
  static constexpr char kShape[] = "Credentials";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("AccessKeyId", s.access_key_id, is("AccessKeyString"));
    v.member("SecretKey", s.secret_key, is("SecretKeyString"));
    v.member("SessionToken", s.session_token, is("SessionTokenString"));
    v.member("Expiration", s.expiration, is("DateType"));
  }
};

template <>
struct Fields<identity::GetCredentialsForIdentityResponse> {
  static constexpr char kShape[] = "GetCredentialsForIdentityResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId"));
    v.member("Credentials", s.credentials, is("Credentials"));
  }
};

template <>
struct Operation<identity::GetOpenIdTokenRequest> {
  using Response = identity::GetOpenIdTokenResponse;
  static constexpr OperationInfo kInfo{
      "GetOpenIdToken", "POST", "/", Protocol::kAwsJson, kIdentityTargetPrefix, /*sign=*/false};
};
template <>
struct Fields<identity::GetOpenIdTokenRequest> {
  static constexpr char kShape[] = "GetOpenIdTokenInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId").must());
    v.member("Logins", s.logins,
             map_of("LoginsMap", "IdentityProviderName", "IdentityProviderToken"));
  }
};

template <>
struct Fields<identity::GetOpenIdTokenResponse> {
  static constexpr char kShape[] = "GetOpenIdTokenResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId"));
    v.member("Token", s.token, is("OIDCToken"));
  }
};

template <>
struct Operation<identity::GetOpenIdTokenForDeveloperIdentityRequest> {
  using Response = identity::GetOpenIdTokenForDeveloperIdentityResponse;
  static constexpr OperationInfo kInfo{"GetOpenIdTokenForDeveloperIdentity", "POST", "/",
                                       Protocol::kAwsJson, kIdentityTargetPrefix};
};
template <>
struct Fields<identity::GetOpenIdTokenForDeveloperIdentityRequest> {
  static constexpr char kShape[] = "GetOpenIdTokenForDeveloperIdentityInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
    v.member("IdentityId", s.identity_id, is("IdentityId"));
    v.member("Logins", s.logins,
             map_of("LoginsMap", "IdentityProviderName", "IdentityProviderToken").must());
    v.member("PrincipalTags", s.principal_tags,
             map_of("PrincipalTags", "PrincipalTagID", "PrincipalTagValue"));
    v.member("TokenDuration", s.token_duration, is("TokenDuration"));
  }
};

template <>
struct Fields<identity::GetOpenIdTokenForDeveloperIdentityResponse> {
  static constexpr char kShape[] = "GetOpenIdTokenForDeveloperIdentityResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId"));
    v.member("Token", s.token, is("OIDCToken"));
  }
};

template <>
struct Operation<identity::LookupDeveloperIdentityRequest> {
  using Response = identity::LookupDeveloperIdentityResponse;
  static constexpr OperationInfo kInfo{"LookupDeveloperIdentity", "POST", "/", Protocol::kAwsJson,
                                       kIdentityTargetPrefix};
};
template <>
struct Fields<identity::LookupDeveloperIdentityRequest> {
  static constexpr char kShape[] = "LookupDeveloperIdentityInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
    v.member("IdentityId", s.identity_id, is("IdentityId"));
    v.member("DeveloperUserIdentifier", s.developer_user_identifier, is("DeveloperUserIdentifier"));
    v.member("MaxResults", s.max_results, is("QueryLimit"));
    v.member("NextToken", s.next_token, is("PaginationKey"));
  }
};

template <>
struct Fields<identity::LookupDeveloperIdentityResponse> {
  static constexpr char kShape[] = "LookupDeveloperIdentityResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId"));
    v.member("DeveloperUserIdentifierList", s.developer_user_identifier_list,
             list_of("DeveloperUserIdentifierList", "DeveloperUserIdentifier"));
    v.member("NextToken", s.next_token, is("PaginationKey"));
  }
};

template <>
struct Operation<identity::MergeDeveloperIdentitiesRequest> {
  using Response = identity::MergeDeveloperIdentitiesResponse;
  static constexpr OperationInfo kInfo{"MergeDeveloperIdentities", "POST", "/", Protocol::kAwsJson,
                                       kIdentityTargetPrefix};
};
template <>
struct Fields<identity::MergeDeveloperIdentitiesRequest> {
  static constexpr char kShape[] = "MergeDeveloperIdentitiesInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("SourceUserIdentifier", s.source_user_identifier,
             is("DeveloperUserIdentifier").must());
    v.member("DestinationUserIdentifier", s.destination_user_identifier,
             is("DeveloperUserIdentifier").must());
    v.member("DeveloperProviderName", s.developer_provider_name,
             is("DeveloperProviderName").must());
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
  }
};

template <>
struct Fields<identity::MergeDeveloperIdentitiesResponse> {
  static constexpr char kShape[] = "MergeDeveloperIdentitiesResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId"));
  }
};

template <>
struct Operation<identity::UnlinkDeveloperIdentityRequest> {
  using Response = identity::UnlinkDeveloperIdentityResponse;
  static constexpr OperationInfo kInfo{"UnlinkDeveloperIdentity", "POST", "/", Protocol::kAwsJson,
                                       kIdentityTargetPrefix};
};
template <>
struct Fields<identity::UnlinkDeveloperIdentityRequest> {
  static constexpr char kShape[] = "UnlinkDeveloperIdentityInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId").must());
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
    v.member("DeveloperProviderName", s.developer_provider_name,
             is("DeveloperProviderName").must());
    v.member("DeveloperUserIdentifier", s.developer_user_identifier,
             is("DeveloperUserIdentifier").must());
  }
};

template <>
struct Operation<identity::DescribeIdentityRequest> {
  using Response = identity::DescribeIdentityResponse;
  static constexpr OperationInfo kInfo{"DescribeIdentity", "POST", "/", Protocol::kAwsJson,
                                       kIdentityTargetPrefix};
};
template <>
struct Fields<identity::DescribeIdentityRequest> {
  static constexpr char kShape[] = "DescribeIdentityInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId").must());
  }
};

template <>
struct Fields<identity::IdentityDescription> {
  static constexpr char kShape[] = "IdentityDescription";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId"));
    v.member("Logins", s.logins, list_of("LoginsList", "IdentityProviderName"));
    v.member("CreationDate", s.creation_date, is("DateType"));
    v.member("LastModifiedDate", s.last_modified_date, is("DateType"));
  }
};

template <>
struct Operation<identity::ListIdentitiesRequest> {
  using Response = identity::ListIdentitiesResponse;
  static constexpr OperationInfo kInfo{"ListIdentities", "POST", "/", Protocol::kAwsJson,
                                       kIdentityTargetPrefix};
};
template <>
struct Fields<identity::ListIdentitiesRequest> {
  static constexpr char kShape[] = "ListIdentitiesInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId").must());
    v.member("MaxResults", s.max_results, is("QueryLimit").must());
    v.member("NextToken", s.next_token, is("PaginationKey"));
    v.member("HideDisabled", s.hide_disabled, is("HideDisabled"));
  }
};

template <>
struct Fields<identity::ListIdentitiesResponse> {
  static constexpr char kShape[] = "ListIdentitiesResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityPoolId", s.identity_pool_id, is("IdentityPoolId"));
    v.member("Identities", s.identities, list_of("IdentitiesList", "IdentityDescription"));
    v.member("NextToken", s.next_token, is("PaginationKey"));
  }
};

template <>
struct Operation<identity::DeleteIdentitiesRequest> {
  using Response = identity::DeleteIdentitiesResponse;
  static constexpr OperationInfo kInfo{"DeleteIdentities", "POST", "/", Protocol::kAwsJson,
                                       kIdentityTargetPrefix};
};
template <>
struct Fields<identity::DeleteIdentitiesRequest> {
  static constexpr char kShape[] = "DeleteIdentitiesInput";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityIdsToDelete", s.identity_ids_to_delete,
             list_of("IdentityIdList", "IdentityId").must());
  }
};

template <>
struct Fields<identity::UnprocessedIdentityId> {
  static constexpr char kShape[] = "UnprocessedIdentityId";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("IdentityId", s.identity_id, is("IdentityId"));
    v.member("ErrorCode", s.error_code, is("ErrorCode"));
  }
};

template <>
struct Fields<identity::DeleteIdentitiesResponse> {
  static constexpr char kShape[] = "DeleteIdentitiesResponse";
  template <typename V, typename S>
  static void visit(V& v, S& s) {
    v.member("UnprocessedIdentityIds", s.unprocessed_identity_ids,
             list_of("UnprocessedIdentityIdList", "UnprocessedIdentityId"));
  }
};

// The model gives DeleteIdentityPool and UnlinkDeveloperIdentity no output shape: the service
// answers an empty object.
template <>
struct Fields<identity::DeleteIdentityPoolResponse> {
  static constexpr char kShape[] = "DeleteIdentityPoolResponse";
  template <typename V, typename S>
  static void visit(V&, S&) {}
};
template <>
struct Fields<identity::UnlinkDeveloperIdentityResponse> {
  static constexpr char kShape[] = "UnlinkDeveloperIdentityResponse";
  template <typename V, typename S>
  static void visit(V&, S&) {}
};

}  // namespace cairn::transport::codec
