// Credentials: the standard sources, the chain, the Cognito Identity flow against a loopback
// identity service, and a byte-for-byte cross-check of cairn's signed requests with botocore's.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "botocore_reference.h"
#include "cairn/cognito/identity.h"
#include "cairn/cognito/sync.h"
#include "fakes.h"
#include "fixtures/scripted_server.h"
#include "transport/identity_protocol.h"
#include "transport/service_client.h"
#include "transport/sync_protocol.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using testing::ManualClock;
using testing::ScriptedServer;

const std::string kPool = "us-east-1:23ec4050-6aea-7089-a2dd-08002e000000";
const std::string kIdA = "us-east-1:aaaaaaaa-1111-2222-3333-444455556666";
const std::string kIdB = "us-east-1:bbbbbbbb-1111-2222-3333-444455556666";

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(StandardCredentials, EnvironmentReadsKeysAndSessionToken) {
  ScopedEnv a("AWS_ACCESS_KEY_ID", "AKENV");
  ScopedEnv b("AWS_SECRET_ACCESS_KEY", "SKENV");
  ScopedEnv c("AWS_SESSION_TOKEN", "STENV");
  auto creds = EnvironmentCredentialsProvider().credentials();
  ASSERT_TRUE(creds.ok());
  EXPECT_EQ(creds->access_key_id, "AKENV");
  EXPECT_EQ(creds->secret_access_key, "SKENV");
  EXPECT_EQ(creds->session_token, "STENV");
  ScopedEnv d("AWS_SECRET_ACCESS_KEY", nullptr);
  EXPECT_EQ(EnvironmentCredentialsProvider().credentials().status().code(),
            ErrorCode::kNoCredentials);
}

TEST(StandardCredentials, SharedFileHonoursProfileAndPathFromEnvironment) {
  std::string path = "/tmp/cairn-creds-" + std::to_string(getpid());
  std::ofstream(path)
      << "# comment\n[default]\naws_access_key_id = AKDEF\naws_secret_access_key=SKDEF\n\n"
         "[game]\n aws_access_key_id=AKGAME \naws_secret_access_key = SKGAME\n"
         "aws_session_token = STGAME\n[broken]\naws_access_key_id=X\n";
  ScopedEnv file("AWS_SHARED_CREDENTIALS_FILE", path.c_str());
  {
    ScopedEnv profile("AWS_PROFILE", nullptr);
    auto c = ProfileCredentialsProvider().credentials();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->access_key_id, "AKDEF");
  }
  {
    ScopedEnv profile("AWS_PROFILE", "game");
    ProfileCredentialsProvider p;
    EXPECT_EQ(p.name(), "profile:game");
    auto c = p.credentials();
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->access_key_id, "AKGAME");
    EXPECT_EQ(c->session_token, "STGAME");
  }
  EXPECT_EQ(ProfileCredentialsProvider("broken").credentials().status().code(),
            ErrorCode::kNoCredentials);
  EXPECT_EQ(ProfileCredentialsProvider("missing").credentials().status().code(),
            ErrorCode::kNoCredentials);
  EXPECT_EQ(ProfileCredentialsProvider("default", "/nonexistent/credentials")
                .credentials()
                .status()
                .code(),
            ErrorCode::kNoCredentials);
  std::remove(path.c_str());
}

TEST(StandardCredentials, HomeDirectoryFileIsTheDefaultPath) {
  ScopedEnv file("AWS_SHARED_CREDENTIALS_FILE", nullptr);
  ScopedEnv home("HOME", "/tmp/cairn-home");
  EXPECT_EQ(ProfileCredentialsProvider().resolved_path(), "/tmp/cairn-home/.aws/credentials");
}

TEST(StandardCredentials, ChainTakesTheFirstSourceThatHasCredentials) {
  ScopedEnv a("AWS_ACCESS_KEY_ID", nullptr);
  ScopedEnv b("AWS_SECRET_ACCESS_KEY", nullptr);
  ScopedEnv file("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
  auto chain = ChainCredentialsProvider::default_chain();
  auto none = chain->credentials();
  EXPECT_EQ(none.status().code(), ErrorCode::kNoCredentials);
  EXPECT_NE(none.status().message().find("environment"), std::string::npos);
  EXPECT_NE(none.status().message().find("profile:"), std::string::npos);
  ScopedEnv c("AWS_ACCESS_KEY_ID", "AK1");
  ScopedEnv d("AWS_SECRET_ACCESS_KEY", "SK1");
  EXPECT_EQ(chain->credentials()->access_key_id, "AK1");
  ChainCredentialsProvider custom({std::make_shared<StaticCredentialsProvider>("", ""),
                                   std::make_shared<StaticCredentialsProvider>("AK2", "SK2")});
  EXPECT_EQ(custom.credentials()->access_key_id, "AK2");
}

// --- the Cognito Identity flow against a loopback identity service -----------------------------

// Answers GetId and GetCredentialsForIdentity like Cognito Identity, and counts them.
class FakeIdentityService {
 public:
  FakeIdentityService() {
    server.set_handler([this](const httplib::Request& req, httplib::Response& res) {
      std::string target = req.get_header_value("X-Amz-Target");
      if (req.has_header("Authorization")) signed_unsigned_call = true;
      if (target == "AWSCognitoIdentityService.GetId") {
        ++get_id;
        res.set_content(R"({"IdentityId":")" + next_id + R"("})", "application/x-amz-json-1.1");
      } else if (target == "AWSCognitoIdentityService.GetCredentialsForIdentity") {
        int n = ++get_credentials;
        std::this_thread::sleep_for(20ms);  // widen the window for concurrent callers
        if (not_found_once.exchange(false)) {
          res.status = 400;
          res.set_content(
              R"({"__type":"ResourceNotFoundException","message":"Identity not found"})",
              "application/x-amz-json-1.1");
          return;
        }
        rapidjson::Document d;
        d.Parse(req.body.c_str());
        std::string asked = d["IdentityId"].GetString();
        last_logins = d.HasMember("Logins") ? d["Logins"].MemberCount() : 0;
        std::string answer = merge_into.empty() ? asked : merge_into;
        res.set_content(R"({"IdentityId":")" + answer + R"(","Credentials":{"AccessKeyId":"ASIA)" +
                            std::to_string(n) + R"(","SecretKey":"secret)" + std::to_string(n) +
                            R"(","SessionToken":"token)" + std::to_string(n) +
                            R"(","Expiration":)" + expiration + "}}",
                        "application/x-amz-json-1.1");
      } else {
        res.status = 400;
        res.set_content(R"({"__type":"InvalidParameterException","message":"unexpected"})",
                        "application/json");
      }
    });
  }

  ScriptedServer server;
  std::atomic<int> get_id{0};
  std::atomic<int> get_credentials{0};
  std::atomic<bool> signed_unsigned_call{false};
  std::atomic<bool> not_found_once{false};
  std::atomic<size_t> last_logins{0};
  std::string next_id = kIdA;
  std::string merge_into;
  std::string expiration = "1.9E9";
};

struct ProviderHarness {
  FakeIdentityService service;
  std::shared_ptr<ManualClock> clock =
      std::make_shared<ManualClock>(std::chrono::system_clock::from_time_t(1800000000));
  std::shared_ptr<InMemoryIdentityIdStore> store = std::make_shared<InMemoryIdentityIdStore>();
  std::vector<std::pair<std::string, std::string>> changes;

  std::shared_ptr<CognitoIdentityCredentialsProvider> provider() {
    ClientConfig c;
    c.region = "us-east-1";
    c.endpoint = service.server.url();
    // No credentials on purpose: the identity calls this flow makes are unsigned.
    c.credentials = std::make_shared<StaticCredentialsProvider>("", "");
    auto client =
        std::shared_ptr<CognitoIdentityClient>(std::move(CognitoIdentityClient::create(c)).value());
    CognitoIdentityProviderOptions o;
    o.identity_pool_id = kPool;
    o.store = store;
    o.clock = clock;
    o.on_identity_changed = [this](const std::string& from, const std::string& to) {
      changes.emplace_back(from, to);
    };
    return std::make_shared<CognitoIdentityCredentialsProvider>(client, o);
  }
};

TEST(CognitoIdentityFlow, GetIdThenCredentialsThenCachedUntilNearExpiry) {
  ProviderHarness h;
  h.service.expiration = "1800003600";  // one hour after the manual clock's start
  auto p = h.provider();
  auto c1 = p->credentials();
  ASSERT_TRUE(c1.ok()) << c1.status().ToString();
  EXPECT_EQ(c1->access_key_id, "ASIA1");
  EXPECT_EQ(c1->session_token, "token1");
  EXPECT_EQ(*p->cached_identity_id(), kIdA);
  EXPECT_EQ(*h.store->load(kPool), kIdA) << "the identity id is persisted";
  EXPECT_FALSE(h.service.signed_unsigned_call) << "GetId and GetCredentialsForIdentity go unsigned";

  h.clock->advance(50min);  // 10 minutes left: still outside the 5-minute refresh margin
  EXPECT_EQ(p->credentials()->access_key_id, "ASIA1");
  EXPECT_EQ(h.service.get_credentials.load(), 1);
  h.clock->advance(6min);  // 4 minutes left: refresh
  EXPECT_EQ(p->credentials()->access_key_id, "ASIA2");
  EXPECT_EQ(h.service.get_id.load(), 1) << "the identity id is reused across refreshes";
  p->invalidate();
  EXPECT_EQ(p->credentials()->access_key_id, "ASIA3");
}

TEST(CognitoIdentityFlow, AStoredIdentityIdSkipsGetId) {
  ProviderHarness h;
  h.store->save(kPool, kIdB);
  auto p = h.provider();
  ASSERT_TRUE(p->credentials().ok());
  EXPECT_EQ(h.service.get_id.load(), 0);
  EXPECT_EQ(*p->identity_id(), kIdB);
}

TEST(CognitoIdentityFlow, AMergedIdentityIsSavedAndReported) {
  ProviderHarness h;
  auto p = h.provider();
  ASSERT_TRUE(p->credentials().ok());
  h.service.merge_into = kIdB;
  p->set_logins({{"graph.facebook.com", "fb"}});
  ASSERT_TRUE(p->credentials().ok());
  EXPECT_EQ(h.service.last_logins.load(), 1u) << "the new logins were presented";
  EXPECT_EQ(*p->cached_identity_id(), kIdB);
  EXPECT_EQ(*h.store->load(kPool), kIdB);
  ASSERT_EQ(h.changes.size(), 1u);
  EXPECT_EQ(h.changes[0], std::make_pair(kIdA, kIdB));
}

TEST(CognitoIdentityFlow, AnIdentityTheServiceForgotIsReplacedOnce) {
  ProviderHarness h;
  h.store->save(kPool, kIdB);
  h.service.not_found_once = true;
  auto p = h.provider();
  auto c = p->credentials();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(h.service.get_id.load(), 1);
  EXPECT_EQ(*p->cached_identity_id(), kIdA);
  ASSERT_EQ(h.changes.size(), 1u);
  EXPECT_EQ(h.changes[0], std::make_pair(kIdB, kIdA));
}

TEST(CognitoIdentityFlow, ConcurrentCallersShareOneFetch) {
  ProviderHarness h;
  auto p = h.provider();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { ok += p->credentials().ok(); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(h.service.get_id.load(), 1);
  EXPECT_EQ(h.service.get_credentials.load(), 1);
}

TEST(CognitoIdentityFlow, ClearForgetsTheIdentity) {
  ProviderHarness h;
  auto p = h.provider();
  ASSERT_TRUE(p->credentials().ok());
  p->clear();
  EXPECT_FALSE(p->cached_identity_id().has_value());
  EXPECT_FALSE(h.store->load(kPool).has_value());
}

TEST(CognitoIdentityFlow, SyncCallsAreSignedWithTheTemporaryCredentials) {
  ProviderHarness h;
  ScriptedServer sync_server;
  sync_server.respond(200, R"({"Datasets":[],"Count":0})");
  ClientConfig c;
  c.region = "us-east-1";
  c.endpoint = sync_server.url();
  c.credentials = h.provider();
  auto client = std::move(CognitoSyncClient::create(c)).value();
  auto r = client->list_datasets({kPool, kIdA, std::nullopt, std::nullopt});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto reqs = sync_server.requests();
  EXPECT_EQ(reqs[0].header("X-Amz-Security-Token"), "token1");
  EXPECT_NE(reqs[0].header("Authorization").find("Credential=ASIA1/"), std::string::npos);
}

// --- cross-check with botocore's signer --------------------------------------------------------

std::string json_string(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

struct CrossCheckCase {
  std::string service;
  std::string token;
  transport::WireRequest wire;
  std::string botocore_operation;  // non-empty: botocore also serialises these params itself
  std::string params;
};

std::vector<CrossCheckCase> cross_check_cases() {
  wire::UpdateRecordsRequest up{kPool, kIdA, "settings", "dev-1", {}, "sst", "eyJ9"};
  up.record_patches.push_back({wire::kOpReplace, "highScore", "100", 4, std::nullopt});
  up.record_patches.push_back({wire::kOpRemove, "old", std::nullopt, 2, std::nullopt});
  wire::ListRecordsRequest lr{kPool, kIdA, "my.data_set-1:x", 5, "nt/ab+c=", 100, "sst token+/="};
  return {
      {"cognito-sync", "", transport::sync_wire::build(lr), "list_records",
       R"({"IdentityPoolId":")" + kPool + R"(","IdentityId":")" + kIdA +
           R"(","DatasetName":"my.data_set-1:x","LastSyncCount":5,"MaxResults":100,
               "NextToken":"nt/ab+c=","SyncSessionToken":"sst token+/="})"},
      {"cognito-sync", "SESSIONTOKEN",
       transport::sync_wire::build(
           wire::UnsubscribeFromDatasetRequest{kPool, kIdA, "settings", "dev 1/2"}),
       "unsubscribe_from_dataset",
       R"({"IdentityPoolId":")" + kPool + R"(","IdentityId":")" + kIdA +
           R"(","DatasetName":"settings","DeviceId":"dev 1/2"})"},
      {"cognito-sync", "SESSIONTOKEN", transport::sync_wire::build(up), "", ""},
      {"cognito-sync", "",
       transport::sync_wire::build(wire::RegisterDeviceRequest{kPool, kIdA, "GCM", "t"}), "", ""},
      {"cognito-identity", "SESSIONTOKEN",
       transport::identity_wire::build(identity::ListIdentityPoolsRequest{10, std::nullopt}), "",
       ""},
      {"cognito-identity", "",
       transport::identity_wire::build(identity::DescribeIdentityRequest{kIdA}), "", ""},
  };
}

TEST(BotocoreCrossCheck, AuthorizationHeadersAreByteEqualToBotocoresForTheSameInputsAndDate) {
  auto fixed = std::chrono::system_clock::from_time_t(1440938160);  // 20150830T123600Z
  const std::string secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  auto cases = cross_check_cases();
  std::vector<HttpRequest> ours;
  std::string sign_input = "[", serialize_input = "[";
  std::vector<size_t> serialized;
  for (size_t i = 0; i < cases.size(); ++i) {
    ClientConfig c;
    c.region = "us-east-1";
    c.endpoint = "http://127.0.0.1:8765";
    c.clock = std::make_shared<ManualClock>(fixed);
    c.credentials =
        std::make_shared<StaticCredentialsProvider>("AKIDEXAMPLE", secret, cases[i].token);
    auto protocol = cases[i].service == "cognito-sync" ? transport::Protocol::kRestJson
                                                       : transport::Protocol::kAwsJson;
    auto service =
        std::move(transport::ServiceClient::create(c, cases[i].service, protocol)).value();
    auto http = service->prepare(cases[i].wire, 1);
    ASSERT_TRUE(http.ok());
    ours.push_back(*http);
    // Hand botocore the request as it stood when cairn signed it.
    std::string headers = "[";
    for (const auto& [k, v] : http->headers) {
      if (transport::iequals(k, "Authorization") || transport::iequals(k, "X-Amz-Date") ||
          transport::iequals(k, "X-Amz-Security-Token") || k.rfind("amz-sdk-", 0) == 0) {
        continue;
      }
      headers += std::string(headers.size() > 1 ? "," : "") + "[" + json_string(k) + "," +
                 json_string(v) + "]";
    }
    headers += "]";
    std::string common =
        R"("service":")" + cases[i].service +
        R"(","region":"us-east-1","access_key":"AKIDEXAMPLE","secret_key":)" + json_string(secret) +
        R"(,"amz_date":"20150830T123600Z")" +
        (cases[i].token.empty() ? "" : R"(,"session_token":")" + cases[i].token + "\"");
    sign_input += std::string(i ? "," : "") + R"({"sign":{"method":")" + http->method +
                  R"(","url":)" + json_string(http->url) + R"(,"headers":)" + headers +
                  R"(,"body":)" + json_string(http->body) + "}," + common + "}";
    if (!cases[i].botocore_operation.empty()) {
      serialize_input += std::string(serialized.empty() ? "" : ",") + R"({"operation":")" +
                         cases[i].botocore_operation + R"(","params":)" + cases[i].params +
                         R"(,"endpoint":"http://127.0.0.1:8765",)" + common + "}";
      serialized.push_back(i);
    }
  }
  sign_input += "]";
  serialize_input += "]";

  // 1. botocore's SigV4Auth over cairn's exact requests.
  auto signed_refs = cairn::testing::botocore_reference(sign_input);
  ASSERT_EQ(signed_refs.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].wire.operation);
    EXPECT_EQ(*transport::find_header(ours[i].headers, "Authorization"),
              *signed_refs[i].header("Authorization"));
  }
  // 2. For bodiless requests, botocore serialising and signing on its own gives the same header.
  auto full_refs = cairn::testing::botocore_reference(serialize_input);
  ASSERT_EQ(full_refs.size(), serialized.size());
  for (size_t j = 0; j < serialized.size(); ++j) {
    const auto& mine = ours[serialized[j]];
    SCOPED_TRACE(cases[serialized[j]].wire.operation);
    EXPECT_EQ(*transport::find_header(mine.headers, "Authorization"),
              *full_refs[j].header("Authorization"));
    EXPECT_EQ(mine.url, "http://127.0.0.1:8765" + full_refs[j].rawpath);
  }
}

}  // namespace
}  // namespace cairn
