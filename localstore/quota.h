// The limits a local write is held to (Limits: datasets per identity, live records and bytes per
// dataset, key and value lengths), checked against running totals so that a put never adds the
// dataset up. A dataset's totals are counted from the database on first use and then kept; a
// write other than a local put or a sync's (a purge, a merge, an identity move) forgets them, to
// be counted afresh.
//
// Not thread-safe: every member runs under the store's write lock, on its writer connection.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cairn/status.h"
#include "common/sqlite.h"
#include "localstore/local_store.h"

namespace cairn::localstore {

class Quota {
 public:
  struct Totals {
    bool exists = false;  // the dataset has a row
    int64_t live = 0;     // live records
    int64_t bytes = 0;    // UTF-8 bytes of key plus value, live records
    std::unordered_map<std::string, int64_t> live_bytes;  // key -> its share of `bytes`
  };

  explicit Quota(const Limits& limits) : limits_(limits) {}

  // One batch of local writes to one dataset, staged against its totals: each write is checked
  // and counted as it is staged, and undo() puts the totals back exactly as they were, so a
  // refused or failed batch leaves no trace. It keeps an undo log of only the keys it touched.
  class Batch {
   public:
    Batch(Quota& quota, sqlite::Connection& writer, const std::string& owner,
          const std::string& dataset);
    // Checks one write against the limits and counts it; nothing is written to the database.
    // `key` must outlive the batch.
    Status stage(const std::string& key, const std::optional<std::string>& value);
    void undo();
    // Whether the dataset had a row before this batch.
    bool existed() const { return existed_; }
    // The batch is in the database: the dataset exists now.
    void committed() { totals_.exists = true; }

   private:
    Quota& quota_;
    sqlite::Connection& writer_;
    const std::string& owner_;
    const std::string& dataset_;
    Totals& totals_;
    const bool existed_;
    const int64_t live_before_, bytes_before_;
    bool counted_new_dataset_ = false;
    std::vector<std::pair<const std::string*, std::optional<int64_t>>> undo_;  // key, old bytes
  };

  // After a sync wrote these records (pairs whose first points to the key, whose second to the
  // value, nullopt when deleted): loaded totals follow instead of starting over.
  void synced(
      const std::string& owner, const std::string& dataset,
      const std::vector<std::pair<const std::string*, const std::optional<std::string>*>>& written);
  void forget(const std::string& owner, const std::string& dataset) {
    totals_.erase(std::make_pair(owner, dataset));
  }
  void clear() { totals_.clear(); }

 private:
  Totals& totals(sqlite::Connection& writer, const std::string& owner, const std::string& dataset);
  // Moves the totals to `key` holding `value` (nullopt: removed).
  static void count(Totals& t, const std::string& key, const std::optional<std::string>& value);

  const Limits limits_;
  std::map<std::pair<std::string, std::string>, Totals> totals_;
};

}  // namespace cairn::localstore
