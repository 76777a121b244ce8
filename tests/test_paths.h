// Where the tests find the shared spec data and the project's own files.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace cairn::testing {

inline std::string shared_dir() {
  if (const char* env = std::getenv("CAIRN_SHARED_DIR")) return env;
  return CAIRN_SHARED_DIR;
}

inline std::string source_dir() { return CAIRN_SOURCE_DIR; }

// Reads a whole file; throws (failing the test) when it is missing, so a test can never pass
// vacuously on absent data.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read test data file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace cairn::testing
