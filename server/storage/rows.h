// The mapping between the storage rows (storage.h) and the tables, written once for both backends:
// one column list per table, in the order of its CREATE TABLE, and one reader per row type. A
// reader takes any cursor positioned on a row that reads column N as text(N), i64(N),
// opt_text(N) and opt_i64(N): SQLite's statement, or PostgreSQL's result at a row.
#pragma once

#include "server/storage/storage.h"

namespace cairn::server::rows {

// The column lists, as macros so that they join string literals into each statement's SQL.
#define CAIRN_POOL_COLUMNS                                                                  \
  "id, name, allow_unauthenticated, developer_provider_name, settings_json, events_json, "  \
  "push_sync_json, streams_json, bulk_status, bulk_started, bulk_completed, bulk_failure, " \
  "sync_sessions, created, modified"
#define CAIRN_DATASET_COLUMNS                                                         \
  "pool_id, identity_id, name, created, modified, modified_by, sync_count, deleted, " \
  "deleted_at_count, merge_root, num_records, data_storage"
#define CAIRN_RECORD_COLUMNS \
  "identity_id, dataset, key, value, sync_count, modified, modified_by, device_modified"
#define CAIRN_DEVICE_COLUMNS "id, identity_id, pool_id, platform, token, created"
#define CAIRN_CREDENTIALS_COLUMNS \
  "access_key_id, secret_access_key, session_token_sha256, identity_id, pool_id, expires"
#define CAIRN_OUTBOX_COLUMNS                                                                 \
  "id, pool_id, identity_id, dataset, operation, device_id, sync_count, modified, webhook, " \
  "stream, stream_record, done, attempts, created, lease_until"

template <typename Cursor>
PoolRow pool(const Cursor& c) {
  PoolRow r;
  r.id = c.text(0);
  r.name = c.text(1);
  r.allow_unauthenticated = c.i64(2) != 0;
  r.developer_provider_name = c.text(3);
  r.settings_json = c.text(4);
  r.events_json = c.text(5);
  r.push_sync_json = c.text(6);
  r.streams_json = c.text(7);
  r.bulk_status = c.text(8);
  r.bulk_started = c.i64(9);
  r.bulk_completed = c.i64(10);
  r.bulk_failure = c.text(11);
  r.sync_sessions = c.i64(12);
  r.created = c.i64(13);
  r.modified = c.i64(14);
  return r;
}

template <typename Cursor>
DatasetRow dataset(const Cursor& c) {
  DatasetRow r;
  r.pool_id = c.text(0);
  r.identity_id = c.text(1);
  r.name = c.text(2);
  r.created = c.i64(3);
  r.modified = c.i64(4);
  r.modified_by = c.text(5);
  r.sync_count = c.i64(6);
  r.deleted = c.i64(7) != 0;
  r.deleted_at_count = c.i64(8);
  r.merge_root = c.text(9);
  r.num_records = c.i64(10);
  r.data_storage = c.i64(11);
  return r;
}

template <typename Cursor>
RecordRow record(const Cursor& c) {
  RecordRow r;
  r.identity_id = c.text(0);
  r.dataset = c.text(1);
  r.key = c.text(2);
  r.value = c.opt_text(3);
  r.sync_count = c.i64(4);
  r.modified = c.i64(5);
  r.modified_by = c.text(6);
  r.device_modified = c.opt_i64(7);
  return r;
}

template <typename Cursor>
DeviceRow device(const Cursor& c) {
  return {c.text(0), c.text(1), c.text(2), c.text(3), c.text(4), c.i64(5)};
}

template <typename Cursor>
CredentialsRow credentials(const Cursor& c) {
  return {c.text(0), c.text(1), c.text(2), c.text(3), c.text(4), c.i64(5)};
}

template <typename Cursor>
OutboxRow outbox(const Cursor& c) {
  OutboxRow r;
  r.id = c.i64(0);
  r.pool_id = c.text(1);
  r.identity_id = c.text(2);
  r.dataset = c.text(3);
  r.operation = c.text(4);
  r.device_id = c.opt_text(5);
  r.sync_count = c.i64(6);
  r.modified = c.i64(7);
  r.webhook = c.i64(8) != 0;
  r.stream = c.text(9);
  r.stream_record = c.text(10);
  r.done = c.text(11);
  r.attempts = c.i64(12);
  r.created = c.i64(13);
  r.lease_until = c.i64(14);
  return r;
}

}  // namespace cairn::server::rows
