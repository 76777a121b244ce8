// Conversions between the wire types, the local store's types and the public API's.
#pragma once

#include <chrono>

#include "cairn/cognito/sync_types.h"
#include "cairn/conflict.h"
#include "cairn/sync_manager.h"
#include "localstore/local_store.h"

namespace cairn::engine {

inline Timestamp to_time(localstore::Millis ms) { return Timestamp(std::chrono::milliseconds(ms)); }
inline localstore::Millis to_millis(Timestamp t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

inline localstore::RemoteRecord to_remote(const wire::Record& r) {
  localstore::RemoteRecord out;
  out.key = r.key.value_or("");
  out.value = r.value;
  out.sync_count = r.sync_count.value_or(0);
  out.last_modified = r.last_modified_date ? to_millis(*r.last_modified_date) : 0;
  out.last_modified_by = r.last_modified_by.value_or("");
  if (r.device_last_modified_date)
    out.device_last_modified = to_millis(*r.device_last_modified_date);
  return out;
}

// The same, taking the strings over: a page's records are not needed once converted.
inline localstore::RemoteRecord to_remote(wire::Record&& r) {
  localstore::RemoteRecord out;
  out.key = r.key ? std::move(*r.key) : std::string();
  out.value = std::move(r.value);
  out.sync_count = r.sync_count.value_or(0);
  out.last_modified = r.last_modified_date ? to_millis(*r.last_modified_date) : 0;
  out.last_modified_by = r.last_modified_by ? std::move(*r.last_modified_by) : std::string();
  if (r.device_last_modified_date)
    out.device_last_modified = to_millis(*r.device_last_modified_date);
  return out;
}

inline Record to_public(const localstore::Record& r) {
  return {r.key,
          r.value,
          r.sync_count,
          to_time(r.last_modified),
          r.last_modified_by,
          to_time(r.device_last_modified),
          r.dirty};
}

inline Record to_public(const localstore::RemoteRecord& r) {
  return {r.key,
          r.value,
          r.sync_count,
          to_time(r.last_modified),
          r.last_modified_by,
          to_time(r.device_last_modified.value_or(r.last_modified)),
          false};
}

inline DatasetMetadata to_public(const localstore::DatasetInfo& d) {
  return {d.name,
          to_time(d.created),
          to_time(d.last_modified),
          d.last_modified_by,
          d.storage_bytes,
          d.record_count,
          d.dirty_count,
          d.last_sync_count,
          to_time(d.last_sync_time),
          d.last_sync_result};
}

inline Conflict to_public(const std::string& dataset, const localstore::Conflict& c) {
  Conflict out;
  out.dataset = dataset;
  out.key = c.local.key;
  out.local_value = c.local.value;
  out.local_modified = to_time(c.local.device_last_modified);
  out.remote_value = c.remote.value;
  // When the remote value was written: cairn writers send DeviceLastModifiedDate on the server's
  // clock, so it compares with the local write time moved by the measured skew. Without it, the
  // server's LastModifiedDate (the push time) is the best basis there is.
  out.remote_modified = to_time(c.remote.device_last_modified.value_or(c.remote.last_modified));
  out.remote_modified_by = c.remote.last_modified_by;
  out.remote_sync_count = c.remote.sync_count;
  out.base_value = c.local.base_value;
  out.has_base = c.local.has_base;
  return out;
}

}  // namespace cairn::engine
