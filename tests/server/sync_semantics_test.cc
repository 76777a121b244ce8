// cairn-server's Cognito Sync semantics, driven end to end by the C++ transport client: sync
// counts, conflicts, atomicity, concurrency, limits, tokens, pagination, deletion and usage.
#include <atomic>
#include <set>
#include <thread>

#include "server_fixture.h"
#include "temp_dir.h"
#include "tests/transport/fakes.h"

namespace cairn {
namespace {

using testing::del;
using testing::list_all;
using testing::push;
using testing::put;
using testing::TestServer;

TEST(SyncCounts, EachUpdateRaisesTheCountByOneAndDeltasAreStrictlyAfter) {
  TestServer ts;
  auto d = ts.new_device();
  auto& c = *d.sync;
  auto empty = c.list_records(
      {ts.pool(), d.identity_id, "save", 0, std::nullopt, std::nullopt, std::nullopt});
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_FALSE(*empty->dataset_exists);
  EXPECT_EQ(*empty->dataset_sync_count, 0);
  EXPECT_TRUE(empty->sync_session_token.has_value());

  auto first = push(c, ts.pool(), d.identity_id, "save", {put("hp", "10", 0), put("gold", "5", 0)});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->records.size(), 2u);
  for (const auto& r : first->records) EXPECT_EQ(*r.sync_count, 1);
  auto second = push(c, ts.pool(), d.identity_id, "save", {put("hp", "11", 1)});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second->records[0].sync_count, 2);
  auto third = push(c, ts.pool(), d.identity_id, "save", {del("gold", 1)});
  ASSERT_TRUE(third.ok());

  auto from1 = list_all(c, ts.pool(), d.identity_id, "save", 1);
  ASSERT_EQ(from1.records.size(), 2u) << "only records with SyncCount > 1";
  EXPECT_EQ(*from1.records[0].key, "hp");
  EXPECT_EQ(*from1.records[0].value, "11");
  EXPECT_EQ(*from1.records[1].key, "gold");
  EXPECT_FALSE(from1.records[1].value.has_value()) << "a tombstone has no Value";
  EXPECT_EQ(*from1.dataset_sync_count, 3);
  EXPECT_TRUE(*from1.dataset_exists);
  EXPECT_TRUE(list_all(c, ts.pool(), d.identity_id, "save", 3).records.empty());
}

TEST(SyncCounts, EmptyStringIsAValueAndDeviceTimesAreEchoed) {
  TestServer ts;
  auto d = ts.new_device();
  auto lr = d.sync->list_records(
      {ts.pool(), d.identity_id, "s", 0, std::nullopt, std::nullopt, std::nullopt});
  wire::UpdateRecordsRequest r{ts.pool(), d.identity_id,           "s",         "phone-1",
                               {},        *lr->sync_session_token, std::nullopt};
  auto when = std::chrono::system_clock::from_time_t(1700000000) + std::chrono::milliseconds(250);
  r.record_patches.push_back({wire::kOpReplace, "name", "", 0, when});
  auto up = d.sync->update_records(r);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  auto all = list_all(*d.sync, ts.pool(), d.identity_id, "s");
  ASSERT_EQ(all.records.size(), 1u);
  EXPECT_EQ(*all.records[0].value, "");
  EXPECT_EQ(*all.records[0].last_modified_by, "phone-1")
      << "LastModifiedBy comes from the DeviceId";
  // The client sends whole seconds (as botocore does); the server stores and echoes them.
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*all.records[0].device_last_modified_date),
            1700000000);
}

TEST(Conflicts, AStalePatchFailsTheWholeCallAndNothingIsApplied) {
  TestServer ts;
  auto d = ts.new_device();
  auto& c = *d.sync;
  ASSERT_TRUE(push(c, ts.pool(), d.identity_id, "save", {put("a", "1", 0), put("b", "1", 0)}).ok());
  auto r = push(c, ts.pool(), d.identity_id, "save",
                {put("a", "2", 1), put("b", "2", 0), put("c", "new", 0)});
  ASSERT_EQ(r.status().code(), ErrorCode::kResourceConflict);
  EXPECT_EQ(r.status().http_status(), 409);
  EXPECT_EQ(r.status().message(), "Current SyncCount for: b is: 1 not: 0");
  auto all = list_all(c, ts.pool(), d.identity_id, "save");
  EXPECT_EQ(*all.dataset_sync_count, 1) << "no partial write";
  ASSERT_EQ(all.records.size(), 2u);
  for (const auto& rec : all.records) EXPECT_EQ(*rec.value, "1");
}

TEST(Conflicts, ConcurrentUpdatesOfOneCountHaveExactlyOneWinner) {
  TestServer ts;
  auto d = ts.new_device();
  auto lr = d.sync->list_records(
      {ts.pool(), d.identity_id, "race", 0, std::nullopt, std::nullopt, std::nullopt});
  std::string token = *lr->sync_session_token;
  std::atomic<int> wins{0}, conflicts{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&, t] {
      auto client = std::move(CognitoSyncClient::create(ts.config(d.provider))).value();
      wire::UpdateRecordsRequest r{ts.pool(),
                                   d.identity_id,
                                   "race",
                                   std::nullopt,
                                   {put("k", "writer-" + std::to_string(t), 0)},
                                   token,
                                   std::nullopt};
      auto res = client->update_records(r);
      if (res.ok())
        ++wins;
      else if (res.status().code() == ErrorCode::kResourceConflict)
        ++conflicts;
      else
        ++other;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(conflicts.load(), 11);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(*list_all(*d.sync, ts.pool(), d.identity_id, "race").dataset_sync_count, 1);
}

TEST(Conflicts, DuplicateKeysInOneCallAreRefused) {
  TestServer ts;
  auto d = ts.new_device();
  auto r = push(*d.sync, ts.pool(), d.identity_id, "s", {put("k", "1", 0), put("k", "2", 0)});
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidParameter);
}

TEST(Limits, TwentyDatasetsPerIdentity) {
  TestServer ts;
  auto d = ts.new_device();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(
        push(*d.sync, ts.pool(), d.identity_id, "ds" + std::to_string(i), {put("k", "v", 0)}).ok())
        << i;
  }
  auto r = push(*d.sync, ts.pool(), d.identity_id, "ds20", {put("k", "v", 0)});
  EXPECT_EQ(r.status().code(), ErrorCode::kLimitExceeded);
  EXPECT_FALSE(*list_all(*d.sync, ts.pool(), d.identity_id, "ds20").dataset_exists)
      << "nothing written";
  // Deleting one makes room again.
  ASSERT_TRUE(d.sync->delete_dataset({ts.pool(), d.identity_id, "ds0"}).ok());
  EXPECT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "ds20", {put("k", "v", 0)}).ok());
}

TEST(Limits, RecordsAndBytesPerDataset) {
  TestServer ts;
  auto d = ts.new_device();
  std::vector<wire::RecordPatch> many;
  for (int i = 0; i < 1024; ++i) many.push_back(put("k" + std::to_string(i), "v", 0));
  ASSERT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "big", many).ok());
  auto over = push(*d.sync, ts.pool(), d.identity_id, "big", {put("one-more", "v", 0)});
  EXPECT_EQ(over.status().code(), ErrorCode::kLimitExceeded);
  // A tombstone does not count: remove one, then the new key fits.
  ASSERT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "big", {del("k0", 1)}).ok());
  EXPECT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "big", {put("one-more", "v", 0)}).ok());

  // 1 MiB exactly (UTF-8 bytes of key plus value) fits; one byte more does not.
  std::string value(1048575, 'x');
  ASSERT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "heavy", {put("k", value, 0)}).ok());
  auto heavier = push(*d.sync, ts.pool(), d.identity_id, "heavy", {put("k2", "y", 0)});
  EXPECT_EQ(heavier.status().code(), ErrorCode::kLimitExceeded);
  auto describe = d.sync->describe_dataset({ts.pool(), d.identity_id, "heavy"});
  EXPECT_EQ(*describe->dataset->data_storage, 1048576);
  EXPECT_EQ(*describe->dataset->num_records, 1);
}

TEST(Limits, ServerChecksEveryModelConstraintEvenWhenTheClientDoesNot) {
  TestServer ts;
  auto d = ts.new_device();
  ClientConfig loose = ts.config(d.provider);
  loose.validate_params = false;
  auto c = std::move(CognitoSyncClient::create(loose)).value();
  auto lr =
      c->list_records({ts.pool(), d.identity_id, "s", 0, std::nullopt, std::nullopt, std::nullopt});
  std::string token = *lr->sync_session_token;
  auto upd = [&](wire::RecordPatch p, std::string dataset = "s") {
    return c->update_records(
        {ts.pool(), d.identity_id, dataset, std::nullopt, {p}, token, std::nullopt});
  };
  EXPECT_EQ(upd({"upsert", "k", "v", 0, std::nullopt}).status().code(),
            ErrorCode::kInvalidParameter);
  EXPECT_EQ(upd(put(std::string(1025, 'k'), "v", 0)).status().code(), ErrorCode::kInvalidParameter);
  EXPECT_EQ(upd(put("", "v", 0)).status().code(), ErrorCode::kInvalidParameter);
  EXPECT_EQ(upd(put("k", "v", 0), "bad name!").status().code(), ErrorCode::kInvalidParameter);
  auto no_token = c->update_records(
      {ts.pool(), d.identity_id, "s", std::nullopt, {put("k", "v", 0)}, "", std::nullopt});
  EXPECT_EQ(no_token.status().code(), ErrorCode::kInvalidParameter);
  auto empty_label = c->describe_dataset({ts.pool(), d.identity_id, ""});
  EXPECT_EQ(empty_label.status().code(), ErrorCode::kInvalidParameter)
      << "…/datasets/ is not ListDatasets";
  EXPECT_EQ(c->register_device({ts.pool(), d.identity_id, "WINDOWS", "t"}).status().code(),
            ErrorCode::kInvalidParameter);
  EXPECT_TRUE(list_all(*d.sync, ts.pool(), d.identity_id, "s").records.empty());
}

TEST(SessionTokens, MissingForeignTamperedAndExpiredTokensAreRefused) {
  auto clock = std::make_shared<testing::ManualClock>();
  server::ServerOptions options;
  options.clock = clock;
  options.sync_session_ttl_seconds = 60;
  TestServer ts(options);
  auto d = ts.new_device();
  auto& c = *d.sync;
  auto token_for = [&](const std::string& dataset) {
    return *c.list_records(
                 {ts.pool(), d.identity_id, dataset, 0, std::nullopt, std::nullopt, std::nullopt})
                ->sync_session_token;
  };
  auto update = [&](const std::string& token) {
    return c.update_records(
        {ts.pool(), d.identity_id, "a", std::nullopt, {put("k", "v", 0)}, token, std::nullopt});
  };
  std::string good = token_for("a");
  std::string foreign = token_for("b");
  std::string tampered = good;
  tampered[5] = tampered[5] == 'A' ? 'B' : 'A';
  for (const auto& bad : {foreign, tampered, std::string("not-a-token")}) {
    auto r = update(bad);
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidParameter);
    EXPECT_EQ(r.status().message(), "SyncSessionToken not valid for these inputs");
  }
  clock->advance(std::chrono::seconds(61));
  EXPECT_EQ(update(good).status().code(), ErrorCode::kInvalidParameter) << "expired";
  EXPECT_TRUE(update(token_for("a")).ok());
}

TEST(Pagination, PagesAreOpaqueSignedAndSkipNothingUnderConcurrentWrites) {
  TestServer ts;
  auto d = ts.new_device();
  auto& c = *d.sync;
  std::vector<wire::RecordPatch> patches;
  for (int i = 0; i < 25; ++i) patches.push_back(put("key" + std::to_string(100 + i), "v", 0));
  ASSERT_TRUE(push(c, ts.pool(), d.identity_id, "p", patches).ok());
  std::set<std::string> seen;
  std::optional<std::string> next, session;
  int pages = 0;
  do {
    auto page = c.list_records({ts.pool(), d.identity_id, "p", 0, next, 10, session});
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    EXPECT_LE(page->records.size(), 10u);
    for (const auto& r : page->records) seen.insert(*r.key);
    if (pages == 0) {
      // A write between pages moves one record to a later count: it must still be listed.
      ASSERT_TRUE(push(c, ts.pool(), d.identity_id, "p", {put("key124", "changed", 1)}).ok());
      EXPECT_EQ(*page->count, 10);
    }
    session = page->sync_session_token;
    next = page->next_token;
    ++pages;
  } while (next && pages < 10);
  EXPECT_EQ(seen.size(), 25u);
  EXPECT_GE(pages, 3);

  auto first = c.list_records({ts.pool(), d.identity_id, "p", 0, std::nullopt, 5, std::nullopt});
  std::string token = *first->next_token;
  token[3] = token[3] == 'x' ? 'y' : 'x';
  EXPECT_EQ(
      c.list_records({ts.pool(), d.identity_id, "p", 0, token, 5, std::nullopt}).status().code(),
      ErrorCode::kInvalidParameter);
  EXPECT_EQ(
      c.list_records({ts.pool(), d.identity_id, "other", 0, first->next_token, 5, std::nullopt})
          .status()
          .code(),
      ErrorCode::kInvalidParameter)
      << "a cursor is bound to its listing";
}

TEST(Pagination, DatasetsPageAt64ByDefaultAndFollowNextToken) {
  TestServer ts;
  auto d = ts.new_device();
  for (int i = 0; i < 15; ++i) {
    ASSERT_TRUE(
        push(*d.sync, ts.pool(), d.identity_id, "d" + std::to_string(10 + i), {put("k", "v", 0)})
            .ok());
  }
  std::vector<std::string> names;
  std::optional<std::string> next;
  do {
    auto page = d.sync->list_datasets({ts.pool(), d.identity_id, next, 4});
    ASSERT_TRUE(page.ok());
    for (const auto& ds : page->datasets) names.push_back(*ds.dataset_name);
    next = page->next_token;
  } while (next);
  EXPECT_EQ(names.size(), 15u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  auto all = d.sync->list_datasets({ts.pool(), d.identity_id, std::nullopt, std::nullopt});
  EXPECT_EQ(all->datasets.size(), 15u);
  EXPECT_FALSE(all->next_token.has_value());
}

TEST(Deletion, DeleteReturnsTheDatasetThenReportsTheDeletionToOlderCounts) {
  TestServer ts;
  auto d = ts.new_device();
  auto& c = *d.sync;
  ASSERT_TRUE(push(c, ts.pool(), d.identity_id, "save", {put("a", "1", 0), put("b", "2", 0)}).ok());
  auto deleted = c.delete_dataset({ts.pool(), d.identity_id, "save"});
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted->dataset->num_records, 2);
  EXPECT_EQ(*deleted->dataset->dataset_name, "save");
  EXPECT_EQ(c.describe_dataset({ts.pool(), d.identity_id, "save"}).status().code(),
            ErrorCode::kResourceNotFound);
  EXPECT_EQ(c.delete_dataset({ts.pool(), d.identity_id, "save"}).status().code(),
            ErrorCode::kResourceNotFound);

  auto stale = list_all(c, ts.pool(), d.identity_id, "save", 1);
  EXPECT_FALSE(*stale.dataset_exists);
  EXPECT_TRUE(*stale.dataset_deleted_after_requested_sync_count);
  EXPECT_TRUE(stale.records.empty());
  auto fresh = list_all(c, ts.pool(), d.identity_id, "save", 0);
  EXPECT_FALSE(*fresh.dataset_deleted_after_requested_sync_count)
      << "a client with nothing synced has nothing to drop";

  // Created again: counts stay monotonic, and clients from before the deletion are told.
  ASSERT_TRUE(push(c, ts.pool(), d.identity_id, "save", {put("a", "new", 0)}).ok());
  auto after = list_all(c, ts.pool(), d.identity_id, "save", 1);
  EXPECT_TRUE(*after.dataset_exists);
  EXPECT_TRUE(*after.dataset_deleted_after_requested_sync_count);
  ASSERT_EQ(after.records.size(), 1u);
  EXPECT_EQ(*after.records[0].value, "new");
  auto current = list_all(c, ts.pool(), d.identity_id, "save", *after.dataset_sync_count);
  EXPECT_FALSE(*current.dataset_deleted_after_requested_sync_count);
  EXPECT_EQ(*c.describe_dataset({ts.pool(), d.identity_id, "save"})->dataset->num_records, 1);
}

TEST(Usage, DatasetIdentityAndPoolUsageAreExact) {
  TestServer ts;
  auto d = ts.new_device();
  ASSERT_TRUE(
      push(*d.sync, ts.pool(), d.identity_id, "u", {put("ab", "cde", 0), put("é", "ü", 0)}).ok());
  ASSERT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "u", {del("ab", 1)}).ok());
  ASSERT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "v", {put("k", "12345", 0)}).ok());
  auto ds = d.sync->describe_dataset({ts.pool(), d.identity_id, "u"});
  EXPECT_EQ(*ds->dataset->num_records, 1);
  EXPECT_EQ(*ds->dataset->data_storage, 4) << "UTF-8 bytes of key plus value: é and ü are 2 each";
  auto iu = d.sync->describe_identity_usage({ts.pool(), d.identity_id});
  ASSERT_TRUE(iu.ok()) << iu.status().ToString();
  EXPECT_EQ(*iu->identity_usage->dataset_count, 2);
  EXPECT_EQ(*iu->identity_usage->data_storage, 10);

  auto admin = ts.admin_sync();
  auto before = admin->describe_identity_pool_usage({ts.pool()});
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  int64_t sessions = *before->identity_pool_usage->sync_sessions_count;
  // One session per ListRecords without a token, not per page.
  auto page1 =
      d.sync->list_records({ts.pool(), d.identity_id, "u", 0, std::nullopt, 1, std::nullopt});
  ASSERT_TRUE(d.sync
                  ->list_records({ts.pool(), d.identity_id, "u", 0, std::nullopt, 1,
                                  page1->sync_session_token})
                  .ok());
  auto after = admin->describe_identity_pool_usage({ts.pool()});
  EXPECT_EQ(*after->identity_pool_usage->sync_sessions_count, sessions + 1);
  EXPECT_EQ(*after->identity_pool_usage->data_storage, 10);
  auto list = admin->list_identity_pool_usage({std::nullopt, std::nullopt});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->identity_pool_usages.size(), 1u);
  EXPECT_EQ(*list->identity_pool_usages[0].identity_pool_id, ts.pool());
  EXPECT_EQ(*list->count, 1);
}

// Sessions are counted in memory and written in batches: none is lost to concurrency, a usage
// read sees every one, and a restart keeps them.
TEST(Usage, SyncSessionCountsAreExactUnderConcurrencyAndSurviveARestart) {
  cairn::testing::TempDir dir;
  server::ServerConfig config;
  config.listen = "127.0.0.1:0";
  config.db = cairn::testing::test_db_url(dir.path, "usage.db");
  config.bootstrap_pools = {"game"};
  config.options.admin = {cairn::testing::kAdminKey, cairn::testing::kAdminSecret};
  std::string pool;
  {
    auto started = server::Server::start(config);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    auto& srv = **started;
    pool = srv.pools()[0].second;
    ClientConfig c;
    c.endpoint = srv.url();
    c.region = "us-east-1";
    c.credentials = std::make_shared<StaticCredentialsProvider>(cairn::testing::kAdminKey,
                                                                cairn::testing::kAdminSecret);
    auto identity =
        std::shared_ptr<CognitoIdentityClient>(std::move(CognitoIdentityClient::create(c)).value());
    auto id = identity->get_id({std::nullopt, pool, {}});
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        auto client = std::move(CognitoSyncClient::create(c)).value();
        for (int i = 0; i < 25; ++i) {
          auto r = client->list_records(
              {pool, *id->identity_id, "save", 0, std::nullopt, std::nullopt, std::nullopt});
          if (!r.ok()) failures++;
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(failures.load(), 0);
    auto admin = std::move(CognitoSyncClient::create(c)).value();
    auto usage = admin->describe_identity_pool_usage({pool});
    ASSERT_TRUE(usage.ok()) << usage.status().ToString();
    EXPECT_EQ(*usage->identity_pool_usage->sync_sessions_count, 200);
    for (int i = 0; i < 7; ++i) {  // counted after the last usage read: written on shutdown
      ASSERT_TRUE(admin
                      ->list_records({pool, *id->identity_id, "save", 0, std::nullopt, std::nullopt,
                                      std::nullopt})
                      .ok());
    }
  }
  auto restarted = server::Server::start(config);
  ASSERT_TRUE(restarted.ok()) << restarted.status().ToString();
  server::PoolRow row;
  ASSERT_TRUE((*restarted)
                  ->api()
                  .storage()
                  .read([&](server::StorageTxn& txn) {
                    row = *txn.pool(pool);
                    return Status::OK();
                  })
                  .ok());
  EXPECT_EQ(row.sync_sessions, 207);
}

}  // namespace
}  // namespace cairn
