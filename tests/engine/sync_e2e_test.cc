// The synchronize loop end to end: two or three devices (separate database files) sharing one
// identity, against a real cairn-server on loopback.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "engine/engine_fixture.h"
#include "fixtures/manual_clock.h"
#include "server/storage/storage.h"
#include "transport/fakes.h"

namespace cairn::testing {
namespace {

using Map = std::map<std::string, std::string>;

struct Sync : OnePlayer {};

TEST_F(Sync, OfflineEditsOnTwoDevicesReachBothAndTheServer) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("save")->put("gold", "10").ok());
  ASSERT_TRUE(a.open("save")->put("level", "3").ok());
  ASSERT_TRUE(b.open("save")->put("name", "Ayla").ok());
  EXPECT_TRUE(a.open("save")->is_changed("gold").value());

  a.sync_ok("save");
  auto rb = b.sync("save");
  ASSERT_TRUE(rb.status.ok()) << rb.status.ToString();
  EXPECT_EQ(rb.updated.size(), 2u) << "b pulled gold and level";
  a.sync_ok("save");

  Map want{{"gold", "10"}, {"level", "3"}, {"name", "Ayla"}};
  EXPECT_EQ(a.all("save"), want);
  EXPECT_EQ(b.all("save"), want);
  EXPECT_EQ(on_server("save"), want);
  EXPECT_FALSE(a.open("save")->is_changed("gold").value());
  EXPECT_EQ(a.open("save")->last_sync_count().value(), 2);
  EXPECT_EQ(b.open("save")->last_sync_count().value(), 2);
  EXPECT_EQ(a.manager->status("save").pending_changes, 0);
  EXPECT_EQ(a.manager->cached_identity_id(), alice.identity_id);
}

TEST_F(Sync, EverySyncEndsInExactlyOneCallbackAndItsFuture) {
  auto a = device("a");
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  std::atomic<int> successes{0}, failures{0};
  SyncCallbacks cb;
  cb.on_success = [&](const std::vector<Record>&) { ++successes; };
  cb.on_failure = [&](const Status&) { ++failures; };
  EXPECT_TRUE(a.sync("s", cb).status.ok());
  EXPECT_EQ(successes.load(), 1);
  EXPECT_EQ(failures.load(), 0);

  // A failing sync: the server is gone.
  ts.server().stop();
  ASSERT_TRUE(a.open("s")->put("k", "w").ok());
  auto r = a.sync("s", cb);
  EXPECT_TRUE(r.status.is_network()) << r.status.ToString();
  EXPECT_EQ(successes.load(), 1);
  EXPECT_EQ(failures.load(), 1);
  EXPECT_EQ(a.open("s")->get("k").value(), "w") << "nothing lost";
  EXPECT_TRUE(a.open("s")->is_changed("k").value());
}

TEST_F(Sync, TheDatasetApiReadsAndWritesLocally) {
  auto a = device("a");
  auto s = a.open("s");
  ASSERT_TRUE(s->put_all({{"a", "1"}, {"b", "22"}, {"c", std::nullopt}}).ok());
  EXPECT_EQ(s->get_all().value(), (Map{{"a", "1"}, {"b", "22"}}));
  EXPECT_EQ(s->size_in_bytes("b").value(), 3);
  EXPECT_EQ(s->total_size_in_bytes().value(), 5);
  EXPECT_EQ(s->get("missing").value(), std::nullopt);
  ASSERT_TRUE(s->remove("a").ok());
  auto records = s->get_all_records().value();
  ASSERT_EQ(records.size(), 3u) << "a tombstone, b, and c's tombstone";
  EXPECT_EQ(records[0].key, "a");
  EXPECT_FALSE(records[0].value.has_value());
  EXPECT_TRUE(records[0].dirty);
  auto meta = s->metadata().value();
  EXPECT_EQ(meta.name, "s");
  EXPECT_EQ(meta.record_count, 1);
  EXPECT_EQ(meta.storage_bytes, 3);
  EXPECT_EQ(meta.pending_changes, 3);
  EXPECT_EQ(meta.last_sync_result, "");
  auto before = std::chrono::system_clock::now() - std::chrono::seconds(1);
  a.sync_ok("s");
  EXPECT_EQ(s->metadata()->pending_changes, 0);
  EXPECT_EQ(s->metadata()->last_sync_result, "ok") << "recorded with the push";
  EXPECT_GE(s->metadata()->last_sync_time, before);
  EXPECT_EQ(on_server("s"), (Map{{"b", "22"}}));
  // Another handle to the same dataset sees the same data.
  EXPECT_EQ(a.open("s")->get("b").value(), "22");
}

TEST_F(Sync, DurableWritesSyncEachCommitToDiskAndTheDefaultLeavesItToTheOs) {
  auto normal = device("normal");
  auto durable = device("durable", [](SyncManagerOptions& o) { o.durable_writes = true; });
  EXPECT_EQ(normal.engine.lock()->store().synchronous().value(), 1) << "synchronous=NORMAL";
  EXPECT_EQ(durable.engine.lock()->store().synchronous().value(), 2) << "synchronous=FULL";
  ASSERT_TRUE(durable.open("s")->put("k", "v").ok());
  durable.sync_ok("s");
  EXPECT_EQ(on_server("s"), (Map{{"k", "v"}}));
}

// The server restored from a backup taken before the devices' latest syncs: the devices notice
// that the server went back, offer their records again, and nothing acknowledged is lost.
TEST_F(Sync, AfterTheServerIsRestoredFromABackupTheDevicesLoseNothing) {
  ASSERT_EQ(ts.db_url().rfind("sqlite:", 0), 0u) << "backups are of the SQLite backend";
  std::string db = ts.db_url().substr(7), backup = dir.path + "/backup.db";
  auto a = device("a"), b = device("b");
  ASSERT_TRUE(a.open("save")->put("k1", "one").ok());
  a.sync_ok("save");
  b.sync_ok("save");
  ASSERT_TRUE(server::backup_sqlite(db, backup).ok());  // while the server runs
  ASSERT_TRUE(a.open("save")->put("k2", "two").ok());
  a.sync_ok("save");
  ASSERT_TRUE(b.open("save")->put("k3", "three").ok());
  ASSERT_TRUE(b.open("save")->remove("k1").ok());
  b.sync_ok("save");
  a.sync_ok("save");
  const Map before{{"k2", "two"}, {"k3", "three"}};
  ASSERT_EQ(on_server("save"), before);

  ts.restart([&] {
    Status s = server::restore_sqlite(backup, db);
    ASSERT_TRUE(s.ok()) << s.ToString();
  });
  EXPECT_EQ(on_server("save"), (Map{{"k1", "one"}})) << "the server went back";
  for (int round = 0; round < 2; ++round) {
    a.sync_ok("save");
    b.sync_ok("save");
  }
  EXPECT_EQ(on_server("save"), before) << "every acknowledged write is on the server again";
  EXPECT_EQ(a.open("save")->get_all().value(), before);
  EXPECT_EQ(b.open("save")->get_all().value(), before);
  EXPECT_EQ(a.open("save")->metadata()->pending_changes, 0);
  EXPECT_EQ(b.open("save")->metadata()->pending_changes, 0);
  // Counts move on from the restored state, and a write now reaches the other device.
  ASSERT_TRUE(a.open("save")->put("k4", "four").ok());
  a.sync_ok("save");
  b.sync_ok("save");
  EXPECT_EQ(b.open("save")->get("k4").value(), "four");
  EXPECT_GT(a.open("save")->last_sync_count().value(), 1) << "past the restored count";
}

TEST_F(Sync, DeveloperCredentialsWithAFixedIdentitySync) {
  SyncManagerOptions o = device_options(ts, dir.path + "/dev.db");
  o.credentials = std::make_shared<StaticCredentialsProvider>(kAdminKey, kAdminSecret);
  o.identity_id = alice.identity_id;
  auto m = SyncManager::open(o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto s = (*m)->open_or_create_dataset("s").value();
  ASSERT_TRUE(s->put("from", "backend").ok());
  auto r = s->synchronize().get();
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(on_server("s"), (Map{{"from", "backend"}}));
  EXPECT_EQ((*m)->cached_identity_id(), alice.identity_id);

  o.identity_id.clear();
  EXPECT_EQ(SyncManager::open(o).status().code(), ErrorCode::kInvalidArgument);
  // Without a pool, local data works and anything that needs the service says why.
  o.identity_pool_id.clear();
  o.identity_id = alice.identity_id;
  o.database_path = dir.path + "/nopool.db";
  auto local = SyncManager::open(o);
  ASSERT_TRUE(local.ok());
  auto ds = (*local)->open_or_create_dataset("s").value();
  EXPECT_TRUE(ds->put("k", "v").ok());
  EXPECT_EQ(ds->synchronize().get().status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ds->get("k").value(), "v");
}

TEST_F(Sync, ARestartKnowsItsIdentityWithoutAskingTheNetwork) {
  {
    auto a = device("a");
    ASSERT_TRUE(a.open("s")->put("k", "v").ok());
    a.sync_ok("s");
  }
  auto again = device("a");
  EXPECT_EQ(again.manager->cached_identity_id(), alice.identity_id);
  EXPECT_EQ(again.all("s"), (Map{{"k", "v"}}));
  EXPECT_TRUE(again.wire->ops().empty()) << "no GetId";
}

// --- each resolver, two devices editing the same key offline ------------------------------------

struct ResolverCase {
  const char* name;
  std::function<Resolver()> resolver;
  std::string a_value, b_value, want;
};

void PrintTo(const ResolverCase& c, std::ostream* os) { *os << c.name; }

class Resolvers : public Sync, public ::testing::WithParamInterface<ResolverCase> {};

TEST_P(Resolvers, DecideAConflictTheSameWayOnEveryDevice) {
  const auto& c = GetParam();
  auto clock = std::make_shared<StepClock>();  // one clock, moved on between the two writes
  auto tweak = [&](SyncManagerOptions& o) {
    o.resolver = c.resolver();
    o.clock = clock;
  };
  auto a = device("a", tweak);
  auto b = device("b", tweak);
  ASSERT_TRUE(a.open("s")->put("hero", R"({"hp":10,"xp":0,"name":"x"})").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  // Both edit offline; b writes later than a.
  ASSERT_TRUE(a.open("s")->put("hero", c.a_value).ok());
  clock->step(std::chrono::milliseconds(20));
  ASSERT_TRUE(b.open("s")->put("hero", c.b_value).ok());
  a.sync_ok("s");
  b.sync_ok("s");  // the conflict is met here
  a.sync_ok("s");
  EXPECT_EQ(b.open("s")->get("hero").value(), c.want);
  EXPECT_EQ(a.open("s")->get("hero").value(), c.want);
  EXPECT_EQ(on_server("s").at("hero"), c.want);
  EXPECT_EQ(b.manager->stats().conflicts, 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Each, Resolvers,
    ::testing::Values(
        ResolverCase{"remote_wins", remote_wins, R"({"hp":5})", R"({"hp":7})", R"({"hp":5})"},
        ResolverCase{"local_wins", local_wins, R"({"hp":5})", R"({"hp":7})", R"({"hp":7})"},
        ResolverCase{"last_writer_wins", last_writer_wins, R"({"hp":5})", R"({"hp":7})",
                     R"({"hp":7})"},
        ResolverCase{"three_way_merge", [] { return three_way_merge(); },
                     R"({"hp":5,"xp":0,"name":"x"})", R"({"hp":10,"xp":40,"name":"x"})",
                     R"({"hp":5,"xp":40,"name":"x"})"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(Sync, OnConflictCanChooseAValueAndSeesBothSides) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("score", "10").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  ASSERT_TRUE(a.open("s")->put("score", "15").ok());
  ASSERT_TRUE(b.open("s")->put("score", "12").ok());
  a.sync_ok("s");
  std::vector<Conflict> seen;
  SyncCallbacks cb;
  cb.on_conflict = [&](const std::vector<Conflict>& conflicts, const ResolveContext&) {
    seen = conflicts;
    return std::vector<Resolution>{Resolution::with_value("27")};  // the sum of the gains
  };
  b.sync_ok("s", cb);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].key, "score");
  EXPECT_EQ(seen[0].local_value, "12");
  EXPECT_EQ(seen[0].remote_value, "15");
  EXPECT_EQ(seen[0].base_value, "10");
  a.sync_ok("s");
  EXPECT_EQ(a.open("s")->get("score").value(), "27");
  EXPECT_EQ(on_server("s").at("score"), "27");
}

TEST_F(Sync, RemoveAgainstPutIsAConflictTheResolverDecides) {
  auto clock = std::make_shared<StepClock>();  // one clock, moved on between ordered writes
  auto lww = [&](SyncManagerOptions& o) {
    o.resolver = last_writer_wins();
    o.clock = clock;
  };
  auto a = device("a", lww);
  auto b = device("b", lww);
  ASSERT_TRUE(a.open("s")->put("k", "1").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  ASSERT_TRUE(a.open("s")->remove("k").ok());
  clock->step(std::chrono::milliseconds(20));
  ASSERT_TRUE(b.open("s")->put("k", "2").ok());  // later: it wins
  a.sync_ok("s");
  EXPECT_EQ(on_server("s"), Map{}) << "a's remove landed first";
  b.sync_ok("s");
  a.sync_ok("s");
  EXPECT_EQ(on_server("s"), (Map{{"k", "2"}}));
  EXPECT_EQ(a.open("s")->get("k").value(), "2");

  // And the other way round: a put that loses to a later remove.
  ASSERT_TRUE(a.open("s")->put("k", "3").ok());
  clock->step(std::chrono::milliseconds(20));
  ASSERT_TRUE(b.open("s")->remove("k").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  a.sync_ok("s");
  EXPECT_EQ(on_server("s"), Map{});
  EXPECT_EQ(a.open("s")->get("k").value(), std::nullopt);
  EXPECT_EQ(b.open("s")->get("k").value(), std::nullopt);
}

// --- remote deletion ----------------------------------------------------------------------------

TEST_F(Sync, ADatasetDeletedElsewhereIsDroppedHereByDefault) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  ASSERT_TRUE(a.open("s")->delete_dataset().ok());
  EXPECT_EQ(a.open("s")->last_sync_count().value(), -1) << "delete pending";
  a.sync_ok("s");
  EXPECT_FALSE(a.open("s")->metadata()->last_sync_count == -1);
  EXPECT_TRUE(a.manager->list_datasets()->empty()) << "purged after the remote delete";

  std::vector<std::string> asked;
  SyncCallbacks cb;
  cb.on_dataset_deleted = [&](const std::string& name) {
    asked.push_back(name);
    return DatasetDeletedAction::kDropLocal;
  };
  b.sync_ok("s", cb);
  EXPECT_EQ(asked, std::vector<std::string>{"s"});
  EXPECT_EQ(b.all("s"), Map{});
  EXPECT_TRUE(b.manager->list_datasets()->empty());
}

TEST_F(Sync, ADatasetDeletedElsewhereIsRecreatedFromUnsyncedLocalChanges) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  ASSERT_TRUE(a.open("s")->delete_dataset().ok());
  a.sync_ok("s");
  ASSERT_TRUE(b.open("s")->put("offline", "write").ok());
  b.sync_ok("s");  // default: b has an unsynced write, so b recreates
  EXPECT_EQ(on_server("s"), (Map{{"k", "v"}, {"offline", "write"}}));
  a.sync_ok("s");
  EXPECT_EQ(a.all("s"), (Map{{"k", "v"}, {"offline", "write"}}));
}

// Found by the property test: a device that recreates the dataset after its own delete stays at
// count 0 (its push's count is not old + 1), and a pull from 0 is never told of a deletion. It
// must still learn of the next one, from the records it holds, instead of keeping them for good.
TEST_F(Sync, ADeviceThatRecreatedADatasetLearnsOfTheNextDeletion) {
  auto a = device("a");
  auto b = device("b");
  auto c = device("c");
  ASSERT_TRUE(c.open("s")->put("old", "1").ok());
  c.sync_ok("s");
  ASSERT_TRUE(b.open("s")->delete_dataset().ok());
  b.sync_ok("s");  // deleted on the server
  ASSERT_TRUE(a.open("s")->put("k", "a's").ok());
  a.sync_ok("s");  // recreates it; a's count stays 0
  ASSERT_TRUE(c.open("s")->delete_dataset().ok());
  c.sync_ok("s");  // deleted again
  a.sync_ok("s");
  EXPECT_EQ(on_server("s"), Map{});
  EXPECT_EQ(a.all("s"), Map{}) << "a dropped the records of the deleted dataset";
  // And a dirty record of a deleted incarnation is pushed as a new write, not stuck in 409s.
  ASSERT_TRUE(a.open("s")->put("k", "again").ok());
  a.sync_ok("s");
  ASSERT_TRUE(a.open("s")->put("k", "and again").ok());
  ASSERT_TRUE(b.open("s")->delete_dataset().ok());
  b.sync_ok("s");
  a.sync_ok("s");  // a holds unpushed "k": it recreates from it
  EXPECT_EQ(on_server("s"), (Map{{"k", "and again"}}));
  EXPECT_EQ(a.all("s"), (Map{{"k", "and again"}}));
}

TEST_F(Sync, CancellingOnDatasetDeletedChangesNothing) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  ASSERT_TRUE(a.open("s")->delete_dataset().ok());
  a.sync_ok("s");
  SyncCallbacks cb;
  cb.on_dataset_deleted = [](const std::string&) { return DatasetDeletedAction::kCancel; };
  auto r = b.sync("s", cb);
  EXPECT_EQ(r.status.code(), ErrorCode::kCancelled);
  EXPECT_EQ(b.all("s"), (Map{{"k", "v"}}));
}

TEST_F(Sync, PutAfterALocalDeleteStartsTheDatasetAfresh) {
  auto a = device("a");
  ASSERT_TRUE(a.open("s")->put("old", "1").ok());
  a.sync_ok("s");
  ASSERT_TRUE(a.open("s")->delete_dataset().ok());
  ASSERT_TRUE(a.open("s")->put("new", "2").ok());
  a.sync_ok("s");
  EXPECT_EQ(on_server("s"), (Map{{"new", "2"}}));
  EXPECT_EQ(a.all("s"), (Map{{"new", "2"}}));
}

// --- merged identities --------------------------------------------------------------------------

TEST_F(Sync, MergedDatasetsAreFoldedIntoTheRootAndDeleted) {
  auto a = device("a");
  Player bob = merge_bob_into_alice(a, {{"gold", "10"}, {"shared", "alice's"}},
                                    {{"gems", "4"}, {"shared", "bob's"}});
  std::vector<std::string> names;
  SyncCallbacks cb;
  cb.on_datasets_merged = [&](const std::string&, const std::vector<std::string>& n) {
    names = n;
    return MergedDatasetsAction::kFold;
  };
  a.sync_ok("save", cb);
  EXPECT_EQ(names, std::vector<std::string>{"save." + bob.identity_id});
  auto server = on_server("save");
  EXPECT_EQ(server.at("gold"), "10");
  EXPECT_EQ(server.at("gems"), "4");
  EXPECT_TRUE(server.at("shared") == "alice's" || server.at("shared") == "bob's");
  // The merged dataset is gone, so it neither repeats nor counts against the quota.
  auto after = list_all(*ts.admin_sync(), ts.pool(), alice.identity_id, "save");
  EXPECT_TRUE(after.merged_dataset_names.empty());
  EXPECT_FALSE(after.dataset_exists.value_or(true) && after.records.empty());
  auto root_listing =
      ts.admin_sync()->list_datasets({ts.pool(), alice.identity_id, std::nullopt, std::nullopt});
  for (const auto& d : root_listing->datasets) EXPECT_EQ(*d.dataset_name, "save");
  names.clear();
  a.sync_ok("save", cb);
  EXPECT_TRUE(names.empty()) << "reported once, not on every sync";
}

TEST_F(Sync, IgnoringMergedDatasetsLeavesThemAndStillSucceeds) {
  auto a = device("a");
  Player bob = merge_bob_into_alice(a, {{"gold", "10"}}, {{"gems", "4"}});
  SyncCallbacks cb;
  int calls = 0;
  cb.on_datasets_merged = [&](const std::string&, const std::vector<std::string>&) {
    ++calls;
    return MergedDatasetsAction::kIgnore;
  };
  a.sync_ok("save", cb);
  a.sync_ok("save", cb);
  EXPECT_EQ(calls, 2) << "still there, reported again, no retries spent";
  EXPECT_EQ(on_server("save"), (Map{{"gold", "10"}}));
  EXPECT_EQ(on_server("save." + bob.identity_id), (Map{{"gems", "4"}}));
}

// --- another writer between pull and push -------------------------------------------------------

TEST_F(Sync, AWriteBetweenPullAndPushIsPulledAndRetried) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("k", "0").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  ASSERT_TRUE(a.open("s")->put("mine", "a").ok());
  ASSERT_TRUE(a.open("s")->put("k", "a").ok());
  a.wire->clear();
  std::atomic<bool> once{false};
  a.wire->set_before(
      [&](const std::string& op, const HttpRequest&) -> std::optional<Result<HttpResponse>> {
        if (op == "UpdateRecords" && !once.exchange(true)) {
          EXPECT_TRUE(b.open("s")->put("k", "b").ok());
          EXPECT_TRUE(b.open("s")->put("theirs", "b").ok());
          b.sync_ok("s");  // lands between a's pull and a's push
        }
        return std::nullopt;
      });
  auto r = a.sync("s");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(a.wire->count("UpdateRecords"), 2u)
      << "the stale push, then the retry: " << ::testing::PrintToString(a.wire->ops());
  EXPECT_EQ(a.manager->stats().push_retries, 1u);
  b.sync_ok("s");
  EXPECT_EQ(a.all("s"), b.all("s"));
  EXPECT_EQ(a.all("s"), on_server("s"));
  EXPECT_EQ(on_server("s").at("mine"), "a");
  EXPECT_EQ(on_server("s").at("theirs"), "b");
}

TEST_F(Sync, AnExpiredSessionTokenPullsAgainAndLands) {
  auto clock = std::make_shared<ManualClock>();
  server::ServerOptions so;
  so.clock = clock;
  so.sync_session_ttl_seconds = 60;
  TestServer slow(so);
  Player p = make_player(slow, "p");
  auto a = make_device(slow, dir, "a", p.logins);
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  std::atomic<bool> once{false};
  a.wire->set_before(
      [&](const std::string& op, const HttpRequest&) -> std::optional<Result<HttpResponse>> {
        if (op == "UpdateRecords" && !once.exchange(true)) clock->advance(std::chrono::minutes(2));
        return std::nullopt;
      });
  auto r = a.sync("s");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(a.wire->count("ListRecords"), 2u);
  EXPECT_EQ(server_records(slow, p.identity_id, "s"), (Map{{"k", "v"}}));
}

// --- limits
// ---------------------------------------------------------------------------------------

TEST_F(Sync, LimitsAreTypedErrorsAndNothingIsLost) {
  auto a = device("a");
  auto s = a.open("s");
  EXPECT_EQ(s->put(std::string(1025, 'k'), "v").code(), ErrorCode::kInvalidParameter);
  EXPECT_EQ(s->put("big", std::string(1048576, 'x')).code(), ErrorCode::kInvalidParameter);
  EXPECT_TRUE(a.manager->list_datasets()->empty()) << "a refused write writes nothing";
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(a.open("d" + std::to_string(i))->put("k", "v").ok());
  EXPECT_EQ(a.open("d20")->put("k", "v").code(), ErrorCode::kLimitExceeded);
  EXPECT_EQ(a.manager->open_or_create_dataset("bad name!").status().code(),
            ErrorCode::kInvalidParameter);

  // The server's quota (lower here) fails the push with its code; the local data stays dirty.
  server::ServerOptions so;
  so.max_records_per_dataset = 3;
  TestServer small(so);
  Player p = make_player(small, "p");
  auto d = make_device(small, dir, "small", p.logins);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(d.open("s")->put("k" + std::to_string(i), "v").ok());
  auto r = d.sync("s");
  EXPECT_EQ(r.status.code(), ErrorCode::kLimitExceeded) << r.status.ToString();
  EXPECT_EQ(d.open("s")->metadata()->pending_changes, 5);
  EXPECT_EQ(d.all("s").size(), 5u);
}

// --- identities
// -----------------------------------------------------------------------------------

TEST_F(Sync, AnIdentityChangeMidSyncCancelsAndRestartsForTheNewIdentity) {
  Player bob = make_player(ts, "bob");
  auto d = device("d");
  ASSERT_TRUE(d.open("s")->put("alice-only", "1").ok());
  std::atomic<bool> once{false};
  d.wire->set_before([&](const std::string& op,
                         const HttpRequest&) -> std::optional<Result<HttpResponse>> {
    if (op == "ListRecords" && !once.exchange(true)) {
      // Another player signs in on this device while alice's sync is in flight.
      auto s =
          std::async(std::launch::async, [&] { return d.manager->switch_identity(bob.logins); });
      EXPECT_TRUE(s.get().ok());
    }
    return std::nullopt;
  });
  auto r = d.sync("s");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(d.manager->cached_identity_id(), bob.identity_id);
  EXPECT_EQ(server_records(ts, bob.identity_id, "s"), Map{}) << "alice's write is not bob's";
  EXPECT_EQ(on_server("s"), Map{}) << "cancelled before alice's push";
  EXPECT_EQ(d.all("s"), Map{});

  // Back to alice: her pending write is still hers, and goes to her.
  d.wire->set_before(nullptr);
  ASSERT_TRUE(d.manager->switch_identity(alice.logins).ok());
  EXPECT_EQ(d.all("s"), (Map{{"alice-only", "1"}}));
  d.sync_ok("s");
  EXPECT_EQ(on_server("s"), (Map{{"alice-only", "1"}}));
}

TEST_F(Sync, AGuestsWritesFollowItsLoginIntoTheMergedIdentity) {
  // A guest plays offline, then signs in as alice, whose identity already has a save.
  auto a = device("a");
  ASSERT_TRUE(a.open("save")->put("gold", "10").ok());
  a.sync_ok("save");
  auto guest = make_device(ts, dir, "guest");
  ASSERT_TRUE(guest.open("save")->put("gems", "4").ok());
  guest.sync_ok("save");
  std::string guest_id = *guest.manager->cached_identity_id();
  ASSERT_NE(guest_id, alice.identity_id);
  ASSERT_TRUE(
      guest.open("save")->put("late", "offline").ok());  // not yet synced when the login comes

  ASSERT_TRUE(guest.manager->set_logins(alice.logins).ok());
  EXPECT_EQ(guest.manager->cached_identity_id(), alice.identity_id);
  guest.sync_ok("save");
  EXPECT_EQ(on_server("save"), (Map{{"gold", "10"}, {"gems", "4"}, {"late", "offline"}}));
  EXPECT_EQ(guest.all("save"), on_server("save"));
}

// --- devices and push
// ------------------------------------------------------------------------------

TEST_F(Sync, RegisterOnceSubscribeAndUnsubscribe) {
  auto a = device("a");
  EXPECT_EQ(a.open("s")->subscribe().code(), ErrorCode::kInvalidArgument) << "no device yet";
  auto id = a.manager->register_device("GCM", "token-1");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  a.wire->clear();
  auto again = a.manager->register_device("GCM", "token-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *id);
  EXPECT_EQ(a.wire->count("RegisterDevice"), 0u) << "cached and unchanged: no request";
  auto renewed = a.manager->register_device("GCM", "token-2");
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(a.wire->count("RegisterDevice"), 1u);
  EXPECT_EQ(a.manager->device_id(), *renewed);
  EXPECT_EQ(a.manager->register_device("PIGEON", "t").status().code(),
            ErrorCode::kInvalidParameter);

  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  ASSERT_TRUE(a.open("t")->put("k", "v").ok());
  ASSERT_TRUE(a.open("s")->subscribe().ok());
  EXPECT_EQ(a.wire->count("SubscribeToDataset"), 1u);
  ASSERT_TRUE(a.manager->subscribe_all().ok());
  EXPECT_EQ(a.wire->count("SubscribeToDataset"), 3u);
  ASSERT_TRUE(a.manager->unsubscribe_all().ok());
  EXPECT_EQ(a.wire->count("UnsubscribeFromDataset"), 2u);
  ASSERT_TRUE(a.open("s")->unsubscribe().ok());

  // The device id travels with each push, and the server records it as the writer.
  a.sync_ok("s");
  auto listed = list_all(*ts.admin_sync(), ts.pool(), alice.identity_id, "s");
  ASSERT_EQ(listed.records.size(), 1u);
  EXPECT_EQ(listed.records[0].last_modified_by, *renewed);
}

TEST_F(Sync, AnIdentityChangeRenewsTheDeviceRegistration) {
  Player bob = make_player(ts, "bob");
  auto d = device("d");
  auto first = d.manager->register_device("APNS", "apns-token");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(d.manager->switch_identity(bob.logins).ok());
  // Renewal runs on an engine thread.
  ASSERT_TRUE(d.settle());
  auto second = d.manager->device_id();
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(*second, *first) << "bob's own registration";
  EXPECT_EQ(d.wire->count("RegisterDevice"), 2u);
}

TEST_F(Sync, HandlePushSyncsOnlyWhenBehind) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("k", "1").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  ASSERT_TRUE(a.open("s")->put("k", "2").ok());
  a.sync_ok("s");

  std::map<std::string, std::string> push{{"source", "cognito-sync"},
                                          {"identityPoolId", ts.pool()},
                                          {"identityId", alice.identity_id},
                                          {"datasetName", "s"},
                                          {"syncCount", "2"}};
  auto started = b.manager->handle_push(push);
  ASSERT_TRUE(started.ok());
  EXPECT_TRUE(*started);
  ASSERT_TRUE(b.settle());  // the sync the push started has ended
  EXPECT_EQ(b.open("s")->get("k").value(), "2");

  EXPECT_FALSE(*b.manager->handle_push(push)) << "already at 2";
  push["identityId"] = "us-east-1:00000000-0000-0000-0000-000000000000";
  push["syncCount"] = "9";
  EXPECT_FALSE(*b.manager->handle_push(push)) << "another identity's";
  EXPECT_EQ(b.manager->handle_push({{"source", "sns"}}).status().code(),
            ErrorCode::kInvalidArgument);
  auto json = b.manager->handle_push_json(R"({"data":{"source":"cognito-sync","identityPoolId":")" +
                                          ts.pool() + R"(","identityId":")" + alice.identity_id +
                                          R"(","datasetName":"s","syncCount":3}})");
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_TRUE(*json);
  EXPECT_EQ(b.manager->handle_push_json("not json").status().code(), ErrorCode::kInvalidArgument);
}

TEST_F(Sync, RefreshDatasetMetadataListsRemoteDatasetsLocally) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("one")->put("k", "v").ok());
  ASSERT_TRUE(a.open("two")->put("k", "v").ok());
  a.sync_ok("one");
  a.sync_ok("two");
  EXPECT_TRUE(b.manager->list_datasets()->empty());
  auto remote = b.manager->refresh_dataset_metadata();
  ASSERT_TRUE(remote.ok()) << remote.status().ToString();
  ASSERT_EQ(remote->size(), 2u);
  EXPECT_EQ((*remote)[0].record_count, 1);
  auto local = b.manager->list_datasets();
  ASSERT_EQ(local->size(), 2u);
  EXPECT_EQ((*local)[0].name, "one");
  EXPECT_EQ((*local)[0].last_sync_count, 0) << "known, not yet synced";
}

TEST_F(Sync, WipeDataForgetsEverythingLocally) {
  auto a = device("a");
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  a.sync_ok("s");
  ASSERT_TRUE(a.manager->wipe_data().ok());
  EXPECT_TRUE(a.manager->list_datasets()->empty());
  EXPECT_FALSE(a.manager->cached_identity_id().has_value());
  EXPECT_EQ(on_server("s"), (Map{{"k", "v"}})) << "the server keeps the data";
  a.sync_ok("s");  // the same logins find alice again
  EXPECT_EQ(a.all("s"), (Map{{"k", "v"}}));
}

}  // namespace
}  // namespace cairn::testing
