// AWS credentials and the providers that supply them.
//
// A CredentialsProvider hands out credentials for signing. The providers here cover the standard
// sources (static keys, the environment, the shared credentials file, a chain of those) and the
// Cognito Identity flow a game client uses (GetId, then GetCredentialsForIdentity), which lives in
// cognito_identity.h because it needs the Identity client.
//
// Thread safety: every provider in this file is safe to call from several threads at once.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cairn/export.h"
#include "cairn/status.h"

namespace cairn {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys
  // When temporary credentials stop working; empty for long-term keys.
  std::optional<std::chrono::system_clock::time_point> expiration;

  bool empty() const { return access_key_id.empty() || secret_access_key.empty(); }
};

class CAIRN_CPP_API CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Returns usable credentials, refreshing them first when they are close to expiry.
  // Fails with kNoCredentials when this source has none.
  virtual Result<AwsCredentials> credentials() = 0;
  // Drops any cached credentials so the next call fetches fresh ones (after ExpiredToken, say).
  virtual void invalidate() {}
  // A short name for logs and errors ("static", "environment", "profile:default", ...).
  virtual std::string name() const = 0;
};

using CredentialsProviderPtr = std::shared_ptr<CredentialsProvider>;

// Fixed keys given by the host.
class CAIRN_CPP_API StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(AwsCredentials credentials);
  StaticCredentialsProvider(std::string access_key_id, std::string secret_access_key,
                            std::string session_token = {});
  Result<AwsCredentials> credentials() override;
  std::string name() const override { return "static"; }

 private:
  AwsCredentials credentials_;
};

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, read at every call.
class CAIRN_CPP_API EnvironmentCredentialsProvider final : public CredentialsProvider {
 public:
  Result<AwsCredentials> credentials() override;
  std::string name() const override { return "environment"; }
};

// The shared credentials file (INI): path from the constructor, else AWS_SHARED_CREDENTIALS_FILE,
// else ~/.aws/credentials; profile from the constructor, else AWS_PROFILE, else "default".
// Keys read: aws_access_key_id, aws_secret_access_key, aws_session_token. The file is read at
// every call, so an edited file takes effect without a restart.
class CAIRN_CPP_API ProfileCredentialsProvider final : public CredentialsProvider {
 public:
  explicit ProfileCredentialsProvider(std::string profile = {}, std::string path = {});
  Result<AwsCredentials> credentials() override;
  std::string name() const override;

  // The file and profile this provider would read now.
  std::string resolved_path() const;
  std::string resolved_profile() const;

 private:
  std::string profile_;
  std::string path_;
};

// Tries each provider in order and returns the first credentials found. The default chain is
// environment, then the shared credentials file.
class CAIRN_CPP_API ChainCredentialsProvider final : public CredentialsProvider {
 public:
  explicit ChainCredentialsProvider(std::vector<CredentialsProviderPtr> providers);
  static std::shared_ptr<ChainCredentialsProvider> default_chain();

  Result<AwsCredentials> credentials() override;
  void invalidate() override;
  std::string name() const override { return "chain"; }

 private:
  std::vector<CredentialsProviderPtr> providers_;
};

}  // namespace cairn
