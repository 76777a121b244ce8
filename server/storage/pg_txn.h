// A transaction of the PostgreSQL backend: StorageTxn's row operations as SQL on one connection.
// Write transactions lock what they read to decide before reading it (PgTxn::lock in
// pg_txn.cc); pg_storage.cc opens them, commits and retries.
#pragma once

#include <memory>
#include <string>

#include "server/storage/pg_connection.h"
#include "server/storage/storage.h"

namespace cairn::server::pg {

// A transaction on `c`, already begun. `channel` carries revocations (announce_revocation);
// `schema` scopes its advisory locks; `writing` makes its reads lock.
std::unique_ptr<StorageTxn> open_txn(Connection& c, const std::string& channel,
                                     const std::string& schema, bool writing);

// Sends `message` on `channel` when `txn` (from open_txn) commits.
void notify(StorageTxn& txn, const std::string& channel, const std::string& message);

}  // namespace cairn::server::pg
