// cairn-server as an operator runs it: flags, the ready lines, restarts on the same database,
// and a clean exit on SIGTERM and SIGINT.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "cairn/cognito_sync.h"
#include "fixtures/wait.h"
#include "test_db.h"

namespace {

struct Process {
  pid_t pid = -1;
  FILE* out = nullptr;
  std::vector<std::string> lines;

  // Starts cairn-server with args and reads stdout until the listening line.
  static Process start(const std::vector<std::string>& args) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    Process p;
    p.pid = fork();
    if (p.pid == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
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
  cairn::ClientConfig c;
  c.endpoint = p.url();
  c.region = "us-east-1";
  c.retry.max_retries = 0;
  c.credentials = std::make_shared<cairn::StaticCredentialsProvider>("AKID", "SECRET");
  // A stream of requests races the SIGTERM: each either completes properly or is refused at
  // connect; none is cut off halfway.
  auto client = std::move(cairn::CognitoSyncClient::create(c)).value();
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

}  // namespace
