// The auth matrix: every operation cairn-server implements, called by every kind of caller. The
// expected outcome of each cell comes from the service models' own rules: an operation the model
// marks `authtype: none` needs no credentials; otherwise its documentation says whether it takes
// developer credentials, Cognito Identity's temporary credentials, or either. The test prints the
// whole table, then fails on every cell that differs from the rule.
#include <rapidjson/document.h>

#include <cstdio>
#include <functional>
#include <map>

#include "implemented_operations.h"
#include "server_fixture.h"
#include "tests/test_paths.h"
#include "tests/transport/fakes.h"
#include "transport/identity_protocol.h"
#include "transport/service_client.h"
#include "transport/sync_protocol.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using testing::TestServer;

enum class Access { kNone, kDeveloper, kIdentity, kEither };

const char* access_name(Access a) {
  switch (a) {
    case Access::kNone:
      return "no credentials";
    case Access::kDeveloper:
      return "developer only";
    case Access::kIdentity:
      return "identity only";
    case Access::kEither:
      return "identity or developer";
  }
  return "?";
}

// The access rule of every operation of both models, from `authtype` and the documentation's
// sentence on credentials. An operation whose documentation says nothing is left out.
std::map<std::string, Access> model_rules() {
  std::map<std::string, Access> rules;
  for (const char* file :
       {"cognito-sync-2014-06-30.service-2.json", "cognito-identity-2014-06-30.service-2.json"}) {
    std::string text = testing::read_file(testing::shared_dir() + "/spec/models/" + file);
    rapidjson::Document model;
    model.Parse(text.c_str());
    if (model.HasParseError()) throw std::runtime_error(std::string("bad model ") + file);
    for (const auto& op : model["operations"].GetObject()) {
      std::string name = op.name.GetString();
      const auto& body = op.value;
      if (body.HasMember("authtype") && std::string(body["authtype"].GetString()) == "none") {
        rules[name] = Access::kNone;
        continue;
      }
      std::string doc = body.HasMember("documentation") ? body["documentation"].GetString() : "";
      if (doc.find("only be called with developer credentials") != std::string::npos ||
          doc.find("can only be called with developer credentials") != std::string::npos ||
          doc.find("must use Amazon Web Services developer credentials") != std::string::npos) {
        rules[name] = Access::kDeveloper;
      } else if (doc.find("only be called with temporary credentials") != std::string::npos) {
        rules[name] = Access::kIdentity;
      } else if (doc.find("temporary user credentials provided by Cognito Identity or with "
                          "developer credentials") != std::string::npos) {
        rules[name] = Access::kEither;
      }
    }
  }
  return rules;
}

// The kinds of caller, in the table's column order.
enum class Caller {
  kUnsigned,
  kBadSignature,
  kSkewed20Minutes,
  kExpiredCredentials,
  kNoSessionToken,
  kOtherIdentity,
  kDeveloper,
  kOwnIdentity,
};
constexpr Caller kCallers[] = {Caller::kUnsigned,        Caller::kBadSignature,
                               Caller::kSkewed20Minutes, Caller::kExpiredCredentials,
                               Caller::kNoSessionToken,  Caller::kOtherIdentity,
                               Caller::kDeveloper,       Caller::kOwnIdentity};
const char* caller_name(Caller c) {
  switch (c) {
    case Caller::kUnsigned:
      return "unsigned";
    case Caller::kBadSignature:
      return "bad signature";
    case Caller::kSkewed20Minutes:
      return "date -20 min";
    case Caller::kExpiredCredentials:
      return "expired creds";
    case Caller::kNoSessionToken:
      return "no session token";
    case Caller::kOtherIdentity:
      return "other identity";
    case Caller::kDeveloper:
      return "developer";
    case Caller::kOwnIdentity:
      return "own identity";
  }
  return "?";
}

// What the rule says a cell answers: "200" when the call goes through, else the error code.
std::string expected(Access access, Caller caller) {
  if (access == Access::kNone) return "200";  // no credentials needed: whatever is sent is moot
  switch (caller) {
    case Caller::kUnsigned:
      return "MissingAuthenticationTokenException";
    case Caller::kBadSignature:
    case Caller::kSkewed20Minutes:
      return "InvalidSignatureException";
    case Caller::kExpiredCredentials:
      return "ExpiredTokenException";
    case Caller::kNoSessionToken:
      return "UnrecognizedClientException";
    case Caller::kOtherIdentity:
      return "NotAuthorizedException";
    case Caller::kDeveloper:
      return access == Access::kIdentity ? "NotAuthorizedException" : "200";
    case Caller::kOwnIdentity:
      return access == Access::kDeveloper ? "NotAuthorizedException" : "200";
  }
  return "?";
}

class AuthMatrix : public ::testing::Test {
 protected:
  AuthMatrix() : clock_(std::make_shared<testing::ManualClock>()), server_(options(clock_)) {}

  void SetUp() override {
    // Credentials that will have expired: issued first, then the server's clock moves on.
    expired_ = credentials_of(fresh_identity());
    clock_->advance(11min);
    own_ = fresh_identity();
    own_credentials_ = credentials_of(own_);
    other_credentials_ = credentials_of(fresh_identity());
    // What the calls act on: a dataset with a record, a device of the identity's own.
    ASSERT_TRUE(
        testing::push(*admin_sync(), pool(), own_, "save", {testing::put("k", "v", 0)}).ok());
    auto device = sync_client(own_credentials_)
                      ->register_device({pool(), own_, wire::kPlatformGcm, "matrix-token"});
    ASSERT_TRUE(device.ok()) << device.status().ToString();
    device_id_ = *device->device_id;
  }

  static server::ServerOptions options(std::shared_ptr<Clock> clock) {
    server::ServerOptions o;
    o.clock = std::move(clock);
    o.credentials_ttl_seconds = 600;
    return o;
  }
  const std::string& pool() const { return server_.pool(); }

  ClientConfig config(CredentialsProviderPtr credentials, std::shared_ptr<Clock> clock) const {
    ClientConfig c = server_.config(std::move(credentials));
    c.clock = std::move(clock);
    return c;
  }
  std::unique_ptr<CognitoSyncClient> admin_sync() const {
    return std::move(CognitoSyncClient::create(config(nullptr, clock_))).value();
  }
  std::unique_ptr<CognitoSyncClient> sync_client(const AwsCredentials& c) const {
    return std::move(CognitoSyncClient::create(
                         config(std::make_shared<StaticCredentialsProvider>(c), clock_)))
        .value();
  }
  std::unique_ptr<CognitoIdentityClient> admin_identity() const {
    return std::move(CognitoIdentityClient::create(config(nullptr, clock_))).value();
  }
  std::string fresh_identity() const {
    auto id = admin_identity()->get_id({std::nullopt, pool(), {}});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return *id->identity_id;
  }
  AwsCredentials credentials_of(const std::string& identity_id) const {
    auto r = admin_identity()->get_credentials_for_identity({identity_id, {}, std::nullopt});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    const auto& k = *r->credentials;
    return {*k.access_key_id, *k.secret_key, *k.session_token, std::nullopt};
  }
  // A developer-authenticated identity for `user` (for the merge and unlink calls).
  std::string developer_identity(const std::string& user) const {
    auto r = admin_identity()->get_open_id_token_for_developer_identity(
        {pool(), std::nullopt, {{"login.cairn", user}}, {}, std::nullopt});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r->identity_id;
  }

  // The wire request each operation sends in cell `n`. A call that changes something gets its
  // own subject, made with developer credentials just before, so every cell that should go
  // through can.
  transport::WireRequest request(const std::string& op, int n) {
    namespace sw = transport::sync_wire;
    namespace iw = transport::identity_wire;
    std::string cell = std::to_string(n);
    if (op == "ListIdentityPoolUsage") return sw::build(wire::ListIdentityPoolUsageRequest{});
    if (op == "DescribeIdentityPoolUsage")
      return sw::build(wire::DescribeIdentityPoolUsageRequest{pool()});
    if (op == "BulkPublish") {
      // A bulk publish needs streams configured, or it is refused for that instead.
      wire::SetIdentityPoolConfigurationRequest streams{pool(), std::nullopt, std::nullopt};
      streams.cognito_streams =
          wire::CognitoStreams{"matrix", "arn:aws:iam::1:role/r", wire::kStreamingEnabled};
      EXPECT_TRUE(admin_sync()->set_identity_pool_configuration(streams).ok());
      return sw::build(wire::BulkPublishRequest{pool()});
    }
    if (op == "GetBulkPublishDetails") return sw::build(wire::GetBulkPublishDetailsRequest{pool()});
    if (op == "GetCognitoEvents") return sw::build(wire::GetCognitoEventsRequest{pool()});
    if (op == "SetCognitoEvents")
      return sw::build(wire::SetCognitoEventsRequest{pool(), {{"SyncTrigger", ""}}});
    if (op == "GetIdentityPoolConfiguration")
      return sw::build(wire::GetIdentityPoolConfigurationRequest{pool()});
    if (op == "SetIdentityPoolConfiguration") {
      wire::SetIdentityPoolConfigurationRequest r{pool(), std::nullopt, std::nullopt};
      r.cognito_streams = wire::CognitoStreams{"matrix", "arn:aws:iam::1:role/r", "DISABLED"};
      return sw::build(r);
    }
    if (op == "DescribeIdentityUsage")
      return sw::build(wire::DescribeIdentityUsageRequest{pool(), own_});
    if (op == "ListDatasets")
      return sw::build(wire::ListDatasetsRequest{pool(), own_, std::nullopt, std::nullopt});
    if (op == "DescribeDataset")
      return sw::build(wire::DescribeDatasetRequest{pool(), own_, "save"});
    if (op == "ListRecords")
      return sw::build(wire::ListRecordsRequest{pool(), own_, "save", 0, std::nullopt, std::nullopt,
                                                std::nullopt});
    if (op == "UpdateRecords") {
      auto session =
          admin_sync()->list_records({pool(), own_, "save", 0, std::nullopt, 1, std::nullopt});
      EXPECT_TRUE(session.ok());
      return sw::build(wire::UpdateRecordsRequest{pool(),
                                                  own_,
                                                  "save",
                                                  std::nullopt,
                                                  {testing::put("cell-" + cell, "v", 0)},
                                                  session.ok() ? *session->sync_session_token : "",
                                                  std::nullopt});
    }
    if (op == "DeleteDataset") {
      std::string name = "doomed-" + cell;
      EXPECT_TRUE(
          testing::push(*admin_sync(), pool(), own_, name, {testing::put("k", "v", 0)}).ok());
      return sw::build(wire::DeleteDatasetRequest{pool(), own_, name});
    }
    if (op == "RegisterDevice")
      return sw::build(wire::RegisterDeviceRequest{pool(), own_, wire::kPlatformGcm, "t-" + cell});
    if (op == "SubscribeToDataset")
      return sw::build(wire::SubscribeToDatasetRequest{pool(), own_, "save", device_id_});
    if (op == "UnsubscribeFromDataset")
      return sw::build(wire::UnsubscribeFromDatasetRequest{pool(), own_, "save", device_id_});

    if (op == "CreateIdentityPool") {
      identity::CreateIdentityPoolRequest r;
      r.identity_pool_name = "matrix" + cell;
      r.allow_unauthenticated_identities = true;
      return iw::build(r);
    }
    if (op == "DescribeIdentityPool")
      return iw::build(identity::DescribeIdentityPoolRequest{pool()});
    if (op == "ListIdentityPools") return iw::build(identity::ListIdentityPoolsRequest{10, {}});
    if (op == "DeleteIdentityPool") {
      identity::CreateIdentityPoolRequest c;
      c.identity_pool_name = "doomed" + cell;
      c.allow_unauthenticated_identities = true;
      auto created = admin_identity()->create_identity_pool(c);
      EXPECT_TRUE(created.ok());
      return iw::build(identity::DeleteIdentityPoolRequest{created.ok() ? created->identity_pool_id
                                                                        : std::string()});
    }
    if (op == "GetId") return iw::build(identity::GetIdRequest{std::nullopt, pool(), {}});
    if (op == "GetCredentialsForIdentity")
      return iw::build(identity::GetCredentialsForIdentityRequest{own_, {}, std::nullopt});
    if (op == "GetOpenIdToken") return iw::build(identity::GetOpenIdTokenRequest{own_, {}});
    if (op == "GetOpenIdTokenForDeveloperIdentity")
      return iw::build(identity::GetOpenIdTokenForDeveloperIdentityRequest{
          pool(), std::nullopt, {{"login.cairn", "user-" + cell}}, {}, std::nullopt});
    if (op == "LookupDeveloperIdentity") {
      identity::LookupDeveloperIdentityRequest r;
      r.identity_pool_id = pool();
      r.developer_user_identifier = "looked-up";
      if (!looked_up_) looked_up_ = developer_identity("looked-up");
      return iw::build(r);
    }
    if (op == "MergeDeveloperIdentities") {
      developer_identity("from-" + cell);
      developer_identity("into-" + cell);
      return iw::build(identity::MergeDeveloperIdentitiesRequest{"from-" + cell, "into-" + cell,
                                                                 "login.cairn", pool()});
    }
    if (op == "UnlinkDeveloperIdentity") {
      std::string id = developer_identity("unlinked-" + cell);
      return iw::build(
          identity::UnlinkDeveloperIdentityRequest{id, pool(), "login.cairn", "unlinked-" + cell});
    }
    if (op == "DescribeIdentity") return iw::build(identity::DescribeIdentityRequest{own_});
    if (op == "ListIdentities") {
      identity::ListIdentitiesRequest r;
      r.identity_pool_id = pool();
      r.max_results = 5;
      return iw::build(r);
    }
    if (op == "DeleteIdentities")
      return iw::build(identity::DeleteIdentitiesRequest{{fresh_identity()}});
    ADD_FAILURE() << "no request for " << op;
    return {};
  }

  // Sends the request as `caller` would; "200" or the error code the server answered.
  std::string call(transport::WireRequest wire, Caller caller, bool identity_service) {
    std::shared_ptr<Clock> clock = clock_;
    AwsCredentials creds{testing::kAdminKey, testing::kAdminSecret, "", std::nullopt};
    switch (caller) {
      case Caller::kUnsigned:
        wire.sign = false;
        break;
      case Caller::kBadSignature:
        creds.secret_access_key = "not-the-secret";
        break;
      case Caller::kSkewed20Minutes:
        clock = std::make_shared<testing::ManualClock>(clock_->now() - 20min);
        break;
      case Caller::kExpiredCredentials:
        creds = expired_;
        break;
      case Caller::kNoSessionToken:
        creds = own_credentials_;
        creds.session_token.clear();
        break;
      case Caller::kOtherIdentity:
        creds = other_credentials_;
        break;
      case Caller::kDeveloper:
        break;
      case Caller::kOwnIdentity:
        creds = own_credentials_;
        break;
    }
    if (caller != Caller::kUnsigned) wire.sign = true;  // even where the model needs none
    auto service = std::move(transport::ServiceClient::create(
                                 config(std::make_shared<StaticCredentialsProvider>(creds), clock),
                                 identity_service ? "cognito-identity" : "cognito-sync",
                                 identity_service ? transport::Protocol::kAwsJson
                                                  : transport::Protocol::kRestJson))
                       .value();
    auto prepared = service->prepare(wire, 1);
    if (!prepared.ok()) return "prepare: " + prepared.status().ToString();
    auto response = http_->send(*prepared);
    if (!response.ok()) return "network: " + response.status().ToString();
    if (response->status / 100 == 2) return "200";
    const std::string* type = response->header("x-amzn-ErrorType");
    return type ? *type : "HTTP " + std::to_string(response->status);
  }

  std::shared_ptr<testing::ManualClock> clock_;
  TestServer server_;
  std::shared_ptr<HttpTransport> http_ = make_curl_transport(HttpOptions{});
  AwsCredentials expired_, own_credentials_, other_credentials_;
  std::string own_, device_id_;
  std::optional<std::string> looked_up_;
};

using testing::kIdentityOperations;
using testing::kSyncOperations;

TEST_F(AuthMatrix, EveryOperationAnswersEveryKindOfCallerAsTheModelsRulesSay) {
  auto rules = model_rules();
  struct Row {
    std::string op;
    Access access;
    std::vector<std::string> got;
  };
  std::vector<Row> rows;
  int n = 0, mismatches = 0;
  auto run = [&](const char* op, bool identity_service) {
    auto rule = rules.find(op);
    ASSERT_NE(rule, rules.end()) << op << " has no access rule in the model's documentation";
    Row row{op, rule->second, {}};
    for (Caller caller : kCallers) {
      std::string got = call(request(op, ++n), caller, identity_service);
      std::string want = expected(rule->second, caller);
      if (got != want) {
        ++mismatches;
        ADD_FAILURE() << op << " as " << caller_name(caller) << ": got " << got << ", want "
                      << want;
      }
      row.got.push_back(got);
    }
    rows.push_back(std::move(row));
  };
  for (const char* op : kSyncOperations) run(op, false);
  for (const char* op : kIdentityOperations) run(op, true);

  // The table: "ok" where the call went through, else the error code without "Exception".
  std::printf("\n%-36s %-22s", "operation", "model's rule");
  for (Caller c : kCallers) std::printf(" | %-16s", caller_name(c));
  std::printf("\n");
  for (const auto& row : rows) {
    std::printf("%-36s %-22s", row.op.c_str(), access_name(row.access));
    for (const auto& got : row.got) {
      std::string cell = got == "200" ? "ok" : got;
      size_t e = cell.rfind("Exception");
      if (e != std::string::npos && e + 9 == cell.size()) cell.resize(e);
      std::printf(" | %-16s", cell.c_str());
    }
    std::printf("\n");
  }
  std::printf("%zu operations x %zu callers = %d cells, %d differ from the models' rules\n",
              rows.size(), std::size(kCallers), n, mismatches);
  EXPECT_EQ(rows.size(), std::size(kSyncOperations) + std::size(kIdentityOperations));
}

}  // namespace
}  // namespace cairn
