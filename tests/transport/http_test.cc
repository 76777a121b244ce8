// The libcurl transport against real loopback servers: what goes on the wire, connection reuse,
// timeouts, refused connections, error bodies, an HTTP proxy, TLS verification with a generated
// self-signed certificate, and wire traces with secrets redacted.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cairn/cognito/identity.h"
#include "cairn/cognito/sync.h"
#include "fixtures/raw_proxy.h"
#include "fixtures/scripted_server.h"
#include "fixtures/self_signed.h"
#include "fixtures/wait.h"
#include "transport/sigv4.h"

namespace cairn {
namespace {

using testing::Hold;
using testing::kHungTest;
using testing::ScriptedServer;
using namespace std::chrono_literals;

const std::string kPool = "us-east-1:23ec4050-6aea-7089-a2dd-08002e000000";
const std::string kIdn = "us-east-1:0b4a7c6e-1111-2222-3333-444455556666";

ClientConfig config_for(const std::string& endpoint) {
  ClientConfig c;
  c.region = "us-east-1";
  c.endpoint = endpoint;
  c.credentials = std::make_shared<StaticCredentialsProvider>("AKIDEXAMPLE", "SECRET", "SESSION");
  c.retry.jitter_seed = 1;
  c.retry.base_delay = 1ms;
  c.retry.throttle_base_delay = 1ms;
  return c;
}

std::unique_ptr<CognitoSyncClient> sync_client(const ClientConfig& c) {
  auto r = CognitoSyncClient::create(c);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(r).value();
}

wire::ListRecordsRequest list_request(std::string dataset = "settings") {
  wire::ListRecordsRequest r;
  r.identity_pool_id = kPool;
  r.identity_id = kIdn;
  r.dataset_name = std::move(dataset);
  r.last_sync_count = 0;
  r.sync_session_token = "a b/c+d=";
  return r;
}

// Recomputes the signature from what the server received, the way cairn-server will verify it.
std::string recompute_signature(const testing::RecordedRequest& r, const std::string& secret) {
  std::string auth = r.header("Authorization");
  size_t sh = auth.find("SignedHeaders=") + 14;
  std::string signed_headers = auth.substr(sh, auth.find(',', sh) - sh);
  transport::SigV4Request req;
  req.method = r.method;
  size_t q = r.target.find('?');
  req.path = r.target.substr(0, q);
  req.query = q == std::string::npos ? "" : r.target.substr(q + 1);
  size_t start = 0;
  while (start <= signed_headers.size()) {
    size_t end = signed_headers.find(';', start);
    if (end == std::string::npos) end = signed_headers.size();
    std::string name = signed_headers.substr(start, end - start);
    req.headers.emplace_back(name, r.header(name));
    start = end + 1;
  }
  req.body = r.body;
  auto sig = transport::compute_sigv4(req, AwsCredentials{"AKIDEXAMPLE", secret, "", std::nullopt},
                                      {"us-east-1", "cognito-sync"}, r.header("X-Amz-Date"));
  return sig.authorization;
}

TEST(HttpWire, RequestsArriveEncodedSignedAndVerifiable) {
  ScriptedServer server;
  server.respond(200, R"({"Records":[{"Key":"k","Value":"v","SyncCount":1}],"DatasetSyncCount":1,
                         "SyncSessionToken":"sst"})");
  auto client = sync_client(config_for(server.url()));
  auto lr = client->list_records(list_request("my.data_set-1:x"));
  ASSERT_TRUE(lr.ok()) << lr.status().ToString();
  EXPECT_EQ(*lr->records[0].value, "v");

  wire::UpdateRecordsRequest up{
      kPool, kIdn, "settings", "dev 1", {}, "sst", "eyJjbGllbnQiOnt9fQ=="};
  up.record_patches.push_back({wire::kOpReplace, "highScore", "100", 4, std::nullopt});
  ASSERT_TRUE(client->update_records(up).ok());
  ASSERT_TRUE(client->bulk_publish({kPool}).ok());
  ASSERT_TRUE(client->unsubscribe_from_dataset({kPool, kIdn, "settings", "dev 1/2"}).ok());

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].target,
            "/identitypools/us-east-1%3A23ec4050-6aea-7089-a2dd-08002e000000/identities/"
            "us-east-1%3A0b4a7c6e-1111-2222-3333-444455556666/datasets/my.data_set-1%3Ax/records"
            "?lastSyncCount=0&syncSessionToken=a%20b%2Fc%2Bd%3D");
  EXPECT_EQ(reqs[0].header("Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(reqs[1].header("x-amz-Client-Context"), "eyJjbGllbnQiOnt9fQ==");
  EXPECT_EQ(reqs[1].header("Content-Type"), "application/json");
  EXPECT_EQ(reqs[1].header("X-Amz-Security-Token"), "SESSION");
  EXPECT_FALSE(reqs[2].has_header("Content-Type")) << "a bodiless POST carries no Content-Type";
  EXPECT_EQ(reqs[2].header("Content-Length"), "0");
  EXPECT_EQ(reqs[3].method, "DELETE");
  EXPECT_NE(reqs[3].target.find("/subscriptions/dev%201%2F2"), std::string::npos);
  for (const auto& r : reqs) {
    EXPECT_EQ(r.header("Authorization"), recompute_signature(r, "SECRET")) << r.target;
  }
}

TEST(HttpConnections, KeepAliveConnectionsAreReusedAndIdleOnesRetired) {
  ScriptedServer server;
  server.respond(200, "{}");
  ClientConfig c = config_for(server.url());
  c.http.idle_timeout = 1000ms;
  auto client = sync_client(c);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->list_records(list_request()).ok());
  auto reqs = server.requests();
  for (const auto& r : reqs) EXPECT_EQ(r.remote_port, reqs[0].remote_port) << "one connection";
  std::this_thread::sleep_for(2200ms);
  ASSERT_TRUE(client->list_records(list_request()).ok());
  EXPECT_NE(server.requests().back().remote_port, reqs[0].remote_port)
      << "a connection idle past idle_timeout is not reused";
}

TEST(HttpConnections, ConcurrentCallsShareThePoolSafely) {
  ScriptedServer server;
  server.respond(200, R"({"DatasetSyncCount":5})");
  auto client = sync_client(config_for(server.url()));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) ok += client->list_records(list_request()).ok();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 80);
  std::set<int> ports;
  for (const auto& r : server.requests()) ports.insert(r.remote_port);
  EXPECT_LE(ports.size(), 16u) << "connections are pooled, not one per request";
}

TEST(HttpTimeouts, ASilentServerHitsTheReadTimeout) {
  ScriptedServer server;
  auto hold = std::make_shared<Hold>();
  server.set_handler([hold](const httplib::Request&, httplib::Response& res) {
    hold->wait();  // silent until the test is done
    res.set_content("{}", "application/json");
  });
  ClientConfig c = config_for(server.url());
  c.http.read_timeout = 500ms;
  c.retry.max_retries = 0;
  auto r = sync_client(c)->list_records(list_request());
  // Without the read timeout the call would have waited for the answer, and had it.
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout) << r.status().ToString();
  EXPECT_TRUE(r.status().is_transient());
  hold->release();
}

TEST(HttpTimeouts, TheTotalTimeoutBoundsTheWholeExchange) {
  // The server keeps sending, a byte every 20 ms, so no read timeout ever fires: only the bound
  // on the whole exchange can end it before the server does.
  ScriptedServer server;
  auto hold = std::make_shared<Hold>();
  server.set_handler([hold](const httplib::Request&, httplib::Response& res) {
    auto until = std::chrono::steady_clock::now() + kHungTest;
    res.set_chunked_content_provider(
        "application/json", [hold, until](size_t, httplib::DataSink& sink) {
          if (hold->wait(20ms) || std::chrono::steady_clock::now() >= until) {
            sink.write("{}", 2);
            sink.done();
            return true;
          }
          return sink.write(" ", 1);  // false once the client has gone
        });
  });
  ClientConfig c = config_for(server.url());
  c.http.total_timeout = 300ms;
  c.http.read_timeout = 200ms;  // shorter than the exchange, yet never reached: bytes keep coming
  c.retry.max_retries = 0;
  auto r = sync_client(c)->list_records(list_request());
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout) << r.status().ToString();
  hold->release();
}

TEST(HttpFailures, ARefusedConnectionIsATransientNetworkErrorAndIsRetried) {
  int port;
  {
    ScriptedServer closed;
    port = closed.port();
  }
  ClientConfig c = config_for("http://127.0.0.1:" + std::to_string(port));
  c.retry.max_retries = 2;
  auto client = sync_client(c);
  auto r = client->list_records(list_request());
  EXPECT_EQ(r.status().code(), ErrorCode::kNetwork) << r.status().ToString();
  EXPECT_TRUE(r.status().is_network());
  EXPECT_EQ(client->stats().attempts, 3u);
}

TEST(HttpFailures, ServiceErrorsParseFromRealResponsesAndOnlyTransientOnesRetry) {
  ScriptedServer server;
  std::atomic<int> calls{0};
  server.set_handler([&](const httplib::Request&, httplib::Response& res) {
    int n = calls++;
    if (n == 0) {
      res.status = 503;
      res.set_content("<html>busy</html>", "text/html");
    } else {
      res.status = 409;
      res.set_header("x-amzn-ErrorType",
                     "ResourceConflictException:http://internal.amazon.com/coral/x/");
      res.set_header("x-amzn-RequestId", "rid-7");
      res.set_content(R"({"message":"Current SyncCount for: k is: 3 not: 2"})", "application/json");
    }
  });
  auto client = sync_client(config_for(server.url()));
  wire::UpdateRecordsRequest up{kPool, kIdn, "settings", std::nullopt, {}, "sst", std::nullopt};
  up.record_patches.push_back({wire::kOpReplace, "k", "v", 2, std::nullopt});
  auto r = client->update_records(up);
  EXPECT_EQ(r.status().code(), ErrorCode::kResourceConflict);
  EXPECT_EQ(r.status().request_id(), "rid-7");
  EXPECT_EQ(calls.load(), 2) << "the 503 was retried, the 409 was not";

  ScriptedServer identity_server;
  identity_server.respond(
      400, R"({"__type":"com.amazonaws.cognito.identity.model#NotAuthorizedException",
                                  "message":"Unauthenticated access is not supported"})");
  auto identity_client =
      std::move(CognitoIdentityClient::create(config_for(identity_server.url()))).value();
  auto id = identity_client->get_id({std::nullopt, kPool, {}});
  EXPECT_EQ(id.status().code(), ErrorCode::kNotAuthorized);
  EXPECT_EQ(id.status().message(), "Unauthenticated access is not supported");
}

TEST(HttpProxy, RequestsGoThroughTheConfiguredProxyInAbsoluteForm) {
  testing::RawProxy proxy;
  ClientConfig c =
      config_for("http://127.0.0.1:1");  // nothing listens there; only the proxy answers
  c.http.proxy = "http://127.0.0.1:" + std::to_string(proxy.port());
  auto r = sync_client(c)->list_records(list_request());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r->dataset_sync_count, 1);
  auto heads = proxy.heads();
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_EQ(heads[0].rfind("GET http://127.0.0.1:1/identitypools/us-east-1%3A23ec4050", 0), 0u)
      << heads[0];
  EXPECT_NE(heads[0].find("Authorization: AWS4-HMAC-SHA256"), std::string::npos);
}

class HttpTls : public ::testing::Test {
 protected:
  testing::SelfSignedCert cert;
  ScriptedServer server{cert.cert_path, cert.key_path};
};

TEST_F(HttpTls, VerificationIsOnByDefaultAndRejectsAnUntrustedCertificate) {
  server.respond(200, "{}");
  ClientConfig c = config_for(server.url(/*https=*/true));
  c.retry.max_retries = 0;
  auto r = sync_client(c)->list_records(list_request());
  EXPECT_EQ(r.status().code(), ErrorCode::kTls) << r.status().ToString();
  EXPECT_FALSE(r.status().is_transient());
  EXPECT_TRUE(server.requests().empty());
}

TEST_F(HttpTls, ACaBundleFileOrCaDirectoryMakesTheCertificateTrusted) {
  server.respond(200, R"({"DatasetSyncCount":2})");
  ClientConfig c = config_for(server.url(true));
  c.http.ca_file = cert.cert_path;
  auto r = sync_client(c)->list_records(list_request());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r->dataset_sync_count, 2);
  ClientConfig d = config_for(server.url(true));
  d.http.ca_path = cert.dir;
  d.http.ca_file = "/nonexistent-bundle.pem";  // the directory must carry the trust on its own
  auto r2 = sync_client(d)->list_records(list_request());
  EXPECT_EQ(r2.status().code(), ErrorCode::kTls) << "a missing CA file is an error, not a bypass";
  d.http.ca_file.clear();
  // With only a CA directory, curl still loads its default bundle first; the directory adds ours.
  auto r3 = sync_client(d)->list_records(list_request());
  EXPECT_TRUE(r3.ok()) << r3.status().ToString();
}

TEST_F(HttpTls, VerificationCanBeSwitchedOffForLocalTesting) {
  server.respond(200, "{}");
  ClientConfig c = config_for(server.url(true));
  c.http.verify_tls = false;
  EXPECT_TRUE(sync_client(c)->list_records(list_request()).ok());
}

TEST(HttpTrace, WireTraceLogsBothDirectionsWithSecretsRedacted) {
  ScriptedServer server;
  server.respond(200, R"({"IdentityId":"us-east-1:0b4a7c6e-1111-2222-3333-444455556666",
      "Credentials":{"AccessKeyId":"ASIAEXAMPLE","SecretKey":"TOP-SECRET-KEY","SessionToken":"TOP-SECRET-TOKEN",
      "Expiration":1.9E9}})");
  std::mutex mu;
  std::string trace;
  ClientConfig c = config_for(server.url());
  c.http.wire_trace = true;
  c.logger = std::make_shared<Logger>(
      [&](LogLevel, std::string_view line) {
        std::lock_guard<std::mutex> l(mu);
        trace += std::string(line) + "\n";
      },
      LogLevel::kTrace);
  auto client = std::move(CognitoIdentityClient::create(c)).value();
  auto r = client->get_credentials_for_identity(
      {kIdn, {{"graph.facebook.com", "FB-LOGIN-TOKEN"}}, std::nullopt});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r->credentials->secret_key, "TOP-SECRET-KEY");
  auto sync = sync_client(c);
  (void)sync->list_records(list_request());
  std::lock_guard<std::mutex> l(mu);
  EXPECT_NE(trace.find(">> POST " + server.url() + "/"), std::string::npos) << trace;
  EXPECT_NE(trace.find("<< 200"), std::string::npos);
  EXPECT_NE(trace.find("ASIAEXAMPLE"), std::string::npos);
  EXPECT_NE(trace.find("AWSCognitoIdentityService.GetCredentialsForIdentity"), std::string::npos);
  for (const char* secret : {"TOP-SECRET-KEY", "TOP-SECRET-TOKEN", "FB-LOGIN-TOKEN", "SESSION"}) {
    EXPECT_EQ(trace.find(secret), std::string::npos) << secret << " leaked into the trace";
  }
  auto reqs = server.requests();
  std::string signature = reqs.back().header("Authorization");
  signature = signature.substr(signature.find("Signature=") + 10);
  EXPECT_EQ(trace.find(signature), std::string::npos) << "signatures are redacted";
}

TEST(HttpTrace, NothingIsLoggedWithoutALoggerAndNothingGoesToStdout) {
  ScriptedServer server;
  server.respond(200, "{}");
  ClientConfig c = config_for(server.url());
  c.http.wire_trace = true;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  EXPECT_TRUE(sync_client(c)->list_records(list_request()).ok());
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace cairn

namespace cairn {
namespace {

// A server that never answers "100 Continue" makes curl wait expect_continue_timeout before it
// sends a large body; the raw fixture sees the delay.
TEST(HttpExpectContinue, LargeBodiesWaitTheConfiguredTimeForContinue) {
  // Two timeouts side by side: each exchange waits at least its own, and the short one ends first
  // (the body's transfer time, which a slow or sanitized build stretches, is the same in both).
  std::map<std::chrono::milliseconds, std::chrono::steady_clock::duration> took;
  for (auto timeout : {250ms, 2000ms}) {
    testing::RawProxy server;  // answers 200 once the whole body has arrived, never sends 100
    ClientConfig c = config_for("http://127.0.0.1:" + std::to_string(server.port()));
    c.http.expect_continue_timeout = timeout;
    wire::UpdateRecordsRequest up{kPool, kIdn, "settings", std::nullopt, {}, "sst", std::nullopt};
    up.record_patches.push_back(
        {wire::kOpReplace, "a", std::string(1048575, 'x'), 0, std::nullopt});
    up.record_patches.push_back(
        {wire::kOpReplace, "b", std::string(1048575, 'y'), 0, std::nullopt});
    auto start = std::chrono::steady_clock::now();
    auto r = sync_client(c)->update_records(up);
    took[timeout] = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    auto heads = server.heads();
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_NE(heads[0].find("Expect: 100-continue"), std::string::npos) << heads[0];
    EXPECT_GE(took[timeout], timeout);
  }
  EXPECT_LT(took[250ms], took[2000ms]) << "the configured wait, not a fixed one";
}

}  // namespace
}  // namespace cairn
