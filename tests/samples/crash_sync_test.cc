// The cairn CLI killed with SIGKILL at random points of `cairn sync` while writes go on. Each
// trial starts `cairn sync save` on the phone's database and, at the same time, one or two
// `cairn put save KEY VALUE` processes on the same file; the sync is killed after a random delay
// (before, during or after its pull, its push or its write-back), the puts run to their end. A put
// that exited 0 is an acknowledged write. At the end the phone syncs cleanly, a second device
// pulls, and every key on the server, on the phone and on the tablet holds its newest
// acknowledged value.
//
// The phone is the only writer, so `--resolver local` is the truth: anything the server holds
// that differs from the phone's pending value can only be an older push of the phone's own. Both
// devices act on one identity with developer credentials.
//
// CAIRN_CLIENT_CRASH_TRIALS=N changes the number of trials (200 by default); figures are printed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "engine/engine_fixture.h"
#include "test_paths.h"

namespace cairn::testing {
namespace {

// Starts the CLI with `args` (stdout and stderr to /dev/null); returns its pid.
pid_t spawn_cli(const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    std::vector<char*> argv{const_cast<char*>(CAIRN_CLI)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // Developer credentials acting on one identity: the phone and the tablet are one player.
    setenv("AWS_ACCESS_KEY_ID", kAdminKey, 1);
    setenv("AWS_SECRET_ACCESS_KEY", kAdminSecret, 1);
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
    execv(CAIRN_CLI, argv.data());
    _exit(127);
  }
  return pid;
}
// Runs the CLI and returns what it printed.
std::string capture_cli(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) return "";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    std::vector<char*> argv{const_cast<char*>(CAIRN_CLI)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(CAIRN_CLI, argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  return out;
}
// `cairn ls` output: one "KEY<TAB>VALUE" line per record.
std::map<std::string, std::string> parse_ls(const std::string& text) {
  std::map<std::string, std::string> out;
  for_each_line(text, [&](const std::string& line) {
    size_t tab = line.find('\t');
    if (tab != std::string::npos) out[line.substr(0, tab)] = line.substr(tab + 1);
  });
  return out;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(ClientCrash, SyncKilledAnywhereWhileWritesGoOnLosesNoAcknowledgedWrite) {
  const char* env = std::getenv("CAIRN_CLIENT_CRASH_TRIALS");
  const int trials = env ? std::atoi(env) : 200;
  TestServer ts;
  TempDir dir{"cairn-client-crash"};
  auto player = ts.admin_identity()->get_id({std::nullopt, ts.pool(), {}});
  ASSERT_TRUE(player.ok());
  const std::string identity_id = *player->identity_id;
  auto device = [&](const std::string& name) {
    return std::vector<std::string>{"--endpoint",    ts.url(),    "--pool",
                                    ts.pool(),       "--db",      dir.path + "/" + name + ".db",
                                    "--identity-id", identity_id, "--resolver",
                                    "local"};
  };
  auto with = [](std::vector<std::string> base, std::vector<std::string> more) {
    base.insert(base.end(), more.begin(), more.end());
    return base;
  };
  // The phone gets its identity with a first, clean sync.
  ASSERT_EQ(wait_exit(spawn_cli(with(device("phone"), {"put", "save", "k0", "0"}))), 0);
  ASSERT_EQ(wait_exit(spawn_cli(with(device("phone"), {"sync", "save"}))), 0);
  std::map<std::string, std::string> newest{{"k0", "0"}};

  std::mt19937_64 rng(20261202);
  int64_t stamp = 0;
  uint64_t killed = 0, finished = 0, acknowledged = 1, refused = 0;

  // The kill window is measured on this machine, not fixed: a sync (with a put beside it, as in
  // the trials) is timed from its start to its exit, and kills land uniformly within the median
  // of nine. The window then follows the machine as the trials go (a sync that finished before
  // its kill narrows it by a tenth, a killed one widens it by a tenth), which holds the share of
  // kills near half on a fast machine and a slow one alike, spread across the whole sync.
  using Micros = std::chrono::microseconds;
  std::vector<Micros> timed;
  for (int i = 0; i < 9; ++i) {
    auto started = std::chrono::steady_clock::now();
    pid_t sync = spawn_cli(with(device("phone"), {"sync", "save"}));
    std::string key = "k" + std::to_string(i % 10), value = std::to_string(++stamp);
    pid_t put = spawn_cli(with(device("phone"), {"put", "save", key, value}));
    ASSERT_EQ(wait_exit(sync), 0);
    timed.push_back(std::chrono::duration_cast<Micros>(std::chrono::steady_clock::now() - started));
    if (wait_exit(put) == 0) {
      ++acknowledged;
      newest[key] = value;
    } else {
      ++refused;
    }
  }
  std::sort(timed.begin(), timed.end());
  const Micros measured = timed[timed.size() / 2];
  double window_us = static_cast<double>(measured.count());

  for (int trial = 0; trial < trials; ++trial) {
    auto started = std::chrono::steady_clock::now();
    pid_t sync = spawn_cli(with(device("phone"), {"sync", "save"}));
    auto kill_at =
        started +
        Micros(static_cast<int64_t>(std::uniform_real_distribution<double>(0, window_us)(rng)));
    std::vector<std::pair<pid_t, std::pair<std::string, std::string>>> puts;
    // One or two writers on distinct keys, so that each key's writes are ordered by their stamps.
    int writers = 1 + static_cast<int>(rng() % 2);
    size_t first_key = rng() % 10;
    for (int w = 0; w < writers; ++w) {
      std::string key = "k" + std::to_string((first_key + static_cast<size_t>(w) * 5) % 10);
      std::string value = std::to_string(++stamp);
      puts.push_back({spawn_cli(with(device("phone"), {"put", "save", key, value})), {key, value}});
      if (w == 0) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 5000));
    }
    std::this_thread::sleep_until(kill_at);
    kill(sync, SIGKILL);
    int code = wait_exit(sync);
    if (code == 128 + SIGKILL) {
      ++killed;
      window_us *= 1.1;
    } else {
      ++finished;
      window_us = std::max(window_us * 0.9, 100.0);
    }
    // The puts run to their end: one that exited 0 is acknowledged.
    for (auto& [pid, kv] : puts) {
      if (wait_exit(pid) == 0) {
        ++acknowledged;
        newest[kv.first] = kv.second;  // trials are sequential: the newest of its key
      } else {
        ++refused;
      }
    }
  }

  // Faults over: the phone syncs cleanly, then the tablet pulls.
  ASSERT_EQ(wait_exit(spawn_cli(with(device("phone"), {"sync", "save"}))), 0);
  ASSERT_EQ(wait_exit(spawn_cli(with(device("phone"), {"sync", "save"}))), 0);
  ASSERT_EQ(wait_exit(spawn_cli(with(device("tablet"), {"sync", "save"}))), 0);
  auto on_server = server_records(ts, identity_id, "save");
  auto on_phone = parse_ls(capture_cli(with(device("phone"), {"ls", "save"})));
  auto on_tablet = parse_ls(capture_cli(with(device("tablet"), {"ls", "save"})));
  uint64_t lost = 0;
  for (const auto& [key, value] : newest) {
    auto it = on_server.find(key);
    if (it == on_server.end() || it->second != value) {
      ++lost;
      ADD_FAILURE() << key << ": newest acknowledged " << value << ", server holds "
                    << (it == on_server.end() ? "nothing" : it->second);
    }
  }
  EXPECT_EQ(on_server, newest);
  EXPECT_EQ(on_phone, on_server);
  EXPECT_EQ(on_tablet, on_server);
  std::printf(
      "\nclient crashes: %d trials, %llu syncs killed, %llu finished first; %llu "
      "acknowledged writes (%llu puts refused), %zu keys, lost %llu; a sync took %.1f ms "
      "(median of 9), the kill window ended at %.1f ms\n",
      trials, static_cast<unsigned long long>(killed), static_cast<unsigned long long>(finished),
      static_cast<unsigned long long>(acknowledged), static_cast<unsigned long long>(refused),
      newest.size(), static_cast<unsigned long long>(lost), measured.count() / 1000.0,
      window_us / 1000.0);
  // The window holds kills near half of the trials whatever the machine's speed; a quarter is
  // far below that, so this fails only if kills stopped landing inside syncs.
  EXPECT_GT(killed, static_cast<uint64_t>(trials) / 4) << "too few kills landed mid-sync";
}

}  // namespace
}  // namespace cairn::testing
