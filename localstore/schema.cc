#include "localstore/schema.h"

#include <string>

namespace cairn::localstore::schema {
namespace {

// user_version N means the first N entries have run. Never edit a shipped entry; append.
const char* const kMigrations[] = {
    // 1: datasets, records with their sync state and base value, metadata.
    R"sql(
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE datasets(
      owner TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
      last_modified INTEGER NOT NULL, last_modified_by TEXT NOT NULL,
      last_sync_count INTEGER NOT NULL, last_sync_time INTEGER NOT NULL,
      PRIMARY KEY(owner, name));
    CREATE TABLE records(
      owner TEXT NOT NULL, dataset TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
      sync_count INTEGER NOT NULL, last_modified INTEGER NOT NULL, last_modified_by TEXT NOT NULL,
      device_last_modified INTEGER NOT NULL, dirty INTEGER NOT NULL, local_version INTEGER NOT NULL,
      base_value TEXT, has_base INTEGER NOT NULL,
      PRIMARY KEY(owner, dataset, key),
      FOREIGN KEY(owner, dataset) REFERENCES datasets(owner, name));
    )sql",
    // 2: the outcome of the last sync, shown by status tools. Adding a column keeps every row.
    R"sql(
    ALTER TABLE datasets ADD COLUMN last_sync_result TEXT NOT NULL DEFAULT '';
    )sql",
    // 3: a partial index of the dirty records, so a sync finds its pending changes without
    // reading the whole dataset (cost grows with changes, not with size). Only dirty rows are in
    // it: a put adds one entry, a push removes it, a pulled record never touches it.
    // From this version on, has_base = 2 means "the base is the value itself": a clean record
    // stores its value once instead of twice, and the first local write moves it to base_value.
    R"sql(
    CREATE INDEX records_dirty ON records(owner, dataset, key) WHERE dirty = 1;
    )sql",
    // 4: what a local write changes apart from what a sync changes. A sync's write-back (new sync
    // counts, clean flags) then rewrites rows of a few dozen bytes, not the pages that hold the
    // values: marking 1000 pushed records of 1 KB clean wrote every page of the table before.
    // records keeps the sync state under an explicit id; record_values holds the value, its
    // base, its local version and time under the same id, and goes with its record when that is
    // deleted. Every row is copied over.
    R"sql(
    CREATE TABLE record_state(
      id INTEGER PRIMARY KEY,
      owner TEXT NOT NULL, dataset TEXT NOT NULL, key TEXT NOT NULL,
      sync_count INTEGER NOT NULL, last_modified INTEGER NOT NULL, last_modified_by TEXT NOT NULL,
      dirty INTEGER NOT NULL, has_base INTEGER NOT NULL,
      UNIQUE(owner, dataset, key),
      FOREIGN KEY(owner, dataset) REFERENCES datasets(owner, name));
    CREATE TABLE record_values(
      id INTEGER PRIMARY KEY REFERENCES record_state(id) ON DELETE CASCADE,
      value TEXT, base_value TEXT,
      local_version INTEGER NOT NULL, device_last_modified INTEGER NOT NULL);
    INSERT INTO record_state(id, owner, dataset, key, sync_count, last_modified, last_modified_by,
                             dirty, has_base)
      SELECT rowid, owner, dataset, key, sync_count, last_modified, last_modified_by, dirty,
             has_base FROM records;
    INSERT INTO record_values(id, value, base_value, local_version, device_last_modified)
      SELECT rowid, value, base_value, local_version, device_last_modified FROM records;
    DROP TABLE records;
    ALTER TABLE record_state RENAME TO records;
    CREATE INDEX records_dirty ON records(owner, dataset, key) WHERE dirty = 1;
    )sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

}  // namespace

void migrate(sqlite::Connection& writer) {
  int64_t have = 0;
  {
    // Finished before the migrations run: a pending statement would block their DROP TABLE.
    auto s = writer.prepare("PRAGMA user_version");
    s.step();
    have = s.i64(0);
  }
  if (have > kSchemaVersion) {
    throw sqlite::Error("the store's schema version " + std::to_string(have) +
                            " is newer than this build of cairn (" +
                            std::to_string(kSchemaVersion) + ")",
                        SQLITE_ERROR);
  }
  if (have == kSchemaVersion) return;
  sqlite::Transaction t(writer, "BEGIN IMMEDIATE");
  for (int64_t v = have + 1; v <= kSchemaVersion; ++v) {
    writer.exec(kMigrations[v - 1]);
    std::string set = "PRAGMA user_version=" + std::to_string(v);
    writer.exec(set.c_str());
  }
  t.commit();
}

Record read_record(const sqlite::Stmt& s) {
  Record r;
  r.key = s.text(0);
  r.value = s.opt_text(1);
  r.sync_count = s.i64(2);
  r.last_modified = s.i64(3);
  r.last_modified_by = s.text(4);
  r.device_last_modified = s.i64(5);
  r.dirty = s.i64(6) != 0;
  r.local_version = s.i64(7);
  // has_base 2: the base is the value itself (clean since the last sync), stored once.
  int64_t has_base = s.i64(9);
  r.base_value = has_base == 2 ? r.value : s.opt_text(8);
  r.has_base = has_base != 0;
  return r;
}

}  // namespace cairn::localstore::schema
