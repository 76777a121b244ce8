// The smallest embedding: usage `cairn-minimal ENDPOINT POOL_ID DB_PATH`.
// Every call that can fail returns a Status or a Result; this program checks each one.
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
  auto manager = cairn::SyncManager::open(options);
  if (!manager.ok()) {  // a bad path, an unwritable directory, a file that is not a database
    std::cerr << "cannot open " << options.database_path << ": " << manager.status().ToString()
              << "\n";
    return 2;
  }
  auto save = (*manager)->open_or_create_dataset("save");
  if (!save.ok()) {
    std::cerr << save.status().ToString() << "\n";
    return 2;
  }

  // Local: works offline, and returns once the write is committed to the database file.
  if (cairn::Status s = (*save)->put("level", "7"); !s.ok()) {
    std::cerr << "put: " << s.ToString() << "\n";
    return 2;
  }
  auto level = (*save)->get("level");
  if (!level.ok()) {
    std::cerr << "get: " << level.status().ToString() << "\n";
    return 2;
  }
  std::cout << "level = " << level->value_or("(absent)") << "\n";

  cairn::SyncCallbacks callbacks;  // conflicts: the manager's resolver, three-way merge
  cairn::SyncResult result = (*save)->synchronize(callbacks).get();
  if (!result.status.ok()) {
    std::cerr << "sync failed: " << result.status.ToString() << "\n";
    return 2;
  }
  std::cout << "synced\n";
  return 0;
}
