// Devices and push: RegisterDevice and the DeviceIds it gives, their renewal for a new identity,
// subscriptions, and the push payload a device receives.
#include "engine/engine.h"

#include <rapidjson/document.h>

#include "engine/convert.h"

namespace cairn::engine {
namespace {

// Engine keys in the store's meta table (the store's own start with "cairn.").
std::string token_key(const std::string& platform) { return "engine.push_token." + platform; }
constexpr char kLastPlatformKey[] = "engine.push_platform";

}  // namespace

// --- devices -------------------------------------------------------------------------------------

Result<std::string> Engine::register_device(const std::string& platform, const std::string& token) {
  if (platform != wire::kPlatformApns && platform != wire::kPlatformApnsSandbox &&
      platform != wire::kPlatformGcm && platform != wire::kPlatformAdm) {
    return Status(ErrorCode::kInvalidParameter,
                  "platform must be APNS, APNS_SANDBOX, GCM or ADM, not '" + platform + "'");
  }
  if (token.empty()) return Status(ErrorCode::kInvalidParameter, "the push token is empty");
  auto identity = ensure_identity();
  if (!identity.ok()) return identity.status();
  std::lock_guard<std::mutex> one_at_a_time(devices_mu_);
  auto cached = store_->device_id(platform);
  auto known_token = store_->meta(token_key(platform));
  if (cached.ok() && *cached && known_token.ok() && *known_token == token) return **cached;
  return register_locked(*identity, platform, token);
}

Result<std::string> Engine::register_locked(const std::string& identity,
                                            const std::string& platform, const std::string& token) {
  auto r = sync_->register_device({options_.identity_pool_id, identity, platform, token});
  if (!r.ok()) return r.status();
  if (!r->device_id || r->device_id->empty()) {
    return Status(ErrorCode::kParse, "RegisterDevice returned no DeviceId");
  }
  std::shared_lock<std::shared_mutex> l(identity_mu_);
  if (store_->owner() != identity) {
    return Status(ErrorCode::kCancelled, "the identity changed during RegisterDevice");
  }
  Status s = store_->set_device_id(platform, *r->device_id);
  if (s.ok()) s = store_->set_meta(token_key(platform), token);
  if (s.ok()) s = store_->set_meta(kLastPlatformKey, platform);
  if (!s.ok()) return s;
  start_listening();
  return *r->device_id;
}

std::optional<std::string> Engine::device_id(const std::string& platform) const {
  std::string p = platform;
  if (p.empty()) {
    auto last = store_->meta(kLastPlatformKey);
    if (!last.ok() || !*last) return std::nullopt;
    p = **last;
  }
  auto id = store_->device_id(p);
  return id.ok() ? *id : std::nullopt;
}

void Engine::renew_devices(const std::string& identity) {
  // A new identity needs its own registration, with the device's push tokens, and then the
  // subscriptions it had before. An identity that is already registered needs nothing.
  bool registered = false;
  {
    std::lock_guard<std::mutex> one_at_a_time(devices_mu_);
    // What to register, read in one view of the identity: it may change again meanwhile.
    std::vector<std::pair<std::string, std::string>> todo;  // platform, token
    {
      std::shared_lock<std::shared_mutex> l(identity_mu_);
      if (!store_->has_identity() || store_->owner() != identity) return;
      for (const char* platform : {wire::kPlatformApns, wire::kPlatformApnsSandbox,
                                   wire::kPlatformGcm, wire::kPlatformAdm}) {
        auto token = store_->meta(token_key(platform));
        auto cached = store_->device_id(platform);
        if (token.ok() && *token && cached.ok() && !*cached) todo.emplace_back(platform, **token);
      }
    }
    for (const auto& [platform, token] : todo) {
      auto r = register_locked(identity, platform, token);
      registered = registered || r.ok();
      if (!r.ok() && options_.logger) {
        options_.logger->log(
            LogLevel::kWarn,
            "could not register " + platform + " for the new identity: " + r.status().ToString());
      }
    }
  }
  if (!registered) return;
  auto subscriptions = store_->subscriptions();
  if (!subscriptions.ok()) return;
  for (const auto& dataset : *subscriptions) (void)set_subscription(dataset, true);
}

Status Engine::set_subscription(const std::string& dataset, bool subscribed) {
  if (Status named = check_dataset_name(dataset); !named.ok()) return named;
  auto device = device_id({});
  if (!device) {
    return Status(ErrorCode::kInvalidArgument,
                  "no device is registered: call register_device(platform, token) first");
  }
  auto identity = ensure_identity();
  if (!identity.ok()) return identity.status();
  if (subscribed) {
    auto r = sync_->subscribe_to_dataset({options_.identity_pool_id, *identity, dataset, *device});
    if (!r.ok()) return r.status();
  } else {
    auto r =
        sync_->unsubscribe_from_dataset({options_.identity_pool_id, *identity, dataset, *device});
    if (!r.ok() && r.status().code() != ErrorCode::kResourceNotFound) return r.status();
  }
  return store_->set_subscribed(dataset, subscribed);
}

Status Engine::set_all_subscriptions(bool subscribed) {
  std::vector<std::string> names;
  if (subscribed) {
    auto datasets = store_->list_datasets();
    if (!datasets.ok()) return datasets.status();
    for (const auto& d : *datasets) {
      if (d.last_sync_count != localstore::kDeletePending) names.push_back(d.name);
    }
  } else {
    auto subs = store_->subscriptions();
    if (!subs.ok()) return subs.status();
    names = *subs;
  }
  for (const auto& name : names) {
    Status s = set_subscription(name, subscribed);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Result<bool> Engine::handle_push(const std::map<std::string, std::string>& payload) {
  auto field = [&](const char* name) -> std::string {
    auto it = payload.find(name);
    return it == payload.end() ? std::string() : it->second;
  };
  if (field("source") != "cognito-sync") {
    return Status(ErrorCode::kInvalidArgument, "not a Cognito Sync push (source is '" +
                                                   field("source") + "', not 'cognito-sync')");
  }
  std::string dataset = field("datasetName");
  std::string count_text = field("syncCount");
  char* end = nullptr;
  long long remote_count = std::strtoll(count_text.c_str(), &end, 10);
  if (!localstore::valid_dataset_name(dataset) || count_text.empty() || *end != '\0') {
    return Status(ErrorCode::kInvalidArgument,
                  "a Cognito Sync push needs datasetName and a numeric syncCount");
  }
  if (field("identityPoolId") != options_.identity_pool_id) return false;  // another pool's
  auto current = cached_identity_id();
  if (!current || field("identityId") != *current) return false;  // another identity's
  auto info = store_->sync_state(dataset);
  if (!info.ok()) return info.status();
  int64_t local = *info ? (*info)->last_sync_count : 0;
  if (local == localstore::kDeletePending || local >= remote_count) return false;
  synchronize(dataset, {}, /*on_connectivity=*/true, /*automatic=*/true);
  return true;
}

Result<bool> Engine::handle_push_json(std::string_view json) {
  // The payload as the push services deliver it: a flat object; syncCount may be a number or a
  // string, and some platforms nest the fields under "data".
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Status(ErrorCode::kInvalidArgument, "the push payload is not a JSON object");
  }
  const rapidjson::Value* fields = &doc;
  if (doc.HasMember("data") && doc["data"].IsObject()) fields = &doc["data"];
  std::map<std::string, std::string> payload;
  for (const auto& m : fields->GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    if (m.value.IsString()) {
      payload[name] = std::string(m.value.GetString(), m.value.GetStringLength());
    } else if (m.value.IsInt64()) {
      payload[name] = std::to_string(m.value.GetInt64());
    }
  }
  return handle_push(payload);
}

}  // namespace cairn::engine
