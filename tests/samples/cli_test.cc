// The cairn CLI as a user runs it: a real process, one --db per device, against a real
// cairn-server on loopback. Also the demo and the minimal embedding, run as binaries.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "fixtures/hook_server.h"
#include "fixtures/wait.h"
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

// The developer credentials of the test server, as an operator or a game's backend holds them.
std::string admin_env() {
  return std::string("AWS_ACCESS_KEY_ID=") + kAdminKey + " AWS_SECRET_ACCESS_KEY=" + kAdminSecret;
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

// Whether a run under LD_DEBUG=libs loaded a library (a name's prefix: "libcurl.so"), from the
// dynamic loader's own account of the libraries it opened.
bool loaded(const RunResult& r, const std::string& library) {
  return r.err.find("find library=" + library) != std::string::npos;
}
bool loaded_libcurl(const RunResult& r) { return loaded(r, "libcurl.so"); }

// A run under LD_DEBUG=libs that succeeded and left the loader's account to read.
::testing::AssertionResult traced_run(const RunResult& r) {
  if (r.exit_code != 0)
    return ::testing::AssertionFailure() << "exit " << r.exit_code << ": " << r.err;
  if (r.err.find("find library=") == std::string::npos)
    return ::testing::AssertionFailure() << "no loader trace: " << r.err;
  return ::testing::AssertionSuccess();
}

TEST_F(Cli, LocalCommandsNeverLoadTheNetworkLibraryAndSyncLoadsIt) {
#if CAIRN_CURL_DLOPEN
  std::string d = device("lazy");
  RunResult put = cli(d + " put save gold 10", "LD_DEBUG=libs");
  ASSERT_TRUE(traced_run(put));
  EXPECT_FALSE(loaded_libcurl(put)) << put.err;
  RunResult get = cli(d + " get save gold", "LD_DEBUG=libs");
  EXPECT_EQ(get.exit_code, 0);
  EXPECT_FALSE(loaded_libcurl(get));
  RunResult sync = cli(d + " sync save", "LD_DEBUG=libs");
  ASSERT_EQ(sync.exit_code, 0) << sync.err;
  EXPECT_TRUE(loaded_libcurl(sync)) << sync.err;
  RunResult st = cli(d + " status save");
  EXPECT_NE(st.out.find("pending changes:  0"), std::string::npos) << st.out;
#else
  GTEST_SKIP() << "built with CAIRN_CURL_DLOPEN=OFF: libcurl is linked";
#endif
}

// With CAIRN_CLI_STATIC_RUNTIME, the C++ runtime and OpenSSL are inside the binary: a local
// command loads neither (they are most of a start's cost), and a sync, whose libcurl brings the
// system's OpenSSL beside the binary's own copy, still signs, connects and pushes.
TEST_F(Cli, TheStaticRuntimeLoadsNoOpenSslOrCppRuntimeAndSyncStillWorks) {
#if CAIRN_CLI_STATIC_RUNTIME
  std::string d = device("static");
  RunResult put = cli(d + " put save gold 10", "LD_DEBUG=libs");
  ASSERT_TRUE(traced_run(put));
  for (const char* lib : {"libssl.so", "libcrypto.so", "libstdc++.so", "libgcc_s.so"}) {
    EXPECT_FALSE(loaded(put, lib)) << lib;
  }
  RunResult sync = cli(d + " sync save", "LD_DEBUG=libs");
  ASSERT_TRUE(traced_run(sync));
  EXPECT_TRUE(loaded(sync, "libssl.so")) << "libcurl's own";
  EXPECT_EQ(cli(d + " sync save").exit_code, 0);
  EXPECT_NE(cli(d + " status save").out.find("pending changes:  0"), std::string::npos);
  RunResult id = cli(d + " identity");
  ASSERT_EQ(id.exit_code, 0) << id.err;
  std::string identity = id.out.substr(0, id.out.size() - 1);
  auto remote = list_all(*ts.admin_sync(), ts.pool(), identity, "save").records;
  ASSERT_EQ(remote.size(), 1u);
  EXPECT_EQ(remote[0].value, std::optional<std::string>("10"));
#else
  GTEST_SKIP() << "the CLI links the C++ runtime and OpenSSL shared here";
#endif
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
  std::string d = device("dev") + " --identity-id " + guest.identity_id;
  std::string env = admin_env();
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

TEST_F(Cli, LoginSignsOnePlayerInOnTwoDevicesWithoutATokenOnEveryCommand) {
  std::string phone = device("phone", "merge"), tablet = device("tablet", "merge");
  // A device that played as a guest first keeps what it wrote.
  ASSERT_EQ(cli(phone + " put save gold 10").exit_code, 0);
  RunResult in = cli(phone + " login login.cairn ada", admin_env());
  ASSERT_EQ(in.exit_code, 0) << in.err;
  EXPECT_EQ(in.out.rfind("signed in as ada (login.cairn): identity us-east-1:", 0), 0u) << in.out;
  ASSERT_EQ(cli(tablet + " login login.cairn ada", admin_env()).exit_code, 0);
  // From here on, no credentials and no token on the command line.
  RunResult ip = cli(phone + " identity"), it = cli(tablet + " identity");
  ASSERT_EQ(ip.exit_code, 0) << ip.err;
  EXPECT_EQ(ip.out, it.out) << "one player";
  EXPECT_NE(in.out.find(ip.out.substr(0, ip.out.size() - 1)), std::string::npos);
  ASSERT_EQ(cli(phone + " sync save").exit_code, 0);
  RunResult t = cli(tablet + " sync save");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(cli(tablet + " get save gold").out, "10\n");
  // Without developer credentials, login says what it needs.
  RunResult bare = cli(device("other") + " login login.cairn ada");
  EXPECT_EQ(bare.exit_code, 1);
  EXPECT_NE(bare.err.find("developer credentials"), std::string::npos) << bare.err;
  // An expired sign-in names the way back; local commands still work.
  std::string saved = dir.path + "/phone.db.login";
  std::string text;
  {
    std::ifstream in_file(saved);
    std::string line;
    for (int i = 0; std::getline(in_file, line); ++i) text += (i == 1 ? "1" : line) + "\n";
  }
  std::ofstream(saved, std::ios::trunc) << text;
  RunResult expired = cli(phone + " sync save");
  EXPECT_EQ(expired.exit_code, 2);
  EXPECT_NE(expired.err.find("run `cairn login login.cairn ada` again"), std::string::npos)
      << expired.err;
  EXPECT_EQ(cli(phone + " get save gold").out, "10\n");
  EXPECT_EQ(cli(phone + " logout").exit_code, 0);
  EXPECT_EQ(cli(phone + " logout").exit_code, 1) << "nothing left to forget";
}

TEST_F(Cli, SyncReportsWhatWasPulledPushedAndHowEachConflictEnded) {
  std::string phone = device("phone", "remote"), tablet = device("tablet", "remote");
  ASSERT_EQ(cli(phone + " login login.cairn ada", admin_env()).exit_code, 0);
  ASSERT_EQ(cli(tablet + " login login.cairn ada", admin_env()).exit_code, 0);
  ASSERT_EQ(cli(phone + " put save hero knight").exit_code, 0);
  ASSERT_EQ(cli(phone + " put save gold 1").exit_code, 0);
  RunResult first = cli(phone + " sync save");
  EXPECT_EQ(first.out, "save: ok, pulled 0, pushed 2, 0 conflicts, sync count 1\n");
  ASSERT_EQ(cli(tablet + " put save hero mage").exit_code, 0);
  // The server's value wins: nothing is pushed, and the report says so.
  RunResult won = cli(tablet + " sync save");
  ASSERT_EQ(won.exit_code, 0) << won.err;
  EXPECT_EQ(won.out,
            "save: ok, pulled 2, pushed 0, 1 conflict, sync count 1\n"
            "  conflict hero: remote\n");
  // Merged, as scripts read it.
  std::string tablet_merge = device("tablet", "merge");
  ASSERT_EQ(cli(phone + " put save stats '{\"hp\":1,\"xp\":1}'").exit_code, 0);
  ASSERT_EQ(cli(phone + " sync save").exit_code, 0);
  ASSERT_EQ(cli(tablet + " sync save").exit_code, 0);
  ASSERT_EQ(cli(phone + " put save stats '{\"hp\":5,\"xp\":1}'").exit_code, 0);
  ASSERT_EQ(cli(phone + " sync save").exit_code, 0);
  ASSERT_EQ(cli(tablet + " put save stats '{\"hp\":1,\"xp\":9}'").exit_code, 0);
  RunResult js = cli(tablet_merge + " sync --json save");
  ASSERT_EQ(js.exit_code, 0) << js.err;
  EXPECT_EQ(js.out,
            "{\"dataset\":\"save\",\"ok\":true,\"pulled\":1,\"pushed\":1,\"changed_here\":1,"
            "\"conflicts\":[{\"key\":\"stats\",\"resolution\":\"merged\"}],\"sync_count\":4}\n");
  EXPECT_EQ(cli(tablet + " get save stats").out, "{\"hp\":5,\"xp\":9}\n");
  // A failure in JSON, and on stderr for a person.
  std::string down =
      "--endpoint http://127.0.0.1:9 --pool " + ts.pool() + " --db " + dir.path + "/tablet.db";
  ASSERT_EQ(cli(tablet + " put save gold 2").exit_code, 0);
  RunResult failed = cli(down + " sync --json save");
  EXPECT_EQ(failed.exit_code, 2);
  EXPECT_EQ(failed.out.rfind(
                "{\"dataset\":\"save\",\"ok\":false,\"error\":{\"code\":\"NetworkError\"", 0),
            0u)
      << failed.out;
  // Not on a terminal: no progress lines, only the report.
  EXPECT_EQ(failed.err.find('\r'), std::string::npos);
  EXPECT_EQ(cli(tablet + " sync save").err, "");
}

TEST_F(Cli, TheDefaultResolverIsTheThreeWayMerge) {
  std::string phone = device("phone", "merge"), tablet = device("tablet", "merge");
  ASSERT_EQ(cli(phone + " login login.cairn ada", admin_env()).exit_code, 0);
  ASSERT_EQ(cli(tablet + " login login.cairn ada", admin_env()).exit_code, 0);
  // No --resolver from here on.
  std::string p = "--endpoint " + ts.url() + " --pool " + ts.pool() + " --db " + dir.path,
              a = p + "/phone.db", b = p + "/tablet.db";
  ASSERT_EQ(cli(a + " put save hero '{\"hp\":1,\"xp\":1}'").exit_code, 0);
  ASSERT_EQ(cli(a + " sync save").exit_code, 0);
  ASSERT_EQ(cli(b + " sync save").exit_code, 0);
  ASSERT_EQ(cli(a + " put save hero '{\"hp\":5,\"xp\":1}'").exit_code, 0);
  ASSERT_EQ(cli(b + " put save hero '{\"hp\":1,\"xp\":9}'").exit_code, 0);
  ASSERT_EQ(cli(a + " sync save").exit_code, 0);
  EXPECT_EQ(cli(b + " sync save").out,
            "save: ok, pulled 1, pushed 1, 1 conflict, sync count 3\n  conflict hero: merged\n");
  EXPECT_EQ(cli(b + " get save hero").out, "{\"hp\":5,\"xp\":9}\n");
  EXPECT_NE(cli("--help").out.find("merge"), std::string::npos);
}

TEST_F(Cli, IdentityIdWithoutDeveloperCredentialsIsAUsageError) {
  auto guest = ts.new_device();
  RunResult r = cli(device("a") + " --identity-id " + guest.identity_id + " sync save");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--identity-id needs developer credentials"), std::string::npos) << r.err;
  EXPECT_EQ(cli(device("a") + " datasets").out, "") << "nothing written, no identity made";
}

TEST_F(Cli, ExportedDeveloperKeysLeaveTheIdentityFlowAlone) {
  std::string a = device("a");
  ASSERT_EQ(cli(a + " put save k v").exit_code, 0);
  ASSERT_EQ(cli(a + " sync save").exit_code, 0);  // a guest identity, cached in the db
  std::string id = cli(a + " identity").out;
  RunResult r = cli(a + " --trace sync save", admin_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("[cli] credentials: the identity flow as a guest (no login); "
                       "AWS_ACCESS_KEY_ID is set but not used"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(cli(a + " identity", admin_env()).out, id);
  // With --login too.
  auto token = ts.admin_identity()->get_open_id_token_for_developer_identity(
      {ts.pool(), std::nullopt, {{"login.cairn", "bo"}}, {}, std::nullopt});
  ASSERT_TRUE(token.ok());
  RunResult with_login =
      cli(device("b") + " --login cognito-identity.amazonaws.com=" + *token->token + " identity",
          admin_env());
  EXPECT_EQ(with_login.out, *token->identity_id + "\n") << with_login.err;
}

TEST_F(Cli, StatusAfterAFailedSyncShowsTheFailureAndThePendingKeys) {
  std::string a = device("a");
  ASSERT_EQ(cli(a + " put save k0 v").exit_code, 0);
  ASSERT_EQ(cli(a + " sync save").exit_code, 0);
  for (int i = 1; i <= 24; ++i) {
    ASSERT_EQ(cli(a + " put save k" + std::to_string(i) + " v").exit_code, 0);
  }
  ASSERT_EQ(cli(a + " rm save k0").exit_code, 0);
  std::string down =
      "--endpoint http://127.0.0.1:9 --pool " + ts.pool() + " --db " + dir.path + "/a.db";
  ASSERT_EQ(cli(down + " sync save").exit_code, 2);
  RunResult st = cli(a + " status save");
  ASSERT_EQ(st.exit_code, 0) << st.err;
  EXPECT_NE(st.out.find("pending changes:  25\n  k0 (removed)\n  k1\n  k10\n"), std::string::npos)
      << st.out;
  EXPECT_NE(st.out.find("  ... and 5 more\n"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find(", NetworkError: "), std::string::npos) << "the failure as it was\n"
                                                                << st.out;
  EXPECT_EQ(st.out.find(", ok\n"), std::string::npos) << st.out;
}

TEST_F(Cli, StatusAndDeleteOfAnUnknownDatasetAreUsageErrorsThatWriteNothing) {
  std::string a = device("a");
  ASSERT_EQ(cli(a + " put save k v").exit_code, 0);
  for (const char* command : {"status", "delete"}) {
    RunResult r = cli(a + " " + command + " nosuch");
    EXPECT_EQ(r.exit_code, 1) << command;
    EXPECT_EQ(r.err, std::string("cairn: ") + command + ": this device has no dataset 'nosuch'\n");
  }
  EXPECT_EQ(cli(a + " datasets").out, "save\t0\t1\t1\t2\n");
}

TEST_F(Cli, ValuesComeFromStdinOrAFileUnderTheSameLimits) {
  std::string a = device("a");
  std::string big(500 * 1000, 'x');
  std::string file = dir.path + "/big.txt";
  std::ofstream(file) << big;
  RunResult in = cli(a + " put save piped - < " + file);
  ASSERT_EQ(in.exit_code, 0) << in.err;
  EXPECT_EQ(cli(a + " get save piped").out, big + "\n");
  ASSERT_EQ(cli(a + " put save filed --value-file " + file).exit_code, 0);
  EXPECT_EQ(cli(a + " get save filed").out, big + "\n");
  // A third would pass the dataset's 1 MB: refused, and nothing written.
  RunResult over = cli(a + " put save third --value-file " + file);
  EXPECT_EQ(over.exit_code, 1);
  EXPECT_NE(over.err.find("LimitExceeded"), std::string::npos) << over.err;
  EXPECT_EQ(cli(a + " get save third").exit_code, 3);
  EXPECT_EQ(cli(a + " put save k").exit_code, 1) << "no value at all";
  EXPECT_EQ(cli(a + " put save k v --value-file " + file).exit_code, 1) << "two values";
  EXPECT_EQ(cli(a + " put save k --value-file " + dir.path + "/absent").exit_code, 1);
}

TEST(CliTerminal, ASlowPushShowsItsProgress) {
  // The push waits in a SyncTrigger hook until the terminal shows its progress (which appears
  // once a push has taken half a second), so the push is slow on any machine; the hook's timeout
  // is far past how long that can take.
  server::ServerOptions options;
  options.events.sync_trigger_timeout = std::chrono::minutes(10);
  TestServer ts(options);
  TempDir dir("cairn-cli-tty");
  std::string shown = dir.path + "/terminal";  // what script(1) shows, flushed as it goes
  auto terminal = [&] {
    std::ifstream in(shown);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  HookServer hook;
  hook.set_handler([&](const std::string& body, size_t, httplib::Response& res) {
    eventually([&] { return terminal().find("pushing 1 records") != std::string::npos; });
    res.set_content(body, "application/json");  // the event back, unchanged: write as sent
  });
  ASSERT_TRUE(ts.admin_sync()->set_cognito_events({ts.pool(), {{"SyncTrigger", hook.url()}}}).ok());
  std::string a = "--endpoint " + ts.url() + " --pool " + ts.pool() + " --db " + dir.path + "/a.db";
  ASSERT_EQ(run_binary(CAIRN_CLI, a + " put save hero knight").exit_code, 0);
  RunResult tty =
      run_binary("script", "-qfec \"" + std::string(CAIRN_CLI) + " " + a + " sync save\" " + shown);
  ASSERT_EQ(tty.exit_code, 0) << tty.out << tty.err;
  EXPECT_NE(tty.out.find("save: pulled 0 records (0 B), pushing 1 records (10 B)"),
            std::string::npos)
      << tty.out;
  EXPECT_NE(tty.out.find("save: ok, pulled 0, pushed 1, 0 conflicts, sync count 1"),
            std::string::npos)
      << tty.out;
  EXPECT_EQ(hook.received().size(), 1u);
}

TEST_F(Cli, MessagesNameTheCommandAndTheFlagToUse) {
  std::string db = "--db " + dir.path + "/x.db";
  RunResult unknown = cli(db + " frobnicate");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("unknown command 'frobnicate'; the commands are put, rm, get"),
            std::string::npos)
      << unknown.err;
  RunResult bad = cli(db + " put 'bad name!' k v");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err.rfind("cairn put: ", 0), 0u) << bad.err;
  RunResult region =
      cli(db + " --pool " + ts.pool() + " sync save", "AWS_REGION= AWS_DEFAULT_REGION=");
  EXPECT_EQ(region.exit_code, 1);
  EXPECT_NE(region.err.find("--endpoint URL"), std::string::npos) << region.err;
  EXPECT_NE(region.err.find("--region REGION"), std::string::npos) << region.err;
}

TEST(Demo, TheGameSaveDemoConvergesAndExitsZero) {
  RunResult r = run_binary(CAIRN_DEMO, "");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("meets a conflict on 'hero'"), std::string::npos) << r.out;
  // What each device sent and received, in the game's words, not the API's.
  EXPECT_NE(r.out.find("phone sent 2 record(s) (hero, settings) and received 0"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("tablet sent 0 record(s) and received 2 (hero, settings)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("with no network"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("set_network_reachable"), std::string::npos) << r.out;
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
