// cairn-server as an operator runs it: flags, the ready lines, restarts on the same database,
// and a clean exit on SIGTERM and SIGINT.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <rapidjson/document.h>

#include "cairn/cognito/sync.h"
#include "fixtures/wait.h"
#include "test_db.h"

namespace {

struct Process {
  pid_t pid = -1;
  FILE* out = nullptr;
  std::vector<std::string> lines;

  // Starts cairn-server with args and reads stdout until the listening line; stderr goes to
  // `stderr_path` when one is given.
  static Process start(const std::vector<std::string>& args, const std::string& stderr_path = "") {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    Process p;
    p.pid = fork();
    if (p.pid == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      if (!stderr_path.empty()) {
        int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(err, 2);
      }
      std::vector<char*> argv{const_cast<char*>(CAIRN_SERVER)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(CAIRN_SERVER, argv.data());
      _exit(127);
    }
    close(fds[1]);
    p.out = fdopen(fds[0], "r");
    char buf[512];
    while (std::fgets(buf, sizeof buf, p.out)) {
      std::string line(buf);
      if (!line.empty() && line.back() == '\n') line.pop_back();
      p.lines.push_back(line);
      if (line.rfind("cairn-server listening on ", 0) == 0) break;
    }
    return p;
  }

  std::string url() const {
    return lines.empty() ? ""
                         : lines.back().substr(std::string("cairn-server listening on ").size());
  }

  int stop(int sig) {
    kill(pid, sig);
    int status = 0;
    waitpid(pid, &status, 0);
    if (out) std::fclose(out);
    out = nullptr;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

std::string temp_dir() {
  char tmpl[] = "/tmp/cairn-process-test-XXXXXX";
  return mkdtemp(tmpl);
}

// A Cognito Sync client of the server at `url`, signing with these keys, that never retries.
std::unique_ptr<cairn::CognitoSyncClient> client_of(const std::string& url, const char* key,
                                                    const char* secret) {
  cairn::ClientConfig c;
  c.endpoint = url;
  c.region = "us-east-1";
  c.retry.max_retries = 0;
  c.credentials = std::make_shared<cairn::StaticCredentialsProvider>(key, secret);
  return std::move(cairn::CognitoSyncClient::create(c)).value();
}

TEST(ServerProcess, PrintsPoolsThenListeningAndReusesPoolsAcrossRestarts) {
  std::string dir = temp_dir();
  std::vector<std::string> args = {"--listen",
                                   "127.0.0.1:0",
                                   "--db",
                                   cairn::testing::test_db_url(dir + "/data"),
                                   "--bootstrap-pool",
                                   "alpha",
                                   "--bootstrap-pool",
                                   "beta",
                                   "--region",
                                   "eu-west-1",
                                   "--log-level",
                                   "warn"};
  Process first = Process::start(args);
  ASSERT_EQ(first.lines.size(), 3u);
  EXPECT_EQ(first.lines[0].rfind("identity-pool alpha eu-west-1:", 0), 0u) << first.lines[0];
  EXPECT_EQ(first.lines[1].rfind("identity-pool beta eu-west-1:", 0), 0u);
  EXPECT_EQ(first.lines[2].rfind("cairn-server listening on http://127.0.0.1:", 0), 0u);
  std::string alpha = first.lines[0];
  EXPECT_EQ(first.stop(SIGTERM), 0);

  Process second = Process::start(args);
  ASSERT_EQ(second.lines.size(), 3u);
  EXPECT_EQ(second.lines[0], alpha) << "the same database keeps the same pool id";
  EXPECT_EQ(second.stop(SIGINT), 0);
  std::filesystem::remove_all(dir);
}

TEST(ServerProcess, InFlightRequestsFinishBeforeTheServerExits) {
  std::string dir = temp_dir();
  Process p = Process::start({"--listen", "127.0.0.1:0", "--db", cairn::testing::test_db_url(dir),
                              "--bootstrap-pool", "game", "--log-level", "off"});
  ASSERT_EQ(p.lines.size(), 2u);
  std::string pool = p.lines[0].substr(p.lines[0].rfind(' ') + 1);
  // A stream of requests races the SIGTERM: each either completes properly or is refused at
  // connect; none is cut off halfway.
  auto client = client_of(p.url(), "AKID", "SECRET");
  std::atomic<bool> done{false};
  std::atomic<int> answered{0}, refused{0}, broken{0};
  std::thread load([&] {
    while (!done) {
      auto r = client->describe_identity_pool_usage({pool});
      if (r.status().code() == cairn::ErrorCode::kUnrecognizedClient)
        ++answered;
      else if (r.status().code() == cairn::ErrorCode::kNetwork)
        ++refused;
      else
        ++broken;
    }
  });
  // Stopped while requests are being answered.
  ASSERT_TRUE(cairn::testing::eventually([&] { return answered.load() > 0; }));
  EXPECT_EQ(p.stop(SIGTERM), 0);
  done = true;
  load.join();
  EXPECT_GT(answered.load(), 0);
  EXPECT_EQ(broken.load(), 0);
  std::filesystem::remove_all(dir);
}

TEST(ServerProcess, BadFlagsExitNonZeroWithAMessage) {
  std::string cmd = std::string(CAIRN_SERVER) + " --db postgres-please://x 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  char buf[512] = {0};
  std::string out;
  while (std::fgets(buf, sizeof buf, f)) out += buf;
  int status = pclose(f);
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_NE(out.find("sqlite:PATH"), std::string::npos) << out;
  FILE* g = popen((std::string(CAIRN_SERVER) + " --listen nonsense 2>&1").c_str(), "r");
  out.clear();
  while (std::fgets(buf, sizeof buf, g)) out += buf;
  EXPECT_NE(WEXITSTATUS(pclose(g)), 0);
  EXPECT_NE(out.find("HOST:PORT"), std::string::npos) << out;
}

// Runs cairn-server to its exit; its exit code and what it printed (stdout and stderr).
std::pair<int, std::string> run_to_exit(const std::string& args) {
  FILE* f = popen((std::string(CAIRN_SERVER) + " " + args + " 2>&1").c_str(), "r");
  char buf[512];
  std::string out;
  while (std::fgets(buf, sizeof buf, f)) out += buf;
  int status = pclose(f);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

std::string port_of(const std::string& url) { return url.substr(url.rfind(':') + 1); }

TEST(ServerProcess, APortInUseStopsTheStartWithAMessageNamingIt) {
  std::string dir = temp_dir();
  auto first = Process::start(
      {"--listen", "127.0.0.1:0", "--db", cairn::testing::test_db_url(dir + "/first")});
  ASSERT_FALSE(first.url().empty());
  std::string listen = "127.0.0.1:" + port_of(first.url());
  // A second server, on its own database, asked for the same port: it must not start and take
  // half of the first one's connections.
  auto [code, out] =
      run_to_exit("--listen " + listen + " --db " + cairn::testing::test_db_url(dir + "/second"));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("cannot listen on " + listen), std::string::npos) << out;
  EXPECT_NE(out.find("in use"), std::string::npos) << out;
  EXPECT_EQ(out.find("listening"), std::string::npos) << out;
  EXPECT_EQ(first.stop(SIGTERM), 0);
  std::filesystem::remove_all(dir);
}

TEST(ServerProcess, ReusePortLetsInstancesOfOneDatabaseShareAPort) {
  std::string dir = temp_dir();
  // (Each on a database of its own here: the port is what is tested. Sharing one is the operator's
  // side of the bargain.)
  auto first = Process::start({"--listen", "127.0.0.1:0", "--db",
                               cairn::testing::test_db_url(dir + "/first"), "--reuse-port"});
  ASSERT_FALSE(first.url().empty());
  std::string listen = "127.0.0.1:" + port_of(first.url());
  auto second = Process::start(
      {"--listen", listen, "--db", cairn::testing::test_db_url(dir + "/second"), "--reuse-port"});
  EXPECT_EQ(second.url(), first.url()) << "both listen on one port";
  // Without the flag on the newcomer, the port stays refused.
  auto [code, out] =
      run_to_exit("--listen " + listen + " --db " + cairn::testing::test_db_url(dir + "/other"));
  EXPECT_EQ(code, 2) << out;
  EXPECT_EQ(second.stop(SIGTERM), 0);
  EXPECT_EQ(first.stop(SIGTERM), 0);
  std::filesystem::remove_all(dir);
}

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, f)) {
    std::string line(buf);
    if (!line.empty() && line.back() == '\n') line.pop_back();
    out.push_back(line);
  }
  std::fclose(f);
  return out;
}

// An operator's view: every request line has a timestamp, the operation, the status, the error
// type and reason, the latency and the request id; unknown routes and refused bodies are logged
// with their method and path. As JSON, each line parses.
TEST(ServerProcess, DurabilityIsFullUnlessNormalIsAskedForAndSaysSoAtStart) {
  for (std::string choice : {"", "normal", "FULL", "sometimes"}) {
    SCOPED_TRACE(choice);
    std::string dir = temp_dir();
    std::string log = dir + "/stderr.log";
    std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--db", "sqlite:" + dir + "/s.db"};
    if (!choice.empty()) args.insert(args.end(), {"--durability", choice});
    auto p = Process::start(args, log);
    if (choice == "sometimes") {
      EXPECT_TRUE(p.url().empty());
      EXPECT_NE(p.stop(SIGTERM), 0);
      std::string all;
      for (const auto& line : lines_of(log)) all += line + "\n";
      EXPECT_NE(all.find("--durability"), std::string::npos) << all;
      continue;
    }
    ASSERT_FALSE(p.url().empty());
    EXPECT_EQ(p.stop(SIGTERM), 0);
    std::string expected = choice == "normal" ? "synchronous=NORMAL" : "synchronous=FULL";
    bool said = false;
    for (const auto& line : lines_of(log)) {
      if (line.find("storage sqlite:") != std::string::npos &&
          line.find(expected) != std::string::npos) {
        said = true;
      }
    }
    EXPECT_TRUE(said);
    std::filesystem::remove_all(dir);
  }
}

// Runs cairn-server with `args` to its end (a subcommand); returns the exit code and both streams.
int run_to_end(const std::vector<std::string>& args, std::string* output) {
  std::string cmd = CAIRN_SERVER;
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[512];
  while (p && std::fgets(buf, sizeof buf, p)) *output += buf;
  int status = p ? pclose(p) : -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ServerProcess, BackupWhileRunningAndRestoreAfterStopping) {
  std::string dir = temp_dir();
  std::string url = "sqlite:" + dir + "/s.db", copy = dir + "/copy.db";
  auto p = Process::start({"--listen", "127.0.0.1:0", "--db", url, "--bootstrap-pool", "first"});
  ASSERT_EQ(p.lines.size(), 2u);
  std::string first = p.lines[0];
  std::string out;
  EXPECT_EQ(run_to_end({"backup", "--db", url, "--to", copy}, &out), 0) << out;
  EXPECT_NE(out.find("backed up " + url + " to " + copy), std::string::npos) << out;
  EXPECT_EQ(p.stop(SIGTERM), 0);
  // A pool made after the backup is gone once the backup is restored.
  auto later =
      Process::start({"--listen", "127.0.0.1:0", "--db", url, "--bootstrap-pool", "second"});
  ASSERT_EQ(later.lines.size(), 2u);
  std::string second = later.lines[0];
  EXPECT_EQ(later.stop(SIGTERM), 0);
  out.clear();
  EXPECT_EQ(run_to_end({"restore", "--from", copy, "--db", url}, &out), 0) << out;
  auto restored = Process::start({"--listen", "127.0.0.1:0", "--db", url, "--bootstrap-pool",
                                  "first", "--bootstrap-pool", "second"});
  ASSERT_EQ(restored.lines.size(), 3u);
  EXPECT_EQ(restored.lines[0], first) << "the pool the backup holds, with its id";
  EXPECT_NE(restored.lines[1], second) << "made after the backup: gone, and made anew";
  EXPECT_EQ(restored.stop(SIGTERM), 0);
  // Clear refusals.
  out.clear();
  EXPECT_EQ(
      run_to_end({"backup", "--db", "postgresql://u:hunter2@127.0.0.1:1/db", "--to", copy}, &out),
      1);
  EXPECT_EQ(out.find("hunter2"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_to_end({"restore", "--from", dir + "/absent.db", "--db", url}, &out), 1);
  EXPECT_NE(out.find("no backup at"), std::string::npos) << out;
  std::filesystem::remove_all(dir);
}

// PostgreSQL's backups go through a SQLite file, read in one snapshot while the server runs; a
// restore goes into an empty schema and never over a server's data.
TEST(ServerProcess, APostgresqlBackupIsASqliteFileThatRestoresIntoAnEmptySchema) {
  if (!cairn::testing::testing_postgres()) GTEST_SKIP() << "the PostgreSQL copy runs this";
  std::string dir = temp_dir();
  std::string url = cairn::testing::test_db_url(dir), copy = dir + "/copy.db";
  auto p = Process::start({"--listen", "127.0.0.1:0", "--db", url, "--bootstrap-pool", "first"});
  ASSERT_EQ(p.lines.size(), 2u);
  std::string first = p.lines[0];
  std::string out;
  EXPECT_EQ(run_to_end({"backup", "--db", url, "--to", copy}, &out), 0) << out;
  EXPECT_NE(out.find("backed up "), std::string::npos) << out;
  EXPECT_EQ(p.stop(SIGTERM), 0);
  // Into the database it came from: refused, nothing touched.
  out.clear();
  EXPECT_EQ(run_to_end({"restore", "--from", copy, "--db", url}, &out), 1);
  EXPECT_NE(out.find("never overwrites"), std::string::npos) << out;
  // Into a new schema: the same pool, with its id; and the file serves as a SQLite server too.
  std::string fresh = cairn::testing::test_db_url(dir);
  out.clear();
  EXPECT_EQ(run_to_end({"restore", "--from", copy, "--db", fresh}, &out), 0) << out;
  for (const std::string& db : {fresh, "sqlite:" + copy}) {
    SCOPED_TRACE(db);
    auto restored =
        Process::start({"--listen", "127.0.0.1:0", "--db", db, "--bootstrap-pool", "first"});
    ASSERT_EQ(restored.lines.size(), 2u);
    EXPECT_EQ(restored.lines[0], first) << "the pool the backup holds, with its id";
    EXPECT_EQ(restored.stop(SIGTERM), 0);
  }
  std::filesystem::remove_all(dir);
}

// The policy file is read at start (an error in it stops the start) and again on SIGHUP; a file
// with an error then leaves the policy in force.
TEST(ServerProcess, SighupReloadsThePolicyFile) {
  std::string dir = temp_dir();
  std::string policy = dir + "/policy.json", log = dir + "/stderr.log";
  std::ofstream(policy) << R"({"blocked_sources":["127.0.0.0/8", "::1"]})";
  std::vector<std::string> args = {
      "--listen",         "127.0.0.1:0", "--db",     cairn::testing::test_db_url(dir + "/data"),
      "--bootstrap-pool", "game",        "--policy", policy};
  auto p = Process::start(args, log);
  ASSERT_FALSE(p.url().empty());
  std::string pool = p.lines[0].substr(p.lines[0].rfind(' ') + 1);
  auto get_id = [&] {
    httplib::Client http(p.url());
    auto r = http.Post("/", {{"X-Amz-Target", "AWSCognitoIdentityService.GetId"}},
                       R"({"IdentityPoolId":")" + pool + R"("})", "application/x-amz-json-1.1");
    return r ? r->get_header_value("x-amzn-ErrorType") + std::to_string(r->status) : "none";
  };
  EXPECT_EQ(get_id(), "NotAuthorizedException400") << "loopback is blocked";
  std::ofstream(policy) << "{}";
  kill(p.pid, SIGHUP);
  EXPECT_TRUE(cairn::testing::eventually([&] { return get_id() == "200"; }));
  std::ofstream(policy) << R"({"blocked_sources": 7})";
  kill(p.pid, SIGHUP);
  EXPECT_TRUE(cairn::testing::eventually([&] {
    for (const auto& line : lines_of(log)) {
      if (line.find("SIGHUP: policy not reloaded, the old one stays") != std::string::npos) {
        return true;
      }
    }
    return false;
  }));
  EXPECT_EQ(get_id(), "200");
  EXPECT_EQ(p.stop(SIGTERM), 0);
  std::string out;
  args[args.size() - 1] = dir + "/absent.json";
  EXPECT_EQ(run_to_end(args, &out), 2);
  EXPECT_NE(out.find("cannot read the policy file"), std::string::npos) << out;
  std::filesystem::remove_all(dir);
}

TEST(ServerProcess, WarnsAtStartWhenNoDeveloperCredentialsAreSet) {
  for (bool admin : {false, true}) {
    SCOPED_TRACE(admin ? "with admin credentials" : "without");
    std::string dir = temp_dir();
    std::string log = dir + "/stderr.log";
    std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--db",
                                     cairn::testing::test_db_url(dir + "/data")};
    if (admin) {
      args.insert(args.end(), {"--admin-access-key-id", "AKIDADMIN", "--admin-secret-access-key",
                               "long-random-secret"});
    }
    auto p = Process::start(args, log);
    ASSERT_FALSE(p.url().empty());
    EXPECT_EQ(p.stop(SIGTERM), 0);
    bool warned = false;
    for (const auto& line : lines_of(log)) {
      if (line.find("WARN no developer credentials (--admin-access-key-id and "
                    "--admin-secret-access-key): every developer operation will be refused") !=
          std::string::npos) {
        warned = true;
      }
    }
    EXPECT_EQ(warned, !admin);
    std::filesystem::remove_all(dir);
  }
}

TEST(ServerProcess, RequestLinesGiveAnOperatorEverythingAsTextOrJson) {
  for (std::string format : {"text", "json"}) {
    SCOPED_TRACE(format);
    std::string dir = temp_dir();
    std::string log = dir + "/stderr.log";
    auto p = Process::start({"--listen", "127.0.0.1:0", "--db",
                             cairn::testing::test_db_url(dir + "/data"), "--log-format", format},
                            log);
    ASSERT_FALSE(p.url().empty());
    auto sync = client_of(p.url(), "AKIDNOBODY", "secret");
    auto denied = sync->list_datasets({"us-east-1:00000000-0000-0000-0000-000000000001",
                                       "us-east-1:00000000-0000-0000-0000-000000000002",
                                       std::nullopt, std::nullopt});
    ASSERT_FALSE(denied.ok());
    httplib::Client http(p.url());
    auto unknown = http.Get("/nowhere?secret=1");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 404);
    // Over the 4 MiB limit: refused from its Content-Length (the client may see the refusal or
    // a closed connection, as the server stops reading).
    http.Post("/identitypools/p/identities/i/datasets/d", std::string(5 << 20, 'x'),
              "application/json");
    EXPECT_EQ(p.stop(SIGTERM), 0);

    std::string denied_line, unknown_line, refused_line;
    for (const auto& line : lines_of(log)) {
      if (line.find("ListDatasets") != std::string::npos) denied_line = line;
      if (line.find("/nowhere") != std::string::npos) unknown_line = line;
      if (line.find("413") != std::string::npos) refused_line = line;
    }
    ASSERT_FALSE(denied_line.empty());
    ASSERT_FALSE(unknown_line.empty());
    ASSERT_FALSE(refused_line.empty());
    EXPECT_EQ(unknown_line.find("secret"), std::string::npos) << "no query string";
    if (format == "text") {
      // 2026-12-05T05:44:37.123Z INFO ListDatasets 403 0.098ms rid=... error=... reason="..."
      EXPECT_EQ(denied_line.size() > 24 && denied_line[10] == 'T' && denied_line[23] == 'Z', true)
          << denied_line;
      EXPECT_NE(denied_line.find(" INFO ListDatasets 403 "), std::string::npos) << denied_line;
      EXPECT_NE(denied_line.find("ms rid="), std::string::npos) << denied_line;
      EXPECT_NE(denied_line.find(" error=UnrecognizedClientException reason=\""), std::string::npos)
          << denied_line;
      EXPECT_NE(unknown_line.find("Unknown GET /nowhere 404 "), std::string::npos) << unknown_line;
      EXPECT_NE(refused_line.find("Unknown POST /identitypools/p/identities/i/datasets/d 413 "),
                std::string::npos)
          << refused_line;
      EXPECT_NE(refused_line.find("error=RequestEntityTooLargeException"), std::string::npos);
    } else {
      for (const auto* line : {&denied_line, &unknown_line, &refused_line}) {
        rapidjson::Document d;
        d.Parse(line->c_str());
        ASSERT_FALSE(d.HasParseError()) << *line;
        EXPECT_TRUE(d.HasMember("time") && d["time"].IsString()) << *line;
        EXPECT_STREQ(d["level"].GetString(), "info") << *line;
        EXPECT_TRUE(d.HasMember("ms") && d["ms"].IsNumber()) << *line;
        EXPECT_TRUE(d.HasMember("request_id") && d["request_id"].IsString()) << *line;
        EXPECT_TRUE(d.HasMember("error") && d.HasMember("reason")) << *line;
      }
      rapidjson::Document denied_doc, refused_doc;
      denied_doc.Parse(denied_line.c_str());
      refused_doc.Parse(refused_line.c_str());
      EXPECT_STREQ(denied_doc["op"].GetString(), "ListDatasets");
      EXPECT_EQ(denied_doc["status"].GetInt(), 403);
      EXPECT_STREQ(denied_doc["error"].GetString(), "UnrecognizedClientException");
      EXPECT_STREQ(refused_doc["method"].GetString(), "POST");
      EXPECT_EQ(refused_doc["status"].GetInt(), 413);
    }
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
