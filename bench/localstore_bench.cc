// LocalStore against raw SQLite, side by side in one run, with the same pragmas (WAL,
// synchronous=NORMAL) and an equivalent records table:
//   put           vs a raw UPSERT, one transaction per write        target >= 0.8x the raw rate
//   put_all(1000) vs a raw batched transaction of 1000 UPSERTs      target >= 0.8x
//   put, FULL     vs the same put under NORMAL (a fsync per commit)  reported
//   mark_pushed   1000 pushed records of 1000 B marked clean, vs a raw UPDATE of their sync
//                 state in a table without the values                 reported
//   get           vs a raw primary-key SELECT                       target >= 1.0x
//                 (served by the read cache; the cache-off path is printed for reference)
// Run: build-release/bin/localstore_bench [--out FILE]   (prints the figures at the end)
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "bench/gbench_main.h"
#include "bench/raw_tables.h"
#include "localstore/local_store.h"

namespace {

using cairn::localstore::LocalStore;

std::string temp_file(const char* name) {
  std::string dir =
      std::filesystem::temp_directory_path() / ("cairn-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::string path = dir + "/" + name;
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return path;
}

std::shared_ptr<LocalStore> open_store(const char* name, size_t read_cache_bytes = 8 << 20,
                                       bool synchronous_full = false) {
  cairn::localstore::Options o;
  o.path = temp_file(name);
  o.read_cache_bytes = read_cache_bytes;
  o.synchronous_full = synchronous_full;
  return *LocalStore::open(o);
}

// The raw floor: the same table and pragmas, statements prepared once, no checks.
struct Raw {
  sqlite3* db = nullptr;
  sqlite3_stmt* upsert = nullptr;
  sqlite3_stmt* select = nullptr;
  explicit Raw(const char* name) {
    sqlite3_open(temp_file(name).c_str(), &db);
    sqlite3_exec(db, cairn::bench::kRawPragmas, nullptr, nullptr, nullptr);
    sqlite3_exec(db, "PRAGMA foreign_keys=ON;", nullptr, nullptr, nullptr);
    sqlite3_exec(db, cairn::bench::kRawDeviceRecords, nullptr, nullptr, nullptr);
    sqlite3_prepare_v2(db,
                       "INSERT INTO records VALUES(?, ?, ?, ?, 0, 0, '', ?, 1, 1, NULL, 0) "
                       "ON CONFLICT(owner, dataset, key) DO UPDATE SET value = excluded.value, "
                       "dirty = 1, local_version = local_version + 1, "
                       "device_last_modified = excluded.device_last_modified",
                       -1, &upsert, nullptr);
    sqlite3_prepare_v2(db, "SELECT value FROM records WHERE owner = ? AND dataset = ? AND key = ?",
                       -1, &select, nullptr);
  }
  ~Raw() {
    sqlite3_finalize(upsert);
    sqlite3_finalize(select);
    sqlite3_close(db);
  }
  void put(const std::string& key, const std::string& value) {
    sqlite3_bind_text(upsert, 1, "owner", -1, SQLITE_STATIC);
    sqlite3_bind_text(upsert, 2, "save", -1, SQLITE_STATIC);
    sqlite3_bind_text(upsert, 3, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(upsert, 4, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(upsert, 5, 1700000000000);
    sqlite3_step(upsert);
    sqlite3_reset(upsert);
  }
};

std::string key_of(int64_t i) { return "key-" + std::to_string(i % 1000); }
const std::string kValue(64, 'v');

void BM_Put(benchmark::State& state) {
  auto store = open_store("put.db");
  int64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(store->put("save", key_of(i++), kValue));
}
BENCHMARK(BM_Put);

// The same put with synchronous=FULL: the WAL synced to disk at every commit. What a device pays
// for a put that survives a power loss (docs/localstore.md, Durability).
void BM_PutFull(benchmark::State& state) {
  auto store = open_store("put-full.db", 8 << 20, /*synchronous_full=*/true);
  int64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(store->put("save", key_of(i++), kValue));
}
BENCHMARK(BM_PutFull);

void BM_RawUpsert(benchmark::State& state) {
  Raw raw("raw-put.db");
  int64_t i = 0;
  for (auto _ : state) {
    sqlite3_exec(raw.db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    raw.put(key_of(i++), kValue);
    sqlite3_exec(raw.db, "COMMIT", nullptr, nullptr, nullptr);
  }
}
BENCHMARK(BM_RawUpsert);

void BM_PutAll1000(benchmark::State& state) {
  auto store = open_store("put-all.db");
  std::map<std::string, std::optional<std::string>> batch;
  for (int i = 0; i < 1000; ++i) batch[key_of(i)] = kValue;
  for (auto _ : state) benchmark::DoNotOptimize(store->put_all("save", batch));
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_PutAll1000);

void BM_RawBatch1000(benchmark::State& state) {
  Raw raw("raw-batch.db");
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back(key_of(i));
  for (auto _ : state) {
    sqlite3_exec(raw.db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    for (const auto& k : keys) raw.put(k, kValue);
    sqlite3_exec(raw.db, "COMMIT", nullptr, nullptr, nullptr);
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_RawBatch1000);

// A sync's write-back: 1000 pushed records of 1000 B marked clean with their new sync counts. The
// records are written afresh (untimed) before each round, in a dataset of their own, and purged
// after it.
void BM_MarkPushed1000(benchmark::State& state) {
  auto store = open_store("mark-pushed.db");
  const std::string value(1000, 'v');
  std::map<std::string, std::optional<std::string>> batch;
  for (int i = 0; i < 1000; ++i) batch[key_of(i)] = value;
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string dataset = "save-" + std::to_string(round++);
    (void)store->put_all(dataset, batch);
    auto pushed = *store->dirty_records(dataset);
    std::vector<cairn::localstore::RemoteRecord> landed;
    for (const auto& item : pushed) {
      cairn::localstore::RemoteRecord r;
      r.key = item.key;
      r.value = item.value;
      r.sync_count = 1;
      r.last_modified = 1700000000000;
      r.last_modified_by = "server";
      landed.push_back(std::move(r));
    }
    state.ResumeTiming();
    cairn::Status marked = store->mark_pushed(dataset, pushed, landed, 1);
    state.PauseTiming();
    if (!marked.ok() || pushed.size() != 1000) {
      state.SkipWithError("the records were not written and marked pushed");
      break;
    }
    (void)store->purge_dataset(dataset);  // an identity holds at most 20 datasets
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_MarkPushed1000);

// Its floor: the new sync count and clean flag of 1000 rows, in a table without the values.
void BM_RawStateUpdate1000(benchmark::State& state) {
  sqlite3* db = nullptr;
  sqlite3_open(temp_file("raw-state.db").c_str(), &db);
  sqlite3_exec(db, cairn::bench::kRawPragmas, nullptr, nullptr, nullptr);
  sqlite3_exec(db, cairn::bench::kRawDeviceState, nullptr, nullptr, nullptr);
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* update = nullptr;
  sqlite3_prepare_v2(db, cairn::bench::kRawStateInsert, -1, &insert, nullptr);
  sqlite3_prepare_v2(db, cairn::bench::kRawStateMarkClean, -1, &update, nullptr);
  auto each = [&](sqlite3_stmt* stmt, const std::string& dataset, int i) {
    std::string key = key_of(i);
    sqlite3_bind_text(stmt, 1, dataset.data(), static_cast<int>(dataset.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_step(stmt);
    sqlite3_reset(stmt);
  };
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string dataset = "save-" + std::to_string(round++);
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    for (int i = 0; i < 1000; ++i) each(insert, dataset, i);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    state.ResumeTiming();
    sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    for (int i = 0; i < 1000; ++i) each(update, dataset, i);
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  }
  sqlite3_finalize(insert);
  sqlite3_finalize(update);
  sqlite3_close(db);
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_RawStateUpdate1000);

void BM_Get(benchmark::State& state) {
  auto store = open_store("get.db", state.range(0) ? 8 << 20 : 0);
  std::map<std::string, std::optional<std::string>> batch;
  for (int i = 0; i < 1000; ++i) batch[key_of(i)] = kValue;
  (void)store->put_all("save", batch);
  int64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(store->get("save", key_of(i++)));
}
BENCHMARK(BM_Get)->Arg(1)->Arg(0);  // with the read cache, and without it

void BM_RawSelect(benchmark::State& state) {
  Raw raw("raw-get.db");
  sqlite3_exec(raw.db, "BEGIN", nullptr, nullptr, nullptr);
  for (int i = 0; i < 1000; ++i) raw.put(key_of(i), kValue);
  sqlite3_exec(raw.db, "COMMIT", nullptr, nullptr, nullptr);
  int64_t i = 0;
  for (auto _ : state) {
    std::string key = key_of(i++);
    sqlite3_bind_text(raw.select, 1, "owner", -1, SQLITE_STATIC);
    sqlite3_bind_text(raw.select, 2, "save", -1, SQLITE_STATIC);
    sqlite3_bind_text(raw.select, 3, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    std::optional<std::string> value;
    if (sqlite3_step(raw.select) == SQLITE_ROW) {
      value = std::string(reinterpret_cast<const char*>(sqlite3_column_text(raw.select, 0)),
                          static_cast<size_t>(sqlite3_column_bytes(raw.select, 0)));
    }
    sqlite3_reset(raw.select);
    benchmark::DoNotOptimize(value);
  }
}
BENCHMARK(BM_RawSelect);

}  // namespace

int main(int argc, char** argv) {
  using cairn::bench::per_second;
  int rc = cairn::bench::run_benchmarks(
      argc, argv, [](const cairn::bench::Timings& t, cairn::bench::Report& r) {
        auto rate = [&](const char* name, const char* ours, const char* floor,
                        const char* floor_name, std::optional<double> target) {
          if (!t.count(ours) || !t.count(floor)) return;
          auto f = cairn::bench::rate_figure(name, per_second(t.at(ours)), "ops/s", floor_name,
                                             per_second(t.at(floor)), target.value_or(0));
          if (!target) f.target.reset();
          r.add(f);
        };
        rate("localstore.put (own transaction)", "BM_Put", "BM_RawUpsert",
             "raw SQLite UPSERT, same pragmas", 0.8);
        rate("localstore.put, synchronous=FULL vs NORMAL", "BM_PutFull", "BM_Put",
             "the same put with synchronous=NORMAL", std::nullopt);
        rate("localstore.put_all(1000)", "BM_PutAll1000", "BM_RawBatch1000",
             "raw batched SQLite transaction", 0.8);
        rate("localstore.mark_pushed(1000 x 1000 B)", "BM_MarkPushed1000", "BM_RawStateUpdate1000",
             "raw UPDATE of a sync-state table without the values", std::nullopt);
        rate("localstore.get", "BM_Get/1", "BM_RawSelect", "raw primary-key SELECT", 1.0);
        rate("localstore.get, read cache off", "BM_Get/0", "BM_RawSelect", "raw primary-key SELECT",
             std::nullopt);
      });
  std::filesystem::remove_all(std::filesystem::temp_directory_path() /
                              ("cairn-bench-" + std::to_string(getpid())));
  return rc;
}
