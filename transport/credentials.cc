// The standard credential sources: static keys, the environment, the shared credentials file,
// and a chain over them.
#include <cstdlib>
#include <fstream>

#include "cairn/credentials.h"

namespace cairn {
namespace {

std::string getenv_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

StaticCredentialsProvider::StaticCredentialsProvider(AwsCredentials credentials)
    : credentials_(std::move(credentials)) {}

StaticCredentialsProvider::StaticCredentialsProvider(std::string access_key_id,
                                                     std::string secret_access_key,
                                                     std::string session_token)
    : credentials_{std::move(access_key_id), std::move(secret_access_key), std::move(session_token),
                   std::nullopt} {}

Result<AwsCredentials> StaticCredentialsProvider::credentials() {
  if (credentials_.empty()) {
    return Status(ErrorCode::kNoCredentials, "static credentials are empty");
  }
  return credentials_;
}

Result<AwsCredentials> EnvironmentCredentialsProvider::credentials() {
  AwsCredentials c;
  c.access_key_id = getenv_or_empty("AWS_ACCESS_KEY_ID");
  c.secret_access_key = getenv_or_empty("AWS_SECRET_ACCESS_KEY");
  c.session_token = getenv_or_empty("AWS_SESSION_TOKEN");
  if (c.access_key_id.empty() && c.secret_access_key.empty()) {
    return Status(ErrorCode::kNoCredentials,
                  "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are unset");
  }
  if (c.empty()) {
    return Status(ErrorCode::kNoCredentials,
                  "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set");
  }
  return c;
}

ProfileCredentialsProvider::ProfileCredentialsProvider(std::string profile, std::string path)
    : profile_(std::move(profile)), path_(std::move(path)) {}

std::string ProfileCredentialsProvider::resolved_path() const {
  if (!path_.empty()) return path_;
  std::string env = getenv_or_empty("AWS_SHARED_CREDENTIALS_FILE");
  if (!env.empty()) return env;
  std::string home = getenv_or_empty("HOME");
  return home.empty() ? std::string() : home + "/.aws/credentials";
}

std::string ProfileCredentialsProvider::resolved_profile() const {
  if (!profile_.empty()) return profile_;
  std::string env = getenv_or_empty("AWS_PROFILE");
  return env.empty() ? "default" : env;
}

std::string ProfileCredentialsProvider::name() const { return "profile:" + resolved_profile(); }

Result<AwsCredentials> ProfileCredentialsProvider::credentials() {
  const std::string path = resolved_path();
  const std::string profile = resolved_profile();
  std::ifstream in(path);
  if (path.empty() || !in) {
    return Status(ErrorCode::kNoCredentials, "no shared credentials file at '" + path + "'");
  }
  AwsCredentials c;
  bool in_profile = false;
  bool found = false;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      std::string section = trim(line.substr(1, line.size() - 2));
      // The credentials file names sections plainly; tolerate the config file's "profile X" too.
      if (section.rfind("profile ", 0) == 0) section = trim(section.substr(8));
      in_profile = section == profile;
      found |= in_profile;
      continue;
    }
    if (!in_profile) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id")
      c.access_key_id = value;
    else if (key == "aws_secret_access_key")
      c.secret_access_key = value;
    else if (key == "aws_session_token")
      c.session_token = value;
  }
  if (!found) {
    return Status(ErrorCode::kNoCredentials, "profile '" + profile + "' not found in " + path);
  }
  if (c.empty()) {
    return Status(ErrorCode::kNoCredentials, "profile '" + profile + "' in " + path +
                                                 " lacks aws_access_key_id or " +
                                                 "aws_secret_access_key");
  }
  return c;
}

ChainCredentialsProvider::ChainCredentialsProvider(std::vector<CredentialsProviderPtr> providers)
    : providers_(std::move(providers)) {}

std::shared_ptr<ChainCredentialsProvider> ChainCredentialsProvider::default_chain() {
  return std::make_shared<ChainCredentialsProvider>(
      std::vector<CredentialsProviderPtr>{std::make_shared<EnvironmentCredentialsProvider>(),
                                          std::make_shared<ProfileCredentialsProvider>()});
}

Result<AwsCredentials> ChainCredentialsProvider::credentials() {
  std::string tried;
  for (const auto& p : providers_) {
    auto c = p->credentials();
    if (c.ok()) return c;
    tried += (tried.empty() ? "" : "; ") + p->name() + ": " + c.status().message();
  }
  return Status(ErrorCode::kNoCredentials, "no credentials found (" + tried + ")");
}

void ChainCredentialsProvider::invalidate() {
  for (const auto& p : providers_) p->invalidate();
}

}  // namespace cairn
