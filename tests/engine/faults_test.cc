// The loop under faults that are hard to cause for real: a 409 storm, throttling, a skewed device
// clock, a connection reset after the server applied a push. The server is real; the transport
// injects the fault.
#include <gtest/gtest.h>

#include <thread>

#include "engine/engine_fixture.h"
#include "transport/fakes.h"

namespace cairn::testing {
namespace {

using Map = std::map<std::string, std::string>;

struct Faults : OnePlayer {};

TEST_F(Faults, AConflictStormEndsInOneFailureNamingTheKey) {
  auto a = device("a", [](SyncManagerOptions& o) { o.max_push_attempts = 3; });
  ASSERT_TRUE(a.open("s")->put("hot", "v").ok());
  a.wire->set_before([](const std::string& op,
                        const HttpRequest&) -> std::optional<Result<HttpResponse>> {
    if (op != "UpdateRecords") return std::nullopt;
    return http_error(409, "ResourceConflictException", "Current SyncCount for: hot is: 9 not: 0");
  });
  std::atomic<int> callbacks{0};
  Status failure;
  SyncCallbacks cb;
  cb.on_success = [&](const std::vector<Record>&) { ++callbacks; };
  cb.on_failure = [&](const Status& s) {
    ++callbacks;
    failure = s;
  };
  auto r = a.sync("s", cb);
  EXPECT_EQ(r.status.code(), ErrorCode::kResourceConflict);
  EXPECT_NE(r.status.message().find("hot"), std::string::npos) << r.status.message();
  EXPECT_EQ(callbacks.load(), 1);
  EXPECT_EQ(failure.code(), ErrorCode::kResourceConflict);
  EXPECT_EQ(a.wire->count("UpdateRecords"), 3u) << "bounded";
  EXPECT_TRUE(a.open("s")->is_changed("hot").value()) << "the write is kept for next time";

  a.wire->set_before(nullptr);
  a.sync_ok("s");
  EXPECT_EQ(on_server("s"), (Map{{"hot", "v"}}));
}

TEST_F(Faults, AConflictSentAsAnotherStatusIsStillAConflict) {
  // The error type header decides, not the status code (aws-sdk-net#430 saw a 409 as a 400).
  auto a = device("a");
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  std::atomic<int> n{0};
  a.wire->set_before(
      [&](const std::string& op, const HttpRequest&) -> std::optional<Result<HttpResponse>> {
        if (op == "UpdateRecords" && n++ == 0) {
          return http_error(400, "ResourceConflictException:http://internal.amazon.com/coral/",
                            "Current SyncCount for: k is: 1 not: 0");
        }
        return std::nullopt;
      });
  a.sync_ok("s");
  EXPECT_EQ(a.manager->stats().push_retries, 1u);
}

TEST_F(Faults, ThrottlingIsRetriedWithBackoff) {
  auto a = device("a");
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  std::atomic<int> throttled{0};
  a.wire->set_before(
      [&](const std::string& op, const HttpRequest&) -> std::optional<Result<HttpResponse>> {
        if ((op == "ListRecords" || op == "UpdateRecords") && throttled < 3) {
          ++throttled;
          return http_error(429, "TooManyRequestsException", "Rate exceeded");
        }
        return std::nullopt;
      });
  a.sync_ok("s");
  EXPECT_EQ(throttled.load(), 3);
  EXPECT_GE(a.manager->stats().retries, 3u);
  EXPECT_EQ(on_server("s"), (Map{{"k", "v"}}));
}

TEST_F(Faults, AResetAfterThePushLandedConvergesWithoutDuplicates) {
  auto a = device("a");
  ASSERT_TRUE(a.open("s")->put("k", "v").ok());
  std::atomic<bool> once{false};
  a.wire->set_after([&](const std::string& op, const HttpRequest&,
                        const Result<HttpResponse>&) -> std::optional<Result<HttpResponse>> {
    if (op == "UpdateRecords" && !once.exchange(true)) {
      return Result<HttpResponse>(
          Status(ErrorCode::kNetwork, "connection reset halfway through the body"));
    }
    return std::nullopt;
  });
  auto r = a.sync("s");
  // Whether the transport's retry met the 409 or the sync failed, the next sync settles it.
  if (!r.status.ok()) a.sync_ok("s");
  EXPECT_FALSE(a.open("s")->is_changed("k").value());
  EXPECT_EQ(on_server("s"), (Map{{"k", "v"}}));
  auto listed = list_all(*ts.admin_sync(), ts.pool(), alice.identity_id, "s");
  ASSERT_EQ(listed.records.size(), 1u);
  EXPECT_EQ(*listed.dataset_sync_count, 1) << "the write landed once";
  EXPECT_EQ(a.open("s")->last_sync_count().value(), 1);
}

TEST_F(Faults, LastWriterWinsCorrectsASkewedDeviceClock) {
  // b's clock is ten minutes slow. Its write is truly the later one, and wins only because the
  // resolver moves it onto the server's clock by the skew measured from the Date header.
  auto real_start = std::chrono::system_clock::now();
  auto slow = std::make_shared<ManualClock>(real_start - std::chrono::minutes(10));
  auto a = device("a", [](SyncManagerOptions& o) { o.resolver = last_writer_wins(); });
  std::chrono::milliseconds seen_skew{0};
  auto b = device("b", [&](SyncManagerOptions& o) {
    o.clock = slow;
    o.resolver = [&](const Conflict& c, const ResolveContext& ctx) {
      seen_skew = ctx.clock_skew;
      return last_writer_wins()(c, ctx);
    };
  });
  ASSERT_TRUE(a.open("s")->put("k", "0").ok());
  a.sync_ok("s");
  b.sync_ok("s");  // b learns the skew here
  EXPECT_NEAR(b.manager->clock_skew().count(),
              std::chrono::milliseconds(std::chrono::minutes(10)).count(), 5000);

  ASSERT_TRUE(a.open("s")->put("k", "a").ok());
  a.sync_ok("s");
  // The Date header has whole seconds, so a measured skew is good to about a second: the
  // writes are further apart than that.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  slow->advance(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now() - real_start));
  ASSERT_TRUE(b.open("s")->put("k", "b").ok());  // truly later than a's write
  b.sync_ok("s");
  EXPECT_GT(seen_skew, std::chrono::minutes(9));
  EXPECT_EQ(on_server("s").at("k"), "b");
}

TEST_F(Faults, AServerThatVanishesMidPullLeavesLocalDataUntouched) {
  auto a = device("a");
  auto b = device("b");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(a.open("s")->put("k" + std::to_string(i), "v").ok());
  a.sync_ok("s");
  ASSERT_TRUE(b.open("s")->put("mine", "1").ok());
  b.wire->set_after([](const std::string& op, const HttpRequest&,
                       const Result<HttpResponse>&) -> std::optional<Result<HttpResponse>> {
    if (op == "ListRecords") return Result<HttpResponse>(Status(ErrorCode::kNetwork, "reset"));
    return std::nullopt;
  });
  auto r = b.sync("s");
  EXPECT_TRUE(r.status.is_network()) << r.status.ToString();
  EXPECT_EQ(b.all("s"), (Map{{"mine", "1"}}));
  EXPECT_EQ(b.open("s")->last_sync_count().value(), 0) << "nothing half-applied";
  b.wire->set_after(nullptr);
  b.sync_ok("s");
  EXPECT_EQ(b.all("s").size(), 11u);
}

}  // namespace
}  // namespace cairn::testing
