// The cairn CLI as a user runs it: a real process, one --db per device, against a real
// cairn-server on loopback. Also the demo and the minimal embedding, run as binaries.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "server/server_fixture.h"
#include "temp_dir.h"

namespace cairn::testing {
namespace {

struct RunResult {
  int exit_code;
  std::string out;
  std::string err;
};

// Runs a binary with `args` and an environment prefix (VAR=value ...), capturing both streams.
RunResult run_binary(const std::string& binary, const std::string& args,
                     const std::string& env = "") {
  TempDir scratch("cairn-cli-run");
  std::string out_file = scratch.path + "/out", err_file = scratch.path + "/err";
  // A clean credential environment: no developer keys unless the test gives them.
  std::string cmd =
      "env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN "
      "AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent " +
      env + " " + binary + " " + args + " >" + out_file + " 2>" + err_file;
  int status = std::system(cmd.c_str());
  auto slurp = [](const std::string& path) {
    std::string s;
    if (FILE* f = std::fopen(path.c_str(), "r")) {
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
      std::fclose(f);
    }
    return s;
  };
  return {WEXITSTATUS(status), slurp(out_file), slurp(err_file)};
}

struct Cli : ::testing::Test {
  TestServer ts;
  TempDir dir{"cairn-cli"};

  std::string device(const std::string& name, const std::string& resolver = "lww") {
    return "--endpoint " + ts.url() + " --pool " + ts.pool() + " --db " + dir.path + "/" + name +
           ".db --resolver " + resolver;
  }
  RunResult cli(const std::string& args, const std::string& env = "") {
    return run_binary(CAIRN_CLI, args, env);
  }
};

TEST_F(Cli, LocalCommandsWorkWithNoServerAtAll) {
  // An endpoint nobody listens on: local commands never touch it.
  std::string d =
      "--endpoint http://127.0.0.1:9 --pool " + ts.pool() + " --db " + dir.path + "/offline.db";
  EXPECT_EQ(cli(d + " put save gold 10").exit_code, 0);
  EXPECT_EQ(cli(d + " put save name 'Ayla Q'").exit_code, 0);
  EXPECT_EQ(cli(d + " put save empty ''").exit_code, 0);
  RunResult got = cli(d + " get save name");
  EXPECT_EQ(got.exit_code, 0);
  EXPECT_EQ(got.out, "Ayla Q\n");
  EXPECT_EQ(cli(d + " get save empty").out, "\n");
  RunResult absent = cli(d + " get save nothing");
  EXPECT_EQ(absent.exit_code, 3);
  EXPECT_EQ(absent.out, "");
  EXPECT_EQ(cli(d + " rm save gold").exit_code, 0);
  EXPECT_EQ(cli(d + " get save gold").exit_code, 3);
  EXPECT_EQ(cli(d + " ls save").out, "empty\t\nname\tAyla Q\n");
  EXPECT_EQ(cli(d + " datasets").out, "save\t0\t3\t2\t15\n");
  RunResult st = cli(d + " status save");
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_NE(st.out.find("pending changes:  3"), std::string::npos) << st.out;
  // Without --pool, local commands still work.
  EXPECT_EQ(cli("--db " + dir.path + "/offline.db get save name").out, "Ayla Q\n");
}

TEST_F(Cli, EachDeviceWithoutALoginIsItsOwnGuest) {
  std::string a = device("a"), b = device("b");
  ASSERT_EQ(cli(a + " put save gold 10").exit_code, 0);
  ASSERT_EQ(cli(b + " put save gems 4").exit_code, 0);
  RunResult sa = cli(a + " sync save");
  ASSERT_EQ(sa.exit_code, 0) << sa.err;
  EXPECT_EQ(sa.out.rfind("save: ok", 0), 0u) << sa.out;
  ASSERT_EQ(cli(b + " sync save").exit_code, 0);
  ASSERT_EQ(cli(a + " sync save").exit_code, 0);
  EXPECT_EQ(cli(a + " ls save").out, "gold\t10\n") << "each guest has its own identity";
  EXPECT_EQ(cli(b + " ls save").out, "gems\t4\n");
  RunResult ia = cli(a + " identity"), ib = cli(b + " identity");
  EXPECT_EQ(ia.exit_code, 0);
  EXPECT_EQ(ia.out.rfind("us-east-1:", 0), 0u);
  EXPECT_EQ(cli(a + " identity").out, ia.out) << "cached in the db";
  EXPECT_NE(ia.out, ib.out);
  std::string id = ia.out.substr(0, ia.out.size() - 1);
  EXPECT_EQ(list_all(*ts.admin_sync(), ts.pool(), id, "save").records.size(), 1u);
}

TEST_F(Cli, OnePlayerOnTwoDevicesResolvesWithTheChosenResolver) {
  auto r = ts.admin_identity()->get_open_id_token_for_developer_identity(
      {ts.pool(), std::nullopt, {{"login.cairn", "ayla"}}, {}, std::nullopt});
  ASSERT_TRUE(r.ok());
  std::string login = " --login cognito-identity.amazonaws.com=" + *r->token;
  std::string a = device("a", "merge") + login, b = device("b", "merge") + login;
  ASSERT_EQ(cli(a + " put save hero '{\"hp\":1,\"xp\":1}'").exit_code, 0);
  ASSERT_EQ(cli(a + " sync save").exit_code, 0);
  ASSERT_EQ(cli(b + " sync save").exit_code, 0);
  ASSERT_EQ(cli(a + " put save hero '{\"hp\":5,\"xp\":1}'").exit_code, 0);
  ASSERT_EQ(cli(b + " put save hero '{\"hp\":1,\"xp\":9}'").exit_code, 0);
  ASSERT_EQ(cli(a + " sync save").exit_code, 0);
  RunResult sb = cli(b + " sync save");
  ASSERT_EQ(sb.exit_code, 0) << sb.err;
  ASSERT_EQ(cli(a + " sync save").exit_code, 0);
  EXPECT_EQ(cli(a + " get save hero").out, "{\"hp\":5,\"xp\":9}\n");
  EXPECT_EQ(cli(b + " get save hero").out, "{\"hp\":5,\"xp\":9}\n");
  EXPECT_EQ(cli(a + " identity").out, *r->identity_id + "\n");
  RunResult ds = cli(a + " datasets");
  EXPECT_EQ(ds.out, "save\t3\t0\t1\t19\n");
}

TEST_F(Cli, DeleteIsPushedAtTheNextSync) {
  std::string a = device("a");
  ASSERT_EQ(cli(a + " put save k v").exit_code, 0);
  ASSERT_EQ(cli(a + " sync save").exit_code, 0);
  std::string id = cli(a + " identity").out;
  id.pop_back();
  ASSERT_EQ(cli(a + " delete save").exit_code, 0);
  EXPECT_EQ(cli(a + " datasets").out, "save\t-1\t0\t0\t0\n");
  EXPECT_EQ(list_all(*ts.admin_sync(), ts.pool(), id, "save").records.size(), 1u);
  ASSERT_EQ(cli(a + " sync save").exit_code, 0);
  EXPECT_FALSE(list_all(*ts.admin_sync(), ts.pool(), id, "save").dataset_exists.value_or(true));
  EXPECT_EQ(cli(a + " datasets").out, "");
}

TEST_F(Cli, DeveloperCredentialsActOnTheGivenIdentity) {
  auto guest = ts.new_device();
  std::string env =
      std::string("AWS_ACCESS_KEY_ID=") + kAdminKey + " AWS_SECRET_ACCESS_KEY=" + kAdminSecret;
  std::string d = device("dev");
  RunResult no_id = cli(d + " sync save", env);
  EXPECT_EQ(no_id.exit_code, 1) << "developer credentials need --identity-id";
  d += " --identity-id " + guest.identity_id;
  EXPECT_EQ(cli(d + " identity", env).out, guest.identity_id + "\n");
  ASSERT_EQ(cli(d + " put save from backend", env).exit_code, 0);
  RunResult s = cli(d + " sync save", env);
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto listed = list_all(*ts.admin_sync(), ts.pool(), guest.identity_id, "save");
  ASSERT_EQ(listed.records.size(), 1u);
  EXPECT_EQ(*listed.records[0].value, "backend");
}

TEST_F(Cli, RegisterSubscribeAndUnsubscribe) {
  std::string a = device("a");
  RunResult early = cli(a + " subscribe save");
  EXPECT_EQ(early.exit_code, 1) << "no device registered yet";
  RunResult reg = cli(a + " register-device GCM token-1");
  ASSERT_EQ(reg.exit_code, 0) << reg.err;
  EXPECT_FALSE(reg.out.empty());
  EXPECT_EQ(cli(a + " register-device GCM token-1").out, reg.out) << "cached";
  EXPECT_EQ(cli(a + " subscribe save").exit_code, 0);
  EXPECT_EQ(cli(a + " unsubscribe save").exit_code, 0);
  EXPECT_EQ(cli(a + " register-device PIGEON t").exit_code, 1);
}

TEST_F(Cli, FailuresExitTwoWithTheCodeAndKeepLocalData) {
  std::string a = device("a");
  ASSERT_EQ(cli(a + " put save k v").exit_code, 0);
  std::string down =
      "--endpoint http://127.0.0.1:9 --pool " + ts.pool() + " --db " + dir.path + "/a.db";
  RunResult s = cli(down + " sync save");
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_NE(s.err.find("NetworkError"), std::string::npos) << s.err;
  EXPECT_EQ(std::count(s.err.begin(), s.err.end(), '\n'), 1) << "one line: " << s.err;
  EXPECT_EQ(cli(a + " get save k").out, "v\n");
  EXPECT_EQ(cli(a + " datasets").out, "save\t0\t1\t1\t2\n");
}

TEST_F(Cli, UsageErrorsExitOne) {
  EXPECT_EQ(cli("put save k").exit_code, 1) << "missing VALUE";
  EXPECT_EQ(cli("--db " + dir.path + "/x.db frobnicate").exit_code, 1);
  EXPECT_EQ(cli("put save k v").exit_code, 1) << "no --db";
  EXPECT_EQ(cli("--db " + dir.path + "/x.db sync save").exit_code, 1) << "no --pool";
  EXPECT_EQ(cli("--db " + dir.path + "/x.db --resolver coin put s k v").exit_code, 1);
  EXPECT_EQ(cli("--db " + dir.path + "/x.db put 'bad name' k v").exit_code, 1);
  EXPECT_EQ(cli("--db " + dir.path + "/x.db --login nonsense identity").exit_code, 1);
  RunResult help = cli("--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* c : {"put", "rm", "get", "ls", "datasets", "status", "sync", "delete",
                        "identity", "register-device", "subscribe", "unsubscribe"}) {
    EXPECT_NE(help.out.find(c), std::string::npos) << c;
  }
}

TEST(Demo, TheGameSaveDemoConvergesAndExitsZero) {
  RunResult r = run_binary(CAIRN_DEMO, "");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("meets a conflict on 'hero'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("converged"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("server stopped"), std::string::npos);
}

TEST(Minimal, TheMinimalEmbeddingSyncsAgainstAServer) {
  TestServer ts;
  TempDir dir("cairn-minimal");
  RunResult r = run_binary(CAIRN_MINIMAL, ts.url() + " " + ts.pool() + " " + dir.path + "/m.db");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "level = 7\nsynced\n");
}

}  // namespace
}  // namespace cairn::testing
