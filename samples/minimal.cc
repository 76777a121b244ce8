// The smallest embedding: usage `cairn-minimal ENDPOINT POOL_ID DB_PATH`.
#include <iostream>

#include "cairn/sync_manager.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: cairn-minimal ENDPOINT POOL_ID DB_PATH\n";
    return 1;
  }
  cairn::SyncManagerOptions options;
  options.endpoint = argv[1];  // empty for real AWS, with options.region
  options.identity_pool_id = argv[2];
  options.database_path = argv[3];
  auto manager = cairn::SyncManager::open(options).value();
  auto save = manager->open_or_create_dataset("save").value();

  (void)save->put("level", "7");  // local: works offline, returns once written to disk
  std::cout << "level = " << save->get("level").value().value_or("?") << "\n";

  cairn::SyncCallbacks callbacks;
  callbacks.on_conflict = [](const std::vector<cairn::Conflict>& conflicts,
                             const cairn::ResolveContext& context) {
    std::vector<cairn::Resolution> out;
    for (const auto& c : conflicts) out.push_back(cairn::three_way_merge()(c, context));
    return out;
  };
  callbacks.on_failure = [](const cairn::Status& s) { std::cerr << s.ToString() << "\n"; };
  cairn::SyncResult result = save->synchronize(callbacks).get();
  std::cout << (result.status.ok() ? "synced" : "sync failed") << "\n";
  return result.status.ok() ? 0 : 2;
}
