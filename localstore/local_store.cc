// LocalStore on SQLite (docs/localstore.md): opening a store (one instance per file in a process),
// its identity, metadata and dataset locks. Records are in records.cc, the sync's writes in
// sync_writes.cc, the schema in schema.cc.
#include "localstore/store_impl.h"

namespace cairn::localstore {
namespace {

// Registry: one instance per open file in this process.
std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, std::weak_ptr<LocalStore>>& registry() {
  static std::map<std::string, std::weak_ptr<LocalStore>> r;
  return r;
}

}  // namespace

// --- opening -------------------------------------------------------------------------------------

Result<std::shared_ptr<LocalStore>> LocalStore::open(const Options& options) {
  auto impl = std::make_unique<Impl>(options);
  impl->clock = options.clock ? options.clock : Clock::system();
  impl->memory = options.path.empty() || options.path == ":memory:";
  static std::atomic<int> memory_counter{0};
  if (impl->memory) {
    impl->path = "file:cairn-memory-" + std::to_string(getpid()) + "-" +
                 std::to_string(++memory_counter) + "?mode=memory&cache=shared";
  } else {
    std::error_code ec;
    auto parent = std::filesystem::path(options.path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    impl->path = std::filesystem::weakly_canonical(options.path, ec).string();
    if (ec) impl->path = options.path;
  }

  std::lock_guard<std::mutex> l(registry_mu());
  if (!impl->memory) {
    auto it = registry().find(impl->path);
    if (it != registry().end()) {
      if (auto existing = it->second.lock()) return existing;
    }
  }
  try {
    impl->writer = impl->connect();
    if (!impl->memory) {
      impl->checkpointer = std::make_unique<sqlite::Checkpointer>(
          impl->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
      impl->checkpointer->watch(*impl->writer);
    }
    impl->migrate();
    impl->load_owner();
  } catch (const sqlite::Error& e) {
    return impl->translate(e);
  }
  std::string key = impl->path;
  bool memory = impl->memory;
  std::shared_ptr<LocalStore> store(new LocalStore(std::move(impl)));
  if (!memory) registry()[key] = store;
  return store;
}

LocalStore::LocalStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalStore::~LocalStore() = default;

const Limits& LocalStore::limits() const { return impl_->options.limits; }
std::string LocalStore::path() const { return impl_->path; }

// --- identity ------------------------------------------------------------------------------------

std::string LocalStore::owner() const { return impl_->current_owner(); }

bool LocalStore::has_identity() const {
  std::lock_guard<std::mutex> l(impl_->owner_mu);
  return impl_->has_identity;
}

Status LocalStore::set_identity(const std::string& identity_id, IdentityChange change) {
  if (identity_id.empty() || identity_id.rfind("provisional:", 0) == 0) {
    return Status(ErrorCode::kInvalidArgument, "not an identity id: '" + identity_id + "'");
  }
  std::lock_guard<std::mutex> w(impl_->write_mu);
  std::string old = impl_->current_owner();
  if (old == identity_id) return Status::OK();
  bool from_provisional = !has_identity();
  Status s = impl_->translated([&] {
    sqlite::Transaction t(*impl_->writer, "BEGIN IMMEDIATE");
    Millis now = impl_->now();
    if (from_provisional || change == IdentityChange::kMerge) {
      std::vector<std::string> names;
      auto s = impl_->writer->prepare("SELECT name FROM datasets WHERE owner = ? ORDER BY name");
      s.bind(old);
      while (s.step()) names.push_back(s.text(0));
      for (const auto& name : names) {
        std::string target = name;
        if (!from_provisional) {
          // As the server names a merged dataset: NAME.OLD_ID, NAME shortened to fit 128.
          std::string suffix = "." + old;
          target = name.substr(0, 128 - std::min<size_t>(suffix.size(), 127)) + suffix;
        }
        impl_->move_dataset(old, name, identity_id, target, now);
      }
    }
    impl_->set_meta_locked("cairn.identity_id", identity_id);
    t.commit();
    impl_->cache.clear();
    return Status::OK();
  });
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(impl_->owner_mu);
  impl_->owner = identity_id;
  impl_->has_identity = true;
  return s;
}

Status LocalStore::clear_identity() {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  return impl_->translated([&] {
    impl_->writer->prepare("DELETE FROM meta WHERE key = 'cairn.identity_id'").run();
    impl_->cache.clear();
    impl_->load_owner();
    return Status::OK();
  });
}

// --- metadata and locks --------------------------------------------------------------------------

Result<int> LocalStore::synchronous() {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  try {
    auto s = impl_->writer->prepare("PRAGMA synchronous");
    s.step();
    return static_cast<int>(s.i64(0));
  } catch (const sqlite::Error& e) {
    return Status(ErrorCode::kStorage, e.what());
  }
}

Result<std::optional<std::string>> LocalStore::meta(const std::string& key) {
  return read_translated<std::optional<std::string>>(*impl_, [&](sqlite::Connection& c) {
    auto s = c.prepare("SELECT value FROM meta WHERE key = ?");
    s.bind(key);
    std::optional<std::string> v;
    if (s.step()) v = s.text(0);
    return v;
  });
}

Status LocalStore::set_meta(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  return impl_->translated([&] {
    impl_->set_meta_locked(key, value);
    return Status::OK();
  });
}

Status LocalStore::delete_meta(const std::string& key) {
  std::lock_guard<std::mutex> w(impl_->write_mu);
  return impl_->translated([&] {
    impl_->writer->prepare("DELETE FROM meta WHERE key = ?").bind(key).run();
    return Status::OK();
  });
}

Result<std::optional<std::string>> LocalStore::device_id(const std::string& platform) {
  return meta("cairn.device." + owner() + "." + platform);
}

Status LocalStore::set_device_id(const std::string& platform, const std::string& device_id) {
  return set_meta("cairn.device." + owner() + "." + platform, device_id);
}

Result<std::vector<std::string>> LocalStore::subscriptions() {
  std::string prefix = "cairn.subscription." + owner() + ".";
  return read_translated<std::vector<std::string>>(*impl_, [&](sqlite::Connection& c) {
    // Keys in [prefix, prefix + 0xFF) are exactly those starting with prefix.
    auto s = c.prepare("SELECT key FROM meta WHERE key >= ? AND key < ? ORDER BY key");
    s.bind(prefix).bind(prefix + "\xff");
    std::vector<std::string> out;
    while (s.step()) out.push_back(s.text(0).substr(prefix.size()));
    return out;
  });
}

Status LocalStore::set_subscribed(const std::string& dataset, bool subscribed) {
  std::string key = "cairn.subscription." + owner() + "." + dataset;
  return subscribed ? set_meta(key, "1") : delete_meta(key);
}

std::shared_ptr<std::mutex> LocalStore::dataset_lock(const std::string& dataset) {
  std::string key = impl_->current_owner() + '\n' + dataset;
  std::lock_guard<std::mutex> l(impl_->locks_mu);
  auto& slot = impl_->locks[key];
  auto lock = slot.lock();
  if (!lock) {
    lock = std::make_shared<std::mutex>();
    slot = lock;
  }
  return lock;
}

bool valid_dataset_name(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (unsigned char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace cairn::localstore
