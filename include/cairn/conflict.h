// Conflict resolution: what a sync does when a record changed both here and on the server.
//
// A resolver is a pure function from a Conflict to a Resolution. The built-in ones are:
//   remote_wins()        take the server's version;
//   local_wins()         keep this device's version (pushed with the server's sync count);
//   last_writer_wins()   the later write wins, comparing the local write time, moved onto the
//                        server's clock by the measured skew, with the server's record time;
//   three_way_merge()    JSON objects merged field by field against the last synced value, so a
//                        field changed on one side only is never a conflict; anything else falls
//                        back to a rule (last-writer-wins by default).
// A custom resolver is any callable with the same signature, e.g. a game's own rule.
//
// Thread safety: the built-in resolvers hold no state and may run on any thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "cairn/export.h"
#include "cairn/timestamp.h"

namespace cairn {

struct Conflict {
  std::string dataset;
  std::string key;

  std::optional<std::string> local_value;  // nullopt: removed on this device
  Timestamp local_modified;                // when this device wrote it (device clock)

  std::optional<std::string> remote_value;  // nullopt: removed on the server
  // When the remote value was written, on the server's clock: its DeviceLastModifiedDate (cairn
  // sends it corrected by the measured skew), else the server's LastModifiedDate.
  Timestamp remote_modified;
  std::string remote_modified_by;
  int64_t remote_sync_count = 0;

  // The value both sides last agreed on (the last synced value); absent if the record was never
  // synced here. base_value nullopt with has_base true means the agreed state was "removed".
  std::optional<std::string> base_value;
  bool has_base = false;
};

struct ResolveContext {
  // Server time minus device time, as the transport measured it from the Date header.
  std::chrono::milliseconds clock_skew{0};
};

struct CAIRN_CPP_API Resolution {
  enum class Kind { kRemote, kLocal, kValue, kUnresolved };
  Kind kind = Kind::kUnresolved;
  std::optional<std::string> value;  // for kValue; nullopt removes the record
  bool merged = false;               // kValue made of both sides (three_way_merge)

  static Resolution remote() { return {Kind::kRemote, std::nullopt}; }
  static Resolution local() { return {Kind::kLocal, std::nullopt}; }
  static Resolution with_value(std::optional<std::string> v) {
    return {Kind::kValue, std::move(v)};
  }
  static Resolution merge_of_both(std::string v) { return {Kind::kValue, std::move(v), true}; }
  // Leaves the conflict open: the sync then fails with a clear error naming the key.
  static Resolution unresolved() { return {Kind::kUnresolved, std::nullopt}; }

  // The value the record ends up with, given the conflict.
  std::optional<std::string> resulting_value(const Conflict& c) const;
  // "remote", "local", "merged" (a value made of both), "value" (another value) or "unresolved".
  std::string_view name() const;
};

using Resolver = std::function<Resolution(const Conflict&, const ResolveContext&)>;

CAIRN_CPP_API Resolver remote_wins();
CAIRN_CPP_API Resolver local_wins();
CAIRN_CPP_API Resolver last_writer_wins();

// What three_way_merge does with a field both sides changed differently, and with values that
// are not JSON objects.
enum class MergeFallback { kLastWriterWins, kRemote, kLocal };
CAIRN_CPP_API Resolver three_way_merge(MergeFallback fallback = MergeFallback::kLastWriterWins);

// Merges three JSON texts (base may be empty: no base). nullopt when local and remote are not both
// JSON objects, or when a field changed on both sides and `prefer_local` cannot decide it (the
// caller then falls back). With prefer_local set, both-sides fields take local (true) or remote.
CAIRN_CPP_API std::optional<std::string> merge_json_objects(const std::optional<std::string>& base,
                                                            const std::string& local,
                                                            const std::string& remote,
                                                            std::optional<bool> prefer_local);

}  // namespace cairn
