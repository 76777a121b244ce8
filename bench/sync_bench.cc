// End-to-end sync figures: the engine (SyncManager, its SQLite cache, libcurl, SigV4) against an
// in-process cairn-server (SQLite) on loopback. Each figure is measured beside its floor in the
// same run: the exact requests the sync sent (same URLs, headers and bodies) replayed by a bare
// libcurl loop to the minimal server, which answers with canned bodies of the same bytes.
//
// The floors also hold the storage any design must pay: the same rows written by raw SQLite on
// the server and on the device (sqlite_floors).
//
//   small sync      1 changed record in a 1000-record dataset     <= 2x 2 bare round trips + a
//                                                                  one-row transaction each side
//   cost growth     that sync against the same on a 1-record set  <= 1.1x time, <= 1.05x bytes
//   full push       1000 records of 1,000-byte values             <= 1.5x HTTP + server insert +
//                                                                  device sync-state update, at
//                                                                  most 3 requests, and where the
//                                                                  time goes
//   full pull       that dataset onto a fresh device              <= 1.5x HTTP + device insert,
//                                                                  requests <= 1 + pages
//   peak RSS        20 full datasets (1 MiB each), pulled and pushed, in a child process
//                                                                  <= 2x the data + 16 MB
//   series          sync time against dataset size (push, pull, one change)
//
// Run: build-release/bin/sync_bench [--smoke] [--out FILE]   (bench/run.py runs it for you)
#include <sqlite3.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <future>
#include <iostream>
#include <mutex>

#include "bench/floor.h"
#include "bench/raw_tables.h"
#include "bench/report.h"
#include "cairn/cognito/identity.h"
#include "cairn/sync_manager.h"
#include "server/server.h"
#include "tests/fixtures/game_saves.h"
#include "tests/temp_dir.h"
#include "transport/sigv4.h"

namespace cairn::bench {
namespace {

constexpr char kAdminKey[] = "AKIDCAIRNBENCH";
constexpr char kAdminSecret[] = "cairn-bench-admin-secret";

struct Exchange {
  HttpRequest request;
  HttpResponse response;
};

// Passes requests to libcurl and keeps the Cognito Sync exchanges of the window it is armed for.
class RecordingTransport final : public HttpTransport {
 public:
  explicit RecordingTransport(bool gzip = true) {
    HttpOptions o;
    o.accept_gzip = gzip;
    inner_ = make_curl_transport(o);
  }
  Result<HttpResponse> send(const HttpRequest& request) override {
    auto response = inner_->send(request);
    std::lock_guard<std::mutex> l(mu_);
    if (armed_ && response.ok()) exchanges_.push_back({request, *response});
    return response;
  }
  void arm() {
    std::lock_guard<std::mutex> l(mu_);
    armed_ = true;
    exchanges_.clear();
  }
  std::vector<Exchange> take() {
    std::lock_guard<std::mutex> l(mu_);
    armed_ = false;
    return std::move(exchanges_);
  }

 private:
  std::shared_ptr<HttpTransport> inner_;
  std::mutex mu_;
  bool armed_ = false;
  std::vector<Exchange> exchanges_;
};

std::string target_of(const std::string& url) { return url.substr(url.find('/', 8)); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The floor of a recorded sync: its requests replayed to the minimal server by a bare libcurl
// loop; the median time of `reps` replays, in seconds.
double replay_floor(const std::vector<Exchange>& exchanges, int reps) {
  FloorServer floor;
  for (const auto& e : exchanges)
    floor.set_reply(e.request.method, target_of(e.request.url), e.response.body);
  if (!floor.start(4)) return 0;
  BareCurl curl;
  std::string body;
  std::vector<double> times;
  for (int r = 0; r < reps + 1; ++r) {  // the first replay opens the connection
    auto started = std::chrono::steady_clock::now();
    for (const auto& e : exchanges) {
      Headers headers;
      for (const auto& [name, value] : e.request.headers) {
        if (!transport::iequals(name, "Host") && !transport::iequals(name, "Content-Length"))
          headers.emplace_back(name, value);
      }
      curl.exchange(e.request.method, floor.url() + target_of(e.request.url), headers,
                    e.request.body, &body);
    }
    if (r > 0) times.push_back(seconds_since(started));
  }
  return median(times);
}

std::string value_of(int i, int version, size_t size) {
  std::string v = "v" + std::to_string(version) + "-" + std::to_string(i) + "-";
  v.resize(size, static_cast<char>('a' + (i + version) % 26));
  return v;
}
std::string key_of(int i) {
  char k[16];
  std::snprintf(k, sizeof k, "key-%04d", i);
  return k;
}
std::map<std::string, std::optional<std::string>> full_dataset(int records, size_t value_bytes,
                                                               int version) {
  std::map<std::string, std::optional<std::string>> batch;
  for (int i = 0; i < records; ++i) batch[key_of(i)] = value_of(i, version, value_bytes);
  return batch;
}

struct Bench {
  testing::TempDir tmp{"cairn-sync-bench"};
  std::string dir = tmp.path;
  std::unique_ptr<server::Server> server;
  std::string pool;
  std::shared_ptr<CognitoIdentityClient> admin;
  int device_seq = 0;

  struct Device {
    std::shared_ptr<RecordingTransport> wire;
    std::unique_ptr<SyncManager> manager;
  };

  void start() {
    server::ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.db = "sqlite:" + dir + "/server.db";
    config.bootstrap_pools = {"bench"};
    config.options.admin = {kAdminKey, kAdminSecret};
    auto started = server::Server::start(config);
    if (!started.ok()) throw std::runtime_error(started.status().ToString());
    server = std::move(*started);
    pool = server->pools()[0].second;
    ClientConfig c;
    c.endpoint = server->url();
    c.region = "us-east-1";
    c.credentials = std::make_shared<StaticCredentialsProvider>(kAdminKey, kAdminSecret);
    admin =
        std::shared_ptr<CognitoIdentityClient>(std::move(CognitoIdentityClient::create(c)).value());
  }
  ~Bench() { server.reset(); }  // before the directory holding its database goes

  // A developer-authenticated player's login token.
  std::string player(const std::string& name) {
    auto r = admin->get_open_id_token_for_developer_identity(
        {pool, std::nullopt, {{"login.cairn", name}}, {}, std::nullopt});
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    return *r->token;
  }

  // A fresh device of the player, with its identity and credentials already fetched, so a timed
  // sync holds only Cognito Sync calls.
  Device device(const std::string& token, bool gzip = true) {
    Device d;
    d.wire = std::make_shared<RecordingTransport>(gzip);
    SyncManagerOptions o;
    o.endpoint = server->url();
    o.region = "us-east-1";
    o.identity_pool_id = pool;
    o.database_path = dir + "/device-" + std::to_string(++device_seq) + ".db";
    o.logins = {{"cognito-identity.amazonaws.com", token}};
    o.transport = d.wire;
    auto m = SyncManager::open(std::move(o));
    if (!m.ok()) throw std::runtime_error(m.status().ToString());
    d.manager = std::move(*m);
    auto warm = d.manager->refresh_dataset_metadata();
    if (!warm.ok()) throw std::runtime_error(warm.status().ToString());
    return d;
  }

  // One timed sync; throws when it fails (a figure from a failed sync means nothing).
  double timed_sync(Device& d, const std::string& dataset, std::vector<Exchange>* exchanges,
                    uint64_t* wire_bytes = nullptr) {
    auto before = d.manager->stats();
    d.wire->arm();
    auto started = std::chrono::steady_clock::now();
    SyncResult r = d.manager->synchronize(dataset).get();
    double seconds = seconds_since(started);
    *exchanges = d.wire->take();
    if (!r.status.ok())
      throw std::runtime_error("sync of " + dataset + " failed: " + r.status.ToString());
    auto after = d.manager->stats();
    if (wire_bytes) {
      *wire_bytes =
          (after.bytes_sent - before.bytes_sent) + (after.bytes_received - before.bytes_received);
    }
    return seconds;
  }
};

// Client-side SigV4 signing of a recorded request, alone: the median of `reps`, in seconds.
double signing_time(const HttpRequest& request, int reps) {
  std::string target = target_of(request.url);
  size_t q = target.find('?');
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    transport::SigV4Request req{request.method,
                                target.substr(0, q),
                                q == std::string::npos ? "" : target.substr(q + 1),
                                {{"Host", "127.0.0.1"}},
                                request.body};
    auto started = std::chrono::steady_clock::now();
    Status s =
        transport::sign_request(req, {kAdminKey, kAdminSecret, "session-token", {}},
                                {"us-east-1", "cognito-sync"}, std::chrono::system_clock::now());
    times.push_back(seconds_since(started));
    if (!s.ok()) throw std::runtime_error(s.ToString());
  }
  return median(times);
}

server::PhaseTotals sum_sync_phases(server::Api& api) {
  server::PhaseTotals sum;
  for (const auto& [op, t] : api.phase_totals()) {
    if (op != "ListRecords" && op != "UpdateRecords") continue;
    sum.requests += t.requests;
    sum.handler_ns += t.handler_ns;
    sum.auth_ns += t.auth_ns;
    sum.parse_ns += t.parse_ns;
    sum.storage_ns += t.storage_ns;
  }
  return sum;
}

// Adds the server's time between two sums (sum_sync_phases) to `into`; its requests stay as set.
void add_phases(server::PhaseTotals& into, const server::PhaseTotals& before,
                const server::PhaseTotals& after) {
  into.handler_ns += after.handler_ns - before.handler_ns;
  into.auth_ns += after.auth_ns - before.auth_ns;
  into.parse_ns += after.parse_ns - before.parse_ns;
  into.storage_ns += after.storage_ns - before.storage_ns;
}

// What any design that keeps the records in SQLite pays, whatever its protocol and schema: the
// same rows written with the same pragmas into equivalent tables, statements prepared once, one
// transaction each; the server's commits synced to disk, as cairn-server's default durability
// has them. Medians of `reps`, in seconds.
struct SqliteFloors {
  double server_insert = 0;  // the server stores a pushed dataset (records + its count index)
  double client_state = 0;   // the device marks every record pushed: new count, clean, in a
                             // table of sync state that does not hold the values
  double client_update = 0;  // the same in the records table, rewriting every row (for reference)
  double client_insert = 0;  // a fresh device stores a pulled dataset
  double server_one = 0;     // the server stores one record, in a transaction of its own
  double client_one = 0;     // the device marks one record pushed, in a transaction of its own
};

SqliteFloors sqlite_floors(const std::string& dir, int records, size_t value_bytes, int reps) {
  sqlite3* db = nullptr;
  sqlite3_open((dir + "/sqlite-floor.db").c_str(), &db);
  sqlite3_exec(db, kRawPragmas, nullptr, nullptr, nullptr);
  sqlite3_exec(db, kRawServerRecords, nullptr, nullptr, nullptr);
  sqlite3_exec(db, kRawDeviceRecords, nullptr, nullptr, nullptr);
  sqlite3_exec(db, kRawDeviceState, nullptr, nullptr, nullptr);
  sqlite3_stmt *server = nullptr, *insert = nullptr, *update = nullptr, *state_insert = nullptr,
               *state = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT OR REPLACE INTO server_records VALUES(?, ?, ?, ?, 1, 1700000000000, "
                     "?, 1)",
                     -1, &server, nullptr);
  sqlite3_prepare_v2(db,
                     "INSERT INTO records VALUES('owner', ?, ?, ?, 1, 1700000000000, 'server', "
                     "1700000000000, 0, 0, NULL, 2)",
                     -1, &insert, nullptr);
  sqlite3_prepare_v2(db,
                     "UPDATE records SET sync_count = sync_count + 1, dirty = 0 WHERE owner = "
                     "'owner' AND dataset = ? AND key = ?",
                     -1, &update, nullptr);
  sqlite3_prepare_v2(db, kRawStateInsert, -1, &state_insert, nullptr);
  sqlite3_prepare_v2(db, kRawStateMarkClean, -1, &state, nullptr);
  const std::string identity = "us-east-1:0b4a7c6e-1111-2222-3333-444455556666";
  // Each side's writes with that side's durability: the server's commits are synced, the
  // device's are not (both defaults).
  auto timed = [&](sqlite3_stmt* stmt, size_t rows, const std::function<void(size_t)>& bind) {
    bool server_side = stmt == server;
    sqlite3_exec(db, server_side ? kRawServerSynchronous : kRawDeviceSynchronous, nullptr, nullptr,
                 nullptr);
    auto started = std::chrono::steady_clock::now();
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    for (size_t i = 0; i < rows; ++i) {
      bind(i);
      sqlite3_step(stmt);
      sqlite3_reset(stmt);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    return seconds_since(started);
  };
  auto text = [](sqlite3_stmt* st, int col, const std::string& v) {
    sqlite3_bind_text(st, col, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  };
  const auto n = static_cast<size_t>(records);
  std::vector<double> server_t, insert_t, update_t, state_t, server_one_t, client_one_t;
  for (int r = 0; r < reps; ++r) {
    std::string dataset = "floor-" + std::to_string(r);
    std::vector<std::string> keys, values;
    for (int i = 0; i < records; ++i) {
      keys.push_back(key_of(i));
      values.push_back(value_of(i, r, value_bytes));
    }
    auto server_row = [&](size_t i) {
      text(server, 1, identity);
      text(server, 2, dataset);
      text(server, 3, keys[i]);
      text(server, 4, values[i]);
      text(server, 5, identity);
    };
    auto by_key = [&](sqlite3_stmt* st) {
      return [&, st](size_t i) {
        text(st, 1, dataset);
        text(st, 2, keys[i]);
      };
    };
    server_t.push_back(timed(server, n, server_row));
    insert_t.push_back(timed(insert, n, [&](size_t i) {
      text(insert, 1, dataset);
      text(insert, 2, keys[i]);
      text(insert, 3, values[i]);
    }));
    update_t.push_back(timed(update, n, by_key(update)));
    timed(state_insert, n, by_key(state_insert));  // the dirty rows a push starts from
    state_t.push_back(timed(state, n, by_key(state)));
    // One record each side, as a small sync writes: the rows are there already.
    for (int one = 0; one < 5; ++one) {
      server_one_t.push_back(timed(server, 1, server_row));
      client_one_t.push_back(timed(state, 1, by_key(state)));
    }
  }
  for (sqlite3_stmt* st : {server, insert, update, state_insert, state}) sqlite3_finalize(st);
  sqlite3_close(db);
  SqliteFloors f;
  f.server_insert = median(server_t);
  f.client_state = median(state_t);
  f.client_update = median(update_t);
  f.client_insert = median(insert_t);
  f.server_one = median(server_one_t);
  f.client_one = median(client_one_t);
  return f;
}

struct SizePoint {
  int records;
  double push_s, push_floor_s, pull_s, pull_floor_s, small_s, small_floor_s;
  size_t push_requests, pull_requests, pull_pages;
  uint64_t small_bytes;
  server::PhaseTotals push_phases;  // server time in the pushes, summed over the reps
  server::PhaseTotals pull_phases;  // and in the fresh devices' pulls
  double push_sign_s;               // client signing of one push's UpdateRecords
};

// Push, pull and one-change syncs of a dataset of `records` records, each `reps` times.
SizePoint measure_size(Bench& b, int records, size_t value_bytes, int reps, Bench::Device* kept) {
  SizePoint p{};
  p.records = records;
  std::string token = b.player("size-" + std::to_string(records));
  auto writer = b.device(token);
  std::vector<double> push, push_floor, pull, pull_floor;
  std::vector<Exchange> ex;
  for (int r = 0; r < reps; ++r) {
    std::string name = "full-" + std::to_string(r);
    auto ds = *writer.manager->open_or_create_dataset(name);
    if (!ds->put_all(full_dataset(records, value_bytes, 0)).ok())
      throw std::runtime_error("put_all failed");
    auto before = sum_sync_phases(b.server->api());
    push.push_back(b.timed_sync(writer, name, &ex));
    add_phases(p.push_phases, before, sum_sync_phases(b.server->api()));
    p.push_requests = ex.size();
    push_floor.push_back(replay_floor(ex, 3));
    for (const auto& e : ex) {
      if (e.request.method == "POST") p.push_sign_s = signing_time(e.request, 5);
    }
  }
  // Fresh devices pull the first dataset.
  for (int r = 0; r < reps; ++r) {
    auto reader = b.device(token);
    auto before = sum_sync_phases(b.server->api());
    pull.push_back(b.timed_sync(reader, "full-0", &ex));
    add_phases(p.pull_phases, before, sum_sync_phases(b.server->api()));
    p.pull_requests = ex.size();
    p.pull_pages = static_cast<size_t>(std::count_if(
        ex.begin(), ex.end(), [](const Exchange& e) { return e.request.method == "GET"; }));
    pull_floor.push_back(replay_floor(ex, 3));
    auto all = (*reader.manager->open_or_create_dataset("full-0"))->get_all();
    if (!all.ok() || all->size() != static_cast<size_t>(records))
      throw std::runtime_error("the pull lost records");
  }
  p.push_s = median(push);
  p.push_floor_s = median(push_floor);
  p.pull_s = median(pull);
  p.pull_floor_s = median(pull_floor);
  p.push_phases.requests = static_cast<uint64_t>(reps);
  p.pull_phases.requests = static_cast<uint64_t>(reps);
  *kept = std::move(writer);
  return p;
}

// One changed record, synced, on every size in turn, round after round: the sizes are compared
// side by side, so a noisy moment of the machine hits them all alike.
void measure_small_syncs(Bench& b, std::vector<SizePoint>& points,
                         std::vector<Bench::Device>& writers, size_t value_bytes, int rounds) {
  std::vector<std::vector<double>> times(points.size()), floors(points.size());
  std::vector<Exchange> ex;
  for (int r = 0; r < rounds + 1; ++r) {
    for (size_t i = 0; i < points.size(); ++i) {
      int records = points[i].records;
      auto ds = *writers[i].manager->open_or_create_dataset("full-0");
      if (!ds->put(key_of(r % records), value_of(r % records, r + 1, value_bytes)).ok())
        throw std::runtime_error("put failed");
      uint64_t bytes = 0;
      double t = b.timed_sync(writers[i], "full-0", &ex, &bytes);
      if (r == 0) continue;  // the first also picks up the fresh devices' state
      times[i].push_back(t);
      points[i].small_bytes = bytes;
      floors[i].push_back(replay_floor(ex, 3));
    }
  }
  for (size_t i = 0; i < points.size(); ++i) {
    points[i].small_s = median(times[i]);
    points[i].small_floor_s = median(floors[i]);
  }
}

// --- Compression: a full pull of JSON game saves, with and without gzip --------------------------

struct PullCost {
  double seconds = 0;
  double cpu_seconds = 0;  // this process's CPU time: the server's and the device's
  uint64_t bytes = 0;      // received, as it crossed the wire
};

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

// Fresh devices pull a dataset of `records` JSON saves, in turn with and without gzip, `reps`
// times; medians.
std::pair<PullCost, PullCost> measure_compression(Bench& b, int records, size_t save_bytes,
                                                  int reps) {
  std::string token = b.player("saves");
  {
    auto writer = b.device(token);
    std::map<std::string, std::optional<std::string>> saves;
    for (int i = 0; i < records; ++i)
      saves[key_of(i)] = testing::game_save(static_cast<uint32_t>(i), save_bytes);
    auto ds = *writer.manager->open_or_create_dataset("saves");
    if (!ds->put_all(saves).ok()) throw std::runtime_error("put_all of the saves failed");
    std::vector<Exchange> ex;
    b.timed_sync(writer, "saves", &ex);
  }
  std::vector<double> time[2], cpu[2], bytes[2];
  for (int r = 0; r < reps; ++r) {
    for (int gzip = 0; gzip < 2; ++gzip) {
      auto reader = b.device(token, gzip == 1);
      std::vector<Exchange> ex;
      uint64_t wire_bytes = 0;
      double cpu_before = process_cpu_seconds();
      time[gzip].push_back(b.timed_sync(reader, "saves", &ex, &wire_bytes));
      cpu[gzip].push_back(process_cpu_seconds() - cpu_before);
      bytes[gzip].push_back(static_cast<double>(wire_bytes));
    }
  }
  auto cost = [&](int gzip) {
    return PullCost{median(time[gzip]), median(cpu[gzip]),
                    static_cast<uint64_t>(median(bytes[gzip]))};
  };
  return {cost(1), cost(0)};
}

// --- Peak RSS, measured in a child process that holds only the engine -------------------------

int rss_child(const std::string& endpoint, const std::string& pool, const std::string& token,
              const std::string& db, int datasets, int records, size_t value_bytes, bool push) {
  SyncManagerOptions o;
  o.endpoint = endpoint;
  o.region = "us-east-1";
  o.identity_pool_id = pool;
  o.database_path = db;
  o.logins = {{"cognito-identity.amazonaws.com", token}};
  auto m = SyncManager::open(std::move(o));
  if (!m.ok()) {
    std::cerr << m.status().ToString() << "\n";
    return 1;
  }
  auto& manager = **m;
  if (!manager.refresh_dataset_metadata().ok()) return 1;
  size_t baseline = current_rss_bytes();
  if (push) {
    for (int d = 0; d < datasets; ++d) {
      auto ds = *manager.open_or_create_dataset("rss-" + std::to_string(d));
      if (!ds->put_all(full_dataset(records, value_bytes, d)).ok()) return 1;
    }
  }
  std::vector<SyncFuture> syncs;
  syncs.reserve(static_cast<size_t>(datasets));
  for (int d = 0; d < datasets; ++d)
    syncs.push_back(manager.synchronize("rss-" + std::to_string(d)));
  for (auto& f : syncs) {
    SyncResult r = f.get();
    if (!r.status.ok()) {
      std::cerr << r.status.ToString() << "\n";
      return 1;
    }
  }
  for (int d = 0; d < datasets; ++d) {
    auto all = (*manager.open_or_create_dataset("rss-" + std::to_string(d)))->get_all();
    if (!all.ok() || all->size() != static_cast<size_t>(records)) return 1;
  }
  std::printf("%zu %zu\n", peak_rss_bytes(), baseline);
  return 0;
}

// Runs rss_child in a fresh process; returns {peak, baseline} bytes.
std::pair<size_t, size_t> measure_rss(Bench& b, const std::string& token, int datasets, int records,
                                      size_t value_bytes, bool push) {
  std::string cmd = self_dir() + "/sync_bench --rss-child --endpoint " + b.server->url() +
                    " --pool " + b.pool + " --token '" + token + "' --db " + b.dir + "/rss-" +
                    std::to_string(++b.device_seq) + ".db --datasets " + std::to_string(datasets) +
                    " --records " + std::to_string(records) + " --value-bytes " +
                    std::to_string(value_bytes) + (push ? " --push" : "");
  FILE* child = popen(cmd.c_str(), "r");
  size_t peak = 0, baseline = 0;
  if (!child || std::fscanf(child, "%zu %zu", &peak, &baseline) != 2 || pclose(child) != 0)
    throw std::runtime_error("the RSS child failed: " + cmd);
  return {peak, baseline};
}

// Only small syncs, `rounds` of them on a dataset of `records`: a run to profile (perf record, or
// callgrind), without the full pushes and pulls that dominate the whole run. Prints the median.
int profile_small(int records, size_t value_bytes, int rounds) {
  Bench b;
  b.start();
  auto writer = b.device(b.player("profile"));
  auto ds = *writer.manager->open_or_create_dataset("full-0");
  if (!ds->put_all(full_dataset(records, value_bytes, 0)).ok()) throw std::runtime_error("put_all");
  std::vector<Exchange> ex;
  b.timed_sync(writer, "full-0", &ex);
  std::vector<double> times, puts, floors;
  auto before = sum_sync_phases(b.server->api());
  for (int r = 0; r < rounds; ++r) {
    auto started = std::chrono::steady_clock::now();
    if (!ds->put(key_of(r % records), value_of(r % records, r + 1, value_bytes)).ok())
      throw std::runtime_error("put failed");
    puts.push_back(seconds_since(started));
    times.push_back(b.timed_sync(writer, "full-0", &ex));
  }
  server::PhaseTotals spent;
  add_phases(spent, before, sum_sync_phases(b.server->api()));
  for (int r = 0; r < 5; ++r) floors.push_back(replay_floor(ex, 3));
  std::printf(
      "small sync, 1 change in %d records: median %.3f ms over %d (the put before each: "
      "median %.3f ms)\n",
      records, median(times) * 1e3, rounds, median(puts) * 1e3);
  // Where a sync's time goes on the server, as the mean per sync (both requests), beside the
  // same requests replayed to the minimal server.
  auto per_sync = [&](uint64_t ns) { return static_cast<double>(ns) / 1e6 / rounds; };
  std::printf(
      "  server, mean per sync: handler %.3f ms (SigV4 %.3f, JSON %.3f, storage %.3f); "
      "requests replayed to the minimal server: %.3f ms\n",
      per_sync(spent.handler_ns), per_sync(spent.auth_ns), per_sync(spent.parse_ns),
      per_sync(spent.storage_ns), median(floors) * 1e3);
  return 0;
}

int run(bool smoke, const std::string& out, std::vector<int> sizes, bool with_rss) {
  Bench b;
  b.start();
  const size_t value_bytes = smoke ? 100 : 1000;
  const int full = smoke ? 20 : 1000;
  const int reps = smoke ? 1 : 5;
  if (sizes.empty())
    sizes = smoke ? std::vector<int>{1, full} : std::vector<int>{1, 10, 100, 250, 500, full};
  std::sort(sizes.begin(), sizes.end());

  Report report;
  std::vector<SizePoint> points;
  std::vector<Bench::Device> writers;
  for (int n : sizes) {
    writers.emplace_back();
    points.push_back(
        measure_size(b, n, value_bytes, n == full || n == 1 ? reps : 3, &writers.back()));
  }
  measure_small_syncs(b, points, writers, value_bytes, smoke ? 2 : 30);
  for (const auto& p : points) {
    std::fprintf(stderr, "size %d: push %.2f ms, pull %.2f ms, one change %.2f ms\n", p.records,
                 p.push_s * 1e3, p.pull_s * 1e3, p.small_s * 1e3);
  }
  const SizePoint& one = points.front();
  const SizePoint& big = points.back();
  std::string n = std::to_string(full);

  // The floors any design pays: the bare HTTP exchanges plus the raw SQLite writes of the same
  // rows on each side (sqlite_floors).
  SqliteFloors db = sqlite_floors(b.dir, full, value_bytes, reps);
  const double small_floor = big.small_floor_s + db.server_one + db.client_one;
  const double push_floor = big.push_floor_s + db.server_insert + db.client_state;
  const double pull_floor = big.pull_floor_s + db.client_insert;

  report.add(cost_figure("sync.small: 1 change in " + n + " records", big.small_s * 1e3, "ms",
                         "2 bare round trips + a raw one-row transaction on each side",
                         small_floor * 1e3, 2.0));
  report.add(
      reported("sync.small.floor: 2 bare round trips, same bytes", big.small_floor_s * 1e3, "ms"));
  report.add(cost_figure("sync.small: time, " + n + " records vs 1", big.small_s * 1e3, "ms",
                         "the same sync on a 1-record dataset", one.small_s * 1e3, 1.1));
  report.add(cost_figure(
      "sync.small: bytes, " + n + " records vs 1", static_cast<double>(big.small_bytes), "bytes",
      "the same sync on a 1-record dataset", static_cast<double>(one.small_bytes), 1.05));

  report.add(cost_figure(
      "sync.full_push: " + n + " x " + std::to_string(value_bytes) + " B", big.push_s * 1e3, "ms",
      "HTTP floor + raw server insert + raw device sync-state update", push_floor * 1e3, 1.5));
  report.add(cost_figure("sync.full_push: HTTP requests", static_cast<double>(big.push_requests),
                         "requests", "at most 3", 3, 1.0));
  // Where a push's time goes: the server's phases (per push), client signing alone, the floor's
  // HTTP time, and the rest on the client (engine, JSON, local SQLite).
  double per = 1e-6 / static_cast<double>(big.push_phases.requests);
  double server_ms = static_cast<double>(big.push_phases.handler_ns) * per;
  double auth_ms = static_cast<double>(big.push_phases.auth_ns) * per;
  double parse_ms = static_cast<double>(big.push_phases.parse_ns) * per;
  double storage_ms = static_cast<double>(big.push_phases.storage_ns) * per;
  double sign_ms = big.push_sign_s * 1e3;
  double http_ms = big.push_floor_s * 1e3;
  double client_ms = big.push_s * 1e3 - server_ms - sign_ms - http_ms;
  report.add(reported("sync.full_push.time: client engine, JSON, local SQLite", client_ms, "ms"));
  report.add(reported("sync.full_push.time: client SigV4 signing", sign_ms, "ms"));
  report.add(reported("sync.full_push.time: HTTP and loopback (floor)", http_ms, "ms"));
  report.add(reported("sync.full_push.time: server SigV4 verify", auth_ms, "ms"));
  report.add(reported("sync.full_push.time: server JSON parse", parse_ms, "ms"));
  report.add(reported("sync.full_push.time: server SQLite", storage_ms, "ms"));
  report.add(reported("sync.full_push.time: server other (routing, checks, reply)",
                      server_ms - auth_ms - parse_ms - storage_ms, "ms"));
  report.add(
      reported("sync.full_push.floor: raw SQLite server insert", db.server_insert * 1e3, "ms"));
  report.add(reported("sync.full_push.floor: raw SQLite device sync-state update",
                      db.client_state * 1e3, "ms"));
  report.add(reported("sync.full_push.floor: the same update rewriting each value (reference)",
                      db.client_update * 1e3, "ms"));

  report.add(cost_figure("sync.full_pull: " + n + " records, fresh device", big.pull_s * 1e3, "ms",
                         "HTTP floor + raw device insert", pull_floor * 1e3, 1.5));
  report.add(
      reported("sync.full_pull.floor: the same requests replayed", big.pull_floor_s * 1e3, "ms"));
  report.add(
      reported("sync.full_pull.floor: raw SQLite device insert", db.client_insert * 1e3, "ms"));
  // What the floor leaves out: the server reading the page and writing it as JSON (the replay
  // answers with bytes it holds already); the response's gzip is outside the handler.
  double pull_per = 1e-6 / static_cast<double>(big.pull_phases.requests);
  report.add(reported("sync.full_pull.time: server handler (SQLite read, JSON, SigV4)",
                      static_cast<double>(big.pull_phases.handler_ns) * pull_per, "ms"));
  report.add(reported("sync.full_pull.time: server SQLite read",
                      static_cast<double>(big.pull_phases.storage_ns) * pull_per, "ms"));
  report.add(cost_figure("sync.full_pull: HTTP requests", static_cast<double>(big.pull_requests),
                         "requests", "1 + pages", static_cast<double>(1 + big.pull_pages), 1.0));

  // JSON game saves pulled with and without gzip: bytes on the wire, time and CPU.
  {
    const int save_records = smoke ? 20 : 1000;
    auto [zipped, plain] = measure_compression(b, save_records, 900, reps);
    std::string what = std::to_string(save_records) + " JSON saves of ~900 B";
    report.add(cost_figure("sync.gzip: bytes of a full pull, " + what,
                           static_cast<double>(zipped.bytes), "bytes", "the same pull uncompressed",
                           static_cast<double>(plain.bytes), 0.5));
    report.add(
        reported("sync.gzip: bytes uncompressed", static_cast<double>(plain.bytes), "bytes"));
    // Reported, not judged: on loopback the bytes cost nothing, so this is compression's price.
    Figure time = cost_figure("sync.gzip: time of that pull on loopback", zipped.seconds * 1e3,
                              "ms", "the same pull uncompressed", plain.seconds * 1e3, 0);
    time.target.reset();
    report.add(time);
    Figure cpu =
        cost_figure("sync.gzip: CPU of that pull, server and device", zipped.cpu_seconds * 1e3,
                    "ms CPU", "the same pull uncompressed", plain.cpu_seconds * 1e3, 0);
    cpu.target.reset();
    report.add(cpu);
  }

  // Peak RSS while 20 full datasets sync, in a process that holds only the engine.
  if (with_rss) {
    const int rss_datasets = smoke ? 2 : 20;
    std::string token = b.player("rss");
    {
      auto writer = b.device(token);
      std::vector<Exchange> ex;
      for (int d = 0; d < rss_datasets; ++d) {
        std::string name = "rss-" + std::to_string(d);
        (void)(*writer.manager->open_or_create_dataset(name))
            ->put_all(full_dataset(full, value_bytes, d));
        b.timed_sync(writer, name, &ex);
      }
    }
    double data_mb = static_cast<double>(rss_datasets * full * (8 + value_bytes)) / 1e6;
    auto [pull_peak, pull_base] = measure_rss(b, token, rss_datasets, full, value_bytes, false);
    auto [push_peak, push_base] =
        measure_rss(b, b.player("rss-push"), rss_datasets, full, value_bytes, true);
    std::string rss_floor =
        "2 x data + 16 MB (data " + std::to_string(data_mb).substr(0, 5) + " MB)";
    report.add(
        cost_figure("engine.peak_rss: pull " + std::to_string(rss_datasets) + " full datasets",
                    static_cast<double>(pull_peak) / 1e6, "MB", rss_floor, 2 * data_mb + 16, 1.0));
    report.add(
        cost_figure("engine.peak_rss: push " + std::to_string(rss_datasets) + " full datasets",
                    static_cast<double>(push_peak) / 1e6, "MB", rss_floor, 2 * data_mb + 16, 1.0));
    report.add(reported("engine.rss_before_sync", static_cast<double>(pull_base) / 1e6, "MB",
                        "the process after open, before the syncs"));
  }

  Series curve{"sync_time_vs_size",
               "Sync time against dataset size (" + std::to_string(value_bytes) + "-byte values)",
               "records in the dataset",
               "ms",
               {}};
  Series::Line push_line{"full push", {}}, pull_line{"full pull (fresh device)", {}},
      small_line{"one changed record", {}}, floor_line{"one change: HTTP floor", {}},
      push_floor_line{"full push: HTTP floor", {}};
  for (const auto& p : points) {
    push_line.points.emplace_back(p.records, p.push_s * 1e3);
    push_floor_line.points.emplace_back(p.records, p.push_floor_s * 1e3);
    pull_line.points.emplace_back(p.records, p.pull_s * 1e3);
    small_line.points.emplace_back(p.records, p.small_s * 1e3);
    floor_line.points.emplace_back(p.records, p.small_floor_s * 1e3);
  }
  curve.lines = {push_line, pull_line, small_line, push_floor_line, floor_line};
  report.add(curve);

  report.print(stdout);
  if (!out.empty() && !report.write(out)) return 1;
  return 0;
}

}  // namespace
}  // namespace cairn::bench

int main(int argc, char** argv) {
  CLI::App app{"sync_bench: end-to-end sync figures against their HTTP floor", "sync_bench"};
  bool smoke = false, rss_child = false, push = false, no_rss = false;
  std::vector<int> sizes;
  std::string out, endpoint, pool, token, db;
  int datasets = 20, records = 1000, profile_small_rounds = 0;
  size_t value_bytes = 1000;
  app.add_flag("--smoke", smoke, "Small sizes, one repetition: checks that it works");
  app.add_option("--out", out, "Write the figures as JSON here");
  app.add_option("--sizes", sizes,
                 "Dataset sizes to measure (records); the largest gives the figures")
      ->delimiter(',');
  app.add_flag("--no-rss", no_rss, "Skip the peak-RSS children");
  app.add_flag("--rss-child", rss_child)->group("");  // the peak-RSS child process
  app.add_option("--endpoint", endpoint)->group("");
  app.add_option("--pool", pool)->group("");
  app.add_option("--token", token)->group("");
  app.add_option("--db", db)->group("");
  app.add_option("--datasets", datasets)->group("");
  app.add_option("--records", records)->group("");
  app.add_option("--value-bytes", value_bytes)->group("");
  app.add_flag("--push", push)->group("");
  app.add_option("--profile-small", profile_small_rounds,
                 "Run only this many small syncs (1 change in --records records), to profile");
  CLI11_PARSE(app, argc, argv);
  try {
    if (rss_child) {
      return cairn::bench::rss_child(endpoint, pool, token, db, datasets, records, value_bytes,
                                     push);
    }
    if (profile_small_rounds > 0)
      return cairn::bench::profile_small(records, value_bytes, profile_small_rounds);
    return cairn::bench::run(smoke, out, sizes, !no_rss);
  } catch (const std::exception& e) {
    std::cerr << "sync_bench: " << e.what() << "\n";
    return 1;
  }
}
