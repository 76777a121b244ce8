// awsJson 1.1 serialisation for Cognito Identity (docs/wire-protocol.md section 2).
#include "transport/identity_protocol.h"

#include "transport/json.h"

namespace cairn::transport::identity_wire {
namespace {

using json::ObjectReader;

WireRequest make(const char* op, json::Writer& w, bool sign = true) {
  WireRequest r;
  r.operation = op;
  r.method = "POST";
  r.path = "/";
  r.headers.emplace_back("X-Amz-Target", std::string("AWSCognitoIdentityService.") + op);
  r.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  r.body = w.take();
  r.sign = sign;
  return r;
}

void write_providers(json::Writer& w,
                     const std::vector<identity::CognitoIdentityProviderInfo>& providers) {
  if (providers.empty()) return;
  w.begin_array("CognitoIdentityProviders");
  for (const auto& p : providers) {
    w.begin_object();
    w.str("ProviderName", p.provider_name);
    w.str("ClientId", p.client_id);
    w.boolean("ServerSideTokenCheck", p.server_side_token_check);
    w.end_object();
  }
  w.end_array();
}

void read_pool(ObjectReader& r, identity::IdentityPool* out) {
  out->identity_pool_id = r.str("IdentityPoolId").value_or("");
  out->identity_pool_name = r.str("IdentityPoolName").value_or("");
  out->allow_unauthenticated_identities =
      r.boolean("AllowUnauthenticatedIdentities").value_or(false);
  out->allow_classic_flow = r.boolean("AllowClassicFlow");
  out->supported_login_providers = r.string_map("SupportedLoginProviders");
  out->developer_provider_name = r.str("DeveloperProviderName");
  out->open_id_connect_provider_arns = r.string_list("OpenIdConnectProviderARNs");
  if (const auto* a = r.array("CognitoIdentityProviders")) {
    for (const auto& item : a->GetArray()) {
      ObjectReader p(item, "CognitoIdentityProvider");
      identity::CognitoIdentityProviderInfo info;
      info.provider_name = p.str("ProviderName");
      info.client_id = p.str("ClientId");
      info.server_side_token_check = p.boolean("ServerSideTokenCheck");
      r.merge(p);
      out->cognito_identity_providers.push_back(std::move(info));
    }
  }
  out->saml_provider_arns = r.string_list("SamlProviderARNs");
  out->identity_pool_tags = r.string_map("IdentityPoolTags");
}

identity::IdentityDescription read_identity(const rapidjson::Value& v, ObjectReader& parent) {
  ObjectReader r(v, "IdentityDescription");
  identity::IdentityDescription d;
  d.identity_id = r.str("IdentityId");
  d.logins = r.string_list("Logins");
  d.creation_date = r.time("CreationDate");
  d.last_modified_date = r.time("LastModifiedDate");
  parent.merge(r);
  return d;
}
}  // namespace

WireRequest build(const identity::CreateIdentityPoolRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("IdentityPoolName", q.identity_pool_name);
  w.boolean("AllowUnauthenticatedIdentities", q.allow_unauthenticated_identities);
  w.boolean("AllowClassicFlow", q.allow_classic_flow);
  w.string_map("SupportedLoginProviders", q.supported_login_providers);
  w.str("DeveloperProviderName", q.developer_provider_name);
  w.string_list("OpenIdConnectProviderARNs", q.open_id_connect_provider_arns);
  write_providers(w, q.cognito_identity_providers);
  w.string_list("SamlProviderARNs", q.saml_provider_arns);
  w.string_map("IdentityPoolTags", q.identity_pool_tags);
  w.end_object();
  return make("CreateIdentityPool", w);
}

WireRequest build(const identity::DescribeIdentityPoolRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("IdentityPoolId", q.identity_pool_id);
  w.end_object();
  return make("DescribeIdentityPool", w);
}

WireRequest build(const identity::ListIdentityPoolsRequest& q) {
  json::Writer w;
  w.begin_object();
  w.i64("MaxResults", q.max_results);
  w.str("NextToken", q.next_token);
  w.end_object();
  return make("ListIdentityPools", w);
}

WireRequest build(const identity::DeleteIdentityPoolRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("IdentityPoolId", q.identity_pool_id);
  w.end_object();
  return make("DeleteIdentityPool", w);
}

WireRequest build(const identity::GetIdRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("AccountId", q.account_id);
  w.str("IdentityPoolId", q.identity_pool_id);
  w.string_map("Logins", q.logins);
  w.end_object();
  return make("GetId", w, /*sign=*/false);
}

WireRequest build(const identity::GetCredentialsForIdentityRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("IdentityId", q.identity_id);
  w.string_map("Logins", q.logins);
  w.str("CustomRoleArn", q.custom_role_arn);
  w.end_object();
  return make("GetCredentialsForIdentity", w, /*sign=*/false);
}

WireRequest build(const identity::GetOpenIdTokenRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("IdentityId", q.identity_id);
  w.string_map("Logins", q.logins);
  w.end_object();
  return make("GetOpenIdToken", w, /*sign=*/false);
}

WireRequest build(const identity::GetOpenIdTokenForDeveloperIdentityRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("IdentityPoolId", q.identity_pool_id);
  w.str("IdentityId", q.identity_id);
  // Logins is required: sent even when empty, so the service (not us) names what is missing.
  w.key("Logins");
  w.begin_object();
  for (const auto& [k, v] : q.logins) w.str(k.c_str(), v);
  w.end_object();
  w.string_map("PrincipalTags", q.principal_tags);
  w.i64("TokenDuration", q.token_duration);
  w.end_object();
  return make("GetOpenIdTokenForDeveloperIdentity", w);
}

WireRequest build(const identity::LookupDeveloperIdentityRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("IdentityPoolId", q.identity_pool_id);
  w.str("IdentityId", q.identity_id);
  w.str("DeveloperUserIdentifier", q.developer_user_identifier);
  w.i32("MaxResults", q.max_results);
  w.str("NextToken", q.next_token);
  w.end_object();
  return make("LookupDeveloperIdentity", w);
}

WireRequest build(const identity::MergeDeveloperIdentitiesRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("SourceUserIdentifier", q.source_user_identifier);
  w.str("DestinationUserIdentifier", q.destination_user_identifier);
  w.str("DeveloperProviderName", q.developer_provider_name);
  w.str("IdentityPoolId", q.identity_pool_id);
  w.end_object();
  return make("MergeDeveloperIdentities", w);
}

WireRequest build(const identity::UnlinkDeveloperIdentityRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("IdentityId", q.identity_id);
  w.str("IdentityPoolId", q.identity_pool_id);
  w.str("DeveloperProviderName", q.developer_provider_name);
  w.str("DeveloperUserIdentifier", q.developer_user_identifier);
  w.end_object();
  return make("UnlinkDeveloperIdentity", w);
}

WireRequest build(const identity::DescribeIdentityRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("IdentityId", q.identity_id);
  w.end_object();
  return make("DescribeIdentity", w);
}

WireRequest build(const identity::ListIdentitiesRequest& q) {
  json::Writer w;
  w.begin_object();
  w.str("IdentityPoolId", q.identity_pool_id);
  w.i64("MaxResults", q.max_results);
  w.str("NextToken", q.next_token);
  w.boolean("HideDisabled", q.hide_disabled);
  w.end_object();
  return make("ListIdentities", w);
}

WireRequest build(const identity::DeleteIdentitiesRequest& q) {
  json::Writer w;
  w.begin_object();
  w.begin_array("IdentityIdsToDelete");
  for (const auto& id : q.identity_ids_to_delete) w.value(id);
  w.end_array();
  w.end_object();
  return make("DeleteIdentities", w);
}

Status parse(std::string_view body, identity::CreateIdentityPoolResponse* out) {
  return json::parse_response(body, "CreateIdentityPool",
                              [&](ObjectReader& r) { read_pool(r, out); });
}

Status parse(std::string_view body, identity::ListIdentityPoolsResponse* out) {
  return json::parse_response(body, "ListIdentityPools", [&](ObjectReader& r) {
    if (const auto* a = r.array("IdentityPools")) {
      for (const auto& item : a->GetArray()) {
        ObjectReader p(item, "IdentityPoolShortDescription");
        out->identity_pools.push_back({p.str("IdentityPoolId"), p.str("IdentityPoolName")});
        r.merge(p);
      }
    }
    out->next_token = r.str("NextToken");
  });
}

Status parse(std::string_view body, identity::DeleteIdentityPoolResponse*) {
  return json::parse_response(body, "DeleteIdentityPool", [](ObjectReader&) {});
}

Status parse(std::string_view body, identity::GetIdResponse* out) {
  return json::parse_response(body, "GetId",
                              [&](ObjectReader& r) { out->identity_id = r.str("IdentityId"); });
}

Status parse(std::string_view body, identity::GetCredentialsForIdentityResponse* out) {
  return json::parse_response(body, "GetCredentialsForIdentity", [&](ObjectReader& r) {
    out->identity_id = r.str("IdentityId");
    if (const auto* c = r.object("Credentials")) {
      ObjectReader cr(*c, "Credentials");
      identity::Credentials creds;
      creds.access_key_id = cr.str("AccessKeyId");
      creds.secret_key = cr.str("SecretKey");
      creds.session_token = cr.str("SessionToken");
      creds.expiration = cr.time("Expiration");
      r.merge(cr);
      out->credentials = std::move(creds);
    }
  });
}

Status parse(std::string_view body, identity::GetOpenIdTokenResponse* out) {
  return json::parse_response(body, "GetOpenIdToken", [&](ObjectReader& r) {
    out->identity_id = r.str("IdentityId");
    out->token = r.str("Token");
  });
}

Status parse(std::string_view body, identity::GetOpenIdTokenForDeveloperIdentityResponse* out) {
  return json::parse_response(body, "GetOpenIdTokenForDeveloperIdentity", [&](ObjectReader& r) {
    out->identity_id = r.str("IdentityId");
    out->token = r.str("Token");
  });
}

Status parse(std::string_view body, identity::LookupDeveloperIdentityResponse* out) {
  return json::parse_response(body, "LookupDeveloperIdentity", [&](ObjectReader& r) {
    out->identity_id = r.str("IdentityId");
    out->developer_user_identifier_list = r.string_list("DeveloperUserIdentifierList");
    out->next_token = r.str("NextToken");
  });
}

Status parse(std::string_view body, identity::MergeDeveloperIdentitiesResponse* out) {
  return json::parse_response(body, "MergeDeveloperIdentities",
                              [&](ObjectReader& r) { out->identity_id = r.str("IdentityId"); });
}

Status parse(std::string_view body, identity::UnlinkDeveloperIdentityResponse*) {
  return json::parse_response(body, "UnlinkDeveloperIdentity", [](ObjectReader&) {});
}

Status parse(std::string_view body, identity::DescribeIdentityResponse* out) {
  return json::parse_response(body, "DescribeIdentity", [&](ObjectReader& r) {
    out->identity_id = r.str("IdentityId");
    out->logins = r.string_list("Logins");
    out->creation_date = r.time("CreationDate");
    out->last_modified_date = r.time("LastModifiedDate");
  });
}

Status parse(std::string_view body, identity::ListIdentitiesResponse* out) {
  return json::parse_response(body, "ListIdentities", [&](ObjectReader& r) {
    out->identity_pool_id = r.str("IdentityPoolId");
    if (const auto* a = r.array("Identities")) {
      for (const auto& item : a->GetArray()) out->identities.push_back(read_identity(item, r));
    }
    out->next_token = r.str("NextToken");
  });
}

Status parse(std::string_view body, identity::DeleteIdentitiesResponse* out) {
  return json::parse_response(body, "DeleteIdentities", [&](ObjectReader& r) {
    if (const auto* a = r.array("UnprocessedIdentityIds")) {
      for (const auto& item : a->GetArray()) {
        ObjectReader u(item, "UnprocessedIdentityId");
        out->unprocessed_identity_ids.push_back({u.str("IdentityId"), u.str("ErrorCode")});
        r.merge(u);
      }
    }
  });
}

}  // namespace cairn::transport::identity_wire
