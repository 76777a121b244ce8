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

// Calls fn(line) for every non-empty line of text.
template <typename Fn>
void for_each_line(const std::string& text, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (!line.empty()) fn(line);
  }
}

}  // namespace cairn::testing
