// Concurrency: a game thread writes, a reader reads, and a sync thread applies remote updates
// and pushes, all at once. Built twice: normally, and with ThreadSanitizer over the store's code.
#include <gtest/gtest.h>

#include "temp_dir.h"

#include <atomic>
#include <filesystem>
#include <thread>

#include "localstore/local_store.h"

namespace cairn::localstore {
namespace {

RemoteRecord remote(const std::string& key, std::optional<std::string> value, int64_t count) {
  return {key, std::move(value), count, 1700000000000, "server", std::nullopt};
}

using cairn::testing::TempDir;

TEST(Concurrency, ReadsRunWhileASyncWritesAndNothingIsLost) {
  TempDir dir;
  Options o;
  o.path = dir.path + "/cairn.db";
  auto s = *LocalStore::open(o);
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::thread game([&] {
    for (int i = 0; i < 300; ++i)
      ASSERT_TRUE(s->put("d", "local" + std::to_string(i % 50), std::to_string(i)).ok());
    stop = true;
  });
  std::thread reader([&] {
    while (!stop) {
      ASSERT_TRUE(s->get("d", "local1").ok());
      ++reads;
    }
  });
  int64_t count = 0;
  while (!stop) {
    ++count;
    ASSERT_TRUE(
        s->apply_remote("d", {remote("remote" + std::to_string(count % 20), "v", count)}, count)
            .ok());
    auto snapshot = *s->dirty_records("d");
    std::vector<RemoteRecord> results;
    for (const auto& item : snapshot) results.push_back(remote(item.key, item.value, count));
    ASSERT_TRUE(s->mark_pushed("d", snapshot, results, std::nullopt).ok());
  }
  game.join();
  reader.join();
  EXPECT_GT(reads.load(), 0);
  // Every local write either was pushed (clean, with its value) or is still dirty: none lost.
  for (int k = 0; k < 50; ++k) {
    auto r = **s->record("d", "local" + std::to_string(k));
    int last = 250 + k;  // the final write of this key
    EXPECT_EQ(*r.value, std::to_string(last));
  }
}

}  // namespace
}  // namespace cairn::localstore
