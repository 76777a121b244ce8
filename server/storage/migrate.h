// Copying a whole server from one storage to another (cairn-server migrate), for the move from one
// SQLite file to PostgreSQL, or back. The copy goes through the Storage interface, so any pair of
// backends works, and it is verified: after the copy both sides are read again, table by table,
// and their digests must agree.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "server/storage/storage.h"

namespace cairn::server {

// Rows per table, and a digest over every row of every table in a canonical order.
struct StorageCensus {
  int64_t pools = 0;
  int64_t identities = 0;
  int64_t logins = 0;
  int64_t credentials = 0;
  int64_t datasets = 0;  // deleted ones included: their counts matter to syncing devices
  int64_t records = 0;   // removed ones included, likewise
  int64_t devices = 0;
  int64_t subscriptions = 0;
  int64_t meta = 0;
  std::string sha256;  // hex

  bool operator==(const StorageCensus& o) const;
  std::string summary() const;  // "3 pools, 120 identities, ..."
};

// Reads everything in one snapshot.
Result<StorageCensus> take_census(Storage& storage);

// Copies everything from `from`, read in one snapshot, into `to`, which must be empty (opened,
// never served from). Rows go in transactions of a few thousand; an interrupted copy is started
// over on an emptied target. `progress`,
// if given, hears each pool as it starts. Returns the census both sides agree on, or an error
// saying which counts differ.
Result<StorageCensus> migrate_storage(Storage& from, Storage& to,
                                      const std::function<void(const std::string&)>& progress = {});

// Backups of either backend, as a SQLite file. SQLite copies through its online backup API
// (backup_sqlite); PostgreSQL through migrate_storage, whose read is one snapshot, into FILE,
// written aside and renamed into place. Either runs while servers serve.
Status backup_storage(const std::string& db_url, const std::string& to_file);
// Puts a backup back. SQLite: replaces the database's contents (restore_sqlite; the server
// stopped). PostgreSQL: copies into the database or schema `db_url`, which must be empty, so that
// nothing a server holds is overwritten: restore into a new schema, then point the servers at it.
Status restore_storage(const std::string& from_file, const std::string& db_url);

}  // namespace cairn::server
