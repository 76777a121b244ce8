// libFuzzer target: the push payload parser (SyncManager::handle_push_json), on a manager whose
// network is off, so a payload that names a dataset is taken up to the sync it would start.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cairn/sync_manager.h"

namespace {

cairn::SyncManager& manager() {
  static cairn::SyncManager* instance = [] {
    char tmpl[] = "/tmp/cairn-fuzz-push-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    cairn::SyncManagerOptions o;
    o.endpoint = "http://127.0.0.1:9";
    o.region = "us-east-1";
    o.identity_pool_id = "us-east-1:00000000-0000-4000-8000-000000000000";
    o.database_path = dir + "/fuzz.db";
    auto m = cairn::SyncManager::open(std::move(o));
    if (!m.ok()) std::abort();
    (*m)->set_network_reachable(false);
    return m->release();
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string json(reinterpret_cast<const char*>(data), size);
  (void)manager().handle_push_json(json);
  return 0;
}
