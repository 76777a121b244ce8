// cairn-server's Cognito Identity subset, authentication and isolation, merges, devices, pool
// administration and wire conventions.
#include <thread>

#include "fixtures/scripted_server.h"
#include "fixtures/wait.h"
#include "server_fixture.h"
#include "tests/transport/fakes.h"
#include "transport/service_client.h"
#include "transport/sync_protocol.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using testing::list_all;
using testing::push;
using testing::put;
using testing::TestServer;

// A developer-authenticated identity for `user`, as a game backend would make it.
std::pair<std::string, std::string> developer_identity(
    TestServer& ts, const std::string& user, std::optional<std::string> existing = std::nullopt) {
  auto r = ts.admin_identity()->get_open_id_token_for_developer_identity(
      {ts.pool(), existing, {{"login.cairn", user}}, {}, std::nullopt});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return {*r->identity_id, *r->token};
}

TEST(IdentityPools, CreateDescribeListPageAndDelete) {
  TestServer ts;
  auto admin = ts.admin_identity();
  identity::CreateIdentityPoolRequest req;
  req.identity_pool_name = "second game";
  req.allow_unauthenticated_identities = false;
  req.developer_provider_name = "login.example";
  req.identity_pool_tags = {{"team", "blue"}};
  auto created = admin->create_identity_pool(req);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->identity_pool_id.rfind("us-east-1:", 0), 0u);
  EXPECT_EQ(created->identity_pool_tags.at("team"), "blue");
  auto described = admin->describe_identity_pool({created->identity_pool_id});
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(described->identity_pool_name, "second game");
  EXPECT_FALSE(described->allow_unauthenticated_identities);
  EXPECT_EQ(*described->developer_provider_name, "login.example");

  std::vector<std::string> ids;
  std::optional<std::string> next;
  do {
    auto page = admin->list_identity_pools({1, next});
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& p : page->identity_pools) ids.push_back(*p.identity_pool_id);
    next = page->next_token;
  } while (next);
  EXPECT_EQ(ids.size(), 2u);

  // Unauthenticated identities are refused where the pool forbids them.
  auto no_unauth = admin->get_id({std::nullopt, created->identity_pool_id, {}});
  EXPECT_EQ(no_unauth.status().code(), ErrorCode::kNotAuthorized);
  ASSERT_TRUE(admin->delete_identity_pool({created->identity_pool_id}).ok());
  EXPECT_EQ(admin->describe_identity_pool({created->identity_pool_id}).status().code(),
            ErrorCode::kResourceNotFound);
  EXPECT_EQ(admin->get_id({std::nullopt, created->identity_pool_id, {}}).status().code(),
            ErrorCode::kResourceNotFound);
}

TEST(Identities, UnauthenticatedFlowGivesScopedExpiringCredentials) {
  TestServer ts;
  auto d = ts.new_device();
  auto creds = d.provider->credentials();
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->access_key_id.rfind("ASIA", 0), 0u);
  EXPECT_FALSE(creds->session_token.empty());
  auto left = *creds->expiration - std::chrono::system_clock::now();
  EXPECT_GT(left, 59min);
  EXPECT_LE(left, 61min);
  auto described = ts.admin_identity()->describe_identity({d.identity_id});
  ASSERT_TRUE(described.ok());
  EXPECT_TRUE(described->logins.empty());
  auto listed = ts.admin_identity()->list_identities({ts.pool(), 60, std::nullopt, std::nullopt});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->identities.size(), 1u);
  EXPECT_EQ(*listed->identities[0].identity_id, d.identity_id);
}

TEST(Identities, DeveloperIdentitiesLinkLookUpAndAuthenticateWithTheirToken) {
  TestServer ts;
  auto [alice, token] = developer_identity(ts, "alice");
  auto [again, token2] = developer_identity(ts, "alice");
  EXPECT_EQ(again, alice) << "one developer user, one identity";
  auto admin = ts.admin_identity();
  auto by_user = admin->lookup_developer_identity(
      {ts.pool(), std::nullopt, "alice", std::nullopt, std::nullopt});
  ASSERT_TRUE(by_user.ok());
  EXPECT_EQ(*by_user->identity_id, alice);
  auto by_id = admin->lookup_developer_identity(
      {ts.pool(), alice, std::nullopt, std::nullopt, std::nullopt});
  EXPECT_EQ(by_id->developer_user_identifier_list, std::vector<std::string>{"alice"});

  // GetId and GetCredentialsForIdentity accept the token under cognito-identity.amazonaws.com.
  identity::Logins logins{{"cognito-identity.amazonaws.com", token}};
  auto id = admin->get_id({std::nullopt, ts.pool(), logins});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id->identity_id, alice);
  auto d = ts.new_device(logins);
  EXPECT_EQ(d.identity_id, alice);
  EXPECT_TRUE(push(*d.sync, ts.pool(), alice, "save", {put("k", "v", 0)}).ok());
  // Without its login, an authenticated identity gets nothing.
  auto bare = admin->get_credentials_for_identity({alice, {}, std::nullopt});
  EXPECT_EQ(bare.status().code(), ErrorCode::kNotAuthorized);
  auto forged = admin->get_credentials_for_identity(
      {alice, {{"cognito-identity.amazonaws.com", token + "x"}}, std::nullopt});
  EXPECT_EQ(forged.status().code(), ErrorCode::kNotAuthorized);
  auto facebook = admin->get_id({std::nullopt, ts.pool(), {{"graph.facebook.com", "fb"}}});
  EXPECT_EQ(facebook.status().code(), ErrorCode::kNotAuthorized)
      << "unverifiable providers are refused";

  // A second user cannot take an identity that already has a developer user... of its own.
  auto [bob, bob_token] = developer_identity(ts, "bob");
  auto steal = admin->get_open_id_token_for_developer_identity(
      {ts.pool(), bob, {{"login.cairn", "alice"}}, {}, std::nullopt});
  EXPECT_EQ(steal.status().code(), ErrorCode::kDeveloperUserAlreadyRegistered);
  // ...but linking a new user to an existing identity works, and unlinking removes it.
  ASSERT_TRUE(admin
                  ->get_open_id_token_for_developer_identity(
                      {ts.pool(), bob, {{"login.cairn", "bob-alt"}}, {}, 60})
                  .ok());
  auto both =
      admin->lookup_developer_identity({ts.pool(), bob, std::nullopt, std::nullopt, std::nullopt});
  EXPECT_EQ(both->developer_user_identifier_list.size(), 2u);
  ASSERT_TRUE(admin->unlink_developer_identity({bob, ts.pool(), "login.cairn", "bob-alt"}).ok());
  EXPECT_EQ(admin
                ->lookup_developer_identity(
                    {ts.pool(), std::nullopt, "bob-alt", std::nullopt, std::nullopt})
                .status()
                .code(),
            ErrorCode::kResourceNotFound);
  auto open_id = admin->get_open_id_token({bob, {{"cognito-identity.amazonaws.com", bob_token}}});
  ASSERT_TRUE(open_id.ok()) << open_id.status().ToString();
  EXPECT_EQ(*open_id->identity_id, bob);
}

TEST(Merges, MergeDeveloperIdentitiesMovesDatasetsAsNameDotSourceId) {
  TestServer ts;
  auto [alice, alice_token] = developer_identity(ts, "alice");
  auto [bob, bob_token] = developer_identity(ts, "bob");
  auto admin = ts.admin_sync();
  ASSERT_TRUE(push(*admin, ts.pool(), alice, "save", {put("level", "3", 0)}).ok());
  ASSERT_TRUE(push(*admin, ts.pool(), bob, "save", {put("level", "7", 0)}).ok());
  ASSERT_TRUE(push(*admin, ts.pool(), bob, "prefs", {put("volume", "4", 0)}).ok());

  auto merged =
      ts.admin_identity()->merge_developer_identities({"bob", "alice", "login.cairn", ts.pool()});
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  EXPECT_EQ(*merged->identity_id, alice);

  auto names = admin->list_datasets({ts.pool(), alice, std::nullopt, std::nullopt});
  std::vector<std::string> got;
  for (const auto& ds : names->datasets) got.push_back(*ds.dataset_name);
  EXPECT_EQ(got, (std::vector<std::string>{"prefs." + bob, "save", "save." + bob}));
  auto root = list_all(*admin, ts.pool(), alice, "save");
  EXPECT_EQ(root.merged_dataset_names, std::vector<std::string>{"save." + bob});
  auto moved = list_all(*admin, ts.pool(), alice, "save." + bob);
  ASSERT_EQ(moved.records.size(), 1u);
  EXPECT_EQ(*moved.records[0].value, "7");
  // prefs has no dataset of its own under alice, yet its ListRecords names the merged one.
  EXPECT_EQ(list_all(*admin, ts.pool(), alice, "prefs").merged_dataset_names,
            std::vector<std::string>{"prefs." + bob});
  // bob's login now proves alice; bob's identity is gone.
  auto lookup = ts.admin_identity()->lookup_developer_identity(
      {ts.pool(), std::nullopt, "bob", std::nullopt, std::nullopt});
  EXPECT_EQ(*lookup->identity_id, alice);
  EXPECT_EQ(ts.admin_identity()->describe_identity({bob}).status().code(),
            ErrorCode::kResourceNotFound);
  // Deleting the merged dataset stops the report.
  ASSERT_TRUE(admin->delete_dataset({ts.pool(), alice, "save." + bob}).ok());
  EXPECT_TRUE(list_all(*admin, ts.pool(), alice, "save").merged_dataset_names.empty());
}

TEST(Merges, AnUnauthenticatedIdentityPresentingAnotherIdentitysLoginMergesIntoIt) {
  TestServer ts;
  auto guest = ts.new_device();
  ASSERT_TRUE(
      push(*guest.sync, ts.pool(), guest.identity_id, "save", {put("coins", "12", 0)}).ok());
  auto [alice, token] = developer_identity(ts, "alice");
  auto guest_credentials = *guest.provider->credentials();  // used above, so cached by the server
  guest.provider->set_logins({{"cognito-identity.amazonaws.com", token}});
  auto creds = guest.provider->credentials();
  ASSERT_TRUE(creds.ok()) << creds.status().ToString();
  EXPECT_EQ(*guest.provider->cached_identity_id(), alice) << "the service named the survivor";
  auto moved = list_all(*ts.admin_sync(), ts.pool(), alice, "save." + guest.identity_id);
  ASSERT_EQ(moved.records.size(), 1u);
  EXPECT_EQ(*moved.records[0].value, "12");
  // The merged-away identity's credentials stopped working with it.
  auto stale = std::move(CognitoSyncClient::create(ts.config(
                             std::make_shared<StaticCredentialsProvider>(guest_credentials))))
                   .value();
  EXPECT_EQ(stale->list_datasets({ts.pool(), guest.identity_id, std::nullopt, std::nullopt})
                .status()
                .code(),
            ErrorCode::kUnrecognizedClient);
}

TEST(Identities, DeletingAPoolRevokesItsIdentitiesCredentialsAtOnce) {
  TestServer ts;
  identity::CreateIdentityPoolRequest create;
  create.identity_pool_name = "doomed";
  create.allow_unauthenticated_identities = true;
  auto pool = ts.admin_identity()->create_identity_pool(create);
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  CognitoIdentityProviderOptions o;
  o.identity_pool_id = pool->identity_pool_id;
  auto provider = std::make_shared<CognitoIdentityCredentialsProvider>(ts.admin_identity(), o);
  auto id = provider->identity_id();
  ASSERT_TRUE(id.ok());
  auto sync = std::move(CognitoSyncClient::create(ts.config(provider))).value();
  ASSERT_TRUE(push(*sync, pool->identity_pool_id, *id, "s", {put("k", "v", 0)}).ok());
  ASSERT_TRUE(ts.admin_identity()->delete_identity_pool({pool->identity_pool_id}).ok());
  auto after = sync->list_datasets({pool->identity_pool_id, *id, std::nullopt, std::nullopt});
  EXPECT_EQ(after.status().code(), ErrorCode::kUnrecognizedClient) << after.status().ToString();
}

TEST(Identities, DeleteIdentitiesRemovesTheirData) {
  TestServer ts;
  auto d = ts.new_device();
  ASSERT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "s", {put("k", "v", 0)}).ok());
  auto r = ts.admin_identity()->delete_identities(
      {{d.identity_id, "us-east-1:00000000-0000-4000-8000-000000000000"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->unprocessed_identity_ids.empty());
  EXPECT_EQ(ts.admin_identity()->describe_identity({d.identity_id}).status().code(),
            ErrorCode::kResourceNotFound);
  EXPECT_FALSE(*list_all(*ts.admin_sync(), ts.pool(), d.identity_id, "s").dataset_exists);
  // Its credentials died with it.
  auto after = d.sync->list_datasets({ts.pool(), d.identity_id, std::nullopt, std::nullopt});
  EXPECT_EQ(after.status().code(), ErrorCode::kUnrecognizedClient);
}

// --- authentication and isolation ----------------------------------------------------------------

TEST(Isolation, IdentityCredentialsReachOnlyTheirOwnIdentity) {
  TestServer ts;
  auto a = ts.new_device();
  auto b = ts.new_device();
  ASSERT_TRUE(push(*b.sync, ts.pool(), b.identity_id, "secret", {put("k", "b's", 0)}).ok());
  auto peek = a.sync->list_records(
      {ts.pool(), b.identity_id, "secret", 0, std::nullopt, std::nullopt, std::nullopt});
  EXPECT_EQ(peek.status().code(), ErrorCode::kNotAuthorized);
  EXPECT_EQ(peek.status().http_status(), 403);
  EXPECT_EQ(
      a.sync->list_datasets({ts.pool(), b.identity_id, std::nullopt, std::nullopt}).status().code(),
      ErrorCode::kNotAuthorized);
  EXPECT_EQ(a.sync->delete_dataset({ts.pool(), b.identity_id, "secret"}).status().code(),
            ErrorCode::kNotAuthorized);
  EXPECT_EQ(a.sync->describe_identity_pool_usage({ts.pool()}).status().code(),
            ErrorCode::kNotAuthorized)
      << "developer-only";
  EXPECT_EQ(a.sync->set_cognito_events({ts.pool(), {{"SyncTrigger", ""}}}).status().code(),
            ErrorCode::kNotAuthorized);
  // Identity credentials cannot call the signed Cognito Identity operations either.
  auto as_identity = CognitoIdentityClient::create(ts.config(a.provider));
  EXPECT_EQ((*as_identity)->list_identity_pools({10, std::nullopt}).status().code(),
            ErrorCode::kNotAuthorized);
  // Developer credentials cannot register devices (identity credentials only).
  EXPECT_EQ(
      ts.admin_sync()->register_device({ts.pool(), a.identity_id, "GCM", "t"}).status().code(),
      ErrorCode::kNotAuthorized);
  EXPECT_EQ(*list_all(*b.sync, ts.pool(), b.identity_id, "secret").records[0].value, "b's");
}

TEST(Authentication, BadKeysBadSignaturesAndNoAdminAreRefusedWithConventionalCodes) {
  TestServer ts;
  ClientConfig wrong_secret =
      ts.config(std::make_shared<StaticCredentialsProvider>(testing::kAdminKey, "wrong"));
  auto r1 = std::move(CognitoSyncClient::create(wrong_secret))
                .value()
                ->describe_identity_pool_usage({ts.pool()});
  EXPECT_EQ(r1.status().code(), ErrorCode::kInvalidSignature);
  EXPECT_EQ(r1.status().http_status(), 403);
  ClientConfig unknown = ts.config(std::make_shared<StaticCredentialsProvider>("AKIDUNKNOWN", "x"));
  auto r2 = std::move(CognitoSyncClient::create(unknown))
                .value()
                ->describe_identity_pool_usage({ts.pool()});
  EXPECT_EQ(r2.status().code(), ErrorCode::kUnrecognizedClient);

  // Temporary credentials need their session token.
  auto d = ts.new_device();
  auto creds = *d.provider->credentials();
  ClientConfig tokenless = ts.config(
      std::make_shared<StaticCredentialsProvider>(creds.access_key_id, creds.secret_access_key));
  auto r3 = std::move(CognitoSyncClient::create(tokenless))
                .value()
                ->list_datasets({ts.pool(), d.identity_id, std::nullopt, std::nullopt});
  EXPECT_EQ(r3.status().code(), ErrorCode::kUnrecognizedClient);

  // Without admin credentials configured, developer operations are NotAuthorized for everyone.
  TestServer bare({}, /*with_admin=*/false);
  auto r4 = std::move(CognitoSyncClient::create(bare.config()))
                .value()
                ->describe_identity_pool_usage({bare.pool()});
  EXPECT_TRUE(r4.status().code() == ErrorCode::kUnrecognizedClient ||
              r4.status().code() == ErrorCode::kNotAuthorized)
      << r4.status().ToString();
  auto unsigned_still_work = bare.new_device();
  EXPECT_FALSE(unsigned_still_work.identity_id.empty());
}

TEST(Authentication, RequestsWithoutAuthorizationOrWithASkewedClockAreRefused) {
  TestServer ts;
  auto curl = make_curl_transport(HttpOptions{});
  auto wire = transport::sync_wire::build(wire::DescribeIdentityPoolUsageRequest{ts.pool()});
  auto unsigned_resp = curl->send({"GET", ts.url() + wire.path, {}, ""});
  ASSERT_TRUE(unsigned_resp.ok());
  EXPECT_EQ(unsigned_resp->status, 403);
  EXPECT_EQ(*unsigned_resp->header("x-amzn-ErrorType"), "MissingAuthenticationTokenException");
  EXPECT_NE(unsigned_resp->body.find(R"("__type":"MissingAuthenticationTokenException")"),
            std::string::npos);
  EXPECT_NE(unsigned_resp->header("x-amzn-RequestId"), nullptr);
  EXPECT_NE(unsigned_resp->header("Date"), nullptr);

  // Signed 20 minutes in the past: rejected as expired...
  ClientConfig skewed = ts.config();
  skewed.clock = std::make_shared<testing::ManualClock>(std::chrono::system_clock::now() - 20min);
  auto service = std::move(transport::ServiceClient::create(skewed, "cognito-sync",
                                                            transport::Protocol::kRestJson))
                     .value();
  auto request = service->prepare(wire, 1);
  auto rejected = curl->send(*request);
  ASSERT_TRUE(rejected.ok());
  EXPECT_EQ(rejected->status, 403);
  EXPECT_EQ(*rejected->header("x-amzn-ErrorType"), "InvalidSignatureException");
  // ...and the cairn client recovers by itself, using the server's Date header.
  auto client = std::move(CognitoSyncClient::create(skewed)).value();
  auto ok = client->describe_identity_pool_usage({ts.pool()});
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_GT(client->clock_skew(), 19min);
}

TEST(Authentication, ExpiredTemporaryCredentialsAreRefreshedByTheClient) {
  auto clock = std::make_shared<testing::ManualClock>();
  server::ServerOptions options;
  options.clock = clock;
  options.credentials_ttl_seconds = 600;
  TestServer ts(options);
  auto d = ts.new_device();
  auto first = *d.provider->credentials();
  ASSERT_TRUE(d.sync->list_datasets({ts.pool(), d.identity_id, std::nullopt, std::nullopt}).ok());
  clock->advance(11min);  // the server's clock moves past the expiry; the device's does not
  ClientConfig stale = ts.config(std::make_shared<StaticCredentialsProvider>(first));
  auto expired = std::move(CognitoSyncClient::create(stale))
                     .value()
                     ->list_datasets({ts.pool(), d.identity_id, std::nullopt, std::nullopt});
  EXPECT_EQ(expired.status().code(), ErrorCode::kExpiredToken);
  // The identity provider's client refreshes once on ExpiredToken and succeeds.
  auto r = d.sync->list_datasets({ts.pool(), d.identity_id, std::nullopt, std::nullopt});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NE(d.provider->credentials()->access_key_id, first.access_key_id);
}

// --- devices and administration ------------------------------------------------------------------

TEST(Devices, RegisterIsStablePerTokenAndSubscriptionsNeedTheirOwnDevice) {
  TestServer ts;
  auto a = ts.new_device();
  auto b = ts.new_device();
  auto d1 = a.sync->register_device({ts.pool(), a.identity_id, wire::kPlatformGcm, "token-1"});
  ASSERT_TRUE(d1.ok()) << d1.status().ToString();
  auto d2 = a.sync->register_device({ts.pool(), a.identity_id, wire::kPlatformGcm, "token-1"});
  EXPECT_EQ(*d1->device_id, *d2->device_id);
  auto d3 = a.sync->register_device({ts.pool(), a.identity_id, wire::kPlatformApns, "token-1"});
  EXPECT_NE(*d1->device_id, *d3->device_id);
  EXPECT_TRUE(
      a.sync->subscribe_to_dataset({ts.pool(), a.identity_id, "save", *d1->device_id}).ok());
  EXPECT_TRUE(
      a.sync->unsubscribe_from_dataset({ts.pool(), a.identity_id, "save", *d1->device_id}).ok());
  EXPECT_EQ(b.sync->subscribe_to_dataset({ts.pool(), b.identity_id, "save", *d1->device_id})
                .status()
                .code(),
            ErrorCode::kResourceNotFound)
      << "a device id of another identity";
}

TEST(Administration, EventsConfigurationAndTheBulkPublishStateMachine) {
  server::ServerOptions options;
  options.bulk_publish_records_per_second =
      20;  // a paced publish stays IN_PROGRESS long enough to see
  TestServer ts(options);
  auto admin = ts.admin_sync();
  ASSERT_TRUE(
      admin
          ->set_cognito_events(
              {ts.pool(), {{"SyncTrigger", "arn:aws:lambda:us-east-1:123456789012:function:fn"}}})
          .ok());
  EXPECT_EQ(admin->get_cognito_events({ts.pool()})->events.at("SyncTrigger"),
            "arn:aws:lambda:us-east-1:123456789012:function:fn");
  EXPECT_EQ(
      admin->set_cognito_events({ts.pool(), {{"SyncTrigger", "not-a-target"}}}).status().code(),
      ErrorCode::kInvalidParameter);
  EXPECT_EQ(admin->set_cognito_events({ts.pool(), {{"Other", "x"}}}).status().code(),
            ErrorCode::kInvalidParameter);
  ASSERT_TRUE(admin->set_cognito_events({ts.pool(), {{"SyncTrigger", ""}}}).ok());
  EXPECT_TRUE(admin->get_cognito_events({ts.pool()})->events.empty())
      << "an empty value removes the key";

  EXPECT_EQ(admin->bulk_publish({ts.pool()}).status().code(), ErrorCode::kInvalidParameter)
      << "streams are not configured";
  wire::SetIdentityPoolConfigurationRequest cfg{ts.pool(), wire::PushSync{}, std::nullopt};
  cfg.push_sync->application_arns = {"arn:aws:sns:us-east-1:123456789012:app/GCM/Game"};
  cfg.push_sync->role_arn = "arn:aws:iam::123456789012:role/push";
  ASSERT_TRUE(admin->set_identity_pool_configuration(cfg).ok());
  cfg.push_sync.reset();
  cfg.cognito_streams = wire::CognitoStreams{"stream", "arn:aws:iam::123456789012:role/streams",
                                             wire::kStreamingEnabled};
  auto set = admin->set_identity_pool_configuration(cfg);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->push_sync->application_arns.size(), 1u) << "setting streams left push sync alone";
  auto got = admin->get_identity_pool_configuration({ts.pool()});
  EXPECT_EQ(*got->cognito_streams->streaming_status, "ENABLED");
  EXPECT_EQ(*got->push_sync->role_arn, "arn:aws:iam::123456789012:role/push");

  // 30 records at 20 per second: the publish runs for about 1.5 s.
  auto d = ts.new_device();
  std::vector<wire::RecordPatch> patches;
  for (int i = 0; i < 30; ++i) patches.push_back(put("k" + std::to_string(i), "v", 0));
  ASSERT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "s", patches).ok());
  EXPECT_EQ(*admin->get_bulk_publish_details({ts.pool()})->bulk_publish_status, "NOT_STARTED");
  ASSERT_TRUE(admin->bulk_publish({ts.pool()}).ok());
  EXPECT_EQ(admin->bulk_publish({ts.pool()}).status().code(), ErrorCode::kDuplicateRequest);
  EXPECT_EQ(*admin->get_bulk_publish_details({ts.pool()})->bulk_publish_status, "IN_PROGRESS");
  std::string status;
  testing::eventually([&] {
    status = *admin->get_bulk_publish_details({ts.pool()})->bulk_publish_status;
    return status == "SUCCEEDED";
  });
  ASSERT_EQ(status, "SUCCEEDED");
  auto details = admin->get_bulk_publish_details({ts.pool()});
  EXPECT_TRUE(details->bulk_publish_start_time && details->bulk_publish_complete_time);
  EXPECT_EQ(admin->bulk_publish({ts.pool()}).status().code(), ErrorCode::kAlreadyStreamed);
}

TEST(Wire, OversizedBodiesGetAClearErrorAndUnknownPathsAre404) {
  server::ServerOptions options;
  options.max_body_bytes = 64 * 1024;
  TestServer ts(options);
  auto d = ts.new_device();
  auto r =
      push(*d.sync, ts.pool(), d.identity_id, "s", {put("k", std::string(100 * 1024, 'x'), 0)});
  EXPECT_EQ(r.status().http_status(), 413);
  EXPECT_EQ(r.status().service_code(), "RequestEntityTooLargeException");
  auto curl = make_curl_transport(HttpOptions{});
  auto huge = curl->send(
      {"POST", ts.url() + "/identitypools/x/bulkpublish", {}, std::string(100 * 1024, 'x')});
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(huge->status, 413);
  EXPECT_NE(huge->header("x-amzn-RequestId"), nullptr)
      << "httplib's own errors carry the headers too";
  EXPECT_NE(huge->header("Date"), nullptr);
  EXPECT_NE(huge->body.find(R"("__type":"RequestEntityTooLargeException")"), std::string::npos);
  auto ok = curl->send({"GET", ts.url() + "/identitypools", {}, ""});
  EXPECT_NE(ok->header("x-amzn-RequestId"), nullptr);
  EXPECT_NE(ok->header("Date"), nullptr);
  auto unknown = curl->send({"GET", ts.url() + "/nothing/here", {}, ""});
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(*unknown->header("x-amzn-ErrorType"), "UnknownOperationException");
}

}  // namespace
}  // namespace cairn
