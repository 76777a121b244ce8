// `cairn-server migrate --from sqlite:PATH --to postgresql://...` (run as pg.Migrate.*): a server
// filled through the API on SQLite is copied, verified, and served again from PostgreSQL, where
// devices carry on as if nothing happened: the same records and counts, their credentials and
// session tokens still good, deleted datasets still deleted, configuration and usage kept.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "server/server.h"
#include "server/storage/migrate.h"
#include "server_fixture.h"
#include "temp_dir.h"
#include "test_db.h"

namespace cairn {
namespace {

using testing::kAdminKey;
using testing::kAdminSecret;

// Runs the binary; its exit code and everything it printed.
std::pair<int, std::string> run(const std::string& args) {
  std::string out;
  FILE* p = popen((std::string(CAIRN_SERVER) + " " + args + " 2>&1").c_str(), "r");
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::unique_ptr<server::Server> start(const std::string& db) {
  server::ServerConfig config;
  config.listen = "127.0.0.1:0";
  config.db = db;
  config.bootstrap_pools = {"game"};
  config.options.admin = {kAdminKey, kAdminSecret};
  config.worker_threads = 8;
  auto s = server::Server::start(config);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

ClientConfig client(const std::string& url, CredentialsProviderPtr creds = nullptr) {
  ClientConfig c;
  c.endpoint = url;
  c.region = "us-east-1";
  c.credentials =
      creds ? creds : std::make_shared<StaticCredentialsProvider>(kAdminKey, kAdminSecret);
  c.retry.max_retries = 0;
  return c;
}

// What a device sees of a dataset: (key, value or "<removed>", count) in server order, plus the
// dataset's count.
std::vector<std::string> view(CognitoSyncClient& c, const std::string& pool, const std::string& id,
                              const std::string& dataset) {
  auto all = testing::list_all(c, pool, id, dataset);
  std::vector<std::string> out{"count " + std::to_string(all.dataset_sync_count.value_or(-1))};
  for (const auto& r : all.records) {
    out.push_back(*r.key + "=" + (r.value ? *r.value : "<removed>") + "@" +
                  std::to_string(r.sync_count.value_or(-1)));
  }
  return out;
}

TEST(Migrate, ASqliteServerMovesToPostgresqlAndDevicesCarryOn) {
  testing::TempDir dir("cairn-migrate");
  const std::string sqlite_db = "sqlite:" + dir.path + "/cairn.db";
  const std::string pg_db = testing::fresh_postgres_db();

  std::string pool, identity, device_id, session_token;
  identity::Credentials creds;
  std::vector<std::string> save_before, gone_before;
  int64_t sessions_before = 0;
  {
    auto srv = start(sqlite_db);
    ASSERT_TRUE(srv);
    pool = srv->pools()[0].second;
    auto admin_sync = std::move(CognitoSyncClient::create(client(srv->url()))).value();
    auto admin_identity = std::move(CognitoIdentityClient::create(client(srv->url()))).value();
    ASSERT_TRUE(
        admin_sync
            ->set_cognito_events(
                {pool, {{"SyncTrigger", "arn:aws:lambda:us-east-1:123456789012:function:check"}}})
            .ok());
    ASSERT_TRUE(admin_sync
                    ->set_identity_pool_configuration(
                        {pool, std::nullopt,
                         wire::CognitoStreams{"stream", "arn:aws:iam::1:role/r", "ENABLED"}})
                    .ok());
    identity::CreateIdentityPoolRequest other;
    other.identity_pool_name = "other";
    other.developer_provider_name = "login.other";
    ASSERT_TRUE(admin_identity->create_identity_pool(other).ok());
    auto dev = admin_identity->get_open_id_token_for_developer_identity(
        {pool, std::nullopt, {{"login.cairn", "player-7"}}, {}, std::nullopt});
    ASSERT_TRUE(dev.ok());

    // A device with credentials of its own.
    auto id = admin_identity->get_id({std::nullopt, pool, {}});
    ASSERT_TRUE(id.ok());
    auto got = admin_identity->get_credentials_for_identity({*id->identity_id, {}, std::nullopt});
    ASSERT_TRUE(got.ok());
    creds = *got->credentials;
    auto device =
        std::move(
            CognitoSyncClient::create(client(
                srv->url(), std::make_shared<StaticCredentialsProvider>(
                                *creds.access_key_id, *creds.secret_key, *creds.session_token))))
            .value();
    identity = *id->identity_id;
    ASSERT_TRUE(testing::push(
                    *device, pool, identity, "save",
                    {testing::put("level", "7", 0), testing::put("nul", std::string("a\0b", 3), 0),
                     testing::put("gone", "x", 0)})
                    .ok());
    ASSERT_TRUE(testing::push(*device, pool, identity, "save",
                              {testing::del("gone", 1), testing::put("level", "8", 1)})
                    .ok());
    ASSERT_TRUE(testing::push(*device, pool, identity, "old", {testing::put("k", "v", 0)}).ok());
    ASSERT_TRUE(device->delete_dataset({pool, identity, "old"}).ok());
    auto reg = device->register_device({pool, identity, "GCM", "token-1"});
    ASSERT_TRUE(reg.ok());
    device_id = *reg->device_id;
    ASSERT_TRUE(device->subscribe_to_dataset({pool, identity, "save", device_id}).ok());

    save_before = view(*device, pool, identity, "save");
    gone_before = view(*device, pool, identity, "old");
    auto session = device->list_records({pool, identity, "save", 0, std::nullopt, 1, std::nullopt});
    ASSERT_TRUE(session.ok());
    session_token = *session->sync_session_token;
    auto usage = admin_sync->describe_identity_pool_usage({pool});
    ASSERT_TRUE(usage.ok());
    sessions_before = usage->identity_pool_usage->sync_sessions_count.value_or(-1);
    EXPECT_GT(sessions_before, 0);
  }  // stopped: migrations copy a server at rest

  auto [code, out] = run("migrate --from " + sqlite_db + " --to '" + pg_db + "'");
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("copied and verified: 2 pools, 2 identities, 1 logins, 1 credentials, "
                     "2 datasets, 3 records, 1 devices, 1 subscriptions"),
            std::string::npos)
      << out;

  // Copying again would mix two servers: refused, target untouched.
  auto [again, again_out] = run("migrate --from " + sqlite_db + " --to '" + pg_db + "'");
  EXPECT_EQ(again, 1) << again_out;
  EXPECT_NE(again_out.find("already holds data"), std::string::npos) << again_out;

  auto srv = start(pg_db);
  ASSERT_TRUE(srv);
  EXPECT_EQ(srv->pools()[0].second, pool) << "bootstrap finds the copied pool";
  auto device = std::move(CognitoSyncClient::create(client(
                              srv->url(),
                              std::make_shared<StaticCredentialsProvider>(
                                  *creds.access_key_id, *creds.secret_key, *creds.session_token))))
                    .value();
  // The device's records, counts, removals and deleted dataset, exactly as before.
  EXPECT_EQ(view(*device, pool, identity, "save"), save_before);
  EXPECT_EQ(view(*device, pool, identity, "old"), gone_before);
  auto old =
      device->list_records({pool, identity, "old", 1, std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_TRUE(old->dataset_deleted_after_requested_sync_count.value_or(false));
  // The session the SQLite server opened pushes on PostgreSQL: the signing key came along.
  auto pushed = device->update_records({pool,
                                        identity,
                                        "save",
                                        device_id,
                                        {testing::put("level", "9", 2)},
                                        session_token,
                                        std::nullopt});
  EXPECT_TRUE(pushed.ok()) << pushed.status().ToString();
  // The subscription came along too: subscribing again is the same row, not a second one.
  EXPECT_TRUE(device->subscribe_to_dataset({pool, identity, "save", device_id}).ok());

  auto admin_sync = std::move(CognitoSyncClient::create(client(srv->url()))).value();
  auto events = admin_sync->get_cognito_events({pool});
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->events.at("SyncTrigger"),
            "arn:aws:lambda:us-east-1:123456789012:function:check");
  auto config = admin_sync->get_identity_pool_configuration({pool});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->cognito_streams->streaming_status, "ENABLED");
  auto usage = admin_sync->describe_identity_pool_usage({pool});
  ASSERT_TRUE(usage.ok());
  EXPECT_GE(usage->identity_pool_usage->sync_sessions_count.value_or(-1), sessions_before);
  auto dev =
      std::move(CognitoIdentityClient::create(client(srv->url())))
          .value()
          ->lookup_developer_identity({pool, std::nullopt, "player-7", std::nullopt, std::nullopt});
  EXPECT_TRUE(dev.ok()) << dev.status().ToString();
}

TEST(Migrate, ASourceThatIsNotThereIsAnErrorNotAnEmptyCopy) {
  auto [code, out] = run("migrate --from sqlite:/nonexistent/cairn.db --to '" +
                         testing::fresh_postgres_db() + "'");
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists("/nonexistent/cairn.db"));
}

// The library call both ways: PostgreSQL back to SQLite gives the same census.
TEST(Migrate, ACopyBackToSqliteHasTheSameCensus) {
  testing::TempDir dir("cairn-migrate-back");
  const std::string pg_db = testing::fresh_postgres_db();
  {
    auto srv = start(pg_db);
    ASSERT_TRUE(srv);
    auto admin = std::move(CognitoSyncClient::create(client(srv->url()))).value();
    const std::string id = "us-east-1:aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
    for (int d = 0; d < 3; ++d) {
      std::vector<wire::RecordPatch> patches;
      for (int k = 0; k < 40; ++k) patches.push_back(testing::put("k" + std::to_string(k), "v", 0));
      ASSERT_TRUE(
          testing::push(*admin, srv->pools()[0].second, id, "d" + std::to_string(d), patches).ok());
    }
  }
  auto from = std::move(server::open_storage(pg_db)).value();
  auto to = std::move(server::open_storage("sqlite:" + dir.path + "/back.db")).value();
  auto census = server::migrate_storage(*from, *to);
  ASSERT_TRUE(census.ok()) << census.status().ToString();
  EXPECT_EQ(census->datasets, 3);
  EXPECT_EQ(census->records, 120);
  auto source = server::take_census(*from), copy = server::take_census(*to);
  ASSERT_TRUE(source.ok() && copy.ok());
  EXPECT_EQ(source->sha256, copy->sha256);
}

}  // namespace
}  // namespace cairn
