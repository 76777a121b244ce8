// Compiled as Unreal compiles a game module by default: -fno-exceptions -fno-rtti. It includes
// every public C++ header and uses the manager, a dataset, a resolver and the logger, so that a
// header needing either would fail here rather than in a game's build.
#include <cairn/clock.h>
#include <cairn/cognito/client_config.h>
#include <cairn/cognito/identity.h>
#include <cairn/cognito/identity_types.h>
#include <cairn/cognito/sync.h>
#include <cairn/cognito/sync_types.h>
#include <cairn/conflict.h>
#include <cairn/credentials.h>
#include <cairn/http.h>
#include <cairn/logging.h>
#include <cairn/status.h>
#include <cairn/sync_manager.h>

#include <cstdio>

int main() {
  cairn::SyncManagerOptions o;
  o.database_path = ":memory:";
  o.resolver = cairn::three_way_merge();
  auto manager = cairn::SyncManager::open(o);
  if (!manager.ok()) return 1;
  auto save = (*manager)->open_or_create_dataset("save");
  if (!save.ok()) return 1;
  if (!(*save)->put("level", "7").ok()) return 1;
  auto level = (*save)->get("level");
  if (!level.ok() || level->value_or("") != "7") return 1;
  std::printf("no exceptions, no RTTI: level=%s\n", level->value_or("?").c_str());
  return 0;
}
