#include "engine/sync_run.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "engine/convert.h"

namespace cairn::engine {
namespace {

constexpr int32_t kPageSize = 1024;  // what the official clients ask for

// "Current SyncCount for: K is: X not: Y" -> X (the server's count of K), or nullopt.
std::optional<int64_t> server_count_in(const std::string& message) {
  auto at = message.rfind(" is: ");
  if (at == std::string::npos) return std::nullopt;
  const char* begin = message.c_str() + at + 5;
  char* end = nullptr;
  long long n = std::strtoll(begin, &end, 10);
  if (end == begin) return std::nullopt;
  return n;
}

bool mentions_session(const std::string& message) {
  std::string lower = message;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("session") != std::string::npos;
}

}  // namespace

SyncRun::SyncRun(SyncContext& context, std::string dataset, SyncCallbacks callbacks)
    : ctx_(context),
      store_(context.store()),
      name_(std::move(dataset)),
      cb_(std::move(callbacks)) {}

Status SyncRun::check_live() {
  if (ctx_.closing()) return Status(ErrorCode::kCancelled, "the sync manager is closing");
  if (ctx_.generation() != generation_) {
    identity_changed_ = true;
    return Status(ErrorCode::kCancelled, "the identity changed during the sync of '" + name_ + "'");
  }
  return Status::OK();
}

template <typename F>
auto SyncRun::while_live(F&& step) -> decltype(step()) {
  std::shared_lock<std::shared_mutex> hold(ctx_.identity_mutex());
  Status live = check_live();
  if (!live.ok()) return live;
  return step();
}

SyncResult SyncRun::run() {
  auto identity = ctx_.ensure_identity();
  if (!identity.ok()) {
    // Recorded like any other outcome, so that the dataset's status shows how this attempt ended.
    std::shared_lock<std::shared_mutex> hold(ctx_.identity_mutex());
    if (auto info = store_.sync_state(name_); info.ok() && *info) {
      (void)store_.record_sync_result(name_, identity.status().ToString());
    }
    return SyncResult::failed(identity.status());
  }
  identity_ = *identity;
  generation_ = ctx_.generation();

  // One sync per dataset at a time, also across managers sharing the database file.
  auto lock = store_.dataset_lock(name_);
  std::lock_guard<std::mutex> hold(*lock);
  Status s;
  try {
    s = run_locked();
  } catch (const std::exception& ex) {
    s = Status(ErrorCode::kInvalidArgument, std::string("a sync callback threw: ") + ex.what());
  } catch (...) {
    s = Status(ErrorCode::kInvalidArgument, "a sync callback threw");
  }
  if (!identity_changed_ && !(s.ok() && result_recorded_)) {
    // Best effort: the outcome is also in the future and the callbacks.
    (void)while_live(
        [&] { return store_.record_sync_result(name_, s.ok() ? "ok" : s.ToString()); });
  }
  if (!s.ok()) updated_.clear();
  return {s, std::move(updated_), pulled_, pushed_, std::move(conflicts_)};
}

Status SyncRun::run_locked() {
  auto info = while_live([&] { return store_.sync_state(name_); });
  if (!info.ok()) return info.status();

  // 1. Deleted here: delete there.
  if (*info && (*info)->last_sync_count == localstore::kDeletePending) {
    Status s = delete_remote(name_);
    if (!s.ok()) return s;
    auto dirty = while_live([&] { return store_.dirty_records(name_); });
    if (!dirty.ok()) return dirty.status();
    if (dirty->empty()) return while_live([&] { return store_.purge_dataset(name_); });
    // Writes made after the delete start the dataset afresh.
    s = while_live([&] { return store_.set_last_sync_count(name_, 0); });
    if (!s.ok()) return s;
  }

  const int max_attempts = std::max(1, ctx_.options().max_push_attempts);
  bool deletion_handled = false;
  bool rollback_handled = false;
  std::vector<std::string> folded;  // merged datasets to delete once the push has landed
  for (int attempt = 1;;) {
    info = while_live([&] { return store_.sync_state(name_); });
    if (!info.ok()) return info.status();
    int64_t from = *info ? std::max<int64_t>(0, (*info)->last_sync_count) : 0;

    // 2. Pull.
    auto pulled = pull(name_, from, true);
    if (!pulled.ok()) return pulled.status();

    // 2b. The server went back: it holds the dataset at a count below the one this device
    // synced to, without having deleted it since (a restore from a backup). Records this device
    // holds clean may be ones the server lost, or holds older, so the device trusts none of its
    // clean flags: it offers every record again, and the pull from 0 that follows resolves them
    // against what the server has.
    if (from > 0 && pulled->exists && !pulled->deleted_after && pulled->dataset_sync_count < from &&
        !rollback_handled) {
      rollback_handled = true;
      if (ctx_.logger()) {
        ctx_.logger()->log(LogLevel::kWarn,
                           "the server holds '" + name_ + "' at count " +
                               std::to_string(pulled->dataset_sync_count) +
                               ", behind this device's " + std::to_string(from) +
                               " (restored from a backup?): offering every record again");
      }
      auto whole = pull(name_, 0, true);
      if (!whole.ok()) return whole.status();
      std::set<std::string> on_server;
      for (const auto& r : whole->records) on_server.insert(r.key);
      Status s = while_live([&] { return store_.reoffer_after_server_rollback(name_, on_server); });
      if (!s.ok()) return s;
      continue;
    }

    // 3a. Datasets merged into this one.
    MergedDatasetsAction merge = MergedDatasetsAction::kIgnore;
    if (!pulled->merged.empty()) {
      merge = MergedDatasetsAction::kFold;
      if (cb_.on_datasets_merged) {
        auto answer = ctx_.ask<MergedDatasetsAction>(
            [&] { return cb_.on_datasets_merged(name_, pulled->merged); });
        if (!answer) return check_live();
        merge = *answer;
      }
      if (merge == MergedDatasetsAction::kCancel) {
        return Status(ErrorCode::kCancelled,
                      "on_datasets_merged cancelled the sync of '" + name_ + "'");
      }
    }

    // 3b. Deleted on the server since this device last synced. A device at count 0 (one that
    // recreated the dataset after its own delete stays there until a pull catches up) is never
    // told of a deletion: then a record it holds from the server that the full pull did not
    // return says it.
    bool deleted = (from != 0 && !pulled->exists) || pulled->deleted_after;
    if (!deleted && from == 0 && *info) {
      std::set<std::string> on_server;
      if (pulled->exists) {
        for (const auto& r : pulled->records) on_server.insert(r.key);
      }
      auto missed = while_live([&] { return store_.holds_records_missing_from(name_, on_server); });
      if (!missed.ok()) return missed.status();
      deleted = *missed;
    }
    if (deleted && !deletion_handled) {
      deletion_handled = true;
      DatasetDeletedAction action = (*info && (*info)->dirty_count > 0)
                                        ? DatasetDeletedAction::kRecreateFromLocal
                                        : DatasetDeletedAction::kDropLocal;
      if (cb_.on_dataset_deleted) {
        auto answer = ctx_.ask<DatasetDeletedAction>([&] { return cb_.on_dataset_deleted(name_); });
        if (!answer) return check_live();
        action = *answer;
      }
      Status s;
      switch (action) {
        case DatasetDeletedAction::kCancel:
          return Status(ErrorCode::kCancelled,
                        "on_dataset_deleted cancelled the sync of '" + name_ + "'");
        case DatasetDeletedAction::kDropLocal:
          s = while_live([&] { return store_.purge_dataset(name_); });
          break;
        case DatasetDeletedAction::kRecreateFromLocal:
          s = while_live([&] { return store_.reset_for_recreate(name_); });
          break;
      }
      if (!s.ok()) return s;
      continue;  // pull again from 0: the server may hold a newer dataset of that name
    }

    // 4. Apply and resolve. Nothing to record when neither side has the dataset.
    if (*info || pulled->exists || !pulled->records.empty()) {
      Status s = apply(name_, *pulled, true);
      if (!s.ok()) return s;
    }
    if (merge == MergedDatasetsAction::kFold) {
      for (const auto& m : pulled->merged) {
        if (std::find(folded.begin(), folded.end(), m) != folded.end()) continue;
        Status s = fold(m);
        if (!s.ok()) return s;
        folded.push_back(m);
      }
    }

    // 5. Push.
    // Merged datasets wait for their remote delete after the push; otherwise the push ends the
    // sync.
    auto landed = push(*pulled, /*last_step=*/folded.empty());
    if (!landed.ok()) return landed.status();
    if (*landed) break;
    if (attempt >= max_attempts) {
      return Status(ErrorCode::kResourceConflict,
                    "gave up on '" + name_ + "' after " + std::to_string(attempt) +
                        " pushes lost to other writers; last: " + last_conflict_);
    }
    ++attempt;
    ctx_.count_push_retry();
  }

  // Merged datasets now live in this one: delete them, so they stop counting against the quota.
  for (const auto& m : folded) {
    Status s = delete_remote(m);
    if (s.ok()) s = while_live([&] { return store_.purge_dataset(m); });
    if (!s.ok()) {
      if (identity_changed_) return s;
      // Still delete-pending locally: the next sync of this dataset (or of `m`) retries it.
      if (ctx_.logger()) {
        ctx_.logger()->log(LogLevel::kWarn, "merged dataset '" + m +
                                                "' folded but not yet deleted: " + s.ToString());
      }
    }
  }
  return Status::OK();
}

Status SyncRun::delete_remote(const std::string& dataset) {
  auto r = ctx_.sync_client().delete_dataset({ctx_.options().identity_pool_id, identity_, dataset});
  Status live = check_live();
  if (!live.ok()) return live;
  if (!r.ok() && r.status().code() != ErrorCode::kResourceNotFound) return r.status();
  return Status::OK();
}

Result<SyncRun::Pull> SyncRun::pull(const std::string& dataset, int64_t from,
                                    bool report_progress) {
  Pull p;
  std::optional<std::string> next;
  std::optional<std::string> session;
  do {
    wire::ListRecordsRequest request{
        ctx_.options().identity_pool_id, identity_, dataset, from, next, kPageSize, session};
    auto page = ctx_.sync_client().list_records(request);
    Status live = check_live();
    if (!live.ok()) return live;
    if (!page.ok()) return page.status();
    p.records.reserve(p.records.size() + page->records.size());
    for (auto& r : page->records) {
      if (!r.key || r.key->empty()) {
        return Status(ErrorCode::kParse, "ListRecords returned a record without a Key");
      }
      progress_.pulled_bytes +=
          static_cast<int64_t>(r.key->size() + (r.value ? r.value->size() : 0));
      p.records.push_back(to_remote(std::move(r)));
    }
    pulled_ += static_cast<int64_t>(page->records.size());
    progress_.pulled_records += static_cast<int64_t>(page->records.size());
    ++progress_.pulled_pages;
    p.dataset_sync_count = page->dataset_sync_count.value_or(0);
    p.exists = page->dataset_exists.value_or(true);
    p.deleted_after = page->dataset_deleted_after_requested_sync_count.value_or(false);
    p.merged = page->merged_dataset_names;
    if (page->sync_session_token) session = page->sync_session_token;
    next = page->next_token;
    if (report_progress) ctx_.report_progress(name_, progress_);
  } while (next && !next->empty());
  p.session = session.value_or("");
  return p;
}

Result<std::vector<Resolution>> SyncRun::decide(const std::vector<Conflict>& conflicts) {
  ctx_.count_conflicts(conflicts.size());
  ResolveContext context{ctx_.sync_client().clock_skew()};
  std::vector<Resolution> out;
  // Out of the callback or the resolver, whichever answers.
  if (cb_.on_conflict) {
    auto answer =
        ctx_.ask<std::vector<Resolution>>([&] { return cb_.on_conflict(conflicts, context); });
    if (!answer) return check_live();
    out = std::move(*answer);
  } else {
    for (const auto& c : conflicts) out.push_back(ctx_.options().resolver(c, context));
  }
  out.resize(conflicts.size(), Resolution::unresolved());
  for (size_t i = 0; i < conflicts.size(); ++i) {
    if (out[i].kind == Resolution::Kind::kUnresolved) {
      return Status(ErrorCode::kConflictUnresolved,
                    "the conflict on key '" + conflicts[i].key + "' of dataset '" +
                        conflicts[i].dataset + "' was left unresolved; nothing was pushed");
    }
  }
  for (size_t i = 0; i < conflicts.size(); ++i) conflicts_.push_back({conflicts[i].key, out[i]});
  return out;
}

Status SyncRun::apply(const std::string& dataset, const Pull& pulled, bool report) {
  auto conflicts = while_live(
      [&] { return store_.apply_remote(dataset, pulled.records, pulled.dataset_sync_count); });
  if (!conflicts.ok()) return conflicts.status();
  std::set<std::string> conflicting;
  for (const auto& c : *conflicts) conflicting.insert(c.local.key);
  if (report) {
    for (const auto& r : pulled.records) {
      if (!conflicting.count(r.key)) updated_.push_back(to_public(r));
    }
  }
  if (conflicts->empty()) return Status::OK();

  std::vector<Conflict> open;
  for (const auto& c : *conflicts) open.push_back(to_public(dataset, c));
  auto resolutions = decide(open);
  if (!resolutions.ok()) return resolutions.status();
  for (size_t i = 0; i < open.size(); ++i) {
    const auto& c = (*conflicts)[i];
    const Resolution& r = (*resolutions)[i];
    std::optional<std::string> value = r.resulting_value(open[i]);
    bool dirty = value != c.remote.value;  // a value equal to the server's has nothing to push
    Status s = while_live([&] { return store_.resolve(dataset, c, value, dirty); });
    if (!s.ok()) return s;
    if (report && value != c.local.value) {
      Record changed = to_public(c.remote);
      changed.value = value;
      changed.dirty = dirty;
      updated_.push_back(std::move(changed));
    }
  }
  // Every pulled record is settled now, so the count may reach the pull's.
  return while_live([&] { return store_.set_last_sync_count(dataset, pulled.dataset_sync_count); });
}

Status SyncRun::fold(const std::string& merged) {
  auto info = while_live([&] { return store_.sync_state(merged); });
  if (!info.ok()) return info.status();
  if (*info && (*info)->last_sync_count == localstore::kDeletePending) {
    return Status::OK();  // folded by an earlier sync; only the remote delete is left
  }
  // The merged dataset as the server has it, plus whatever this device wrote to it locally.
  auto pulled = pull(merged, *info ? std::max<int64_t>(0, (*info)->last_sync_count) : 0, false);
  if (!pulled.ok()) return pulled.status();
  Status s = apply(merged, *pulled, false);
  if (!s.ok()) return s;
  auto records = while_live([&] { return store_.get_all_records(merged); });
  if (!records.ok()) return records.status();

  // Into this dataset: a key only the merged one has is taken; a key both have with different
  // values is a conflict, with this dataset as "local" and the merged one as "remote".
  std::map<std::string, std::optional<std::string>> writes;
  std::vector<Conflict> clashes;
  for (const auto& m : *records) {
    if (!m.value) continue;
    auto mine = while_live([&] { return store_.record(name_, m.key); });
    if (!mine.ok()) return mine.status();
    if (!*mine) {
      writes[m.key] = m.value;
      continue;
    }
    if ((*mine)->value == m.value) continue;
    Conflict c;
    c.dataset = name_;
    c.key = m.key;
    c.local_value = (*mine)->value;
    c.local_modified = to_time((*mine)->device_last_modified);
    c.remote_value = m.value;
    c.remote_modified = to_time(std::max(m.last_modified, m.device_last_modified));
    c.remote_modified_by = m.last_modified_by;
    c.remote_sync_count = m.sync_count;
    clashes.push_back(std::move(c));
  }
  if (!clashes.empty()) {
    auto resolutions = decide(clashes);
    if (!resolutions.ok()) return resolutions.status();
    for (size_t i = 0; i < clashes.size(); ++i) {
      auto value = (*resolutions)[i].resulting_value(clashes[i]);
      if (value != clashes[i].local_value) writes[clashes[i].key] = value;
    }
  }
  if (!writes.empty()) {
    s = while_live([&] { return store_.put_all(name_, writes); });
    if (!s.ok()) return s;
    for (const auto& [key, value] : writes) {
      Record r;
      r.key = key;
      r.value = value;
      r.dirty = true;
      updated_.push_back(std::move(r));
    }
  }
  return while_live([&] { return store_.delete_dataset(merged); });
}

Result<bool> SyncRun::push(const Pull& pulled, bool last_step) {
  auto items = while_live([&] { return store_.dirty_records(name_); });
  if (!items.ok()) return items.status();
  if (items->empty()) return true;

  wire::UpdateRecordsRequest request;
  request.identity_pool_id = ctx_.options().identity_pool_id;
  request.identity_id = identity_;
  request.dataset_name = name_;
  request.device_id = ctx_.device_id({});
  request.sync_session_token = pulled.session;
  // Write times go out on the server's clock (device time plus the measured skew), so another
  // device's last-writer-wins compares them with its own writes on one clock.
  auto skew = ctx_.sync_client().clock_skew();
  request.record_patches.reserve(items->size());
  for (const auto& item : *items) {
    wire::RecordPatch patch;
    patch.op = item.value ? wire::kOpReplace : wire::kOpRemove;
    patch.key = item.key;
    patch.value = item.value;
    patch.sync_count = item.sync_count;
    patch.device_last_modified_date = to_time(item.device_last_modified) + skew;
    request.record_patches.push_back(std::move(patch));
    progress_.pushing_bytes +=
        static_cast<int64_t>(item.key.size() + (item.value ? item.value->size() : 0));
  }
  progress_.pushing_records = static_cast<int64_t>(items->size());
  ctx_.report_progress(name_, progress_);
  auto response = ctx_.sync_client().update_records(request);
  progress_.pushing_records = progress_.pushing_bytes = 0;
  ctx_.report_progress(name_, progress_);
  Status live = check_live();
  if (!live.ok()) return live;
  if (!response.ok()) {
    const Status& st = response.status();
    if (st.code() == ErrorCode::kResourceConflict) {
      last_conflict_ = st.message();
      // The server's count of the key is one this device has already pulled past (a push that
      // landed without its answer, say): pull again from just below it.
      auto theirs = server_count_in(st.message());
      if (theirs && *theirs > 0 && *theirs <= pulled.dataset_sync_count) {
        Status s = while_live([&] { return store_.set_last_sync_count(name_, *theirs - 1); });
        if (!s.ok()) return s;
      }
      return false;
    }
    if (st.code() == ErrorCode::kInvalidParameter && mentions_session(st.message())) {
      last_conflict_ = st.message();
      return false;  // the session expired between pull and push: a new pull opens another
    }
    return st;
  }
  std::vector<localstore::RemoteRecord> results;
  int64_t newest = 0;
  results.reserve(response->records.size());
  for (auto& r : response->records) {
    if (!r.key) continue;
    results.push_back(to_remote(std::move(r)));
    newest = std::max(newest, results.back().sync_count);
  }
  // Only old + 1 proves that nobody else wrote in between; otherwise the next pull catches up.
  std::optional<int64_t> count;
  if (newest == pulled.dataset_sync_count + 1) count = newest;
  // As the sync's last step, the push records its outcome in the same transaction: one commit
  // fewer.
  std::optional<std::string> outcome;
  if (last_step) outcome = "ok";
  Status s = while_live([&] { return store_.mark_pushed(name_, *items, results, count, outcome); });
  if (!s.ok()) return s;
  pushed_ += static_cast<int64_t>(results.size());
  result_recorded_ = outcome.has_value();
  return true;
}

}  // namespace cairn::engine
