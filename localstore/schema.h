// The local store's schema: its versioned migrations, and the record row as the store reads it.
#pragma once

#include "common/sqlite.h"
#include "localstore/local_store.h"

namespace cairn::localstore::schema {

// Brings the database to this build's schema, one migration at a time in one transaction; a
// database newer than this build is an error.
void migrate(sqlite::Connection& writer);

// The records table's columns as read_record() reads them.
#define CAIRN_LOCAL_RECORD_COLUMNS                                                         \
  "key, value, sync_count, last_modified, last_modified_by, device_last_modified, dirty, " \
  "local_version, base_value, has_base"

Record read_record(const sqlite::Stmt& s);

}  // namespace cairn::localstore::schema
