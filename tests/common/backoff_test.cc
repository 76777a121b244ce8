// Backoff: the one formula behind every retry wait in cairn.
#include "common/backoff.h"

#include <gtest/gtest.h>

#include <set>

namespace cairn {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, TheCeilingDoublesFromTheBaseAndStopsAtTheCap) {
  BackoffPolicy p{milliseconds(100), milliseconds(1000), 1.0};
  EXPECT_EQ(p.ceiling(0), milliseconds(100));
  EXPECT_EQ(p.ceiling(1), milliseconds(200));
  EXPECT_EQ(p.ceiling(3), milliseconds(800));
  EXPECT_EQ(p.ceiling(4), milliseconds(1000));
  EXPECT_EQ(p.ceiling(1000000), milliseconds(1000)) << "no overflow however many retries";
  EXPECT_EQ((BackoffPolicy{milliseconds(5000), milliseconds(1000), 1.0}.ceiling(0)),
            milliseconds(1000))
      << "a base above the cap is capped";
}

TEST(Backoff, FullJitterDrawsFromZeroToTheCeiling) {
  Backoff b(BackoffPolicy{milliseconds(100), milliseconds(400), 1.0}, 7);
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    auto d = b.delay(2).count();
    ASSERT_GE(d, 0);
    ASSERT_LE(d, 400);
    seen.insert(d / 100);
  }
  EXPECT_EQ(seen, (std::set<int64_t>{0, 1, 2, 3, 4})) << "the whole range is used";
}

TEST(Backoff, EqualJitterNeverWaitsLessThanHalf) {
  Backoff b(BackoffPolicy{milliseconds(200), milliseconds(400), 0.5}, 7);
  int64_t lowest = 1000, highest = 0;
  for (int i = 0; i < 2000; ++i) {
    auto d = b.delay(0).count();
    lowest = std::min(lowest, d);
    highest = std::max(highest, d);
  }
  EXPECT_GE(lowest, 100);
  EXPECT_LT(lowest, 110);
  EXPECT_LE(highest, 200);
  EXPECT_GT(highest, 190);
}

TEST(Backoff, NoJitterWaitsExactlyTheCeiling) {
  Backoff b(BackoffPolicy{milliseconds(200), milliseconds(2000), 0.0});
  EXPECT_EQ(b.delay(0), milliseconds(200));
  EXPECT_EQ(b.delay(2), milliseconds(800));
  EXPECT_EQ(b.delay(9), milliseconds(2000));
}

TEST(Backoff, ASeedRepeatsTheWaitsAndAZeroBaseNeverWaits) {
  BackoffPolicy p{milliseconds(100), milliseconds(20000), 1.0};
  Backoff one(p, 42), two(p, 42);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(one.delay(i % 8), two.delay(i % 8));
  Backoff none(BackoffPolicy{milliseconds(0), milliseconds(20000), 1.0});
  EXPECT_EQ(none.delay(5), milliseconds(0));
}

}  // namespace
}  // namespace cairn
