// Uses the installed C++ API: a manager on an in-memory store, a local write and read.
#include <cairn/sync_manager.h>

#include <iostream>

int main() {
  cairn::SyncManagerOptions o;
  o.database_path = ":memory:";
  auto manager = cairn::SyncManager::open(o);
  if (!manager.ok()) return 1;
  auto save = (*manager)->open_or_create_dataset("save").value();
  if (!save->put("level", "7").ok()) return 1;
  std::cout << "c++: level=" << save->get("level").value().value_or("?") << "\n";
  return save->get("level").value() == "7" ? 0 : 1;
}
