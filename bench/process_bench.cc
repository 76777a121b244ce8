// `cairn put` as a game's script or a tester runs it: a whole process that opens the device's
// store, writes one record and exits, against its floor, the `sqlite3` shell inserting one row
// into a WAL database with the same pragmas (also a whole process). The two run in turn, round
// after round, so a noisy moment of the machine hits both alike; the figure is the median.
//
//   cairn put (whole process)      <= 1.5x the sqlite3 shell's
//
// Run: build-release/bin/process_bench [--smoke] [--out FILE]   (bench/run.py runs it for you)
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>

#include "bench/floor.h"
#include "bench/report.h"
#include "tests/temp_dir.h"

extern char** environ;

namespace cairn::bench {
namespace {

// Runs argv as a process with stdout and stderr closed; its wall time in seconds, or -1 when it
// could not start or exited with a failure.
double run_process(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  auto started = std::chrono::steady_clock::now();
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  double seconds = seconds_since(started);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? seconds : -1;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int run(bool smoke, const std::string& out, const std::string& sqlite3) {
  testing::TempDir tmp{"cairn-process-bench"};
  const std::string cairn = self_dir() + "/cairn";
  const std::string device = tmp.path + "/device.db";
  const std::string shell_db = tmp.path + "/shell.db";
  const std::string value(100, 'v');
  // The device exists already, as it would after a game's first run: its schema is in place.
  if (run_process({cairn, "--db", device, "put", "settings", "warm", value}) < 0) {
    std::cerr << "process_bench: " << cairn << " put failed\n";
    return 1;
  }
  if (run_process({sqlite3, shell_db,
                   "PRAGMA journal_mode=WAL; CREATE TABLE records(owner TEXT, dataset TEXT, key "
                   "TEXT, value TEXT, PRIMARY KEY(owner, dataset, key));"}) < 0) {
    std::cerr << "process_bench: " << sqlite3 << " failed (is the sqlite3 package installed?)\n";
    return 1;
  }
  const int rounds = smoke ? 3 : 41;
  std::vector<double> ours, shell;
  for (int r = 0; r < rounds; ++r) {
    std::string key = "key-" + std::to_string(r);
    double a = run_process({cairn, "--db", device, "put", "settings", key, value});
    double b =
        run_process({sqlite3, shell_db,
                     "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; "
                     "INSERT OR REPLACE INTO records VALUES('owner', 'settings', '" +
                         key + "', '" + value + "');"});
    if (a < 0 || b < 0) {
      std::cerr << "process_bench: a run failed in round " << r << "\n";
      return 1;
    }
    ours.push_back(a);
    shell.push_back(b);
  }
  Report report;
  report.add(cost_figure("cli.put: one record, whole process", median(ours) * 1e3, "ms",
                         "the sqlite3 shell inserting one row into a WAL database",
                         median(shell) * 1e3, 1.5));
  report.print(stdout);
  if (!out.empty() && !report.write(out)) return 1;
  return 0;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) {
  CLI::App app{"process_bench: `cairn put` as a whole process against the sqlite3 shell's",
               "process_bench"};
  bool smoke = false;
  std::string out, sqlite3 = "/usr/bin/sqlite3";
  app.add_flag("--smoke", smoke, "A few rounds: checks that it works");
  app.add_option("--out", out, "Write the figures as JSON here");
  app.add_option("--sqlite3", sqlite3, "The sqlite3 shell")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return cairn::bench::run(smoke, out, sqlite3);
}
