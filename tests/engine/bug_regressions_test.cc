// One regression test per row of the bug table in ../shared/docs/sync-engine-notes.md: each is
// something an official client got wrong, exercised through the engine against a real server.
#include <gtest/gtest.h>

#include <thread>

#include "engine/engine_fixture.h"
#include "fixtures/manual_clock.h"

namespace cairn::testing {
namespace {

using Map = std::map<std::string, std::string>;
using namespace std::chrono_literals;

struct Bugs : OnePlayer {};

void lww(SyncManagerOptions& o) { o.resolver = last_writer_wins(); }

// 1. Android's put never updated last_modified, so "last writer wins" picked the remote record.
TEST_F(Bugs, Bug01_LastWriterWinsComparesRealWriteTimes) {
  // Both devices read one clock, which the test moves on between the writes it orders.
  auto clock = std::make_shared<StepClock>();
  auto with_clock = [&](SyncManagerOptions& o) {
    lww(o);
    o.clock = clock;
  };
  auto a = device("a", with_clock);
  auto b = device("b", with_clock);
  ASSERT_TRUE(a.open("s")->put("k", "0").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  // The remote write is older: the local one wins.
  ASSERT_TRUE(a.open("s")->put("k", "older").ok());
  clock->step(20ms);
  ASSERT_TRUE(b.open("s")->put("k", "newer").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  EXPECT_EQ(on_server("s").at("k"), "newer");
  // The remote write is newer: it wins.
  a.sync_ok("s");
  ASSERT_TRUE(b.open("s")->put("k", "old-b").ok());
  clock->step(20ms);
  ASSERT_TRUE(a.open("s")->put("k", "new-a").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  EXPECT_EQ(on_server("s").at("k"), "new-a");
  EXPECT_EQ(b.open("s")->get("k").value(), "new-a");
}

// 2. iOS/.NET flagged conflicts without sync counts and reported success after a failed push.
TEST_F(Bugs, Bug02_OneConflictRuleAndNoSuccessWithoutALandedPush) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("k", "same").ok());
  ASSERT_TRUE(b.open("s")->put("k", "same").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  EXPECT_EQ(b.manager->stats().conflicts, 0u) << "equal values are not a conflict";
  EXPECT_FALSE(b.open("s")->is_changed("k").value());

  ASSERT_TRUE(b.open("s")->put("k", "lost?").ok());
  b.wire->set_before([](const std::string& op,
                        const HttpRequest&) -> std::optional<Result<HttpResponse>> {
    if (op != "UpdateRecords") return std::nullopt;
    return http_error(409, "ResourceConflictException", "Current SyncCount for: k is: 1 not: 1");
  });
  std::atomic<int> successes{0};
  SyncCallbacks cb;
  cb.on_success = [&](const std::vector<Record>&) { ++successes; };
  auto r = b.sync("s", cb);
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(successes.load(), 0) << "the push never landed";
  b.wire->set_before(nullptr);
  b.sync_ok("s");
  a.sync_ok("s");
  EXPECT_EQ(a.open("s")->get("k").value(), "lost?") << "and the retry converges";
}

// 3. A 409 sent as a 400 was not retried; exhausted retries ended with no callback at all.
TEST_F(Bugs, Bug03_ErrorsAreClassifiedByTypeAndEverySyncEndsInOneCallback) {
  auto a = device("a", [](SyncManagerOptions& o) { o.max_push_attempts = 2; });
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  a.wire->set_before([](const std::string& op,
                        const HttpRequest&) -> std::optional<Result<HttpResponse>> {
    if (op != "UpdateRecords") return std::nullopt;
    return http_error(400, "ResourceConflictException", "Current SyncCount for: k is: 4 not: 0");
  });
  std::atomic<int> successes{0}, failures{0};
  SyncCallbacks cb;
  cb.on_success = [&](const std::vector<Record>&) { ++successes; };
  cb.on_failure = [&](const Status&) { ++failures; };
  auto r = a.sync("s", cb);
  EXPECT_EQ(r.status.code(), ErrorCode::kResourceConflict);
  EXPECT_EQ(a.wire->count("UpdateRecords"), 2u) << "classified as a conflict, so retried";
  EXPECT_EQ(successes.load() + failures.load(), 1);
  EXPECT_EQ(failures.load(), 1);
}

// 4. A handler returning true without resolving made the loop push stale counts until it gave up.
TEST_F(Bugs, Bug04_AnUnresolvedConflictIsAClearErrorNotALoop) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("k", "a").ok());
  a.sync_ok("s");
  ASSERT_TRUE(b.open("s")->put("k", "b").ok());
  b.wire->clear();
  SyncCallbacks cb;
  cb.on_conflict = [](const std::vector<Conflict>&, const ResolveContext&) {
    return std::vector<Resolution>{};  // "handled", but nothing resolved
  };
  auto r = b.sync("s", cb);
  EXPECT_EQ(r.status.code(), ErrorCode::kConflictUnresolved);
  EXPECT_NE(r.status.message().find("'k'"), std::string::npos) << r.status.message();
  EXPECT_EQ(b.wire->count("ListRecords"), 1u) << "no loop";
  EXPECT_EQ(b.wire->count("UpdateRecords"), 0u) << "nothing pushed";
  EXPECT_EQ(on_server("s").at("k"), "a");
  EXPECT_EQ(b.open("s")->get("k").value(), "b") << "the local write is kept";
  b.sync_ok("s");  // the default resolver settles it next time
}

// 5. Merged datasets were reported on every sync and piled up against the 20-dataset quota.
TEST_F(Bugs, Bug05_MergedDatasetsAreFoldedInAndDeletedByDefault) {
  auto a = device("a");
  merge_bob_into_alice(a, {{"gold", "1"}}, {{"gems", "2"}});
  a.sync_ok("save");  // no callbacks: the built-in policy
  EXPECT_EQ(on_server("save"), (Map{{"gems", "2"}, {"gold", "1"}}));
  auto listing =
      ts.admin_sync()->list_datasets({ts.pool(), alice.identity_id, std::nullopt, std::nullopt});
  ASSERT_TRUE(listing.ok());
  size_t live = 0;
  for (const auto& d : listing->datasets) live += d.dataset_name == std::string("save") ? 1 : 0;
  EXPECT_EQ(live, 1u);
  EXPECT_TRUE(list_all(*ts.admin_sync(), ts.pool(), alice.identity_id, "save")
                  .merged_dataset_names.empty());
  EXPECT_EQ(a.manager->stats().push_retries, 0u);
}

// 6. onDatasetDeleted meant opposite things on Android and iOS.
TEST_F(Bugs, Bug06_ADeletedDatasetIsHandledByAnExplicitChoice) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  ASSERT_TRUE(a.open("s")->delete_dataset().ok());
  a.sync_ok("s");
  SyncCallbacks recreate;
  recreate.on_dataset_deleted = [](const std::string&) {
    return DatasetDeletedAction::kRecreateFromLocal;
  };
  b.sync_ok("s", recreate);
  EXPECT_EQ(on_server("s"), (Map{{"k", "v"}})) << "recreate means push the local copy";
  ASSERT_TRUE(b.open("s")->delete_dataset().ok());
  b.sync_ok("s");
  SyncCallbacks drop;
  drop.on_dataset_deleted = [](const std::string&) { return DatasetDeletedAction::kDropLocal; };
  a.sync_ok("s", drop);
  EXPECT_EQ(a.all("s"), Map{}) << "drop means drop the local copy";
  EXPECT_EQ(on_server("s"), Map{});
}

// 7. Switching identities back and forth crashed on UNIQUE constraints and leaked data.
TEST_F(Bugs, Bug07_SwitchingABAKeepsEachIdentitysDataApart) {
  Player bob = make_player(ts, "bob");
  auto d = device("d");
  ASSERT_TRUE(d.open("s")->put("owner", "alice").ok());
  d.sync_ok("s");
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(d.manager->switch_identity(bob.logins).ok());
    EXPECT_EQ(d.manager->cached_identity_id(), bob.identity_id);
    EXPECT_EQ(d.all("s").count("owner") ? d.all("s").at("owner") : "", round == 0 ? "" : "bob");
    ASSERT_TRUE(d.open("s")->put("owner", "bob").ok());
    d.sync_ok("s");
    ASSERT_TRUE(d.manager->switch_identity(alice.logins).ok());
    EXPECT_EQ(d.all("s"), (Map{{"owner", "alice"}}));
    d.sync_ok("s");
  }
  EXPECT_EQ(on_server("s"), (Map{{"owner", "alice"}}));
  EXPECT_EQ(server_records(ts, bob.identity_id, "s"), (Map{{"owner", "bob"}}));
}

// 8. Offline before any identity, data was filed under null.X and lost at first login.
TEST_F(Bugs, Bug08_WritesBeforeAnyIdentityAreAttachedToItLater) {
  std::atomic<bool> offline{true};
  auto d = device("d");
  d.wire->set_before(
      [&](const std::string&, const HttpRequest&) -> std::optional<Result<HttpResponse>> {
        if (offline) return Result<HttpResponse>(Status(ErrorCode::kNetwork, "no route"));
        return std::nullopt;
      });
  ASSERT_TRUE(d.open("save")->put("first", "session").ok());
  EXPECT_FALSE(d.manager->cached_identity_id().has_value());
  EXPECT_TRUE(d.sync("save").status.is_network());
  EXPECT_EQ(d.all("save"), (Map{{"first", "session"}}));
  offline = false;
  d.sync_ok("save");
  EXPECT_EQ(d.manager->cached_identity_id(), alice.identity_id);
  EXPECT_EQ(on_server("save"), (Map{{"first", "session"}}));
}

// 9. An identity change mid-sync used the old identity's sync count.
TEST_F(Bugs, Bug09_ASyncIsBoundToOneIdentityAndRestartsAfterAChange) {
  Player bob = make_player(ts, "bob");
  auto other = make_device(ts, dir, "other", bob.logins);
  ASSERT_TRUE(other.open("s")->put("bob", "1").ok());
  other.sync_ok("s");
  ASSERT_TRUE(other.open("s")->put("bob", "2").ok());
  other.sync_ok("s");  // bob's count is 2

  auto d = device("d");
  ASSERT_TRUE(d.open("s")->put("alice", "1").ok());
  d.sync_ok("s");  // alice's count is 1
  std::atomic<bool> once{false};
  d.wire->set_before(
      [&](const std::string& op, const HttpRequest&) -> std::optional<Result<HttpResponse>> {
        if (op == "ListRecords" && !once.exchange(true)) {
          EXPECT_TRUE(
              std::async(std::launch::async, [&] { return d.manager->switch_identity(bob.logins); })
                  .get()
                  .ok());
        }
        return std::nullopt;
      });
  auto r = d.sync("s");
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(d.all("s"), (Map{{"bob", "2"}})) << "pulled from bob's count 0, not alice's 1";
  EXPECT_EQ(d.open("s")->last_sync_count().value(), 2);
}

// 10. iOS dropped a put after an unsynced delete; JS sent an empty string as a remove.
TEST_F(Bugs, Bug10_EmptyStringsAreValuesAndEveryWriteIsPushed) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("empty", "").ok());
  ASSERT_TRUE(a.open("s")->put("k", "1").ok());
  a.sync_ok("s");
  ASSERT_TRUE(a.open("s")->remove("k").ok());
  ASSERT_TRUE(a.open("s")->put("k", "2").ok());  // a put after an unsynced delete
  a.sync_ok("s");
  b.sync_ok("s");
  EXPECT_EQ(b.open("s")->get("empty").value(), std::optional<std::string>(""));
  EXPECT_EQ(b.open("s")->get("k").value(), "2");
  EXPECT_EQ(on_server("s"), (Map{{"empty", ""}, {"k", "2"}}));
}

// 11. iOS dropped writes that broke a limit and only logged it; Android's upgrade dropped tables.
TEST_F(Bugs, Bug11_ALimitBreakingPutIsATypedErrorAndPendingWritesSurviveARestart) {
  auto a = device("a");
  ASSERT_TRUE(a.open("s")->put("kept", "v").ok());
  Status too_big = a.open("s")->put("huge", std::string(1048576, 'x'));
  EXPECT_EQ(too_big.code(), ErrorCode::kInvalidParameter);
  EXPECT_EQ(a.all("s"), (Map{{"kept", "v"}}));
  std::string db = a.db;
  a.manager.reset();  // the game quits before syncing
  auto again = make_device(ts, dir, "a", alice.logins);
  EXPECT_EQ(again.all("s"), (Map{{"kept", "v"}}));
  EXPECT_TRUE(again.open("s")->is_changed("kept").value());
  again.sync_ok("s");
  EXPECT_EQ(on_server("s"), (Map{{"kept", "v"}}));
}

// 12. One thread per sync, two handles not sharing a lock: syncs of one dataset overlapped.
TEST_F(Bugs, Bug12_TwoManagersOnOneFileNeverSyncADatasetAtOnce) {
  auto first = device("shared");
  auto second = make_device(ts, dir, "shared", alice.logins);  // the same database file
  ASSERT_TRUE(first.open("s")->put("k", "v").ok());
  std::atomic<int> in_flight{0}, most{0};
  auto watch = [&](const std::string& op,
                   const HttpRequest&) -> std::optional<Result<HttpResponse>> {
    if (op == "ListRecords") {
      int now = ++in_flight;
      most = std::max(most.load(), now);
      std::this_thread::sleep_for(30ms);
    }
    return std::nullopt;
  };
  auto done = [&](const std::string& op, const HttpRequest&,
                  const Result<HttpResponse>&) -> std::optional<Result<HttpResponse>> {
    if (op == "ListRecords") --in_flight;
    return std::nullopt;
  };
  first.wire->set_before(watch);
  second.wire->set_before(watch);
  first.wire->set_after(done);
  second.wire->set_after(done);
  auto f1 = first.manager->synchronize("s");
  auto f2 = second.manager->synchronize("s");
  EXPECT_TRUE(f1.get().status.ok());
  EXPECT_TRUE(f2.get().status.ok());
  EXPECT_EQ(most.load(), 1) << "one dataset lock for every handle";
  EXPECT_EQ(on_server("s"), (Map{{"k", "v"}}));
}

// 13. Android wrote remote updates only after conflicts were resolved; JS skipped them.
TEST_F(Bugs, Bug13_CleanRemoteRecordsApplyEvenWhenAConflictIsPending) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("clash", "a").ok());
  ASSERT_TRUE(a.open("s")->put("clean", "a").ok());
  a.sync_ok("s");
  ASSERT_TRUE(b.open("s")->put("clash", "b").ok());
  SyncCallbacks refuse;
  refuse.on_conflict = [](const std::vector<Conflict>& c, const ResolveContext&) {
    return std::vector<Resolution>(c.size(), Resolution::unresolved());
  };
  EXPECT_EQ(b.sync("s", refuse).status.code(), ErrorCode::kConflictUnresolved);
  EXPECT_EQ(b.open("s")->get("clean").value(), "a") << "applied with the count, atomically";
  EXPECT_EQ(b.open("s")->last_sync_count().value(), 0) << "stops short of the conflict";
  b.sync_ok("s");
  EXPECT_EQ(b.all("s"), on_server("s"));
}

// 14. Records removed on the server stayed on other devices as ghosts.
TEST_F(Bugs, Bug14_RemoteRemovalsAreAppliedLocally) {
  auto a = device("a");
  auto b = device("b");
  ASSERT_TRUE(a.open("s")->put("ghost", "boo").ok());
  ASSERT_TRUE(a.open("s")->put("stay", "1").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  ASSERT_TRUE(a.open("s")->remove("ghost").ok());
  a.sync_ok("s");
  b.sync_ok("s");
  EXPECT_EQ(b.open("s")->get("ghost").value(), std::nullopt);
  EXPECT_EQ(b.all("s"), (Map{{"stay", "1"}}));
}

}  // namespace
}  // namespace cairn::testing
