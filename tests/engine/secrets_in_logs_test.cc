// No secret reaches a log. A full run with every logger at trace level and the client's wire
// trace on: guests and developer-authenticated players get credentials, sync, log in (a merge),
// switch accounts, register devices and subscribe; the admin calls the developer operations; and
// a proxy cuts some answers short, so that half a credentials body meets the logs too. The proxy
// records every whole answer the server sent. Afterwards the logs of the server and of every
// client are searched for each secret the run handled: the admin secret, every secret key,
// session token and OpenID token issued, and every session token sent.
#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <regex>
#include <set>

#include "engine/engine_fixture.h"
#include "fixtures/fault_proxy.h"

namespace cairn::testing {
namespace {

// Everything logged, from any thread.
struct LogSink {
  std::mutex mu;
  std::string text;
  size_t lines = 0;
  LoggerPtr logger() {
    return std::make_shared<Logger>(
        [this](LogLevel, std::string_view line) {
          std::lock_guard<std::mutex> l(mu);
          text.append(line).push_back('\n');
          ++lines;
        },
        LogLevel::kTrace);
  }
};

// The string values of secret-bearing members anywhere in a JSON body.
void collect_secrets(const rapidjson::Value& v, std::set<std::string>& out) {
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      std::string name = m.name.GetString();
      if (m.value.IsString() &&
          (name == "SecretKey" || name == "SessionToken" || name == "Token")) {
        out.insert(m.value.GetString());
      } else if (name == "Logins" && m.value.IsObject()) {
        for (const auto& login : m.value.GetObject()) {
          if (login.value.IsString()) out.insert(login.value.GetString());
        }
      } else {
        collect_secrets(m.value, out);
      }
    }
  } else if (v.IsArray()) {
    for (const auto& item : v.GetArray()) collect_secrets(item, out);
  }
}

void collect_from_message(const std::string& message, std::set<std::string>& out) {
  size_t body = message.find("\r\n\r\n");
  if (body == std::string::npos) return;
  std::smatch m;
  std::string head = message.substr(0, body);
  static const std::regex kToken("X-Amz-Security-Token: ([^\r\n]+)", std::regex::icase);
  if (std::regex_search(head, m, kToken)) out.insert(m[1]);
  rapidjson::Document doc;
  std::string text = message.substr(body + 4);
  doc.Parse(text.c_str());
  if (!doc.HasParseError()) collect_secrets(doc, out);
}

TEST(SecretsInLogs, AFullRunAtTraceLevelLogsNoSecretKeySessionTokenOrLoginToken) {
  LogSink server_log, client_log;
  server::ServerOptions options;
  options.logger = server_log.logger();
  TestServer ts(options);
  FaultProxy proxy(ts.server().port(), 99);
  std::mutex secrets_mu;
  std::set<std::string> secrets{kAdminSecret};
  proxy.set_tap([&](const std::string& request, const std::string& answer) {
    std::lock_guard<std::mutex> l(secrets_mu);
    collect_from_message(request, secrets);
    collect_from_message(answer, secrets);
  });
  TempDir dir{"cairn-secrets"};
  auto traced = [&](SyncManagerOptions& o) {
    o.endpoint = proxy.url();
    o.logger = client_log.logger();
    o.http.wire_trace = true;
  };

  // The admin's developer calls, traced too.
  ClientConfig admin = ts.config();
  admin.endpoint = proxy.url();
  admin.logger = client_log.logger();
  admin.http.wire_trace = true;
  auto admin_identity = std::shared_ptr<CognitoIdentityClient>(
      std::move(CognitoIdentityClient::create(admin)).value());
  auto admin_sync = std::move(CognitoSyncClient::create(admin)).value();
  auto alice_token = admin_identity->get_open_id_token_for_developer_identity(
      {ts.pool(), std::nullopt, {{"login.cairn", "alice"}}, {}, std::nullopt});
  ASSERT_TRUE(alice_token.ok()) << alice_token.status().ToString();
  auto bob_token = admin_identity->get_open_id_token_for_developer_identity(
      {ts.pool(), std::nullopt, {{"login.cairn", "bob"}}, {}, std::nullopt});
  ASSERT_TRUE(bob_token.ok());
  identity::Logins alice{{"cognito-identity.amazonaws.com", *alice_token->token}};
  identity::Logins bob{{"cognito-identity.amazonaws.com", *bob_token->token}};

  auto phone = make_device(ts, dir, "phone", alice, traced);
  auto tablet = make_device(ts, dir, "tablet", alice, traced);
  auto guest = make_device(ts, dir, "guest", {}, traced);
  for (auto* d : {&phone, &tablet, &guest}) {
    ASSERT_TRUE(d->open("save")->put("level", "1").ok());
    d->sync_ok("save");
  }
  ASSERT_TRUE(phone.manager->register_device(wire::kPlatformGcm, "push-token-phone").ok());
  ASSERT_TRUE(phone.manager->subscribe("save").ok());
  ASSERT_TRUE(guest.manager->set_logins(bob).ok());  // the guest logs in as bob: a merge
  guest.sync_ok("save");
  ASSERT_TRUE(tablet.manager->switch_identity(bob).ok());
  tablet.sync_ok("save");
  ASSERT_TRUE(admin_sync->describe_identity_pool_usage({ts.pool()}).ok());
  ASSERT_TRUE(admin_identity->list_identities({ts.pool(), 10, std::nullopt, std::nullopt}).ok());

  // Answers cut short, resets and errors, at a third of the requests: the failure paths log too.
  proxy.set_rate(0.35);
  for (int i = 0; i < 40; ++i) {
    auto& d = i % 2 ? phone : tablet;
    ASSERT_TRUE(d.open("save")->put("k" + std::to_string(i % 5), std::to_string(i)).ok());
    (void)d.sync("save");
    (void)admin_identity->get_credentials_for_identity({*alice_token->identity_id, alice, {}});
  }
  proxy.set_rate(0);

  std::lock_guard<std::mutex> l(secrets_mu);
  std::lock_guard<std::mutex> sl(server_log.mu), cl(client_log.mu);
  EXPECT_GT(proxy.injected()[FaultProxy::kTruncatedBody], 0u) << "no answer was cut short";
  EXPECT_GT(client_log.lines, 100u) << "the wire trace logged nothing";
  EXPECT_GT(server_log.lines, 50u);
  EXPECT_GT(secrets.size(), 20u) << "the run handled few secrets";
  size_t leaks = 0;
  for (const auto& secret : secrets) {
    if (secret.size() < 8) continue;  // nothing secret is that short
    for (const auto* log : {&server_log.text, &client_log.text}) {
      size_t at = log->find(secret);
      if (at != std::string::npos) {
        ++leaks;
        size_t from = log->rfind('\n', at);
        ADD_FAILURE() << "a secret is in the " << (log == &server_log.text ? "server" : "client")
                      << " log: " << log->substr(from == std::string::npos ? 0 : from + 1, 300);
      }
    }
  }
  std::printf(
      "\nsecrets in logs: %zu secrets handled, %zu server and %zu client log lines "
      "(%zu bytes), %zu answers cut short, %zu leaks\n",
      secrets.size(), server_log.lines, client_log.lines,
      server_log.text.size() + client_log.text.size(),
      static_cast<size_t>(proxy.injected()[FaultProxy::kTruncatedBody]), leaks);
}

}  // namespace
}  // namespace cairn::testing
