// Runs tests/tools/botocore_reference.py: botocore's own serialiser and signer, as the reference
// the C++ transport must match byte for byte.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <strings.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "test_paths.h"

namespace cairn::testing {

struct ReferenceRequest {
  std::string method;
  std::string rawpath;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  const std::string* header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() == name.size() && strcasecmp(k.c_str(), name.c_str()) == 0) return &v;
    }
    return nullptr;
  }
};

inline ReferenceRequest reference_from_json(const rapidjson::Value& o) {
  ReferenceRequest r;
  if (o.HasMember("authorization")) {  // a "sign" case: only the header botocore computed
    r.headers.emplace_back("Authorization", o["authorization"].GetString());
    return r;
  }
  r.method = o["method"].GetString();
  r.rawpath = o["rawpath"].GetString();
  for (const auto& h : o["headers"].GetArray()) {
    r.headers.emplace_back(h[0].GetString(), h[1].GetString());
  }
  r.body = o["body"].GetString();
  return r;
}

inline std::string python() {
  if (const char* env = std::getenv("CAIRN_PYTHON")) return env;
  return "python3";
}

// cases_json: a JSON array in the format botocore_reference.py documents. Throws on any failure,
// so a missing botocore fails the test rather than skipping it.
inline std::vector<ReferenceRequest> botocore_reference(const std::string& cases_json) {
  char in_path[] = "/tmp/cairn-botocore-in-XXXXXX";
  int fd = mkstemp(in_path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  close(fd);
  {
    std::ofstream out(in_path);
    out << cases_json;
  }
  std::string cmd =
      python() + " " + source_dir() + "/tests/tools/botocore_reference.py < " + in_path + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + cmd);
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  int rc = pclose(pipe);
  std::remove(in_path);
  if (rc != 0) throw std::runtime_error("botocore reference failed: " + output);
  std::vector<ReferenceRequest> result;
  for_each_line(output, [&](const std::string& line) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    if (d.HasParseError()) throw std::runtime_error("bad reference output: " + line);
    result.push_back(reference_from_json(d));
  });
  return result;
}

}  // namespace cairn::testing
