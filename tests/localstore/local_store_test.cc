// LocalStore: every operation and limit, sync bookkeeping, identity rules, migrations, corruption,
// and regression tests named after the official clients' bugs (sync-engine-notes.md).
#include "localstore/local_store.h"

#include <gtest/gtest.h>

#include <sqlite3.h>
#include "temp_dir.h"

#include <filesystem>
#include <fstream>
#include <thread>

namespace cairn::localstore {
namespace {

using cairn::testing::TempDir;

std::shared_ptr<LocalStore> memory_store() {
  auto s = LocalStore::open(Options{});
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return *s;
}

RemoteRecord remote(const std::string& key, std::optional<std::string> value, int64_t count) {
  return {key, std::move(value), count, 1700000000000, "server", std::nullopt};
}

TEST(Records, PutGetRemoveAndTheEmptyStringIsAValue) {
  auto s = memory_store();
  ASSERT_TRUE(s->put("save", "hp", "10").ok());
  ASSERT_TRUE(s->put("save", "name", "").ok());
  EXPECT_EQ(**s->get("save", "hp"), "10");
  EXPECT_EQ(**s->get("save", "name"), "") << "an empty string is a value";
  EXPECT_FALSE(s->get("save", "missing")->has_value());
  ASSERT_TRUE(s->remove("save", "hp").ok());
  EXPECT_FALSE(s->get("save", "hp")->has_value()) << "a tombstone reads as absent";
  auto all = *s->get_all("save");
  EXPECT_EQ(all.size(), 1u);
  auto records = *s->get_all_records("save");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].key, "hp");
  EXPECT_FALSE(records[0].value.has_value());
  EXPECT_TRUE(records[0].dirty);
  EXPECT_EQ(records[0].local_version, 2);
}

TEST(Records, SizesAndChangeFlags) {
  auto s = memory_store();
  ASSERT_TRUE(s->put("d", "é", "ü!").ok());
  EXPECT_EQ(*s->size_in_bytes("d", "é"), 5) << "UTF-8 bytes of key plus value";
  EXPECT_EQ(*s->size_in_bytes("d", "nothing"), 0);
  ASSERT_TRUE(s->put("d", "k", "12345").ok());
  EXPECT_EQ(*s->total_size_in_bytes("d"), 11);
  EXPECT_TRUE(*s->is_changed("d", "k"));
  EXPECT_FALSE(*s->is_changed("d", "nothing"));
}

TEST(Records, PutAllIsOneTransactionAndAllOrNothing) {
  auto s = memory_store();
  ASSERT_TRUE(s->put_all("d", {{"a", "1"}, {"b", "2"}, {"c", std::nullopt}}).ok());
  EXPECT_EQ(s->get_all("d")->size(), 2u);
  auto bad = s->put_all("d", {{"x", "1"}, {"", "empty key"}});
  EXPECT_EQ(bad.code(), ErrorCode::kInvalidParameter);
  EXPECT_FALSE(s->get("d", "x")->has_value()) << "nothing of a refused batch is written";
}

TEST(Limits, NamesKeysAndValuesAreCheckedAtWriteTime) {
  auto s = memory_store();
  for (const char* bad : {"", "has space", "slash/no", "ümlaut"}) {
    EXPECT_EQ(s->put(bad, "k", "v").code(), ErrorCode::kInvalidParameter) << bad;
  }
  EXPECT_EQ(s->put(std::string(129, 'a'), "k", "v").code(), ErrorCode::kInvalidParameter);
  EXPECT_TRUE(s->put(std::string(128, 'a'), "k", "v").ok());
  EXPECT_TRUE(s->put("ok.name_1:x-y", "k", "v").ok());
  std::string key1024;
  for (int i = 0; i < 1024; ++i) key1024 += "é";
  EXPECT_TRUE(s->put("d", key1024, "v").ok()) << "1024 characters, 2048 bytes";
  EXPECT_EQ(s->put("d", key1024 + "x", "v").code(), ErrorCode::kInvalidParameter);
  EXPECT_EQ(s->put("d", "", "v").code(), ErrorCode::kInvalidParameter);
  EXPECT_EQ(s->put("v", "k", std::string(1048576, 'x')).code(), ErrorCode::kInvalidParameter);
}

TEST(Limits, DatasetBytesRecordsAndDatasetCountAreQuotasWithNothingWritten) {
  auto s = memory_store();
  ASSERT_TRUE(s->put("big", "k", std::string(1048575, 'x')).ok()) << "exactly 1 MiB";
  auto over = s->put("big", "k2", "y");
  EXPECT_EQ(over.code(), ErrorCode::kLimitExceeded);
  EXPECT_FALSE(s->get("big", "k2")->has_value());
  ASSERT_TRUE(s->put("big", "k", "small").ok()) << "replacing frees the bytes";
  EXPECT_TRUE(s->put("big", "k2", "y").ok());

  std::map<std::string, std::optional<std::string>> many;
  for (int i = 0; i < 1024; ++i) many["k" + std::to_string(i)] = "v";
  ASSERT_TRUE(s->put_all("many", many).ok());
  EXPECT_EQ(s->put("many", "one-more", "v").code(), ErrorCode::kLimitExceeded);
  ASSERT_TRUE(s->remove("many", "k0").ok());
  EXPECT_TRUE(s->put("many", "one-more", "v").ok()) << "a tombstone is not a live record";

  for (int i = 0; i < 18; ++i) ASSERT_TRUE(s->put("ds" + std::to_string(i), "k", "v").ok()) << i;
  EXPECT_EQ(s->list_datasets()->size(), 20u);
  EXPECT_EQ(s->put("ds-twenty-one", "k", "v").code(), ErrorCode::kLimitExceeded);
  EXPECT_FALSE(s->dataset("ds-twenty-one")->has_value());
}

TEST(Datasets, MetadataCountsAndLocalDeleteThenPurge) {
  auto s = memory_store();
  ASSERT_TRUE(s->put_all("save", {{"a", "1"}, {"b", "22"}}).ok());
  auto info = **s->dataset("save");
  EXPECT_EQ(info.record_count, 2);
  EXPECT_EQ(info.storage_bytes, 5);
  EXPECT_EQ(info.dirty_count, 2);
  EXPECT_EQ(info.last_sync_count, 0);
  EXPECT_GT(info.last_modified, 0);
  ASSERT_TRUE(s->delete_dataset("save").ok());
  auto pending = **s->dataset("save");
  EXPECT_EQ(pending.last_sync_count, kDeletePending);
  EXPECT_EQ(pending.record_count, 0);
  ASSERT_TRUE(s->purge_dataset("save").ok());
  EXPECT_FALSE(s->dataset("save")->has_value());
}

TEST(Datasets, WipeForgetsEverythingIncludingTheIdentity) {
  auto s = memory_store();
  ASSERT_TRUE(s->set_identity("us-east-1:aaaa").ok());
  ASSERT_TRUE(s->put("d", "k", "v").ok());
  ASSERT_TRUE(s->set_meta("device.GCM", "dev-1").ok());
  ASSERT_TRUE(s->wipe().ok());
  EXPECT_FALSE(s->has_identity());
  EXPECT_TRUE(s->list_datasets()->empty());
  EXPECT_FALSE(s->meta("device.GCM")->has_value());
}

// --- sync bookkeeping ----------------------------------------------------------------------------

TEST(RemoteUpdates, CleanRecordsAreReplacedDirtyOnesComeBackAsConflicts) {
  auto s = memory_store();
  ASSERT_TRUE(s->apply_remote("d", {remote("a", "1", 1), remote("b", "1", 1)}, 1).ok());
  ASSERT_TRUE(s->put("d", "b", "local").ok());
  auto conflicts = s->apply_remote("d", {remote("a", "2", 2), remote("b", "remote", 3)}, 3);
  ASSERT_TRUE(conflicts.ok());
  ASSERT_EQ(conflicts->size(), 1u);
  EXPECT_EQ((*conflicts)[0].local.value, "local");
  EXPECT_EQ((*conflicts)[0].remote.value, "remote");
  EXPECT_EQ(**s->get("d", "a"), "2");
  EXPECT_EQ(**s->get("d", "b"), "local") << "a dirty record is never overwritten";
  auto a = **s->record("d", "a");
  EXPECT_FALSE(a.dirty);
  EXPECT_EQ(a.sync_count, 2);
  EXPECT_EQ(a.base_value, "2");
  EXPECT_EQ((*s->dataset("d"))->last_sync_count, 2) << "stops short of the conflicting count 3";
}

TEST(RemoteUpdates, SameValueOnBothSidesAndRedeliveredOldVersionsAreNotConflicts) {
  auto s = memory_store();
  ASSERT_TRUE(s->apply_remote("d", {remote("k", "v1", 4)}, 4).ok());
  ASSERT_TRUE(s->put("d", "k", "v2").ok());
  EXPECT_TRUE(s->apply_remote("d", {remote("k", "v1", 4)}, 4)->empty())
      << "a redelivery of our base";
  EXPECT_TRUE(*s->is_changed("d", "k"));
  EXPECT_TRUE(s->apply_remote("d", {remote("k", "v2", 5)}, 5)->empty()) << "the same value";
  EXPECT_FALSE(*s->is_changed("d", "k"));
  EXPECT_EQ((**s->record("d", "k")).sync_count, 5);
}

TEST(Pushes, AWriteDuringAPushStaysDirtyWithTheNewCount) {
  auto s = memory_store();
  ASSERT_TRUE(s->put_all("d", {{"a", "1"}, {"b", "1"}}).ok());
  auto snapshot = *s->dirty_records("d");
  ASSERT_EQ(snapshot.size(), 2u);
  ASSERT_TRUE(s->put("d", "b", "2").ok());  // written while the push is in flight
  ASSERT_TRUE(s->mark_pushed("d", snapshot, {remote("a", "1", 1), remote("b", "1", 1)}, 1).ok());
  auto a = **s->record("d", "a");
  auto b = **s->record("d", "b");
  EXPECT_FALSE(a.dirty);
  EXPECT_EQ(a.sync_count, 1);
  EXPECT_TRUE(b.dirty) << "the later write goes out next time";
  EXPECT_EQ(b.sync_count, 1) << "...with the count the server now has";
  EXPECT_EQ(*b.value, "2");
  EXPECT_EQ(b.base_value, "1");
  auto next = *s->dirty_records("d");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].sync_count, 1);
  EXPECT_EQ((*s->dataset("d"))->last_sync_count, 1);
}

TEST(Conflicts, ResolveWithRemoteLocalOrAValue) {
  auto s = memory_store();
  ASSERT_TRUE(
      s->apply_remote("d", {remote("a", "0", 1), remote("b", "0", 1), remote("c", "0", 1)}, 1)
          .ok());
  ASSERT_TRUE(s->put_all("d", {{"a", "L"}, {"b", "L"}, {"c", "L"}}).ok());
  auto conflicts =
      *s->apply_remote("d", {remote("a", "R", 2), remote("b", "R", 2), remote("c", "R", 2)}, 2);
  ASSERT_EQ(conflicts.size(), 3u);
  ASSERT_TRUE(s->resolve("d", conflicts[0], conflicts[0].remote.value, false).ok());
  ASSERT_TRUE(s->resolve("d", conflicts[1], conflicts[1].local.value, true).ok());
  ASSERT_TRUE(s->resolve("d", conflicts[2], std::string("merged"), true).ok());
  auto a = **s->record("d", "a");
  EXPECT_EQ(*a.value, "R");
  EXPECT_FALSE(a.dirty);
  auto b = **s->record("d", "b");
  EXPECT_EQ(*b.value, "L");
  EXPECT_TRUE(b.dirty);
  EXPECT_EQ(b.sync_count, 2) << "local wins with the remote count, so the push lands";
  EXPECT_EQ(*(**s->record("d", "c")).value, "merged");
}

// --- identity ------------------------------------------------------------------------------------

TEST(Identity, TheSameIdentityAgainIsANoOpAndBadIdsAreRefused) {
  auto s = memory_store();
  ASSERT_TRUE(s->set_identity("us-east-1:a").ok());
  ASSERT_TRUE(s->put("d", "k", "v").ok());
  ASSERT_TRUE(s->set_identity("us-east-1:a").ok());
  EXPECT_EQ(**s->get("d", "k"), "v");
  EXPECT_EQ(s->set_identity("").code(), ErrorCode::kInvalidArgument);
}

TEST(Identity, MergeMakesTheOldDatasetsNameDotOldIdKeepingCounts) {
  auto s = memory_store();
  ASSERT_TRUE(s->set_identity("us-east-1:old").ok());
  ASSERT_TRUE(s->apply_remote("save", {remote("k", "v", 7)}, 7).ok());
  ASSERT_TRUE(s->put("save", "dirty", "x").ok());
  ASSERT_TRUE(s->set_identity("us-east-1:new", IdentityChange::kMerge).ok());
  EXPECT_FALSE(s->dataset("save")->has_value());
  auto merged = s->dataset("save.us-east-1:old");
  ASSERT_TRUE(merged.ok() && merged->has_value());
  EXPECT_EQ((*merged)->last_sync_count, 7);
  EXPECT_EQ((**s->record("save.us-east-1:old", "k")).sync_count, 7);
  EXPECT_TRUE(*s->is_changed("save.us-east-1:old", "dirty"));
}

TEST(Identity, DeviceIdsAndSubscriptionsArePerIdentityAndPlatform) {
  auto s = memory_store();
  ASSERT_TRUE(s->set_identity("us-east-1:a").ok());
  ASSERT_TRUE(s->set_device_id("GCM", "dev-a").ok());
  ASSERT_TRUE(s->set_subscribed("save", true).ok());
  ASSERT_TRUE(s->set_subscribed("prefs", true).ok());
  ASSERT_TRUE(s->set_subscribed("prefs", false).ok());
  EXPECT_EQ(**s->device_id("GCM"), "dev-a");
  EXPECT_FALSE(s->device_id("APNS")->has_value());
  EXPECT_EQ(*s->subscriptions(), std::vector<std::string>{"save"});
  ASSERT_TRUE(s->set_identity("us-east-1:b").ok());
  EXPECT_FALSE(s->device_id("GCM")->has_value()) << "a new identity registers again";
  EXPECT_TRUE(s->subscriptions()->empty());
  ASSERT_TRUE(s->set_identity("us-east-1:a").ok());
  EXPECT_EQ(**s->device_id("GCM"), "dev-a");
}

// --- regression tests for the official clients' bugs ---------------------------------------------

TEST(Bug07, IdentitySwitchesBackAndForthNeverCrashOrMixTwoIdentitiesData) {
  auto s = memory_store();
  ASSERT_TRUE(s->set_identity("us-east-1:a").ok());
  ASSERT_TRUE(s->put("save", "who", "a").ok());
  ASSERT_TRUE(s->set_identity("us-east-1:b").ok());
  EXPECT_FALSE(s->get("save", "who")->has_value()) << "b does not see a's data";
  ASSERT_TRUE(s->put("save", "who", "b").ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(s->set_identity("us-east-1:a").ok());
    EXPECT_EQ(**s->get("save", "who"), "a");
    ASSERT_TRUE(s->set_identity("us-east-1:b").ok());
    EXPECT_EQ(**s->get("save", "who"), "b");
  }
}

TEST(Bug08, WritesBeforeAnyIdentityExistsAttachToTheFirstIdentity) {
  TempDir dir;
  Options o;
  o.path = dir.path + "/cairn.db";
  {
    auto s = *LocalStore::open(o);
    EXPECT_FALSE(s->has_identity());
    EXPECT_EQ(s->owner().rfind("provisional:", 0), 0u);
    ASSERT_TRUE(s->put("save", "offline", "1").ok());
  }
  auto s = *LocalStore::open(o);  // a restart before the first login
  EXPECT_EQ(**s->get("save", "offline"), "1");
  ASSERT_TRUE(s->set_identity("us-east-1:first").ok());
  EXPECT_EQ(**s->get("save", "offline"), "1");
  EXPECT_TRUE(*s->is_changed("save", "offline")) << "still to be pushed";
  EXPECT_EQ(s->owner(), "us-east-1:first");
}

TEST(Bug08, AfterASignOutWipeOfflineWritesAttachToTheNextIdentity) {
  auto s = memory_store();
  ASSERT_TRUE(s->set_identity("us-east-1:a").ok());
  ASSERT_TRUE(s->apply_remote("save", {remote("k", "server", 3)}, 3).ok());
  ASSERT_TRUE(s->wipe().ok());  // signed out and wiped: provisional again
  ASSERT_TRUE(s->put("save", "k", "offline").ok());
  ASSERT_TRUE(s->set_identity("us-east-1:a").ok());
  EXPECT_EQ(**s->get("save", "k"), "offline");
  EXPECT_TRUE(*s->is_changed("save", "k"));
}

TEST(Identity, ARepeatedMergeFoldsLocalChangesIntoTheExistingMergedDataset) {
  auto s = memory_store();
  ASSERT_TRUE(s->set_identity("us-east-1:a").ok());
  ASSERT_TRUE(s->put("save", "first", "1").ok());
  ASSERT_TRUE(s->set_identity("us-east-1:b", IdentityChange::kMerge).ok());
  ASSERT_TRUE(s->set_identity("us-east-1:a").ok());  // back to a, which is empty now
  ASSERT_TRUE(s->put("save", "second", "2").ok());
  ASSERT_TRUE(s->set_identity("us-east-1:b", IdentityChange::kMerge).ok()) << "no UNIQUE crash";
  auto merged = *s->get_all("save.us-east-1:a");
  EXPECT_EQ(merged.size(), 2u);
  EXPECT_EQ(merged["first"], "1");
  EXPECT_EQ(merged["second"], "2");
}

TEST(Bug10, APutAfterAnUnsyncedDeleteIsDirtyAndPushed) {
  auto s = memory_store();
  ASSERT_TRUE(s->apply_remote("save", {remote("k", "v", 2)}, 2).ok());
  ASSERT_TRUE(s->delete_dataset("save").ok());
  ASSERT_TRUE(s->put("save", "k", "after delete").ok());
  EXPECT_EQ((*s->dataset("save"))->last_sync_count, kDeletePending)
      << "the remote delete still goes first";
  auto dirty = *s->dirty_records("save");
  ASSERT_EQ(dirty.size(), 1u);
  EXPECT_EQ(*dirty[0].value, "after delete");
  EXPECT_EQ(dirty[0].sync_count, 0) << "a new record of the recreated dataset";
}

TEST(Bug10, AnEmptyStringIsPushedAsAValueNotARemove) {
  auto s = memory_store();
  ASSERT_TRUE(s->put("d", "k", "").ok());
  auto dirty = *s->dirty_records("d");
  ASSERT_EQ(dirty.size(), 1u);
  ASSERT_TRUE(dirty[0].value.has_value());
  EXPECT_EQ(*dirty[0].value, "");
}

TEST(Bug11, AWriteOverALimitIsATypedErrorNotASilentDrop) {
  auto s = memory_store();
  Status st = s->put("d", "k", std::string(1048576, 'x'));
  EXPECT_EQ(st.code(), ErrorCode::kInvalidParameter);
  EXPECT_FALSE(st.message().empty());
  EXPECT_FALSE(s->dataset("d")->has_value()) << "nothing written, not even the dataset";
}

TEST(Bug11, SchemaMigrationsKeepEveryRowOfAnEarlierVersion) {
  TempDir dir;
  std::string file = dir.path + "/old.db";
  // A store as version 1 of the schema wrote it, with an unsynced write in it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  const char* v1 = R"sql(
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE datasets(owner TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,
      last_modified INTEGER NOT NULL, last_modified_by TEXT NOT NULL,
      last_sync_count INTEGER NOT NULL, last_sync_time INTEGER NOT NULL, PRIMARY KEY(owner, name));
    CREATE TABLE records(owner TEXT NOT NULL, dataset TEXT NOT NULL, key TEXT NOT NULL, value TEXT,
      sync_count INTEGER NOT NULL, last_modified INTEGER NOT NULL, last_modified_by TEXT NOT NULL,
      device_last_modified INTEGER NOT NULL, dirty INTEGER NOT NULL, local_version INTEGER NOT NULL,
      base_value TEXT, has_base INTEGER NOT NULL, PRIMARY KEY(owner, dataset, key),
      FOREIGN KEY(owner, dataset) REFERENCES datasets(owner, name));
    INSERT INTO meta VALUES('cairn.identity_id', 'us-east-1:legacy');
    INSERT INTO datasets VALUES('us-east-1:legacy', 'save', 1, 1, '', 5, 0);
    INSERT INTO records VALUES('us-east-1:legacy', 'save', 'gold', '99', 5, 1, 's', 1, 0, 0, '99', 1);
    INSERT INTO records VALUES('us-east-1:legacy', 'save', 'unsynced', 'keep me', 0, 0, '', 2, 1, 3, NULL, 0);
    PRAGMA user_version = 1;
  )sql";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  Options o;
  o.path = file;
  auto opened = LocalStore::open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto s = *opened;
  EXPECT_EQ(s->owner(), "us-east-1:legacy");
  EXPECT_EQ(**s->get("save", "gold"), "99");
  auto unsynced = **s->record("save", "unsynced");
  EXPECT_TRUE(unsynced.dirty);
  EXPECT_EQ(unsynced.local_version, 3);
  EXPECT_EQ((*s->dataset("save"))->last_sync_count, 5);
  ASSERT_TRUE(s->record_sync_result("save", "ok").ok()) << "the version-2 column works";
  EXPECT_EQ((*s->dataset("save"))->last_sync_result, "ok");
  // Version 3 indexed the dirty rows already there, and reads version-1 bases as they were.
  auto dirty = *s->dirty_records("save");
  ASSERT_EQ(dirty.size(), 1u);
  EXPECT_EQ(dirty[0].key, "unsynced");
  EXPECT_EQ((*s->sync_state("save"))->dirty_count, 1);
  ASSERT_TRUE(s->put("save", "gold", "100").ok());
  EXPECT_EQ((**s->record("save", "gold")).base_value, "99");
  // Version 4 moved the values apart from the sync state, every row with its own.
  auto all = *s->get_all_records("save");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].key, "unsynced");
  EXPECT_EQ(all[1].value, "keep me");
  EXPECT_FALSE(all[1].has_base);
  EXPECT_EQ((*s->dataset("save"))->record_count, 2);
  ASSERT_TRUE(s->delete_dataset("save").ok());
  ASSERT_TRUE(s->purge_dataset("save").ok());
  s.reset();
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM record_values", -1, &q, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(q, 0), 0) << "a deleted record's value goes with it";
  sqlite3_finalize(q);
  sqlite3_close(db);
}

// One integer read straight from the file by a query with an optional text parameter; -1 when
// there is no row.
int64_t file_int(const std::string& file, const char* sql, const std::string& param = "") {
  sqlite3* db = nullptr;
  sqlite3_open(file.c_str(), &db);
  sqlite3_stmt* q = nullptr;
  sqlite3_prepare_v2(db, sql, -1, &q, nullptr);
  if (sqlite3_bind_parameter_count(q) > 0) {
    sqlite3_bind_text(q, 1, param.c_str(), -1, SQLITE_TRANSIENT);
  }
  int64_t n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
  sqlite3_finalize(q);
  sqlite3_close(db);
  return n;
}
int64_t value_writes(const std::string& file) {
  return file_int(file, "SELECT n FROM value_writes");
}
// The raw has_base and base_value columns of a record.
std::pair<int64_t, bool> stored_base(const std::string& file, const std::string& key) {
  return {file_int(file, "SELECT has_base FROM records WHERE key = ?", key),
          file_int(file,
                   "SELECT v.base_value IS NULL FROM records r JOIN record_values v ON v.id = r.id "
                   "WHERE r.key = ?",
                   key) == 1};
}

// Counts the writes to the values' table from now on, through a trigger in the file.
void count_value_writes(const std::string& file) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  const char* sql = R"sql(
    CREATE TABLE value_writes(n INTEGER NOT NULL);
    INSERT INTO value_writes VALUES(0);
    CREATE TRIGGER value_updated AFTER UPDATE ON record_values
      BEGIN UPDATE value_writes SET n = n + 1; END;
  )sql";
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}
TEST(Sync, MarkingPushedRecordsCleanLeavesTheirValuesUnwritten) {
  TempDir dir;
  Options o;
  o.path = dir.path + "/clean.db";
  auto s = *LocalStore::open(o);
  ASSERT_TRUE(s->apply_remote("d", {remote("pulled", "old", 1)}, 1).ok());
  std::map<std::string, std::optional<std::string>> puts;
  for (int i = 0; i < 50; ++i) puts["new" + std::to_string(i)] = std::string(1000, 'v');
  ASSERT_TRUE(s->put_all("d", puts).ok());
  ASSERT_TRUE(s->put("d", "pulled", "changed").ok());  // its base is now the pulled "old"
  count_value_writes(o.path);

  auto snapshot = *s->dirty_records("d");
  ASSERT_EQ(snapshot.size(), 51u);
  std::vector<RemoteRecord> landed;
  for (const auto& item : snapshot) landed.push_back(remote(item.key, *item.value, 2));
  ASSERT_TRUE(s->mark_pushed("d", snapshot, landed, 2).ok());
  EXPECT_EQ(value_writes(o.path), 1) << "only the record whose stored base had to go";
  EXPECT_EQ((*s->sync_state("d"))->dirty_count, 0);
  EXPECT_EQ((**s->record("d", "pulled")).base_value, "changed");
  EXPECT_EQ((**s->record("d", "new7")).base_value, std::string(1000, 'v'));
  EXPECT_EQ(**s->get("d", "new7"), std::string(1000, 'v'));
}

TEST(RemoteUpdates, APageThatNamesAKeyTwiceKeepsTheLaterVersion) {
  auto s = memory_store();
  ASSERT_TRUE(s->apply_remote("d", {remote("k", "first", 1), remote("k", "second", 2)}, 2).ok());
  EXPECT_EQ(**s->get("d", "k"), "second");
  EXPECT_EQ((**s->record("d", "k")).sync_count, 2);
  EXPECT_EQ((*s->dataset("d"))->record_count, 1);
}

TEST(Sync, ACleanRecordStoresItsValueOnceAndTheFirstWriteKeepsItAsTheBase) {
  TempDir dir;
  Options o;
  o.path = dir.path + "/base.db";
  auto s = *LocalStore::open(o);
  ASSERT_TRUE(s->apply_remote("d", {remote("k", std::string(1000, 'p'), 1)}, 1).ok());
  EXPECT_EQ(stored_base(o.path, "k"), std::make_pair(int64_t{2}, true))
      << "pulled: the base is the value, not a second copy of it";
  EXPECT_EQ((**s->record("d", "k")).base_value, std::string(1000, 'p'));

  ASSERT_TRUE(s->put("d", "k", "mine").ok());
  auto written = **s->record("d", "k");
  EXPECT_EQ(written.base_value, std::string(1000, 'p')) << "the first write keeps the base";
  EXPECT_TRUE(written.has_base);
  ASSERT_TRUE(s->put("d", "k", "mine again").ok());
  EXPECT_EQ((**s->record("d", "k")).base_value, std::string(1000, 'p'))
      << "a second write before the sync still has the pulled base";

  auto snapshot = *s->dirty_records("d");
  ASSERT_TRUE(s->mark_pushed("d", snapshot, {remote("k", "mine again", 2)}, 2).ok());
  EXPECT_EQ(stored_base(o.path, "k"), std::make_pair(int64_t{2}, true));
  EXPECT_EQ((**s->record("d", "k")).base_value, "mine again") << "pushed: the base moves";
}

TEST(Sync, SyncStateCountsPendingChangesOnly) {
  auto s = memory_store();
  EXPECT_FALSE(s->sync_state("d")->has_value());
  ASSERT_TRUE(s->apply_remote("d", {remote("a", "1", 1), remote("b", "1", 1)}, 1).ok());
  EXPECT_EQ((*s->sync_state("d"))->dirty_count, 0);
  EXPECT_EQ((*s->sync_state("d"))->last_sync_count, 1);
  ASSERT_TRUE(s->put_all("d", {{"a", "2"}, {"c", "new"}}).ok());
  EXPECT_EQ((*s->sync_state("d"))->dirty_count, 2);
  ASSERT_TRUE(s->remove("d", "b").ok());
  EXPECT_EQ((*s->sync_state("d"))->dirty_count, 3);
  ASSERT_TRUE(s->delete_dataset("d").ok());
  EXPECT_EQ((*s->sync_state("d"))->last_sync_count, kDeletePending);
  EXPECT_EQ((*s->sync_state("d"))->dirty_count, 0);
}

TEST(RemoteUpdates, APulledValueReplacesTheCachedOne) {
  auto s = memory_store();
  ASSERT_TRUE(s->apply_remote("d", {remote("k", "v1", 1)}, 1).ok());
  EXPECT_EQ(**s->get("d", "k"), "v1");  // now in the read cache
  ASSERT_TRUE(s->apply_remote("d", {remote("k", "v2", 2)}, 2).ok());
  EXPECT_EQ(**s->get("d", "k"), "v2");
  ASSERT_TRUE(s->apply_remote("d", {remote("k", std::nullopt, 3)}, 3).ok());
  EXPECT_FALSE(s->get("d", "k")->has_value());
}

TEST(Limits, PulledRecordsCountTowardsTheQuotaOfLaterWrites) {
  Options o;
  o.limits.max_records = 3;
  auto s = *LocalStore::open(o);
  ASSERT_TRUE(s->put("d", "a", "1").ok());  // the running totals are loaded here
  ASSERT_TRUE(s->apply_remote("d", {remote("b", "1", 1)}, 1).ok());
  ASSERT_TRUE(s->put("d", "c", "1").ok());
  EXPECT_EQ(s->put("d", "e", "1").code(), ErrorCode::kLimitExceeded)
      << "a, b and c fill the dataset: the pulled b counts";
  ASSERT_TRUE(s->apply_remote("d", {remote("b", std::nullopt, 2)}, 2).ok());
  EXPECT_TRUE(s->put("d", "e", "1").ok()) << "a pulled removal frees its place";
}

TEST(Bug12, TwoHandlesToOneFileShareOneInstanceAndOneLockPerDataset) {
  TempDir dir;
  Options o;
  o.path = dir.path + "/cairn.db";
  auto first = *LocalStore::open(o);
  auto second = *LocalStore::open(o);
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(first->dataset_lock("save").get(), second->dataset_lock("save").get());
  EXPECT_NE(first->dataset_lock("save").get(), first->dataset_lock("other").get());
}

TEST(Bug13, RemoteRecordsAndTheNewCountLandTogether) {
  auto s = memory_store();
  std::vector<RemoteRecord> records;
  for (int i = 0; i < 100; ++i) records.push_back(remote("k" + std::to_string(i), "v", i + 1));
  ASSERT_TRUE(s->apply_remote("d", records, 100).ok());
  EXPECT_EQ(s->get_all("d")->size(), 100u);
  EXPECT_EQ((*s->dataset("d"))->last_sync_count, 100);
}

TEST(Bug14, RemoteTombstonesRemoveRecordsLocally) {
  auto s = memory_store();
  ASSERT_TRUE(s->apply_remote("d", {remote("ghost", "boo", 1)}, 1).ok());
  ASSERT_TRUE(s->apply_remote("d", {remote("ghost", std::nullopt, 2)}, 2).ok());
  EXPECT_FALSE(s->get("d", "ghost")->has_value());
  EXPECT_TRUE(s->get_all("d")->empty());
}

// --- files ---------------------------------------------------------------------------------------

TEST(Files, ACorruptFileIsAClearErrorWithARecoveryPathNotACrash) {
  TempDir dir;
  std::string file = dir.path + "/cairn.db";
  std::ofstream(file) << std::string(8192, 'G');
  Options o;
  o.path = file;
  auto r = LocalStore::open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(r.status().message().find("Move the file aside"), std::string::npos);
  // Following the recovery path works.
  std::filesystem::rename(file, file + ".corrupt");
  EXPECT_TRUE(LocalStore::open(o).ok());
}

TEST(Files, ATruncatedDatabaseIsReportedNotCrashedOn) {
  TempDir dir;
  std::string file = dir.path + "/cairn.db";
  {
    Options o;
    o.path = file;
    auto s = *LocalStore::open(o);
    std::map<std::string, std::optional<std::string>> many;
    for (int i = 0; i < 500; ++i) many["key" + std::to_string(i)] = std::string(200, 'v');
    ASSERT_TRUE(s->put_all("d", many).ok());
  }
  // Checkpointed into the main file by the close above; now cut the file in half.
  auto size = std::filesystem::file_size(file);
  std::filesystem::resize_file(file, size / 2);
  std::filesystem::remove(file + "-wal");
  Options o;
  o.path = file;
  auto r = LocalStore::open(o);
  if (r.ok()) {
    auto all = (*r)->get_all("d");
    EXPECT_FALSE(all.ok() && all->size() == 500u) << "half a file cannot hold every record";
    if (!all.ok()) {
      EXPECT_EQ(all.status().code(), ErrorCode::kCorruption);
    }
  } else {
    EXPECT_EQ(r.status().code(), ErrorCode::kCorruption);
  }
}

TEST(Files, InMemoryStoresAreIndependent) {
  auto a = memory_store();
  auto b = memory_store();
  ASSERT_TRUE(a->put("d", "k", "v").ok());
  EXPECT_FALSE(b->get("d", "k")->has_value());
}

}  // namespace
}  // namespace cairn::localstore
