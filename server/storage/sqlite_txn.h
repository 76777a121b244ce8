// A transaction of the SQLite backend: StorageTxn's row operations as SQL on one connection, on
// which sqlite_storage.cc has begun the transaction and will end it.
#pragma once

#include <memory>

#include "common/sqlite.h"
#include "server/storage/storage.h"

namespace cairn::server::sqlite_txn {

std::unique_ptr<StorageTxn> open(sqlite::Connection& c);

}  // namespace cairn::server::sqlite_txn
