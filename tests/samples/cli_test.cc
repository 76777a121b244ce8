// The cairn CLI as a user runs it: a real process against loopback services.
#include <gtest/gtest.h>

#include <cstdio>

#include "fixtures/scripted_server.h"

namespace {

struct CliRun {
  int exit_code;
  std::string out;
};

CliRun run(const std::string& args) {
  std::string cmd = std::string(CAIRN_CLI) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

const char* kPool = "us-east-1:23ec4050-6aea-7089-a2dd-08002e000000";

TEST(Cli, HelpListsTheCommandsAndExitsZero) {
  CliRun r = run("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("whoami"), std::string::npos);
  EXPECT_NE(r.out.find("remote-datasets"), std::string::npos);
  EXPECT_NE(r.out.find("--endpoint"), std::string::npos);
}

TEST(Cli, WhoamiRunsTheIdentityFlowAndDatasetsListsRemotely) {
  cairn::testing::ScriptedServer server;
  server.set_handler([](const httplib::Request& req, httplib::Response& res) {
    std::string target = req.get_header_value("X-Amz-Target");
    if (target.find("GetId") != std::string::npos) {
      res.set_content(R"({"IdentityId":"us-east-1:0b4a7c6e-1111-2222-3333-444455556666"})",
                      "application/json");
    } else if (target.find("GetCredentialsForIdentity") != std::string::npos) {
      res.set_content(R"({"IdentityId":"us-east-1:0b4a7c6e-1111-2222-3333-444455556666",
          "Credentials":{"AccessKeyId":"ASIATEST","SecretKey":"s","SessionToken":"t","Expiration":1.9E9}})",
                      "application/json");
    } else {
      res.set_content(R"({"Datasets":[{"DatasetName":"settings","NumRecords":3,"DataStorage":42,
          "LastModifiedDate":1700000000}],"Count":1})",
                      "application/json");
    }
  });
  std::string common = "--endpoint " + server.url() + " --pool " + kPool;
  CliRun who = run(common + " --login login.cairn=player-1 whoami");
  EXPECT_EQ(who.exit_code, 0) << who.out;
  EXPECT_NE(who.out.find("identity-id\tus-east-1:0b4a7c6e-1111-2222-3333-444455556666"),
            std::string::npos);
  EXPECT_NE(who.out.find("expires\t2030-03-17T17:46:40Z"), std::string::npos) << who.out;
  CliRun ds = run(common + " remote-datasets");
  EXPECT_EQ(ds.exit_code, 0) << ds.out;
  EXPECT_NE(ds.out.find("settings\t3\t42\t2023-11-14T22:13:20Z"), std::string::npos) << ds.out;
  bool presented_login = false;
  for (const auto& r : server.requests())
    presented_login |= r.body.find("player-1") != std::string::npos;
  EXPECT_TRUE(presented_login);
}

TEST(Cli, BadInputGetsAClearErrorAndANonZeroExit) {
  CliRun no_pool = run("--endpoint http://127.0.0.1:1 whoami");
  EXPECT_EQ(no_pool.exit_code, 2);
  EXPECT_NE(no_pool.out.find("--pool"), std::string::npos);
  CliRun bad_login = run(std::string("--endpoint http://127.0.0.1:1 --pool ") + kPool +
                         " --login nonsense whoami");
  EXPECT_EQ(bad_login.exit_code, 2);
  EXPECT_NE(bad_login.out.find("PROVIDER=TOKEN"), std::string::npos);
  CliRun bad_pool = run("--endpoint http://127.0.0.1:1 --pool not-a-pool whoami");
  EXPECT_EQ(bad_pool.exit_code, 2);
  EXPECT_NE(bad_pool.out.find("InvalidParameterException"), std::string::npos) << bad_pool.out;
}

}  // namespace
