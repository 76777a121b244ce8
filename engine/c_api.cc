// The C API (include/cairn/cairn.h) over SyncManager and Dataset. Every entry point catches
// everything: no exception crosses the boundary.
#include "cairn/cairn.h"

#include <cstdlib>
#include <cstring>
#include <exception>

#include "cairn/sync_manager.h"

struct cairn_manager {
  std::unique_ptr<cairn::SyncManager> manager;
};

struct cairn_dataset {
  std::shared_ptr<cairn::Dataset> dataset;
};

namespace {

static_assert(CAIRN_CONFLICT_UNRESOLVED == static_cast<int>(cairn::ErrorCode::kConflictUnresolved),
              "cairn.h codes must follow cairn::ErrorCode");
static_assert(CAIRN_RESOURCE_CONFLICT == static_cast<int>(cairn::ErrorCode::kResourceConflict),
              "cairn.h codes must follow cairn::ErrorCode");
static_assert(CAIRN_NETWORK == static_cast<int>(cairn::ErrorCode::kNetwork),
              "cairn.h codes must follow cairn::ErrorCode");

char* copy(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

cairn_code report(const cairn::Status& s, char** error) {
  if (error) *error = s.ok() ? nullptr : copy(s.ToString());
  return static_cast<cairn_code>(s.code());
}

cairn_code invalid(const char* what, char** error) {
  return report(cairn::Status(cairn::ErrorCode::kInvalidArgument, what), error);
}

// Runs `body`, turning any exception into an error code.
template <typename F>
cairn_code c_boundary(char** error, F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return report(cairn::Status(cairn::ErrorCode::kInternalError,
                                std::string("cairn internal error: ") + e.what()),
                  error);
  } catch (...) {
    return report(cairn::Status(cairn::ErrorCode::kInternalError, "cairn internal error"), error);
  }
}

std::string str(const char* s) { return s ? s : ""; }

cairn::SyncCallbacks callbacks_for(cairn_conflict_fn on_conflict, void* user_data) {
  cairn::SyncCallbacks cb;
  if (!on_conflict) return cb;
  cb.on_conflict = [on_conflict, user_data](const std::vector<cairn::Conflict>& conflicts,
                                            const cairn::ResolveContext& context) {
    std::vector<cairn::Resolution> out;
    for (const auto& c : conflicts) {
      cairn_conflict cc{};
      cc.dataset = c.dataset.c_str();
      cc.key = c.key.c_str();
      cc.local_value = c.local_value ? c.local_value->c_str() : nullptr;
      cc.remote_value = c.remote_value ? c.remote_value->c_str() : nullptr;
      cc.base_value = c.base_value ? c.base_value->c_str() : nullptr;
      cc.has_base = c.has_base ? 1 : 0;
      cc.local_modified_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(c.local_modified.time_since_epoch())
              .count();
      cc.remote_modified_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  c.remote_modified.time_since_epoch())
                                  .count();
      cc.clock_skew_ms = context.clock_skew.count();
      const char* value = nullptr;
      switch (on_conflict(user_data, &cc, &value)) {
        case CAIRN_RESOLVE_REMOTE:
          out.push_back(cairn::Resolution::remote());
          break;
        case CAIRN_RESOLVE_LOCAL:
          out.push_back(cairn::Resolution::local());
          break;
        case CAIRN_RESOLVE_VALUE:
          out.push_back(cairn::Resolution::with_value(value ? std::optional<std::string>(value)
                                                            : std::nullopt));
          break;
        default:
          out.push_back(cairn::Resolution::unresolved());
      }
    }
    return out;
  };
  return cb;
}

}  // namespace

extern "C" {

const char* cairn_code_name(cairn_code code) {
  // error_code_name returns views of static literals, so data() is NUL-terminated.
  return cairn::error_code_name(static_cast<cairn::ErrorCode>(code)).data();
}

const char* cairn_version(void) { return CAIRN_VERSION_STRING; }

void cairn_string_free(char* s) { std::free(s); }

void cairn_options_init(cairn_options* options) {
  if (options) *options = cairn_options{};
}

cairn_code cairn_manager_open(const cairn_options* options, cairn_manager** out, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!options || !out) return invalid("cairn_manager_open: options and out are required", error);
    *out = nullptr;
    cairn::SyncManagerOptions o;
    o.endpoint = str(options->endpoint);
    o.region = str(options->region);
    o.identity_pool_id = str(options->identity_pool_id);
    o.database_path = str(options->database_path);
    for (size_t i = 0; i < options->login_count; ++i) {
      if (!options->login_providers || !options->login_tokens || !options->login_providers[i] ||
          !options->login_tokens[i]) {
        return invalid("cairn_options: login_count pairs of providers and tokens are required",
                       error);
      }
      o.logins[options->login_providers[i]] = options->login_tokens[i];
    }
    if (options->access_key_id || options->secret_access_key) {
      o.credentials = std::make_shared<cairn::StaticCredentialsProvider>(
          str(options->access_key_id), str(options->secret_access_key),
          str(options->session_token));
    }
    o.identity_id = str(options->identity_id);
    switch (options->resolver) {
      case CAIRN_RESOLVER_MERGE:
        o.resolver = cairn::three_way_merge();
        break;
      case CAIRN_RESOLVER_LWW:
        o.resolver = cairn::last_writer_wins();
        break;
      case CAIRN_RESOLVER_REMOTE:
        o.resolver = cairn::remote_wins();
        break;
      case CAIRN_RESOLVER_LOCAL:
        o.resolver = cairn::local_wins();
        break;
      default:
        return invalid("cairn_options.resolver is not a CAIRN_RESOLVER_* value", error);
    }
    o.delivery = options->delivery == CAIRN_DELIVERY_PUMPED ? cairn::CallbackDelivery::kPumped
                                                            : cairn::CallbackDelivery::kSyncThread;
    o.durable_writes = options->durable_writes != 0;
    auto m = cairn::SyncManager::open(std::move(o));
    if (!m.ok()) return report(m.status(), error);
    *out = new cairn_manager{std::move(*m)};
    return report(cairn::Status::OK(), error);
  });
}

void cairn_manager_close(cairn_manager* manager) {
  try {
    delete manager;
  } catch (...) {
  }
}

cairn_code cairn_identity_id(cairn_manager* manager, char** identity_id, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!manager || !identity_id) return invalid("cairn_identity_id: NULL argument", error);
    *identity_id = nullptr;
    auto id = manager->manager->identity_id();
    if (!id.ok()) return report(id.status(), error);
    *identity_id = copy(*id);
    return report(cairn::Status::OK(), error);
  });
}

void cairn_set_network_reachable(cairn_manager* manager, int reachable) {
  try {
    if (manager) manager->manager->set_network_reachable(reachable != 0);
  } catch (...) {
  }
}

size_t cairn_run_pending_callbacks(cairn_manager* manager) {
  try {
    return manager ? manager->manager->run_pending_callbacks() : 0;
  } catch (...) {
    return 0;
  }
}

cairn_code cairn_dataset_open(cairn_manager* manager, const char* name, cairn_dataset** out,
                              char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!manager || !name || !out) return invalid("cairn_dataset_open: NULL argument", error);
    *out = nullptr;
    auto d = manager->manager->open_or_create_dataset(name);
    if (!d.ok()) return report(d.status(), error);
    *out = new cairn_dataset{*d};
    return report(cairn::Status::OK(), error);
  });
}

void cairn_dataset_close(cairn_dataset* dataset) {
  try {
    delete dataset;
  } catch (...) {
  }
}

cairn_code cairn_put(cairn_dataset* dataset, const char* key, const char* value, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!dataset || !key || !value) return invalid("cairn_put: NULL argument", error);
    return report(dataset->dataset->put(key, value), error);
  });
}

cairn_code cairn_put_all(cairn_dataset* dataset, const char* const* keys, const char* const* values,
                         size_t count, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!dataset || (count > 0 && (!keys || !values))) {
      return invalid("cairn_put_all: NULL argument", error);
    }
    std::map<std::string, std::optional<std::string>> entries;
    for (size_t i = 0; i < count; ++i) {
      if (!keys[i]) return invalid("cairn_put_all: a NULL key", error);
      entries[keys[i]] = values[i] ? std::optional<std::string>(values[i]) : std::nullopt;
    }
    return report(dataset->dataset->put_all(entries), error);
  });
}

cairn_code cairn_dataset_size_bytes(cairn_dataset* dataset, int64_t* out, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!dataset || !out) return invalid("cairn_dataset_size_bytes: NULL argument", error);
    auto size = dataset->dataset->total_size_in_bytes();
    if (!size.ok()) return report(size.status(), error);
    *out = *size;
    return report(cairn::Status::OK(), error);
  });
}

cairn_code cairn_is_changed(cairn_dataset* dataset, const char* key, int* changed, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!dataset || !key || !changed) return invalid("cairn_is_changed: NULL argument", error);
    auto c = dataset->dataset->is_changed(key);
    if (!c.ok()) return report(c.status(), error);
    *changed = *c ? 1 : 0;
    return report(cairn::Status::OK(), error);
  });
}

cairn_code cairn_remove(cairn_dataset* dataset, const char* key, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!dataset || !key) return invalid("cairn_remove: NULL argument", error);
    return report(dataset->dataset->remove(key), error);
  });
}

cairn_code cairn_get(cairn_dataset* dataset, const char* key, char** value, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!dataset || !key || !value) return invalid("cairn_get: NULL argument", error);
    *value = nullptr;
    auto v = dataset->dataset->get(key);
    if (!v.ok()) return report(v.status(), error);
    if (*v) *value = copy(**v);
    return report(cairn::Status::OK(), error);
  });
}

cairn_code cairn_get_all(cairn_dataset* dataset, cairn_records** out, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!dataset || !out) return invalid("cairn_get_all: NULL argument", error);
    *out = nullptr;
    auto all = dataset->dataset->get_all();
    if (!all.ok()) return report(all.status(), error);
    auto* records = static_cast<cairn_records*>(std::calloc(1, sizeof(cairn_records)));
    if (records) {
      records->items =
          static_cast<cairn_record*>(std::calloc(all->size() + 1, sizeof(cairn_record)));
    }
    if (!records || !records->items) {
      std::free(records);
      return report(cairn::Status(cairn::ErrorCode::kStorage, "out of memory"), error);
    }
    for (const auto& [k, v] : *all) {
      records->items[records->count++] = {copy(k), copy(v)};
    }
    *out = records;
    return report(cairn::Status::OK(), error);
  });
}

void cairn_records_free(cairn_records* records) {
  if (!records) return;
  for (size_t i = 0; i < records->count; ++i) {
    std::free(records->items[i].key);
    std::free(records->items[i].value);
  }
  std::free(records->items);
  std::free(records);
}

cairn_code cairn_dataset_delete(cairn_dataset* dataset, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!dataset) return invalid("cairn_dataset_delete: NULL argument", error);
    return report(dataset->dataset->delete_dataset(), error);
  });
}

cairn_code cairn_dataset_status(cairn_dataset* dataset, cairn_status* out, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!dataset || !out) return invalid("cairn_dataset_status: NULL argument", error);
    auto st = dataset->dataset->status();
    auto count = dataset->dataset->last_sync_count();
    if (!count.ok()) return report(count.status(), error);
    *out = cairn_status{};
    out->state = static_cast<int>(st.state);
    out->pending_changes = st.pending_changes;
    out->last_sync_count = *count;
    out->has_last_result = st.last_result ? 1 : 0;
    out->last_result = st.last_result ? static_cast<cairn_code>(st.last_result->code()) : CAIRN_OK;
    out->pulled_records = st.pulled_records;
    return report(cairn::Status::OK(), error);
  });
}

cairn_code cairn_synchronize(cairn_dataset* dataset, cairn_conflict_fn on_conflict,
                             cairn_sync_done_fn done, void* user_data, char** error) {
  if (!dataset) return invalid("cairn_synchronize: NULL dataset", error);
  cairn_sync_callbacks callbacks{on_conflict, nullptr, nullptr, done};
  return cairn_synchronize_with(dataset, &callbacks, user_data, error);
}

cairn_code cairn_synchronize_with(cairn_dataset* dataset, const cairn_sync_callbacks* callbacks,
                                  void* user_data, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!dataset || !callbacks) return invalid("cairn_synchronize_with: NULL argument", error);
    cairn::SyncCallbacks cb = callbacks_for(callbacks->on_conflict, user_data);
    if (auto deleted = callbacks->on_dataset_deleted) {
      cb.on_dataset_deleted = [deleted, user_data](const std::string& name) {
        switch (deleted(user_data, name.c_str())) {
          case CAIRN_DELETED_RECREATE_FROM_LOCAL:
            return cairn::DatasetDeletedAction::kRecreateFromLocal;
          case CAIRN_DELETED_CANCEL:
            return cairn::DatasetDeletedAction::kCancel;
          default:
            return cairn::DatasetDeletedAction::kDropLocal;
        }
      };
    }
    if (auto merged = callbacks->on_datasets_merged) {
      cb.on_datasets_merged = [merged, user_data](const std::string& name,
                                                  const std::vector<std::string>& names) {
        std::vector<const char*> raw;
        raw.reserve(names.size());
        for (const auto& n : names) raw.push_back(n.c_str());
        switch (merged(user_data, name.c_str(), raw.data(), raw.size())) {
          case CAIRN_MERGED_IGNORE:
            return cairn::MergedDatasetsAction::kIgnore;
          case CAIRN_MERGED_CANCEL:
            return cairn::MergedDatasetsAction::kCancel;
          default:
            return cairn::MergedDatasetsAction::kFold;
        }
      };
    }
    if (auto done = callbacks->done) {
      cb.on_success = [done, user_data](const std::vector<cairn::Record>& updated) {
        done(user_data, CAIRN_OK, "", updated.size());
      };
      cb.on_failure = [done, user_data](const cairn::Status& s) {
        done(user_data, static_cast<cairn_code>(s.code()), s.ToString().c_str(), 0);
      };
    }
    dataset->dataset->synchronize(std::move(cb));
    return report(cairn::Status::OK(), error);
  });
}

cairn_code cairn_synchronize_wait(cairn_dataset* dataset, cairn_conflict_fn on_conflict,
                                  void* user_data, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!dataset) return invalid("cairn_synchronize_wait: NULL dataset", error);
    auto result = dataset->dataset->synchronize(callbacks_for(on_conflict, user_data)).get();
    return report(result.status, error);
  });
}

cairn_code cairn_register_device(cairn_manager* manager, const char* platform, const char* token,
                                 char** device_id, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!manager || !platform || !token || !device_id) {
      return invalid("cairn_register_device: NULL argument", error);
    }
    *device_id = nullptr;
    auto id = manager->manager->register_device(platform, token);
    if (!id.ok()) return report(id.status(), error);
    *device_id = copy(*id);
    return report(cairn::Status::OK(), error);
  });
}

cairn_code cairn_subscribe(cairn_manager* manager, const char* dataset, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!manager || !dataset) return invalid("cairn_subscribe: NULL argument", error);
    return report(manager->manager->subscribe(dataset), error);
  });
}

cairn_code cairn_unsubscribe(cairn_manager* manager, const char* dataset, char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!manager || !dataset) return invalid("cairn_unsubscribe: NULL argument", error);
    return report(manager->manager->unsubscribe(dataset), error);
  });
}

cairn_code cairn_handle_push_json(cairn_manager* manager, const char* json, int* started,
                                  char** error) {
  return c_boundary(error, [&]() -> cairn_code {
    if (!manager || !json) return invalid("cairn_handle_push_json: NULL argument", error);
    auto r = manager->manager->handle_push_json(json);
    if (!r.ok()) return report(r.status(), error);
    if (started) *started = *r ? 1 : 0;
    return report(cairn::Status::OK(), error);
  });
}

}  // extern "C"
