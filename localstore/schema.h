// The local store's schema: its versioned migrations, and the record row as the store reads it.
#pragma once

#include "common/sqlite.h"
#include "localstore/local_store.h"

namespace cairn::localstore::schema {

// Brings the database to this build's schema, one migration at a time in one transaction; a
// database newer than this build is an error.
void migrate(sqlite::Connection& writer);

// A record as read_record() reads it: its sync state (records r) and what local writes change
// (record_values v). The statement goes on with WHERE on r's columns; column 10 is the row's id.
#define CAIRN_LOCAL_RECORD_SELECT                                                                  \
  "SELECT r.key, v.value, r.sync_count, r.last_modified, r.last_modified_by, "                     \
  "v.device_last_modified, r.dirty, v.local_version, v.base_value, r.has_base, r.id FROM records " \
  "r JOIN record_values v ON v.id = r.id "

Record read_record(const sqlite::Stmt& s);

}  // namespace cairn::localstore::schema
