// The storage a server under test uses. Each server test runs twice under ctest: once on SQLite,
// and once on PostgreSQL (the "pg." copies), where ctest has started a throwaway cluster
// (scripts/pg-test-cluster.sh) and set CAIRN_TEST_PG_STATE to the file naming it. Each call then
// gives a schema of its own on that cluster, made by the server on open, so tests share nothing.
#pragma once

#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

namespace cairn::testing {

// Whether this run is the PostgreSQL copy of the suite.
inline bool testing_postgres() { return std::getenv("CAIRN_TEST_PG_STATE") != nullptr; }

// The throwaway cluster's URL (no schema); throws when the suite is not the PostgreSQL copy.
inline std::string test_postgres_url() {
  const char* state = std::getenv("CAIRN_TEST_PG_STATE");
  if (!state) throw std::runtime_error("CAIRN_TEST_PG_STATE is not set");
  std::ifstream in(state);
  std::string dir, url;
  if (!std::getline(in, dir) || !std::getline(in, url) || url.empty()) {
    throw std::runtime_error(std::string("no PostgreSQL test cluster is running (") + state + ")");
  }
  return url;
}

// A fresh PostgreSQL schema's URL on the throwaway cluster.
inline std::string fresh_postgres_db() {
  static std::mt19937_64 rng(std::random_device{}());
  static const char kHex[] = "0123456789abcdef";
  std::string schema = "t_";
  uint64_t bits = rng();
  for (int i = 0; i < 16; ++i) schema += kHex[(bits >> (4 * i)) & 15];
  return test_postgres_url() + "?schema=" + schema;
}

// A fresh database for one server: `dir`/`name` on SQLite, or a fresh schema on PostgreSQL.
inline std::string test_db_url(const std::string& dir, const std::string& name = "cairn.db") {
  if (testing_postgres()) return fresh_postgres_db();
  return "sqlite:" + dir + "/" + name;
}

}  // namespace cairn::testing
