// The typed clients' pipeline with a scripted transport and a manual clock: retries and backoff,
// what is never retried, clock-skew correction, credential refresh, stub mode and validation.
#include <gtest/gtest.h>

#include "cairn/cognito/identity.h"
#include "cairn/cognito/sync.h"
#include "cairn/testing/stub.h"
#include "fakes.h"
#include "transport/retry.h"
#include "transport/sigv4.h"

namespace cairn {
namespace {

using testing::ManualClock;
using testing::ScriptedTransport;
using namespace std::chrono_literals;

const std::string kPool = "us-east-1:23ec4050-6aea-7089-a2dd-08002e000000";
const std::string kIdn = "us-east-1:0b4a7c6e-1111-2222-3333-444455556666";

struct Harness {
  std::shared_ptr<ScriptedTransport> transport = std::make_shared<ScriptedTransport>();
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  ClientConfig config() {
    ClientConfig c;
    c.region = "us-east-1";
    c.endpoint = "http://127.0.0.1:9";
    c.credentials = std::make_shared<StaticCredentialsProvider>("AKID", "SECRET");
    c.transport = transport;
    c.clock = clock;
    c.retry.jitter_seed = 42;
    return c;
  }
  std::unique_ptr<CognitoSyncClient> sync_client() {
    auto r = CognitoSyncClient::create(config());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }
};

wire::ListRecordsRequest list_request() {
  wire::ListRecordsRequest r;
  r.identity_pool_id = kPool;
  r.identity_id = kIdn;
  r.dataset_name = "settings";
  r.last_sync_count = 0;
  return r;
}

HttpHeaders error_header(const char* code) { return {{"x-amzn-ErrorType", code}}; }

TEST(Retries, ThrottlingFiveHundredsAndNetworkErrorsAreRetriedThenSucceed) {
  Harness h;
  h.transport->then_status(429, R"({"message":"slow down"})",
                           error_header("TooManyRequestsException"));
  h.transport->then_status(503, "<html>unavailable</html>");
  h.transport->then_error(ErrorCode::kNetwork, "connection reset by peer");
  h.transport->then_status(200, R"({"Records":[],"DatasetSyncCount":3,"SyncSessionToken":"s"})");
  auto client = h.sync_client();
  auto r = client->list_records(list_request());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r->dataset_sync_count, 3);
  EXPECT_EQ(h.transport->requests().size(), 4u);
  auto sleeps = h.clock->sleeps();
  ASSERT_EQ(sleeps.size(), 3u);
  // Full jitter within the capped exponential ceiling: throttle base 500 ms, others 100 ms.
  EXPECT_LE(sleeps[0], 500ms);
  EXPECT_LE(sleeps[1], 200ms);
  EXPECT_LE(sleeps[2], 400ms);
  auto stats = client->stats();
  EXPECT_EQ(stats.attempts, 4u);
  EXPECT_EQ(stats.retries, 3u);
  EXPECT_EQ(stats.failures, 0u);
}

TEST(Retries, GiveUpAfterTheRetryLimitWithTheLastErrorAndTheCount) {
  Harness h;
  for (int i = 0; i < 10; ++i)
    h.transport->then_status(500, R"({"__type":"InternalErrorException","message":"boom"})");
  auto client = h.sync_client();
  auto r = client->list_records(list_request());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kInternalError);
  EXPECT_NE(r.status().message().find("after 3 retries"), std::string::npos)
      << r.status().message();
  EXPECT_EQ(h.transport->requests().size(), 4u) << "one attempt plus the default 3 retries";
  EXPECT_EQ(client->stats().failures, 1u);
}

TEST(Retries, ResourceConflictAndOtherClientErrorsAreNeverRetried) {
  for (auto [status, code] :
       std::vector<std::pair<int, const char*>>{{409, "ResourceConflictException"},
                                                {400, "InvalidParameterException"},
                                                {400, "LimitExceededException"},
                                                {403, "NotAuthorizedException"},
                                                {404, "ResourceNotFoundException"}}) {
    Harness h;
    h.transport->then_status(status, R"({"message":"no"})", error_header(code));
    h.transport->then_status(200, "{}");
    auto r = h.sync_client()->list_records(list_request());
    ASSERT_FALSE(r.ok()) << code;
    EXPECT_EQ(r.status().service_code(), code);
    EXPECT_EQ(h.transport->requests().size(), 1u) << code;
    EXPECT_TRUE(h.clock->sleeps().empty()) << code;
  }
}

TEST(Retries, BackoffIsCappedAndGrowsExponentially) {
  RetryOptions o;
  o.base_delay = 100ms;
  o.max_delay = 1000ms;
  o.max_retries = 50;
  o.jitter_seed = 7;
  transport::RetryPolicy p(o);
  Status transient(ErrorCode::kNetwork, "x");
  std::chrono::milliseconds max_seen{0};
  for (int i = 0; i < 200; ++i) {
    auto d = p.backoff(transient, 20);  // 100 * 2^20 is far above the cap
    EXPECT_LE(d, 1000ms);
    max_seen = std::max(max_seen, d);
  }
  EXPECT_GT(max_seen, 500ms) << "the jitter spreads over the whole capped range";
  for (int i = 0; i < 200; ++i) EXPECT_LE(p.backoff(transient, 0), 100ms);
  EXPECT_TRUE(p.should_retry(transient, 49));
  EXPECT_FALSE(p.should_retry(transient, 50));
}

TEST(ClockSkew, ARejectedSignatureIsResignedWithTheServersTimeOnce) {
  Harness h;
  // The device clock is 20 minutes slow.
  auto server_now = std::chrono::system_clock::now();
  h.clock = std::make_shared<ManualClock>(server_now - 20min);
  char date[64];
  std::time_t t = std::chrono::system_clock::to_time_t(server_now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  h.transport->then_status(403, R"({"message":"Signature expired"})",
                           {{"x-amzn-ErrorType", "InvalidSignatureException"}, {"Date", date}});
  h.transport->then_status(200, "{}", {{"Date", date}});
  auto client = h.sync_client();
  auto r = client->list_records(list_request());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto reqs = h.transport->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_NE(*transport::find_header(reqs[0].headers, "X-Amz-Date"),
            *transport::find_header(reqs[1].headers, "X-Amz-Date"));
  EXPECT_EQ(*transport::find_header(reqs[1].headers, "X-Amz-Date"),
            transport::format_amz_date(server_now));
  EXPECT_NEAR(std::chrono::duration_cast<std::chrono::seconds>(client->clock_skew()).count(), 1200,
              2);
  EXPECT_TRUE(h.clock->sleeps().empty()) << "a skew correction is not a backoff";
}

class CountingProvider final : public CredentialsProvider {
 public:
  Result<AwsCredentials> credentials() override {
    ++fetches;
    return AwsCredentials{"AK" + std::to_string(fetches), "S", "T" + std::to_string(fetches),
                          std::nullopt};
  }
  void invalidate() override { ++invalidations; }
  std::string name() const override { return "counting"; }
  int fetches = 0;
  int invalidations = 0;
};

TEST(Credentials, ExpiredTokenRefreshesTheCredentialsOnceAndResends) {
  Harness h;
  auto provider = std::make_shared<CountingProvider>();
  ClientConfig c = h.config();
  c.credentials = provider;
  h.transport->then_status(403, R"({"message":"expired"})", error_header("ExpiredTokenException"));
  h.transport->then_status(200, "{}");
  auto client = std::move(CognitoSyncClient::create(c)).value();
  ASSERT_TRUE(client->list_records(list_request()).ok());
  EXPECT_EQ(provider->invalidations, 1);
  auto reqs = h.transport->requests();
  EXPECT_EQ(*transport::find_header(reqs[1].headers, "X-Amz-Security-Token"), "T2");
}

TEST(Credentials, MissingCredentialsFailBeforeAnythingIsSent) {
  Harness h;
  ClientConfig c = h.config();
  c.credentials = std::make_shared<StaticCredentialsProvider>("", "");
  auto r = std::move(CognitoSyncClient::create(c)).value()->list_records(list_request());
  EXPECT_EQ(r.status().code(), ErrorCode::kNoCredentials);
  EXPECT_TRUE(h.transport->requests().empty());
}

TEST(Signing, UnsignedIdentityCallsCarryNoAuthorizationOrDate) {
  Harness h;
  h.transport->then_status(200,
                           R"({"IdentityId":"us-east-1:0b4a7c6e-1111-2222-3333-444455556666"})");
  h.transport->then_status(200, R"({"IdentityPools":[]})");
  auto client = std::move(CognitoIdentityClient::create(h.config())).value();
  ASSERT_TRUE(client->get_id({std::nullopt, kPool, {}}).ok());
  ASSERT_TRUE(client->list_identity_pools({10, std::nullopt}).ok());
  auto reqs = h.transport->requests();
  EXPECT_EQ(transport::find_header(reqs[0].headers, "Authorization"), nullptr);
  EXPECT_EQ(transport::find_header(reqs[0].headers, "X-Amz-Date"), nullptr);
  EXPECT_NE(transport::find_header(reqs[1].headers, "Authorization"), nullptr);
  EXPECT_EQ(reqs[0].url, "http://127.0.0.1:9/");
}

TEST(Endpoints, RegionFromConfigOrEnvironmentAndOneOverrideForBothServices) {
  ClientConfig c;
  c.transport = std::make_shared<ScriptedTransport>();
  c.region = "eu-west-1";
  auto sync_client = CognitoSyncClient::create(c);
  ASSERT_TRUE(sync_client.ok());
  EXPECT_EQ(resolve_endpoint(c, "cognito-sync", "eu-west-1"),
            "https://cognito-sync.eu-west-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint(c, "cognito-identity", "eu-west-1"),
            "https://cognito-identity.eu-west-1.amazonaws.com");
  c.endpoint = "http://127.0.0.1:8080/";
  EXPECT_EQ(resolve_endpoint(c, "cognito-sync", "eu-west-1"), "http://127.0.0.1:8080");
  EXPECT_EQ(resolve_endpoint(c, "cognito-identity", "eu-west-1"), "http://127.0.0.1:8080");

  ClientConfig env;
  env.transport = c.transport;
  unsetenv("AWS_REGION");
  unsetenv("AMAZON_REGION");
  unsetenv("AWS_DEFAULT_REGION");
  EXPECT_EQ(resolve_region(env).status().code(), ErrorCode::kInvalidArgument);
  setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
  EXPECT_EQ(*resolve_region(env), "ap-south-1");
  setenv("AMAZON_REGION", "us-west-2", 1);
  EXPECT_EQ(*resolve_region(env), "us-west-2");
  setenv("AWS_REGION", "eu-central-1", 1);
  EXPECT_EQ(*resolve_region(env), "eu-central-1");
  unsetenv("AWS_REGION");
  unsetenv("AMAZON_REGION");
  unsetenv("AWS_DEFAULT_REGION");
  env.endpoint = "http://127.0.0.1:1";
  EXPECT_EQ(*resolve_region(env), "us-east-1");
  env.endpoint = "ftp://x";
  EXPECT_EQ(CognitoSyncClient::create(env).status().code(), ErrorCode::kInvalidArgument);
}

// --- validation ---------------------------------------------------------------------------------

TEST(Validation, BadInputFailsLocallyWithInvalidParameterAndNothingIsSent) {
  Harness h;
  auto client = h.sync_client();
  auto bad_name = list_request();
  bad_name.dataset_name = "no spaces allowed";
  EXPECT_EQ(client->list_records(bad_name).status().code(), ErrorCode::kInvalidParameter);
  auto empty_label = list_request();
  empty_label.dataset_name = "";  // JS v3 would send GET .../datasets/
  EXPECT_EQ(client->describe_dataset({kPool, kIdn, ""}).status().code(),
            ErrorCode::kInvalidParameter);
  auto no_colon = list_request();
  no_colon.identity_pool_id = "us-east-1-no-colon";
  EXPECT_EQ(client->list_records(no_colon).status().code(), ErrorCode::kInvalidParameter);
  auto upper_hex = list_request();
  upper_hex.identity_id = "us-east-1:ABCDEF";
  EXPECT_EQ(client->list_records(upper_hex).status().code(), ErrorCode::kInvalidParameter);

  wire::UpdateRecordsRequest up{kPool, kIdn, "settings", std::nullopt, {}, "", std::nullopt};
  up.record_patches.push_back({"upsert", std::string(2000, 'k'), "v", 0, std::nullopt});
  auto r = client->update_records(up);
  ASSERT_EQ(r.status().code(), ErrorCode::kInvalidParameter);
  // Every problem is named at once.
  EXPECT_NE(r.status().message().find("SyncSessionToken"), std::string::npos);
  EXPECT_NE(r.status().message().find("Op"), std::string::npos);
  EXPECT_NE(r.status().message().find("Key: length 2000"), std::string::npos);
  EXPECT_EQ(client->register_device({kPool, kIdn, "WINDOWS", "t"}).status().code(),
            ErrorCode::kInvalidParameter);
  EXPECT_TRUE(h.transport->requests().empty()) << "validation failures never reach the wire";
}

TEST(Validation, LengthsCountCharactersNotBytes) {
  Harness h;
  h.transport->then_status(200, "{}");
  auto client = h.sync_client();
  wire::UpdateRecordsRequest up{kPool, kIdn, "settings", std::nullopt, {}, "sst", std::nullopt};
  std::string key;
  for (int i = 0; i < 1024; ++i) key += "\xC3\xA9";  // 1024 characters, 2048 bytes
  up.record_patches.push_back({wire::kOpReplace, key, "v", 0, std::nullopt});
  EXPECT_TRUE(client->update_records(up).ok());
  up.record_patches[0].key += "x";
  EXPECT_EQ(client->update_records(up).status().code(), ErrorCode::kInvalidParameter);
}

TEST(Validation, CanBeTurnedOffToReachTheServerWithAnything) {
  Harness h;
  h.transport->then_status(400, R"({"message":"bad"})", error_header("InvalidParameterException"));
  ClientConfig c = h.config();
  c.validate_params = false;
  auto client = std::move(CognitoSyncClient::create(c)).value();
  auto bad = list_request();
  bad.dataset_name = "bad name";
  auto r = client->list_records(bad);
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidParameter);
  ASSERT_EQ(h.transport->requests().size(), 1u);
  EXPECT_NE(h.transport->requests()[0].url.find("bad%20name"), std::string::npos);
}

TEST(Validation, IdentityRangesAndMapSizes) {
  Harness h;
  auto client = std::move(CognitoIdentityClient::create(h.config())).value();
  EXPECT_EQ(client->list_identity_pools({0, std::nullopt}).status().code(),
            ErrorCode::kInvalidParameter);
  EXPECT_EQ(client->list_identity_pools({61, std::nullopt}).status().code(),
            ErrorCode::kInvalidParameter);
  identity::Logins eleven;
  for (int i = 0; i < 11; ++i) eleven["p" + std::to_string(i)] = "t";
  EXPECT_EQ(client->get_id({std::nullopt, kPool, eleven}).status().code(),
            ErrorCode::kInvalidParameter);
  EXPECT_EQ(client->get_id({"12a", kPool, {}}).status().code(), ErrorCode::kInvalidParameter);
  EXPECT_EQ(client->delete_identities({{}}).status().code(), ErrorCode::kInvalidParameter);
  identity::CreateIdentityPoolRequest bad_pool;
  bad_pool.identity_pool_name = "bad/name!";
  EXPECT_EQ(client->create_identity_pool(bad_pool).status().code(), ErrorCode::kInvalidParameter);
  EXPECT_TRUE(h.transport->requests().empty());
}

// --- stub mode ----------------------------------------------------------------------------------

TEST(StubMode, CannedResponsesErrorsAndRawJsonWithNoHttpAndNoRetries) {
  auto stub = std::make_shared<Stubber>();
  wire::ListRecordsResponse canned;
  canned.dataset_sync_count = 7;
  canned.records.push_back({"hp", "10", 7, std::nullopt, std::nullopt, std::nullopt});
  stub->add_response("ListRecords", canned);
  stub->add_error("UpdateRecords",
                  Status::FromService("ResourceConflictException",
                                      "Current SyncCount for: hp is: 8 not: 7", 409));
  stub->add_error("UpdateRecords", Status::FromService("TooManyRequestsException", "slow", 429));
  stub->add_json_response(
      "DescribeDataset",
      R"({"Dataset":{"DatasetName":"settings","NumRecords":1,"LastModifiedDate":1.7E9}})");
  ClientConfig c;  // no region, no endpoint, no credentials: stub mode needs none
  c.stub = stub;
  auto transport = std::make_shared<ScriptedTransport>();
  c.transport = transport;
  auto client = std::move(CognitoSyncClient::create(c)).value();

  auto lr = client->list_records(list_request());
  ASSERT_TRUE(lr.ok());
  EXPECT_EQ(*lr->dataset_sync_count, 7);
  EXPECT_EQ(*lr->records[0].value, "10");

  wire::UpdateRecordsRequest up{kPool, kIdn, "settings", std::nullopt, {}, "sst", std::nullopt};
  up.record_patches.push_back({wire::kOpReplace, "hp", "11", 7, std::nullopt});
  EXPECT_EQ(client->update_records(up).status().code(), ErrorCode::kResourceConflict);
  EXPECT_EQ(client->update_records(up).status().code(), ErrorCode::kTooManyRequests)
      << "a stubbed throttle comes back as is: retries are off";

  auto dd = client->describe_dataset({kPool, kIdn, "settings"});
  ASSERT_TRUE(dd.ok());
  EXPECT_EQ(*dd->dataset->num_records, 1);

  EXPECT_EQ(client->list_records(list_request()).status().code(), ErrorCode::kStubExhausted);
  EXPECT_EQ(stub->pending(), 0u);
  auto calls = stub->calls();
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_EQ(calls[1].operation, "UpdateRecords");
  EXPECT_NE(calls[1].body.find("\"Value\":\"11\""), std::string::npos);
  EXPECT_TRUE(transport->requests().empty()) << "stub mode never touches HTTP";

  // Validation still applies in stub mode.
  auto bad = list_request();
  bad.dataset_name = "";
  EXPECT_EQ(client->list_records(bad).status().code(), ErrorCode::kInvalidParameter);
}

TEST(StubMode, AResponseOfTheWrongTypeIsAClearError) {
  auto stub = std::make_shared<Stubber>();
  stub->add_response("ListRecords", wire::UpdateRecordsResponse{});
  ClientConfig c;
  c.stub = stub;
  auto client = std::move(CognitoSyncClient::create(c)).value();
  auto r = client->list_records(list_request());
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("wrong type"), std::string::npos);
}

}  // namespace
}  // namespace cairn
