// The engine on cairn's notification channel (listen_for_notifications, docs/events.md): device B
// learns of device A's change and syncs by itself, with no synchronize() from its host and no
// polling of the data, within a second of A's sync; and its listener survives the server going
// failing for a while.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/engine_fixture.h"
#include "fixtures/fault_proxy.h"

namespace cairn::testing {
namespace {

using Clock = std::chrono::steady_clock;

Device listening_device(OnePlayer& p, const std::string& name, const std::string& token) {
  auto d = p.device(name, [](SyncManagerOptions& o) { o.listen_for_notifications = true; });
  auto id = d.manager->register_device("GCM", token);
  EXPECT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_TRUE(d.manager->subscribe("save").ok());
  return d;
}

// Waits for B's local copy of "save" to hold `key` = `value`; when it did, or nullopt.
std::optional<Clock::time_point> wait_local(Device& d, const std::string& key,
                                            const std::string& value,
                                            std::chrono::milliseconds within) {
  auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    auto v = d.open("save")->get(key);
    if (v.ok() && *v && **v == value) return Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return std::nullopt;
}

struct PushChannel : OnePlayer {};

TEST_F(PushChannel, DeviceBHasDeviceAsChangeWithinASecondOfItsSyncWithoutSyncingItself) {
  auto a = device("a");
  ASSERT_TRUE(a.manager->register_device("GCM", "token-a").ok());
  auto b = listening_device(*this, "b", "token-b");
  // Both know the dataset; from here on B's host never calls synchronize().
  ASSERT_TRUE(a.open("save")->put("round", "0").ok());
  a.sync_ok("save");
  b.sync_ok("save");
  // A's first push notified B too; let the sync that may have started settle before counting.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  b.wire->clear();

  std::vector<double> ms;
  for (int round = 1; round <= 5; ++round) {
    ASSERT_TRUE(a.open("save")->put("round", std::to_string(round)).ok());
    a.sync_ok("save");
    auto synced = Clock::now();
    auto seen = wait_local(b, "round", std::to_string(round), std::chrono::seconds(5));
    ASSERT_TRUE(seen) << "round " << round << ": B never got A's change";
    ms.push_back(std::chrono::duration<double, std::milli>(*seen - synced).count());
  }
  double worst = *std::max_element(ms.begin(), ms.end());
  std::sort(ms.begin(), ms.end());
  std::printf(
      "\npush channel: B had A's change %.1f ms (median) and %.1f ms (worst of 5) after "
      "A's sync returned\n",
      ms[2], worst);
  EXPECT_LT(worst, 1000.0);
  // What B sent: its channel polls and the syncs the notifications started, one per change.
  EXPECT_EQ(b.wire->count("ListRecords"), 5u);
  EXPECT_EQ(b.wire->count("UpdateRecords"), 0u) << "B had nothing of its own to push";
}

TEST_F(PushChannel, TheListenerRecoversFromResetsAndErrors) {
  // B listens through a proxy that breaks every exchange for a while; A writes directly. A poll
  // the proxy holds and then resets is noticed when its wait ends: a 10 s read timeout makes the
  // polls wait 5 s.
  FaultProxy proxy(ts.server().port(), 3);
  auto a = device("a");
  auto b = device("b", [&](SyncManagerOptions& o) {
    o.endpoint = proxy.url();
    o.listen_for_notifications = true;
    o.http.read_timeout = std::chrono::seconds(10);
  });
  ASSERT_TRUE(b.manager->register_device("GCM", "token-b").ok());
  ASSERT_TRUE(b.manager->subscribe("save").ok());
  ASSERT_TRUE(a.open("save")->put("k", "1").ok());
  a.sync_ok("save");
  b.sync_ok("save");
  // Every request fails for a while (500s and resets): the listener backs off and retries.
  proxy.set_rate(1.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  proxy.set_rate(0);
  ASSERT_TRUE(a.open("save")->put("k", "2").ok());
  a.sync_ok("save");
  EXPECT_TRUE(wait_local(b, "k", "2", std::chrono::seconds(10)))
      << "the listener did not come back after the faults";
}

TEST_F(PushChannel, ClosingAManagerDoesNotWaitOutALongPoll) {
  auto b = listening_device(*this, "b", "token-b");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // its poll is waiting now
  auto started = Clock::now();
  b.manager.reset();
  double s = std::chrono::duration<double>(Clock::now() - started).count();
  EXPECT_LT(s, 3.0) << "close took " << s << " s; the poll waits 25 s";
}

}  // namespace
}  // namespace cairn::testing
