// The tables the raw SQLite floors write: the device's record columns (localstore keeps them in
// two tables, the sync state and the values; the floor stores them in one, the least a design can
// write) and the server's (server/sqlite_storage.cc), with the same pragmas.
#pragma once

namespace cairn::bench {

// The device's: the engine's default (SyncManagerOptions::durable_writes false).
inline constexpr char kRawPragmas[] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
// cairn-server's default (--durability full): every commit is on disk before it is acknowledged.
inline constexpr char kRawServerSynchronous[] = "PRAGMA synchronous=FULL;";
inline constexpr char kRawDeviceSynchronous[] = "PRAGMA synchronous=NORMAL;";

inline constexpr char kRawDeviceRecords[] =
    "CREATE TABLE records(owner TEXT NOT NULL, dataset TEXT NOT NULL, key TEXT NOT NULL,"
    " value TEXT, sync_count INTEGER NOT NULL, last_modified INTEGER NOT NULL,"
    " last_modified_by TEXT NOT NULL, device_last_modified INTEGER NOT NULL,"
    " dirty INTEGER NOT NULL, local_version INTEGER NOT NULL, base_value TEXT,"
    " has_base INTEGER NOT NULL, PRIMARY KEY(owner, dataset, key));";

// The device's sync state apart from the values: what marking a pushed record clean must store at
// least (its new sync count and clean flag), in a table whose rows are small.
inline constexpr char kRawDeviceState[] =
    "CREATE TABLE record_state(owner TEXT NOT NULL, dataset TEXT NOT NULL, key TEXT NOT NULL,"
    " sync_count INTEGER NOT NULL, dirty INTEGER NOT NULL, PRIMARY KEY(owner, dataset, key));";
// A dirty row of it (dataset, key), and marking one clean with a new count (dataset, key).
inline constexpr char kRawStateInsert[] = "INSERT INTO record_state VALUES('owner', ?, ?, 0, 1)";
inline constexpr char kRawStateMarkClean[] =
    "UPDATE record_state SET sync_count = sync_count + 1, dirty = 0 WHERE owner = 'owner' AND "
    "dataset = ? AND key = ?";

inline constexpr char kRawServerRecords[] =
    "CREATE TABLE server_records(identity_id TEXT NOT NULL, dataset TEXT NOT NULL,"
    " key TEXT NOT NULL, value TEXT, sync_count INTEGER NOT NULL,"
    " modified INTEGER NOT NULL, modified_by TEXT NOT NULL, device_modified INTEGER,"
    " PRIMARY KEY(identity_id, dataset, key));"
    "CREATE INDEX server_by_count ON server_records(identity_id, dataset, sync_count, key);";

}  // namespace cairn::bench
