// Connections benchmark: a game's online population on one cairn-server (a child process,
// SQLite). One player's N devices (10,000 by default) all subscribe to one dataset and listen,
// first over WebSocket, then on the long poll; a load generator holds them all from one thread
// (tests/fixtures/listener_crowd.h), not a thread each.
//
// Figures, each side by side in this run:
//  - connections held, and the server's memory per connection: (RSS while N listen - RSS before)
//    / N;
//  - one write to the dataset all N subscribe to: the time until each listener heard it (p50,
//    p99, the last);
//  - 64 active devices' sessions per second and p99 latency while N listen on the long poll,
//    against the same with none listening;
//  - at the server's stop, how many waiting polls were answered.
//
// Run: build-release/bin/connections_bench [--listeners N] [--active 64] [--seconds S] [--out F]
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include "bench/floor.h"
#include "bench/report.h"
#include "cairn/cognito/identity.h"
#include "cairn/cognito/sync.h"
#include "tests/fixtures/listener_crowd.h"
#include "tests/temp_dir.h"

namespace cairn::bench {
namespace {

constexpr char kAdminKey[] = "AKIDCAIRNCONN";
constexpr char kAdminSecret[] = "cairn-connections-admin-secret";

size_t rss_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

void raise_own_file_limit(rlim_t want) {
  rlimit l{};
  getrlimit(RLIMIT_NOFILE, &l);
  if (l.rlim_cur < want) {
    l.rlim_cur = std::min(want, l.rlim_max);
    setrlimit(RLIMIT_NOFILE, &l);
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

struct Player {
  std::string identity_id;
  std::shared_ptr<CognitoIdentityCredentialsProvider> provider;
  std::unique_ptr<CognitoSyncClient> sync;
};

ClientConfig config_for(const std::string& url, CredentialsProviderPtr credentials) {
  ClientConfig c;
  c.endpoint = url;
  c.region = "us-east-1";
  c.credentials = std::move(credentials);
  return c;
}

Player new_player(const std::string& url, const std::string& pool) {
  auto identity = std::shared_ptr<CognitoIdentityClient>(
      std::move(CognitoIdentityClient::create(config_for(
                    url, std::make_shared<StaticCredentialsProvider>(kAdminKey, kAdminSecret))))
          .value());
  CognitoIdentityProviderOptions o;
  o.identity_pool_id = pool;
  auto provider = std::make_shared<CognitoIdentityCredentialsProvider>(identity, o);
  std::string id = provider->identity_id().value();
  auto sync = std::move(CognitoSyncClient::create(config_for(url, provider))).value();
  return {id, provider, std::move(sync)};
}

struct Sessions {
  double per_second = 0;
  double p99_ms = 0;
  size_t failed = 0;
};

// `devices` players each run sync sessions (ListRecords, then UpdateRecords of 10 records) for
// `seconds`, as fast as the server answers.
Sessions run_sessions(const std::vector<Player>& players, const std::string& pool, double seconds) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(players.size());
  std::atomic<size_t> failed{0};
  std::vector<std::thread> threads;
  auto started = std::chrono::steady_clock::now();
  for (size_t i = 0; i < players.size(); ++i) {
    threads.emplace_back([&, i] {
      const Player& p = players[i];
      int64_t round = 0;
      while (!stop) {
        auto t0 = std::chrono::steady_clock::now();
        auto lr =
            p.sync->list_records({pool, p.identity_id, "load", 0, std::nullopt, 1, std::nullopt});
        if (!lr.ok()) {
          ++failed;
          continue;
        }
        std::vector<wire::RecordPatch> patches;
        for (int k = 0; k < 10; ++k) {
          patches.push_back({wire::kOpReplace, "k" + std::to_string(k),
                             "value-" + std::to_string(round), *lr->dataset_sync_count,
                             std::nullopt});
        }
        auto ur =
            p.sync->update_records({pool, p.identity_id, "load", std::nullopt, std::move(patches),
                                    *lr->sync_session_token, std::nullopt});
        if (!ur.ok()) {
          ++failed;
          continue;
        }
        ++round;
        latencies[i].push_back(seconds_since(t0) * 1000);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  double elapsed = seconds_since(started);
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  return {static_cast<double>(all.size()) / elapsed, percentile(all, 0.99), failed.load()};
}

struct Heard {
  size_t listeners = 0;  // that heard the write
  double p50_ms = 0, p99_ms = 0, last_ms = 0;
};

// One write to the dataset every listener subscribes to; waits until each has heard it.
Heard one_write(testing::ListenerCrowd& crowd, Player& owner, const std::string& pool, size_t n) {
  auto t0 = std::chrono::steady_clock::now();
  auto lr =
      owner.sync->list_records({pool, owner.identity_id, "save", 0, std::nullopt, 1, std::nullopt});
  int64_t count = lr.ok() ? *lr->dataset_sync_count : 0;
  auto ur = owner.sync->update_records(
      {pool,
       owner.identity_id,
       "save",
       std::nullopt,
       {{wire::kOpReplace, "level", std::to_string(count + 1), count, std::nullopt}},
       lr.ok() ? *lr->sync_session_token : "",
       std::nullopt});
  if (!ur.ok()) std::fprintf(stderr, "the write failed: %s\n", ur.status().ToString().c_str());
  auto deadline = t0 + std::chrono::seconds(60);
  std::vector<testing::ListenerCrowd::Tally> t;
  for (;;) {
    t = crowd.tallies();
    size_t heard = 0;
    for (const auto& x : t) heard += x.first_heard.has_value();
    if (heard == n || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Heard h;
  std::vector<double> ms;
  for (const auto& x : t) {
    if (!x.first_heard) continue;
    ms.push_back(std::chrono::duration<double, std::milli>(*x.first_heard - t0).count());
  }
  h.listeners = ms.size();
  h.p50_ms = percentile(ms, 0.5);
  h.p99_ms = percentile(ms, 0.99);
  h.last_ms = ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end());
  return h;
}

// Waits until the crowd's listeners all hold a connection (or 60 s pass); how many do. On the way,
// `memory`, unless null, gets the server's RSS in MiB against the listeners connected so far.
size_t wait_connected(testing::ListenerCrowd& crowd, size_t n, pid_t server, Series::Line* memory) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  size_t next_sample = 0;
  for (;;) {
    size_t held = crowd.polling();
    if (memory != nullptr && held >= next_sample) {
      memory->points.emplace_back(static_cast<double>(held),
                                  static_cast<double>(rss_of(server)) / (1024.0 * 1024.0));
      next_sample = held + std::max<size_t>(1, n / 20);
    }
    if (held >= n || std::chrono::steady_clock::now() > deadline) return held;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int run(size_t listeners, size_t active, double seconds, const std::string& out) {
  raise_own_file_limit(static_cast<rlim_t>(listeners) * 2 + 1024);
  testing::TempDir dir("cairn-connections");
  std::unique_ptr<Child> server = Child::spawn(std::vector<std::string>{
      self_dir() + "/cairn-server", "--listen", "127.0.0.1:0", "--db",
      "sqlite:" + dir.path + "/cairn.db", "--bootstrap-pool", "load", "--admin-access-key-id",
      kAdminKey, "--admin-secret-access-key", kAdminSecret, "--max-listeners-per-identity",
      std::to_string(listeners + 16), "--max-connections", std::to_string(listeners * 2 + 1024),
      "--log-level", "warn", "--data-dir", dir.path,
      // A capacity run: its listeners share one identity, and its devices sync as fast as they
      // are answered, which the per-identity and per-address limits would hold back.
      "--identity-reads-per-second", "0", "--identity-writes-per-second", "0",
      "--source-per-second", "0", "--pool-requests-per-second", "0"});
  if (!server) return 1;
  std::string pool;
  for (const auto& line : server->lines()) {
    if (line.rfind("identity-pool load ", 0) == 0) pool = line.substr(19);
  }
  std::string url = server->url();
  std::string host = url.substr(url.find("//") + 2);
  int port = std::stoi(host.substr(host.find(':') + 1));

  // One player, `listeners` devices subscribed to its "save".
  Player owner = new_player(url, pool);
  std::vector<testing::ListenerCrowd::Device> devices(listeners);
  {
    std::vector<std::thread> threads;
    for (size_t t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        auto sync = std::move(CognitoSyncClient::create(config_for(url, owner.provider))).value();
        for (size_t i = t; i < listeners; i += 8) {
          auto reg =
              sync->register_device({pool, owner.identity_id, "GCM", "token-" + std::to_string(i)});
          if (!reg.ok()) continue;
          (void)sync->subscribe_to_dataset({pool, owner.identity_id, "save", *reg->device_id});
          devices[i] = {pool, owner.identity_id, *reg->device_id, false};
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  std::vector<Player> players;
  for (size_t i = 0; i < active; ++i) players.push_back(new_player(url, pool));
  auto credentials = owner.provider->credentials().value();

  Report report;
  std::printf("connections: %zu listeners, %zu active devices, %.1f s per load run\n", listeners,
              active, seconds);
  Sessions alone = run_sessions(players, pool, seconds);
  size_t rss_before = rss_of(server->pid());

  // Drawn for the WebSocket phase only: the long poll's comes second, on memory the allocator kept.
  Series memory{"connections_memory",
                "cairn-server memory as WebSocket listeners connect",
                "listening devices",
                "server RSS (MiB)",
                {}};
  Series::Line ws_memory{"WebSocket listeners", {}};

  // WebSocket.
  Heard ws_heard;
  size_t ws_held = 0, ws_rss = 0;
  {
    for (auto& d : devices) d.websocket = true;
    testing::ListenerCrowd crowd("127.0.0.1", port, credentials, 50);
    crowd.start(devices);
    ws_held = wait_connected(crowd, listeners, server->pid(), &ws_memory);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // their watchers settle
    ws_rss = rss_of(server->pid());
    ws_heard = one_write(crowd, owner, pool, listeners);
    crowd.stop();
  }
  // The long poll, with the active devices' load while they wait.
  Heard lp_heard;
  size_t lp_held = 0, lp_rss = 0, answered = 0;
  Sessions crowded;
  {
    for (auto& d : devices) d.websocket = false;
    testing::ListenerCrowd crowd("127.0.0.1", port, credentials, 50);
    crowd.start(devices);
    lp_held = wait_connected(crowd, listeners, server->pid(), nullptr);
    // Each first poll answers at once with the WebSocket phase's notification, still in the
    // mailbox; the write below is the one to time.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      auto t = crowd.tallies();
      bool all = std::all_of(t.begin(), t.end(), [](const auto& x) { return x.answers > 0; });
      if (all || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    crowd.reset_heard();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    lp_rss = rss_of(server->pid());
    crowded = run_sessions(players, pool, seconds);
    lp_heard = one_write(crowd, owner, pool, listeners);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // each polls again
    auto before = crowd.tallies();
    server.reset();  // SIGTERM, then waits for the exit
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (crowd.polling() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto after = crowd.tallies();
    for (size_t i = 0; i < listeners; ++i) answered += after[i].answers > before[i].answers;
    crowd.stop();
  }

  double n = static_cast<double>(listeners);
  report.add(reported("WebSocket listeners held", static_cast<double>(ws_held), "connections"));
  report.add(cost_figure("server memory per WebSocket listener",
                         (static_cast<double>(ws_rss) - static_cast<double>(rss_before)) / n / 1024,
                         "KiB", "target", 20, 1.0));
  report.add(reported("one write heard by WebSocket listeners",
                      static_cast<double>(ws_heard.listeners), "listeners"));
  report.add(cost_figure("WebSocket delivery to all, p99", ws_heard.p99_ms, "ms", "target 1 s",
                         1000, 1.0));
  report.add(reported("WebSocket delivery p50", ws_heard.p50_ms, "ms"));
  report.add(reported("WebSocket delivery, the last", ws_heard.last_ms, "ms"));
  report.add(reported("long-poll listeners held", static_cast<double>(lp_held), "connections"));
  report.add(cost_figure("server memory per long-poll listener",
                         (static_cast<double>(lp_rss) - static_cast<double>(rss_before)) / n / 1024,
                         "KiB", "target", 20, 1.0));
  report.add(cost_figure("long-poll delivery to all, p99", lp_heard.p99_ms, "ms", "target 1 s",
                         1000, 1.0));
  report.add(reported("long-poll delivery, the last", lp_heard.last_ms, "ms"));
  report.add(rate_figure("sessions/s of " + std::to_string(active) + " devices while " +
                             std::to_string(listeners) + " listen",
                         crowded.per_second, "sessions/s", "none listening", alone.per_second,
                         0.9));
  report.add(cost_figure("session p99 while they listen", crowded.p99_ms, "ms", "none listening",
                         alone.p99_ms, 1.2));
  report.add(reported("waiting polls answered at stop", static_cast<double>(answered),
                      "of " + std::to_string(listeners)));
  report.add(
      reported("failed sessions", static_cast<double>(alone.failed + crowded.failed), "sessions"));
  memory.lines = {ws_memory};
  report.add(memory);
  report.print(stdout);
  if (!out.empty() && !report.write(out)) return 1;
  return 0;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) {
  CLI::App app("cairn-server connections: a game's online population on one node");
  size_t listeners = 10000, active = 64;
  double seconds = 5;
  std::string out;
  bool smoke = false;
  app.add_option("--listeners", listeners, "Devices listening at once")->capture_default_str();
  app.add_option("--active", active, "Devices syncing meanwhile")->capture_default_str();
  app.add_option("--seconds", seconds, "Seconds per load run")->capture_default_str();
  app.add_option("--out", out, "Write the figures as JSON here");
  app.add_flag("--smoke", smoke, "200 listeners, 4 active devices, half a second");
  CLI11_PARSE(app, argc, argv);
  if (smoke) {
    listeners = 200;
    active = 4;
    seconds = 0.5;
  }
  return cairn::bench::run(listeners, active, seconds, out);
}
