// The SQLite backend: migrations, reopening, a schema from the future, and rollback on failure.
#include <gtest/gtest.h>

#include <sqlite3.h>
#include "temp_dir.h"

#include <filesystem>

#include "server/storage.h"

namespace cairn::server {
namespace {

using cairn::testing::TempDir;

TEST(SqliteStorage, MigratesCreatesDirectoriesAndKeepsDataAcrossReopens) {
  TempDir dir;
  std::string url = "sqlite:" + dir.path + "/nested/dir/cairn.db";
  {
    auto storage = open_storage(url);
    ASSERT_TRUE(storage.ok()) << storage.status().ToString();
    ASSERT_TRUE((*storage)
                    ->write([](StorageTxn& t) {
                      t.set_meta("k", "v");
                      return Status::OK();
                    })
                    .ok());
  }
  auto again = open_storage(url);
  ASSERT_TRUE(again.ok());
  std::optional<std::string> v;
  ASSERT_TRUE((*again)
                  ->read([&](StorageTxn& t) {
                    v = t.meta("k");
                    return Status::OK();
                  })
                  .ok());
  EXPECT_EQ(v, "v");
}

TEST(SqliteStorage, RefusesASchemaNewerThanItKnows) {
  TempDir dir;
  std::string file = dir.path + "/cairn.db";
  ASSERT_TRUE(open_storage("sqlite:" + file).ok());
  sqlite3* db = nullptr;
  sqlite3_open(file.c_str(), &db);
  sqlite3_exec(db, "INSERT INTO schema_migrations(version) VALUES(999)", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto r = open_storage("sqlite:" + file);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("newer than this server"), std::string::npos)
      << r.status().message();
}

TEST(SqliteStorage, AFailedTransactionLeavesNothingBehind) {
  TempDir dir;
  auto storage = std::move(open_storage("sqlite:" + dir.path + "/cairn.db")).value();
  Status s = storage->write([](StorageTxn& t) {
    t.set_meta("half", "written");
    return Status(ErrorCode::kResourceConflict, "changed my mind");
  });
  EXPECT_EQ(s.code(), ErrorCode::kResourceConflict);
  std::optional<std::string> v;
  ASSERT_TRUE(storage
                  ->read([&](StorageTxn& t) {
                    v = t.meta("half");
                    return Status::OK();
                  })
                  .ok());
  EXPECT_FALSE(v.has_value());
}

TEST(SqliteStorage, UnsupportedUrlsAreClearErrors) {
  auto r = open_storage("mysql://nope");
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("sqlite:PATH"), std::string::npos);
}

}  // namespace
}  // namespace cairn::server
