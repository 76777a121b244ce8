// The engine's scheduler on a manual clock: a delayed task runs when the clock reaches its due
// time, not before, in due order, and idle() says when nothing more will happen until the clock
// moves.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <vector>

#include "fixtures/manual_clock.h"
#include "fixtures/wait.h"

namespace cairn::testing {
namespace {

using namespace std::chrono_literals;

struct Ran {
  std::mutex mu;
  std::vector<int> order;
  void add(int i) {
    std::lock_guard<std::mutex> l(mu);
    order.push_back(i);
  }
  std::vector<int> get() {
    std::lock_guard<std::mutex> l(mu);
    return order;
  }
};

TEST(Scheduler, ADelayedTaskRunsWhenTheClockReachesItsDueTimeAndNotBefore) {
  auto clock = std::make_shared<ManualClock>();
  engine::Scheduler s(2, clock);
  Ran ran;
  s.post_after(100ms, [&] { ran.add(1); });
  s.post_after(30ms, [&] { ran.add(2); });
  ASSERT_TRUE(eventually([&] { return s.idle(); }));
  EXPECT_TRUE(ran.get().empty());
  clock->advance(29ms);
  ASSERT_TRUE(eventually([&] { return s.idle(); }));
  EXPECT_TRUE(ran.get().empty()) << "ran 1 ms early";
  clock->advance(1ms);
  ASSERT_TRUE(eventually([&] { return s.idle(); }));
  EXPECT_EQ(ran.get(), (std::vector<int>{2}));
  clock->advance(70ms);
  ASSERT_TRUE(eventually([&] { return s.idle(); }));
  EXPECT_EQ(ran.get(), (std::vector<int>{2, 1}));
}

// The threads of this process, from the kernel's list of them.
size_t process_threads() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

TEST(Scheduler, ItsThreadsStartWithTheFirstTaskAndNeverAfterShutdown) {
  size_t before = process_threads();
  {
    engine::Scheduler unused(2, nullptr);
    EXPECT_EQ(process_threads(), before) << "an engine that never syncs starts no thread";
  }
  engine::Scheduler s(3, nullptr);
  EXPECT_EQ(process_threads(), before);
  std::atomic<int> ran{0};
  s.post([&] { ++ran; });
  ASSERT_TRUE(eventually([&] { return ran.load() == 1; }));
  EXPECT_EQ(process_threads(), before + 3);
  s.post([&] { ++ran; });
  ASSERT_TRUE(eventually([&] { return ran.load() == 2; }));
  EXPECT_EQ(process_threads(), before + 3) << "the pool is started once";
  s.shutdown();
  // Joined; the kernel may list an exiting thread a moment longer.
  EXPECT_TRUE(eventually([&] { return process_threads() == before; }));

  engine::Scheduler stopped(2, nullptr);
  stopped.shutdown();
  stopped.post([&] { ++ran; });
  EXPECT_EQ(process_threads(), before) << "a task posted after shutdown starts nothing";
  EXPECT_EQ(ran.load(), 2);
}

TEST(Scheduler, TasksDueTogetherRunInTheOrderTheyWerePosted) {
  auto clock = std::make_shared<ManualClock>();
  engine::Scheduler s(1, clock);
  Ran ran;
  for (int i = 0; i < 5; ++i) s.post_after(50ms, [&, i] { ran.add(i); });
  s.post([&] { ran.add(-1); });
  ASSERT_TRUE(eventually([&] { return s.idle(); }));
  EXPECT_EQ(ran.get(), (std::vector<int>{-1}));
  clock->advance(1h);
  ASSERT_TRUE(eventually([&] { return s.idle(); }));
  EXPECT_EQ(ran.get(), (std::vector<int>{-1, 0, 1, 2, 3, 4}));
}

TEST(Scheduler, IsNotIdleWhileATaskRunsOrIsDue) {
  auto clock = std::make_shared<ManualClock>();
  engine::Scheduler s(1, clock);
  std::mutex gate;
  std::unique_lock<std::mutex> held(gate);
  s.post([&] { std::lock_guard<std::mutex> l(gate); });
  s.post_after(10ms, [] {});
  EXPECT_FALSE(s.idle()) << "a task is running (held at the gate)";
  held.unlock();
  ASSERT_TRUE(eventually([&] { return s.idle(); }));
  // Due but not run yet: the only thread is held by another task.
  held.lock();
  s.post([&] { std::lock_guard<std::mutex> l(gate); });
  clock->advance(10ms);
  EXPECT_FALSE(s.idle());
  held.unlock();
  ASSERT_TRUE(eventually([&] { return s.idle(); }));
  s.shutdown();
  EXPECT_TRUE(s.idle());
}

TEST(Scheduler, ShutdownDropsTasksThatAreNotDueYet) {
  auto clock = std::make_shared<ManualClock>();
  auto ran = std::make_shared<std::atomic<int>>(0);
  {
    engine::Scheduler s(2, clock);
    s.post_after(1s, [ran] { ++*ran; });
    ASSERT_TRUE(eventually([&] { return s.idle(); }));
  }
  clock->advance(2s);
  EXPECT_EQ(ran->load(), 0);
}

}  // namespace
}  // namespace cairn::testing
