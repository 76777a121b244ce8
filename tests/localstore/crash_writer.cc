// Child process of the crash test: runs crash::op(prefix, 0), op(prefix, 1), ... against a store
// as fast as it can and prints "ack I" after operation I commits.
#include <cstdio>
#include <string>

#include "crash_ops.h"
#include "localstore/local_store.h"

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  cairn::localstore::Options o;
  o.path = argv[1];
  std::string prefix = argv[2];
  auto store = cairn::localstore::LocalStore::open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 3;
  }
  for (long i = 0;; ++i) {
    if (!(*store)->put_all("crash", cairn::localstore::crash::op(prefix, i)).ok()) return 4;
    std::printf("ack %ld\n", i);
    std::fflush(stdout);
  }
}
