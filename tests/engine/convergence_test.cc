// Seeded random convergence: several devices make random puts and removes, going offline and
// syncing in random orders. Afterwards every device equals the server, and no acknowledged write
// is lost unless the resolver chose another value.
//
// CAIRN_CONVERGENCE_SEED=N reruns one seed; the seed is printed with every failure.
#include <gtest/gtest.h>

#include <random>

#include "engine/engine_fixture.h"
#include "fixtures/stamps.h"

namespace cairn::testing {
namespace {

using Map = std::map<std::string, std::string>;

std::vector<uint64_t> seeds() {
  if (const char* s = std::getenv("CAIRN_CONVERGENCE_SEED")) return {std::stoull(s)};
  return {1, 2, 3};
}

class Convergence : public ::testing::TestWithParam<uint64_t> {};

TEST_P(Convergence, PutsOnlyEveryKeyEndsAtItsNewestWrite) {
  uint64_t seed = GetParam();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  TestServer ts;
  TempDir dir{"cairn-converge"};
  Player p = make_player(ts, "p");
  std::vector<Device> devices;
  for (int i = 0; i < 3; ++i) {
    devices.push_back(make_device(ts, dir, "d" + std::to_string(i), p.logins,
                                  [](SyncManagerOptions& o) { o.resolver = highest_stamp; }));
  }
  std::map<std::string, std::string> newest;  // key -> highest-stamped value written
  int64_t stamp = 0;
  for (int step = 0; step < 150; ++step) {
    size_t d = rng() % devices.size();
    if (rng() % 3 == 0) {
      devices[d].sync_ok("s");
    } else {
      std::string key = "k" + std::to_string(rng() % 8);
      std::string value = std::to_string(++stamp) + ":" + std::to_string(d);
      ASSERT_TRUE(devices[d].open("s")->put(key, value).ok());
      newest[key] = value;
    }
  }
  for (int round = 0; round < 2; ++round) {
    for (auto& d : devices) d.sync_ok("s");
  }
  Map server = server_records(ts, p.identity_id, "s");
  EXPECT_EQ(server, newest) << "seed " << seed;
  for (auto& d : devices) {
    EXPECT_EQ(d.all("s"), server) << "seed " << seed;
    EXPECT_EQ(d.manager->status("s").pending_changes, 0);
  }
}

TEST_P(Convergence, PutsAndRemovesInRandomOrdersEndEqualEverywhere) {
  uint64_t seed = GetParam();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed * 7919);
  TestServer ts;
  TempDir dir{"cairn-converge"};
  Player p = make_player(ts, "p");
  std::vector<Device> devices;
  for (int i = 0; i < 3; ++i)
    devices.push_back(make_device(ts, dir, "d" + std::to_string(i), p.logins));
  int64_t stamp = 0;
  for (int step = 0; step < 150; ++step) {
    size_t d = rng() % devices.size();
    auto dataset = devices[d].open("s");
    switch (rng() % 5) {
      case 0:
      case 1:
        devices[d].sync_ok("s");
        break;
      case 2:
        ASSERT_TRUE(dataset->remove("k" + std::to_string(rng() % 6)).ok());
        break;
      default:
        ASSERT_TRUE(dataset
                        ->put("k" + std::to_string(rng() % 6),
                              std::to_string(++stamp) + ":" + std::to_string(d))
                        .ok());
    }
  }
  for (int round = 0; round < 2; ++round) {
    for (auto& d : devices) d.sync_ok("s");
  }
  Map server = server_records(ts, p.identity_id, "s");
  for (auto& d : devices) {
    EXPECT_EQ(d.all("s"), server) << "seed " << seed;
    EXPECT_EQ(d.manager->status("s").pending_changes, 0) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, Convergence, ::testing::ValuesIn(seeds()));

}  // namespace
}  // namespace cairn::testing
