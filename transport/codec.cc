#include "transport/codec.h"

#include <cerrno>
#include <cstdlib>

namespace cairn::transport::codec {

std::string RequestOut::path(const char* pattern) const {
  std::string out;
  for (const char* p = pattern; *p;) {
    if (*p != '{') {
      out.push_back(*p++);
      continue;
    }
    const char* end = p;
    while (*end && *end != '}') ++end;
    std::string_view name(p + 1, static_cast<size_t>(end - p - 1));
    for (const auto& [k, v] : labels_) {
      if (k == name) out += v;
    }
    p = *end ? end + 1 : end;
  }
  return out;
}

std::string RequestOut::query_string() {
  std::stable_sort(query_.begin(), query_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (const auto& [name, value] : query_) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

WireRequest begin_request(const OperationInfo& op, RequestOut& out) {
  WireRequest wire;
  wire.operation = op.name;
  wire.method = op.method;
  wire.sign = op.sign;
  if (op.protocol == Protocol::kAwsJson) {
    wire.path = "/";
    wire.headers.emplace_back("X-Amz-Target", std::string(op.target_prefix) + op.name);
    wire.headers.emplace_back("Content-Type", "application/x-amz-json-1.1");
  } else {
    wire.path = out.path(op.path);
    wire.query = out.query_string();
    if (out.has_body()) wire.headers.emplace_back("Content-Type", "application/json");
  }
  for (auto& h : out.headers()) wire.headers.push_back(std::move(h));
  return wire;
}

RequestHeadIn::RequestHeadIn(const ReceivedRequest& in, std::vector<std::string>& problems)
    : in_(in), problems_(problems) {
  for_each_query_pair(in.raw_query, [&](std::string_view key, std::string_view value, bool) {
    query_.emplace_back(uri_decode(key), uri_decode(value));
    return true;
  });
}

const std::string* RequestHeadIn::find_query(const char* name) const {
  for (const auto& [k, v] : query_) {
    if (k == name) return &v;
  }
  return nullptr;
}

void RequestHeadIn::parse(const char* name, const std::string& text, int64_t& out) {
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || *end != '\0') {
    problems_.push_back(std::string(name) + ": '" + text + "' is not an integer");
    return;
  }
  out = static_cast<int64_t>(n);
}

void RequestHeadIn::parse(const char* name, const std::string& text, int32_t& out) {
  int64_t wide = 0;
  size_t before = problems_.size();
  parse(name, text, wide);
  if (problems_.size() != before) return;
  if (wide < INT32_MIN || wide > INT32_MAX) {
    problems_.push_back(std::string(name) + ": out of range");
    return;
  }
  out = static_cast<int32_t>(wide);
}

bool match_path(const char* pattern, const std::vector<std::string>& segments,
                std::vector<std::pair<std::string, std::string>>* labels) {
  std::string_view rest(pattern);
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  std::vector<std::pair<std::string, std::string>> found;
  size_t i = 0;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (i >= segments.size()) return false;
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      found.emplace_back(std::string(part.substr(1, part.size() - 2)), segments[i]);
    } else if (part != segments[i]) {
      return false;
    }
    ++i;
  }
  if (i != segments.size()) return false;
  *labels = std::move(found);
  return true;
}

}  // namespace cairn::transport::codec
