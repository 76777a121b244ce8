// The server's connections (server/http_front.h): thousands of listening devices hold no worker,
// the connection cap answers 503 and the server carries on, idle keep-alive connections close
// after --keep-alive, and a stop answers every waiting poll.
#include <gtest/gtest.h>
#include <httplib.h>

#include <boost/asio.hpp>
#include <thread>
#include <vector>

#include "fixtures/listener_crowd.h"
#include "fixtures/wait.h"
#include "server_fixture.h"

namespace cairn {
namespace {

using testing::eventually;
using testing::ListenerCrowd;
using testing::TestServer;

// Runs fn(i) for i in [0, n) on `threads` threads.
template <typename Fn>
void in_parallel(size_t n, size_t threads, Fn fn) {
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (size_t i = t; i < n; i += threads) fn(i);
    });
  }
  for (auto& th : pool) th.join();
}

TEST(Connections, TwoThousandListenersHoldNoWorkerWhileOthersSyncAndEachHearsItsOwnDataset) {
  constexpr size_t kPlayers = 400, kDevicesEach = 5, kSyncers = 20;
  constexpr size_t kListeners = kPlayers * kDevicesEach;
  // Two sockets a listener (both ends are in this process), and the syncers'.
  ASSERT_GE(server::raise_open_file_limit(2 * kListeners + 512), 2 * kListeners + 512)
      << "this test needs that many open files";
  // Far fewer workers than listeners: a poll that held one would stop every sync.
  TestServer ts({}, true, 5, [](server::ServerConfig& c) { c.worker_threads = 8; });
  std::vector<std::string> players(kPlayers);
  std::vector<ListenerCrowd::Device> devices(kListeners);
  in_parallel(kPlayers, 4, [&](size_t p) {
    auto player = ts.new_device();
    players[p] = player.identity_id;
    auto& sync = player.sync;
    for (size_t d = 0; d < kDevicesEach; ++d) {
      auto reg = sync->register_device(
          {ts.pool(), players[p], "GCM", "token-" + std::to_string(p) + "-" + std::to_string(d)});
      ASSERT_TRUE(reg.ok()) << reg.status().ToString();
      ASSERT_TRUE(
          sync->subscribe_to_dataset({ts.pool(), players[p], "save", *reg->device_id}).ok());
      devices[p * kDevicesEach + d] = {ts.pool(), players[p], *reg->device_id};
    }
  });

  ListenerCrowd crowd("127.0.0.1", ts.server().port(),
                      {testing::kAdminKey, testing::kAdminSecret, "", std::nullopt},
                      /*wait_seconds=*/50);
  crowd.start(devices);
  ASSERT_TRUE(eventually([&] { return ts.server().connections().parked == kListeners; }))
      << "parked: " << ts.server().connections().parked;

  // 20 devices of other players sync, each a whole session per player's save, while all listen.
  std::atomic<size_t> synced{0};
  in_parallel(kPlayers, kSyncers, [&](size_t p) {
    thread_local auto sync = ts.admin_sync();
    auto pushed = testing::push(*sync, ts.pool(), players[p], "save",
                                {testing::put("level", std::to_string(p), 0)});
    ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
    ++synced;
  });
  EXPECT_EQ(synced.load(), kPlayers);

  // Every listener hears its own player's change, and nothing else.
  ASSERT_TRUE(eventually([&] {
    auto t = crowd.tallies();
    for (const auto& x : t) {
      if (x.notifications < 1) return false;
    }
    return true;
  }));
  for (const auto& t : crowd.tallies()) {
    EXPECT_EQ(t.notifications, 1u);
    EXPECT_EQ(t.failure, "");
  }

  // A stop answers every waiting poll before the server goes.
  ASSERT_TRUE(eventually([&] { return ts.server().connections().parked == kListeners; }));
  auto before = crowd.tallies();
  ts.server().stop();
  ASSERT_TRUE(eventually([&] { return crowd.polling() == 0; }));
  auto after = crowd.tallies();
  size_t answered = 0;
  for (size_t i = 0; i < kListeners; ++i) answered += after[i].answers == before[i].answers + 1;
  EXPECT_EQ(answered, kListeners) << "each waiting poll got its answer at shutdown";
  crowd.stop();
}

// A raw connection that sends `request` and reads until the server closes.
std::string exchange(int port, const std::string& request) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket s(ioc);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  boost::asio::write(s, boost::asio::buffer(request));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    size_t n = s.read_some(boost::asio::buffer(buf), ec);
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

TEST(Connections, PastTheCapANewConnectionGets503AndTheServerCarriesOn) {
  TestServer ts({}, true, 5, [](server::ServerConfig& c) { c.max_connections = 3; });
  boost::asio::io_context ioc;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<boost::asio::ip::tcp::socket>(ioc));
    held.back()->connect({boost::asio::ip::make_address("127.0.0.1"),
                          static_cast<unsigned short>(ts.server().port())});
  }
  ASSERT_TRUE(eventually([&] { return ts.server().connections().open == 3; }));

  std::string refused = exchange(ts.server().port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
  EXPECT_NE(refused.find("x-amzn-ErrorType: ServiceUnavailableException"), std::string::npos);
  EXPECT_NE(refused.find("Retry-After: 1"), std::string::npos);
  EXPECT_EQ(ts.server().connections().refused, 1u);

  // One of the three goes; the next connection is served.
  held.pop_back();
  ASSERT_TRUE(eventually([&] { return ts.server().connections().open == 2; }));
  httplib::Client http("127.0.0.1", ts.server().port());
  auto health = http.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(Connections, AnIdleKeepAliveConnectionIsClosedAfterKeepAlive) {
  TestServer ts({}, true, 5, [](server::ServerConfig& c) { c.keep_alive_seconds = 1; });
  // A keep-alive request is answered, and the connection then stays open until the idle time
  // has passed: `exchange` reads until the server closes it.
  std::string answer = exchange(ts.server().port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_EQ(answer.find("Connection: close"), std::string::npos) << "kept alive, then closed";
  EXPECT_TRUE(eventually([&] { return ts.server().connections().open == 0; }));
}

TEST(Connections, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  TestServer ts;
  std::string two =
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string answer = exchange(ts.server().port(), two);
  size_t first = answer.find("HTTP/1.1 200");
  size_t second = answer.find("HTTP/1.1 404");
  ASSERT_NE(first, std::string::npos) << answer;
  ASSERT_NE(second, std::string::npos) << answer;
  EXPECT_LT(first, second);
}

}  // namespace
}  // namespace cairn
