// Crash safety: a child writes and acknowledges records and is SIGKILLed at random points, many
// times. After each kill the store reopens and every acknowledged write is there, dirty.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "crash_ops.h"
#include "localstore/local_store.h"

namespace cairn::localstore {
namespace {

constexpr int kTrials = 40;

TEST(CrashSafety, EveryAcknowledgedWriteSurvivesSigkillAtRandomPoints) {
  char tmpl[] = "/tmp/cairn-crash-test-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string file = dir + "/cairn.db";
  std::mt19937 rng(20261125);
  std::map<std::string, std::optional<std::string>> acked;  // key -> last acknowledged value
  size_t total_acks = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      std::string prefix = "t" + std::to_string(trial % 4);  // later trials overwrite earlier keys
      execl(CAIRN_CRASH_WRITER, CAIRN_CRASH_WRITER, file.c_str(), prefix.c_str(), nullptr);
      _exit(127);
    }
    close(fds[1]);
    // Let it run for a random while, reading acknowledgements as they come. Even trials count the
    // while from the start, so some kills land while the store opens; odd trials from the first
    // acknowledgement, so that every odd trial sees writes however slowly this machine starts a
    // process (a sanitized build under load may take longer than the whole while to open).
    auto extra = std::chrono::milliseconds(5 + rng() % 60);
    bool from_first_ack = trial % 2 == 1;
    auto deadline = std::chrono::steady_clock::now() + extra;
    auto hung = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::string buffer;
    char chunk[4096];
    bool killed = false;
    while (true) {
      if (from_first_ack) {
        bool acked_once = buffer.find('\n') != std::string::npos;
        deadline = acked_once ? std::min(deadline, std::chrono::steady_clock::now() + extra) : hung;
        if (acked_once) from_first_ack = false;
      }
      if (!killed && std::chrono::steady_clock::now() >= deadline) {
        kill(pid, SIGKILL);
        killed = true;
      }
      fd_set set;
      FD_ZERO(&set);
      FD_SET(fds[0], &set);
      timeval tv{0, 2000};
      if (select(fds[0] + 1, &set, nullptr, nullptr, &tv) > 0) {
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n <= 0) break;  // the child is gone and the pipe drained
        buffer.append(chunk, static_cast<size_t>(n));
      }
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "the writer stopped by itself: exit " << WEXITSTATUS(status);
    // Only complete lines are acknowledgements; a line cut by the kill was never acknowledged.
    std::string prefix = "t" + std::to_string(trial % 4);
    std::istringstream lines(buffer.substr(0, buffer.rfind('\n') + 1));
    std::string word;
    long i = -1, last = -1;
    while (lines >> word >> i) {
      for (const auto& [k, v] : crash::op(prefix, i)) acked[k] = v;
      last = i;
      ++total_acks;
    }
    // The operation after the last acknowledgement may have committed before the kill: durable
    // but never acknowledged, and allowed to supersede.
    auto in_flight = crash::op(prefix, last + 1);
    Options o;
    o.path = file;
    auto store = LocalStore::open(o);
    ASSERT_TRUE(store.ok()) << "trial " << trial << ": " << store.status().ToString();
    std::map<std::string, std::optional<std::string>> committed_in_flight;
    for (const auto& [k, v] : acked) {
      auto r = (*store)->record("crash", k);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_TRUE(r->has_value()) << "trial " << trial << ": acknowledged key " << k
                                  << " is missing";
      auto later = in_flight.find(k);
      bool superseded = later != in_flight.end() && (*r)->value == later->second;
      EXPECT_TRUE((*r)->value == v || superseded) << "trial " << trial << ", key " << k;
      if (superseded) committed_in_flight[k] = (*r)->value;
      EXPECT_TRUE((*r)->dirty) << "an unpushed write must stay dirty";
    }
    // A batch is one transaction: of its keys whose new value differs from the old, either all
    // show the new value or none does.
    int changed = 0, landed = 0;
    for (const auto& [k, v] : in_flight) {
      auto before = acked.find(k);
      if (before != acked.end() && before->second == v) continue;
      ++changed;
      auto r = (*store)->record("crash", k);
      if (r.ok() && r->has_value() && (*r)->value == v) ++landed;
    }
    EXPECT_TRUE(landed == 0 || landed == changed) << "trial " << trial << ": a torn batch";
    // What committed is durable: later trials expect it.
    for (const auto& [k, v] : committed_in_flight) acked[k] = v;
    auto info = (*store)->dataset("crash");
    if (info.ok() && info->has_value()) {
      auto live = (*store)->get_all("crash");
      EXPECT_EQ((*info)->record_count, static_cast<int64_t>(live->size()))
          << "stats agree with rows";
    }
  }
  EXPECT_GE(total_acks, static_cast<size_t>(kTrials / 2)) << "the trials did real work";
  std::cout << "crash test: " << kTrials << " SIGKILLs, " << total_acks
            << " acknowledged writes, 0 lost\n";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cairn::localstore
