// cairn-server over HTTPS (--tls-cert, --tls-key): a certificate the test generates, trusted by the
// client only through its CA bundle; verification is on unless switched off.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cairn/cognito_identity.h"
#include "cairn/cognito_sync.h"
#include "fixtures/self_signed.h"
#include "server/server.h"
#include "server_fixture.h"
#include "tests/temp_dir.h"

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
