// The engine's identity: the one its store belongs to, how it is found (the provider, or the id
// the store remembers), and moving the store when logins merge two identities.
#include "engine/engine.h"

namespace cairn::engine {

// --- identity ------------------------------------------------------------------------------------

Status Engine::adopt_identity(const std::string& identity_id, localstore::IdentityChange change) {
  {
    std::unique_lock<std::shared_mutex> l(identity_mu_);
    if (store_->has_identity() && store_->owner() == identity_id) return Status::OK();
    Status s = store_->set_identity(identity_id, change);
    if (!s.ok()) return s;
    ++generation_;
  }
  if (options_.logger) options_.logger->log(LogLevel::kInfo, "identity is now " + identity_id);
  std::weak_ptr<Engine> weak = weak_from_this();
  if (scheduler_) {
    scheduler_->post([weak, identity_id] {
      if (auto self = weak.lock()) self->renew_devices(identity_id);
    });
  }
  return Status::OK();
}

void Engine::on_provider_identity_changed(const std::string& old_id, const std::string& new_id) {
  // The service answered with another identity: logins merged the old one into it, and the server
  // moved its datasets to NAME.OLD_ID. The store does the same locally.
  Status s = adopt_identity(new_id, old_id.empty() ? localstore::IdentityChange::kSwitch
                                                   : localstore::IdentityChange::kMerge);
  if (!s.ok() && options_.logger) {
    options_.logger->log(LogLevel::kError,
                         "could not adopt identity " + new_id + ": " + s.ToString());
  }
}

Result<std::string> Engine::ensure_identity() {
  // Local reads and writes need no pool; everything that reaches the service does.
  if (options_.identity_pool_id.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "SyncManagerOptions.identity_pool_id is required to reach the service");
  }
  if (!service_error_.ok()) return service_error_;
  if (!provider_) {
    Status s = adopt_identity(options_.identity_id, localstore::IdentityChange::kSwitch);
    if (!s.ok()) return s;
    return options_.identity_id;
  }
  auto id = provider_->identity_id();
  if (!id.ok()) return id.status();
  // Fetching credentials may merge identities (logins of another identity); the provider then
  // names the survivor and on_provider_identity_changed has moved the store.
  auto creds = provider_->credentials();
  if (!creds.ok()) return creds.status();
  std::string current = provider_->cached_identity_id().value_or(*id);
  Status s = adopt_identity(current, localstore::IdentityChange::kSwitch);
  if (!s.ok()) return s;
  return current;
}

std::optional<std::string> Engine::cached_identity_id() const {
  if (!provider_) return options_.identity_id;
  if (auto id = provider_->cached_identity_id()) return id;
  if (store_->has_identity()) return store_->owner();
  return std::nullopt;
}

Status Engine::set_logins(identity::Logins logins) {
  if (!provider_) {
    return Status(ErrorCode::kInvalidArgument,
                  "set_logins needs the Cognito Identity provider; with developer credentials, "
                  "open a manager for the other identity");
  }
  provider_->set_logins(std::move(logins));
  auto id = ensure_identity();
  return id.ok() ? Status::OK() : id.status();
}

Status Engine::switch_identity(identity::Logins logins) {
  if (!provider_) {
    return Status(ErrorCode::kInvalidArgument,
                  "switch_identity needs the Cognito Identity provider");
  }
  {
    // Until the new identity is known, new writes are provisional: they must not land on the
    // previous player's data.
    std::unique_lock<std::shared_mutex> l(identity_mu_);
    provider_->clear();
    provider_->set_logins(std::move(logins));
    Status s = store_->clear_identity();
    if (!s.ok()) return s;
    ++generation_;
  }
  auto id = ensure_identity();
  return id.ok() ? Status::OK() : id.status();
}

Status Engine::wipe() {
  std::unique_lock<std::shared_mutex> l(identity_mu_);
  if (provider_) provider_->clear();
  Status s = store_->wipe();
  ++generation_;
  return s;
}

}  // namespace cairn::engine
