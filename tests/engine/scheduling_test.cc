// Scheduling: one sync per dataset at a time with coalesced follow-ups, parallel datasets,
// connectivity, callback delivery, auto-sync and the status a game shows.
#include <gtest/gtest.h>

#include <thread>

#include "engine/engine_fixture.h"
#include "fixtures/manual_clock.h"
#include "fixtures/wait.h"

namespace cairn::testing {
namespace {

using Map = std::map<std::string, std::string>;
using namespace std::chrono_literals;

struct Scheduling : OnePlayer {};

// Holds every request of one operation until released.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> waiting{0};
  void wait() {
    std::unique_lock<std::mutex> l(mu);
    ++waiting;
    cv.wait(l, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> l(mu);
      open = true;
    }
    cv.notify_all();
  }
};

TEST_F(Scheduling, RequestsDuringASyncCoalesceIntoOneFollowUpAndEveryCallerHearsBack) {
  auto a = device("a");
  ASSERT_TRUE(a.open("s")->put("k", "1").ok());
  auto gate = std::make_shared<Gate>();
  a.wire->set_before(
      [gate](const std::string& op, const HttpRequest&) -> std::optional<Result<HttpResponse>> {
        if (op == "ListRecords") gate->wait();
        return std::nullopt;
      });
  std::atomic<int> successes{0};
  SyncCallbacks cb;
  cb.on_success = [&](const std::vector<Record>&) { ++successes; };
  std::vector<SyncFuture> futures;
  futures.push_back(a.manager->synchronize("s", cb));
  ASSERT_TRUE(eventually([&] { return gate->waiting.load() == 1; }));
  EXPECT_EQ(a.manager->status("s").state, SyncState::kSyncing);
  ASSERT_TRUE(a.open("s")->put("k", "2").ok());
  for (int i = 0; i < 4; ++i) futures.push_back(a.manager->synchronize("s", cb));
  gate->release();
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(kHungTest), std::future_status::ready);
    EXPECT_TRUE(f.get().status.ok()) << f.get().status.ToString();
  }
  EXPECT_EQ(successes.load(), 5);
  EXPECT_EQ(a.wire->count("ListRecords"), 2u) << "the running sync and one follow-up";
  EXPECT_EQ(server_records(ts, alice.identity_id, "s"), (Map{{"k", "2"}}));
}

TEST_F(Scheduling, DifferentDatasetsSyncInParallel) {
  auto a = device("a", [](SyncManagerOptions& o) { o.sync_threads = 2; });
  ASSERT_TRUE(a.open("one")->put("k", "1").ok());
  ASSERT_TRUE(a.open("two")->put("k", "2").ok());
  auto gate = std::make_shared<Gate>();
  a.wire->set_before(
      [gate](const std::string& op, const HttpRequest&) -> std::optional<Result<HttpResponse>> {
        if (op == "ListRecords") gate->wait();
        return std::nullopt;
      });
  auto f1 = a.manager->synchronize("one");
  auto f2 = a.manager->synchronize("two");
  // Both pulls are in flight at once: neither waits for the other.
  EXPECT_TRUE(eventually([&] { return gate->waiting.load() == 2; }));
  gate->release();
  EXPECT_TRUE(f1.get().status.ok());
  EXPECT_TRUE(f2.get().status.ok());
}

TEST_F(Scheduling, SyncOnConnectivityWaitsForTheHostToReportTheNetwork) {
  auto a = device("a");
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  a.manager->set_network_reachable(false);
  auto now = a.open("s")->synchronize();
  ASSERT_EQ(now.wait_for(kHungTest), std::future_status::ready);
  EXPECT_EQ(now.get().status.code(), ErrorCode::kNetwork) << "a plain sync fails at once";
  auto later = a.open("s")->synchronize_on_connectivity();
  ASSERT_TRUE(a.settle());
  EXPECT_EQ(later.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(a.manager->status("s").state, SyncState::kWaitingForNetwork);
  EXPECT_EQ(a.wire->count("ListRecords"), 0u) << "nothing polled";
  a.manager->set_network_reachable(true);
  ASSERT_EQ(later.wait_for(kHungTest), std::future_status::ready);
  EXPECT_TRUE(later.get().status.ok());
  EXPECT_EQ(server_records(ts, alice.identity_id, "s"), (Map{{"k", "v"}}));
}

TEST_F(Scheduling, PumpedCallbacksRunOnlyInRunPendingCallbacks) {
  auto a = device("a", [](SyncManagerOptions& o) { o.delivery = CallbackDelivery::kPumped; });
  auto b = device("b");
  ASSERT_TRUE(b.open("s")->put("k", "theirs").ok());
  b.sync_ok("s");
  ASSERT_TRUE(a.open("s")->put("k", "mine").ok());

  std::thread::id game_thread = std::this_thread::get_id();
  std::vector<std::thread::id> ran_on;
  SyncCallbacks cb;
  cb.on_conflict = [&](const std::vector<Conflict>& c, const ResolveContext&) {
    ran_on.push_back(std::this_thread::get_id());
    return std::vector<Resolution>(c.size(), Resolution::local());
  };
  cb.on_success = [&](const std::vector<Record>&) { ran_on.push_back(std::this_thread::get_id()); };
  auto f = a.manager->synchronize("s", cb);
  // The game loop: pump until the sync is done.
  while (f.wait_for(1ms) != std::future_status::ready) a.manager->run_pending_callbacks();
  a.manager->run_pending_callbacks();
  EXPECT_TRUE(f.get().status.ok()) << f.get().status.ToString();
  ASSERT_EQ(ran_on.size(), 2u);
  for (auto id : ran_on) EXPECT_EQ(id, game_thread);
  EXPECT_EQ(server_records(ts, alice.identity_id, "s").at("k"), "mine");
}

TEST_F(Scheduling, ACustomExecutorReceivesEveryCallback) {
  std::atomic<int> posted{0};
  auto a = device("a", [&](SyncManagerOptions& o) {
    o.executor = [&](std::function<void()> f) {
      ++posted;
      f();
    };
  });
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  std::atomic<bool> done{false};
  SyncCallbacks cb;
  cb.on_success = [&](const std::vector<Record>&) { done = true; };
  a.sync_ok("s", cb);
  EXPECT_TRUE(eventually([&] { return done.load(); }));
  EXPECT_EQ(posted.load(), 1);
}

TEST_F(Scheduling, AutoSyncIsDebouncedAfterWrites) {
  auto clock = std::make_shared<ManualClock>();
  auto a = device("a", [&](SyncManagerOptions& o) {
    o.clock = clock;
    o.auto_sync.enabled = true;
    o.auto_sync.debounce = 100ms;
  });
  auto s = a.open("s");
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(s->put("k" + std::to_string(i), "v").ok());
    clock->advance(60ms);  // each write comes within the debounce of the one before
    ASSERT_TRUE(a.settle());
    EXPECT_EQ(a.wire->count("ListRecords"), 0u) << "a sync while writes still came, at " << i;
  }
  clock->advance(39ms);  // 99 ms after the last write
  ASSERT_TRUE(a.settle());
  EXPECT_EQ(a.wire->count("ListRecords"), 0u);
  EXPECT_EQ(a.manager->status("s").pending_changes, 10);
  clock->advance(1ms);  // quiet for the whole debounce
  ASSERT_TRUE(a.settle());
  EXPECT_EQ(server_records(ts, alice.identity_id, "s").size(), 10u);
  EXPECT_EQ(a.manager->status("s").state, SyncState::kIdle);
  EXPECT_EQ(a.wire->count("UpdateRecords"), 1u) << "ten writes, one push";
  EXPECT_TRUE(a.manager->status("s").last_result->ok());
  EXPECT_EQ(a.manager->status("s").pending_changes, 0);
}

TEST_F(Scheduling, AutoSyncBacksOffAfterFailuresAndWaitsForTheNetwork) {
  auto clock = std::make_shared<ManualClock>();
  auto a = device("a", [&](SyncManagerOptions& o) {
    o.clock = clock;
    o.auto_sync.enabled = true;
    o.auto_sync.debounce = 10ms;
    o.auto_sync.min_backoff = 200ms;
    o.auto_sync.max_backoff = 400ms;
    o.retry.max_retries = 0;
  });
  std::atomic<bool> down{true};
  std::atomic<int> pulls{0};  // attempted, failed or not
  a.wire->set_before(
      [&](const std::string& op, const HttpRequest&) -> std::optional<Result<HttpResponse>> {
        if (op == "ListRecords") ++pulls;
        if (down && op == "ListRecords")
          return Result<HttpResponse>(Status(ErrorCode::kNetwork, "down"));
        return std::nullopt;
      });
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  clock->advance(10ms);
  ASSERT_TRUE(a.settle());
  EXPECT_EQ(a.manager->status("s").state, SyncState::kBackingOff);
  EXPECT_FALSE(a.manager->status("s").last_result->ok());
  EXPECT_EQ(pulls.load(), 1);
  // The first retry waits between half of min_backoff and all of it: not before 100 ms, and a
  // write in the meantime, whose own debounce ends sooner, does not cut the backoff short.
  clock->advance(50ms);
  ASSERT_TRUE(a.open("s")->put("k2", "v").ok());
  clock->advance(49ms);
  ASSERT_TRUE(a.settle());
  EXPECT_EQ(pulls.load(), 1) << "retried before the backoff";
  clock->advance(101ms);  // 200 ms since the failure: the retry has run, and failed
  ASSERT_TRUE(a.settle());
  EXPECT_EQ(pulls.load(), 2);
  EXPECT_EQ(a.manager->status("s").state, SyncState::kBackingOff);
  // The second waits twice as long: 200 to 400 ms.
  clock->advance(199ms);
  ASSERT_TRUE(a.settle());
  EXPECT_EQ(pulls.load(), 2);
  // Unreachable: the retry waits for the host instead of failing again.
  a.manager->set_network_reachable(false);
  down = false;
  clock->advance(201ms);
  ASSERT_TRUE(a.settle());
  EXPECT_EQ(a.manager->status("s").state, SyncState::kWaitingForNetwork);
  clock->advance(std::chrono::minutes(10));
  ASSERT_TRUE(a.settle());
  EXPECT_EQ(pulls.load(), 2) << "polled while the host said unreachable";
  a.manager->set_network_reachable(true);
  ASSERT_TRUE(eventually([&] { return a.manager->status("s").state == SyncState::kIdle; }));
  ASSERT_TRUE(a.settle());
  EXPECT_EQ(server_records(ts, alice.identity_id, "s").size(), 2u);
  EXPECT_TRUE(a.manager->status("s").last_result->ok());
}

TEST_F(Scheduling, StatusReportsPendingChangesProgressAndTheLastResult) {
  auto a = device("a");
  // Plain answers, so that the bytes received hold the pulled values themselves (compressed ones
  // count as they crossed the wire: tests/server/compression_test.cc).
  auto b = device("b", [](SyncManagerOptions& o) { o.http.accept_gzip = false; });
  std::map<std::string, std::optional<std::string>> many;
  for (int i = 0; i < 300; ++i) many["key" + std::to_string(i)] = std::string(100, 'x');
  ASSERT_TRUE(a.open("s")->put_all(many).ok());
  EXPECT_EQ(a.manager->status("s").pending_changes, 300);
  EXPECT_FALSE(a.manager->status("s").last_result.has_value());
  a.sync_ok("s");
  b.sync_ok("s");
  auto st = b.manager->status("s");
  EXPECT_EQ(st.pulled_records, 300);
  EXPECT_GE(st.pulled_pages, 1);
  ASSERT_TRUE(st.last_result.has_value());
  EXPECT_TRUE(st.last_result->ok());
  EXPECT_EQ(st.pending_changes, 0);
  EXPECT_EQ(std::string(sync_state_name(st.state)), "idle");
  auto stats = b.manager->stats();
  EXPECT_GT(stats.requests, 0u);
  EXPECT_GT(stats.bytes_received, 300u * 100u);
  EXPECT_EQ(stats.syncs_succeeded, 1u);
}

TEST_F(Scheduling, ClosingTheManagerAnswersQueuedCallersWithCancelled) {
  auto a = device("a", [](SyncManagerOptions& o) { o.sync_threads = 1; });
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  auto gate = std::make_shared<Gate>();
  a.wire->set_before(
      [gate](const std::string& op, const HttpRequest&) -> std::optional<Result<HttpResponse>> {
        if (op == "ListRecords") gate->wait();
        return std::nullopt;
      });
  auto running = a.manager->synchronize("s");
  ASSERT_TRUE(eventually([&] { return gate->waiting.load() == 1; }));
  auto queued = a.manager->synchronize("s");
  auto parked_elsewhere = a.manager->synchronize("t");
  std::thread closer([&] { a.manager.reset(); });
  // The pull is still held: release it once the manager is closing, so that the queued sync
  // can only be cancelled.
  ASSERT_TRUE(eventually([&] {
    auto e = a.engine.lock();
    return !e || e->closing();
  }));
  gate->release();
  closer.join();
  ASSERT_EQ(queued.wait_for(kHungTest), std::future_status::ready);
  EXPECT_EQ(queued.get().status.code(), ErrorCode::kCancelled);
  ASSERT_EQ(running.wait_for(kHungTest), std::future_status::ready);
  EXPECT_EQ(running.get().status.code(), ErrorCode::kCancelled);
  ASSERT_EQ(parked_elsewhere.wait_for(kHungTest), std::future_status::ready);
}

}  // namespace
}  // namespace cairn::testing
