// Network faults for real: three devices of one player sync through a proxy on 127.0.0.1 that
// resets connections (before the server sees a request, and after it applied one), cuts answers
// short, delays them and answers 500, 503 and 429 itself, at a seeded 30% of all requests. After
// the faulty cycles, faults go off and every device syncs twice. Then no acknowledged write may be
// lost: every key on the server holds the newest value ever written to it, and every device
// equals the server.
//
// CAIRN_FAULT_CYCLES=N and CAIRN_FAULT_SEED=S change the run; the figures are printed.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "engine/engine_fixture.h"
#include "fixtures/fault_proxy.h"
#include "fixtures/stamps.h"

namespace cairn::testing {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

TEST(NetworkFaults, ThreeDevicesLoseNothingThroughResetsTruncationsDelaysAndErrors) {
  const int cycles = env_int("CAIRN_FAULT_CYCLES", 500);
  const uint64_t seed = static_cast<uint64_t>(env_int("CAIRN_FAULT_SEED", 7));
  SCOPED_TRACE("seed " + std::to_string(seed));
  TestServer ts;
  FaultProxy proxy(ts.server().port(), seed);
  TempDir dir{"cairn-net-faults"};
  Player p = make_player(ts, "p");
  std::vector<Device> devices;
  for (int i = 0; i < 3; ++i) {
    devices.push_back(
        make_device(ts, dir, "d" + std::to_string(i), p.logins, [&](SyncManagerOptions& o) {
          o.endpoint = proxy.url();
          o.resolver = highest_stamp;
        }));
    devices.back().sync_ok("save");  // identity and credentials, before any fault
  }

  proxy.set_rate(0.3);
  std::mt19937_64 rng(seed);
  std::map<std::string, std::string> newest;  // key -> the newest acknowledged write
  int64_t stamp = 0;
  uint64_t syncs = 0, failed_syncs = 0;
  std::map<std::string, uint64_t> failures_by_code;
  auto started = std::chrono::steady_clock::now();
  for (int cycle = 0; cycle < cycles; ++cycle) {
    size_t d = rng() % devices.size();
    int writes = static_cast<int>(rng() % 3);
    for (int w = 0; w < writes; ++w) {
      std::string key = "k" + std::to_string(rng() % 12);
      std::string value = std::to_string(++stamp) + ":" + std::to_string(d);
      auto put = devices[d].open("save")->put(key, value);
      ASSERT_TRUE(put.ok()) << put.ToString();  // local writes never depend on the network
      newest[key] = value;
    }
    auto r = devices[d].sync("save");
    ++syncs;
    if (!r.status.ok()) {
      ++failed_syncs;
      ++failures_by_code[std::string(error_code_name(r.status.code()))];
    }
  }
  double faulty_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  proxy.set_rate(0);
  for (int round = 0; round < 2; ++round) {
    for (auto& dev : devices) dev.sync_ok("save");
  }

  auto on_server = server_records(ts, p.identity_id, "save");
  uint64_t lost = 0;
  for (const auto& [key, value] : newest) {
    auto it = on_server.find(key);
    if (it == on_server.end() || it->second != value) {
      ++lost;
      ADD_FAILURE() << "lost the newest write to " << key << ": wanted " << value << ", server has "
                    << (it == on_server.end() ? "nothing" : it->second);
    }
  }
  EXPECT_EQ(on_server.size(), newest.size());
  for (auto& dev : devices) {
    EXPECT_EQ(dev.all("save"), on_server);
    EXPECT_EQ(dev.manager->status("save").pending_changes, 0);
  }

  EngineStats total;
  for (auto& dev : devices) {
    auto s = dev.manager->stats();
    total.attempts += s.attempts;
    total.retries += s.retries;
    total.push_retries += s.push_retries;
    total.conflicts += s.conflicts;
  }
  auto injected = proxy.injected();
  std::printf(
      "\nnetwork faults: seed %llu, %d cycles on 3 devices in %.1f s, %llu requests "
      "through the proxy\n",
      static_cast<unsigned long long>(seed), cycles, faulty_seconds,
      static_cast<unsigned long long>(proxy.requests()));
  std::printf("  faults injected: %llu\n", static_cast<unsigned long long>(proxy.total_injected()));
  for (int f = 0; f < FaultProxy::kFaultKinds; ++f) {
    std::printf("    %-22s %llu\n", FaultProxy::fault_name(f),
                static_cast<unsigned long long>(injected[static_cast<size_t>(f)]));
  }
  std::printf(
      "  HTTP attempts %llu, transport retries %llu, pushes retried after a conflict %llu, "
      "conflicts resolved %llu\n",
      static_cast<unsigned long long>(total.attempts),
      static_cast<unsigned long long>(total.retries),
      static_cast<unsigned long long>(total.push_retries),
      static_cast<unsigned long long>(total.conflicts));
  std::printf("  syncs %llu, failures surfaced %llu:", static_cast<unsigned long long>(syncs),
              static_cast<unsigned long long>(failed_syncs));
  for (const auto& [code, n] : failures_by_code)
    std::printf(" %s %llu", code.c_str(), static_cast<unsigned long long>(n));
  std::printf("\n  acknowledged writes %lld, keys %zu, lost %llu\n", static_cast<long long>(stamp),
              newest.size(), static_cast<unsigned long long>(lost));
  EXPECT_GT(proxy.total_injected(), 0u);
  EXPECT_EQ(lost, 0u);
}

}  // namespace
}  // namespace cairn::testing
