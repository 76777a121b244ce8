// cairn-server over HTTPS (--tls-cert, --tls-key): a certificate the test generates, trusted by the
// client only through its CA bundle; verification is on unless switched off.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cairn/cognito/identity.h"
#include "cairn/cognito/sync.h"
#include "fixtures/self_signed.h"
#include "server/server.h"
#include "server_fixture.h"
#include "tests/temp_dir.h"
#include "transport/notification_socket.h"

namespace cairn {
namespace {

class TlsServer : public ::testing::Test {
 protected:
  TlsServer() {
    server::ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.db = cairn::testing::test_db_url(dir_.path);
    config.bootstrap_pools = {"game"};
    config.options.admin = {testing::kAdminKey, testing::kAdminSecret};
    config.worker_threads = 8;
    config.tls_cert_file = cert_.cert_path;
    config.tls_key_file = cert_.key_path;
    auto started = server::Server::start(config);
    if (!started.ok()) throw std::runtime_error(started.status().ToString());
    server_ = std::move(*started);
  }

  ClientConfig client(const std::string& ca_file) const {
    ClientConfig c;
    c.endpoint = server_->url();
    c.region = "us-east-1";
    c.credentials =
        std::make_shared<StaticCredentialsProvider>(testing::kAdminKey, testing::kAdminSecret);
    c.http.ca_file = ca_file;
    c.retry.max_retries = 0;
    return c;
  }
  Result<identity::GetIdResponse> get_id(const ClientConfig& c) const {
    auto identity = std::move(CognitoIdentityClient::create(c)).value();
    return identity->get_id({std::nullopt, server_->pools()[0].second, {}});
  }

  testing::TempDir dir_{"cairn-tls-server"};
  testing::SelfSignedCert cert_;
  std::unique_ptr<server::Server> server_;
};

TEST_F(TlsServer, ServesHttpsThatAClientTrustsThroughItsCaBundle) {
  ASSERT_EQ(server_->url().rfind("https://127.0.0.1:", 0), 0u) << server_->url();
  auto id = get_id(client(cert_.cert_path));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  // A whole signed session over TLS: the admin writes a record, then reads it back.
  auto sync = std::move(CognitoSyncClient::create(client(cert_.cert_path))).value();
  auto pushed = testing::push(*sync, server_->pools()[0].second, *id->identity_id, "save",
                              {testing::put("level", "7", 0)});
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  auto all = testing::list_all(*sync, server_->pools()[0].second, *id->identity_id, "save");
  ASSERT_EQ(all.records.size(), 1u);
  EXPECT_EQ(*all.records[0].value, "7");
}

TEST_F(TlsServer, AClientWithoutTheCaRejectsTheServerByDefault) {
  auto id = get_id(client(""));  // the system store does not know the test's CA
  EXPECT_EQ(id.status().code(), ErrorCode::kTls) << id.status().ToString();
  ClientConfig off = client("");
  off.http.verify_tls = false;  // local testing only
  EXPECT_TRUE(get_id(off).ok());
}

TEST_F(TlsServer, PlainHttpToTheHttpsPortIsRefusedNotServed) {
  ClientConfig plain = client("");
  plain.endpoint = "http://127.0.0.1:" + std::to_string(server_->port());
  auto id = get_id(plain);
  EXPECT_FALSE(id.ok());
  EXPECT_NE(id.status().code(), ErrorCode::kOk);
}

TEST_F(TlsServer, TheNotificationWebSocketRunsOverTlsForAClientThatTrustsTheCa) {
  const std::string pool = server_->pools()[0].second;
  auto identity = std::shared_ptr<CognitoIdentityClient>(
      std::move(CognitoIdentityClient::create(client(cert_.cert_path))).value());
  CognitoIdentityProviderOptions options;
  options.identity_pool_id = pool;
  auto device = std::make_shared<CognitoIdentityCredentialsProvider>(identity, options);
  auto id = device->identity_id();
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ClientConfig as_device = client(cert_.cert_path);
  as_device.credentials = device;
  auto sync = std::move(CognitoSyncClient::create(as_device)).value();
  auto reg = sync->register_device({pool, *id, "GCM", "tls-websocket-token"});
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  ASSERT_TRUE(sync->subscribe_to_dataset({pool, *id, "save", *reg->device_id}).ok());

  HttpOptions trusting;
  trusting.ca_file = cert_.cert_path;
  transport::NotificationTarget target{server_->url(), "us-east-1", pool, *id, *reg->device_id, 0};
  auto socket = transport::NotificationSocket::connect(target, *device, trusting);
  ASSERT_TRUE(socket.ok()) << socket.status().ToString();
  ASSERT_TRUE(*socket) << "the server declined the upgrade over TLS";
  ASSERT_TRUE(testing::push(*sync, pool, *id, "save", {testing::put("level", "7", 0)}).ok());
  auto batch = (*socket)->next();
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->notifications.size(), 1u);
  EXPECT_NE(batch->notifications[0].payload_json.find(R"("syncCount":"1")"), std::string::npos)
      << batch->notifications[0].payload_json;
  EXPECT_TRUE((*socket)->acknowledge(batch->next).ok());

  // Without the CA the handshake fails, as HTTPS does: a TLS error, not a fall back to plain text.
  auto untrusted = transport::NotificationSocket::connect(target, *device, HttpOptions());
  EXPECT_EQ(untrusted.status().code(), ErrorCode::kTls) << untrusted.status().ToString();
}

TEST(TlsServerConfig, AMissingOrHalfGivenCertificateIsAClearStartupError) {
  testing::TempDir dir("cairn-tls-config");
  testing::SelfSignedCert cert;
  server::ServerConfig config;
  config.listen = "127.0.0.1:0";
  config.db = cairn::testing::test_db_url(dir.path);
  config.tls_cert_file = cert.cert_path;  // no key
  auto half = server::Server::start(config);
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(half.status().message().find("--tls-key"), std::string::npos)
      << half.status().message();

  config.tls_key_file = dir.path + "/missing-key.pem";
  auto missing = server::Server::start(config);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing-key.pem"), std::string::npos)
      << missing.status().message();

  std::ofstream(dir.path + "/garbage.pem") << "not a key\n";
  config.tls_key_file = dir.path + "/garbage.pem";
  auto garbage = server::Server::start(config);
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace cairn
