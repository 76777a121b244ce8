// cairn: the command-line tool. Until the sync engine lands it offers the transport-level
// commands: who am I (the Cognito Identity credential flow) and a remote dataset listing.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "cairn/cognito_identity.h"
#include "cairn/cognito_sync.h"

namespace {

struct GlobalOptions {
  std::string endpoint;
  std::string region;
  std::string pool;
  std::string identity_id;
  std::vector<std::string> logins;
  bool trace = false;
};

cairn::ClientConfig client_config(const GlobalOptions& g) {
  cairn::ClientConfig c;
  c.endpoint = g.endpoint;
  c.region = g.region;
  if (g.trace) {
    c.http.wire_trace = true;
    c.logger = std::make_shared<cairn::Logger>(
        [](cairn::LogLevel level, std::string_view line) {
          std::cerr << "[" << cairn::log_level_name(level) << "] " << line << "\n";
        },
        cairn::LogLevel::kTrace);
  }
  return c;
}

int fail(const cairn::Status& s) {
  std::cerr << "cairn: " << s.ToString() << "\n";
  return 2;
}

cairn::Result<cairn::identity::Logins> parse_logins(const std::vector<std::string>& items) {
  cairn::identity::Logins logins;
  for (const auto& item : items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return cairn::Status(cairn::ErrorCode::kInvalidArgument,
                           "--login takes PROVIDER=TOKEN, got '" + item + "'");
    }
    logins[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return logins;
}

// The Cognito Identity flow: GetId (unless --identity-id), then GetCredentialsForIdentity.
cairn::Result<std::shared_ptr<cairn::CognitoIdentityCredentialsProvider>> identity_provider(
    const GlobalOptions& g) {
  if (g.pool.empty()) {
    return cairn::Status(cairn::ErrorCode::kInvalidArgument,
                         "--pool (or CAIRN_POOL_ID) is required");
  }
  auto logins = parse_logins(g.logins);
  if (!logins.ok()) return logins.status();
  auto client = cairn::CognitoIdentityClient::create(client_config(g));
  if (!client.ok()) return client.status();
  cairn::CognitoIdentityProviderOptions o;
  o.identity_pool_id = g.pool;
  o.logins = *logins;
  auto store = std::make_shared<cairn::InMemoryIdentityIdStore>();
  if (!g.identity_id.empty()) store->save(g.pool, g.identity_id);
  o.store = store;
  return std::make_shared<cairn::CognitoIdentityCredentialsProvider>(
      std::shared_ptr<cairn::CognitoIdentityClient>(std::move(*client)), o);
}

std::string format_time(cairn::Timestamp t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int whoami(const GlobalOptions& g) {
  auto provider = identity_provider(g);
  if (!provider.ok()) return fail(provider.status());
  auto creds = (*provider)->credentials();
  if (!creds.ok()) return fail(creds.status());
  std::cout << "identity-id\t" << *(*provider)->cached_identity_id() << "\n";
  std::cout << "access-key-id\t" << creds->access_key_id << "\n";
  if (creds->expiration) std::cout << "expires\t" << format_time(*creds->expiration) << "\n";
  return 0;
}

int list_remote_datasets(const GlobalOptions& g) {
  auto provider = identity_provider(g);
  if (!provider.ok()) return fail(provider.status());
  auto id = (*provider)->identity_id();
  if (!id.ok()) return fail(id.status());
  cairn::ClientConfig c = client_config(g);
  c.credentials = *provider;
  auto client = cairn::CognitoSyncClient::create(c);
  if (!client.ok()) return fail(client.status());
  std::optional<std::string> next;
  do {
    auto page = (*client)->list_datasets({g.pool, *id, next, 64});
    if (!page.ok()) return fail(page.status());
    for (const auto& d : page->datasets) {
      std::cout << d.dataset_name.value_or("") << "\t" << d.num_records.value_or(0) << "\t"
                << d.data_storage.value_or(0) << "\t"
                << (d.last_modified_date ? format_time(*d.last_modified_date) : "-") << "\n";
    }
    next = page->next_token;
  } while (next);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "cairn: an offline-first sync engine for game clients that speaks the Amazon Cognito Sync "
      "protocol, against AWS or a self-hosted cairn-server.",
      "cairn"};
  app.set_version_flag("--version", "cairn 0.1.0");
  app.require_subcommand(1);
  GlobalOptions g;
  app.add_option("--endpoint", g.endpoint,
                 "Endpoint URL of a self-hosted server (serves both services)");
  app.add_option("--region", g.region,
                 "AWS region for the real AWS endpoints (default: AWS_REGION, AWS_DEFAULT_REGION)");
  app.add_option("--pool", g.pool, "Identity pool id (env CAIRN_POOL_ID)")
      ->envname("CAIRN_POOL_ID");
  app.add_option("--identity-id", g.identity_id, "Use this identity id instead of calling GetId");
  app.add_option("--login", g.logins, "PROVIDER=TOKEN login for the identity flow (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_flag("--trace", g.trace, "Log every request and response to stderr (secrets redacted)");

  auto* whoami_cmd = app.add_subcommand(
      "whoami", "Run the Cognito Identity flow and print the identity id and credential expiry");
  auto* datasets_cmd = app.add_subcommand(
      "remote-datasets", "List the identity's datasets on the server: NAME RECORDS BYTES MODIFIED");

  CLI11_PARSE(app, argc, argv);
  if (whoami_cmd->parsed()) return whoami(g);
  if (datasets_cmd->parsed()) return list_remote_datasets(g);
  return 1;
}
