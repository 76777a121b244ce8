// The server's connections (server/http_front.h): thousands of listening devices hold no worker,
// the connection cap answers 503 and the server carries on, idle keep-alive connections close
// after --keep-alive, and a stop answers every waiting poll.
#include <gtest/gtest.h>
#include <httplib.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
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
      // Half listen on the long poll, half over WebSocket.
      devices[p * kDevicesEach + d] = {ts.pool(), players[p], *reg->device_id, d % 2 == 0};
    }
  });

  ListenerCrowd crowd("127.0.0.1", ts.server().port(),
                      {testing::kAdminKey, testing::kAdminSecret, "", std::nullopt},
                      /*wait_seconds=*/50);
  crowd.start(devices);
  auto& channel = ts.server().api().events().notifications();
  size_t websockets = (kDevicesEach + 1) / 2 * kPlayers;
  ASSERT_TRUE(eventually([&] { return channel.waiting() == kListeners; }))
      << "waiting: " << channel.waiting();
  // A poll is watching before its connection is counted as parked: the counts follow.
  EXPECT_TRUE(eventually([&] { return ts.server().connections().websockets == websockets; }))
      << "websockets: " << ts.server().connections().websockets;
  EXPECT_TRUE(eventually([&] {
    return ts.server().connections().parked == kListeners - websockets;
  })) << "parked: "
      << ts.server().connections().parked;

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

  // A stop answers every waiting poll and sends every WebSocket a close frame before it goes.
  ASSERT_TRUE(eventually([&] { return channel.waiting() == kListeners; }));
  auto before = crowd.tallies();
  ts.server().stop();
  ASSERT_TRUE(eventually([&] { return crowd.polling() == 0; }));
  auto after = crowd.tallies();
  size_t answered = 0, closed = 0;
  for (size_t i = 0; i < kListeners; ++i) {
    if (devices[i].websocket) {
      closed += after[i].closed_by_server;
    } else {
      // The first answer after `before` is the waiting poll's. An answer written before the front
      // saw the stop keeps the connection alive, and the poll the device sends next is answered
      // too: a second answer, not a missing one.
      answered += after[i].answers > before[i].answers;
    }
  }
  EXPECT_EQ(answered, kListeners - websockets) << "each waiting poll got its answer at shutdown";
  EXPECT_EQ(closed, websockets) << "each WebSocket got a close frame at shutdown";
  crowd.stop();
}

// A raw connection that sends `request` and reads until the server closes.
std::string raw_exchange(int port, const std::string& request) {
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

  std::string refused = raw_exchange(ts.server().port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
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
  std::string answer = raw_exchange(ts.server().port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  EXPECT_EQ(answer.find("Connection: close"), std::string::npos) << "kept alive, then closed";
  EXPECT_TRUE(eventually([&] { return ts.server().connections().open == 0; }));
}

TEST(Connections, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  TestServer ts;
  std::string two =
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string answer = raw_exchange(ts.server().port(), two);
  size_t first = answer.find("HTTP/1.1 200");
  size_t second = answer.find("HTTP/1.1 404");
  ASSERT_NE(first, std::string::npos) << answer;
  ASSERT_NE(second, std::string::npos) << answer;
  EXPECT_LT(first, second);
}

// --- the WebSocket notification channel
// -----------------------------------------------------------

namespace websocket = boost::beast::websocket;
using WebSocket = websocket::stream<boost::beast::tcp_stream>;

struct Upgrade {
  std::unique_ptr<WebSocket> ws;
  boost::beast::error_code ec;
  int status = 0;  // the server's answer to the upgrade
};

// Upgrades the device's notification path, signed with `credentials` (unsigned when empty).
Upgrade upgrade(boost::asio::io_context& ioc, int port, const std::string& pool,
                const std::string& identity, const std::string& device,
                const AwsCredentials& credentials,
                std::chrono::system_clock::time_point at = std::chrono::system_clock::now()) {
  transport::SigV4Request sig;
  sig.method = "GET";
  sig.path = "/identitypools/" + pool + "/identities/" + identity + "/devices/" + device +
             "/notifications";
  sig.query = "after=0";
  std::string host = "127.0.0.1:" + std::to_string(port);
  sig.headers = {{"Host", host}};
  if (!credentials.access_key_id.empty()) {
    EXPECT_TRUE(transport::sign_request(sig, credentials, {"us-east-1", "cognito-sync"}, at).ok());
  }
  Upgrade u;
  u.ws = std::make_unique<WebSocket>(ioc);
  boost::beast::get_lowest_layer(*u.ws).connect(
      {boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  u.ws->set_option(websocket::stream_base::decorator([sig](websocket::request_type& req) {
    for (const auto& [name, value] : sig.headers) {
      if (name != "Host") req.set(name, value);
    }
  }));
  u.ws->handshake(host, sig.path + "?" + sig.query, u.ec);
  if (!u.ec) {
    u.status = 101;
    return u;
  }
  // Beast keeps a declined upgrade's answer to itself: ask again on a plain connection.
  std::string request = "GET " + sig.path + "?" + sig.query + " HTTP/1.1\r\n";
  for (const auto& [name, value] : sig.headers) request += name + ": " + value + "\r\n";
  request +=
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  std::string answer = raw_exchange(port, request);
  u.status = answer.size() > 12 ? std::stoi(answer.substr(9, 3)) : 0;
  return u;
}

struct Player {
  TestServer::Device device;
  std::string device_id;
};

Player listening_player(TestServer& ts) {
  Player p{ts.new_device(), ""};
  auto reg = p.device.sync->register_device({ts.pool(), p.device.identity_id, "GCM", "t"});
  EXPECT_TRUE(reg.ok()) << reg.status().ToString();
  p.device_id = *reg->device_id;
  EXPECT_TRUE(
      p.device.sync->subscribe_to_dataset({ts.pool(), p.device.identity_id, "save", p.device_id})
          .ok());
  return p;
}

AwsCredentials admin_credentials() {
  return {testing::kAdminKey, testing::kAdminSecret, "", std::nullopt};
}

TEST(WebSocket, ANotificationArrivesAsABatchAndTheClientAcknowledgesItsPlace) {
  TestServer ts;
  Player p = listening_player(ts);
  boost::asio::io_context ioc;
  auto creds = p.device.provider->credentials();
  ASSERT_TRUE(creds.ok());
  Upgrade u =
      upgrade(ioc, ts.server().port(), ts.pool(), p.device.identity_id, p.device_id, *creds);
  ASSERT_FALSE(u.ec) << u.ec.message() << " (status " << u.status << ")";
  EXPECT_EQ(u.status, 101);
  auto& channel = ts.server().api().events().notifications();
  ASSERT_TRUE(eventually([&] { return channel.waiting() == 1; }));

  ASSERT_TRUE(testing::push(*ts.admin_sync(), ts.pool(), p.device.identity_id, "save",
                            {testing::put("level", "2", 0)})
                  .ok());
  boost::beast::flat_buffer buffer;
  u.ws->read(buffer);
  rapidjson::Document batch;
  batch.Parse(boost::beast::buffers_to_string(buffer.data()).c_str());
  ASSERT_TRUE(batch.IsObject());
  ASSERT_EQ(batch["Notifications"].Size(), 1u);
  const auto& payload = batch["Notifications"][0]["Payload"];
  EXPECT_STREQ(payload["datasetName"].GetString(), "save");
  EXPECT_STREQ(payload["syncCount"].GetString(), "1");
  int64_t next = batch["Next"].GetInt64();
  EXPECT_EQ(next, batch["Notifications"][0]["Seq"].GetInt64());
  u.ws->write(boost::asio::buffer("{\"after\":" + std::to_string(next) + "}"));

  // A second change comes as its own batch on the same connection.
  ASSERT_TRUE(testing::push(*ts.admin_sync(), ts.pool(), p.device.identity_id, "save",
                            {testing::put("level", "3", 1)})
                  .ok());
  buffer.clear();
  u.ws->read(buffer);
  batch.Parse(boost::beast::buffers_to_string(buffer.data()).c_str());
  ASSERT_EQ(batch["Notifications"].Size(), 1u);
  EXPECT_STREQ(batch["Notifications"][0]["Payload"]["syncCount"].GetString(), "2");
  EXPECT_GT(batch["Next"].GetInt64(), next);
  u.ws->close(websocket::close_code::normal);
  EXPECT_TRUE(eventually([&] { return channel.waiting() == 0; })) << "its watcher is gone";
}

TEST(WebSocket, AnUnsignedExpiredOrOtherIdentityUpgradeIsRefused) {
  TestServer ts;
  Player alice = listening_player(ts);
  Player bob = listening_player(ts);
  boost::asio::io_context ioc;
  auto bob_creds = bob.device.provider->credentials();
  ASSERT_TRUE(bob_creds.ok());
  int port = ts.server().port();

  Upgrade unsigned_ = upgrade(ioc, port, ts.pool(), alice.device.identity_id, alice.device_id, {});
  EXPECT_TRUE(unsigned_.ec) << unsigned_.ec.message();
  EXPECT_EQ(unsigned_.status, 403);

  Upgrade expired =
      upgrade(ioc, port, ts.pool(), alice.device.identity_id, alice.device_id, admin_credentials(),
              std::chrono::system_clock::now() - std::chrono::hours(1));
  EXPECT_TRUE(expired.ec);
  EXPECT_EQ(expired.status, 403);

  Upgrade other =
      upgrade(ioc, port, ts.pool(), alice.device.identity_id, alice.device_id, *bob_creds);
  EXPECT_TRUE(other.ec);
  EXPECT_EQ(other.status, 403);

  Upgrade not_hers =
      upgrade(ioc, port, ts.pool(), bob.device.identity_id, alice.device_id, *bob_creds);
  EXPECT_TRUE(not_hers.ec);
  EXPECT_EQ(not_hers.status, 404);

  // Only the notification channel upgrades.
  Upgrade elsewhere =
      upgrade(ioc, port, ts.pool(), bob.device.identity_id, "d/../../datasets/x", *bob_creds);
  EXPECT_TRUE(elsewhere.ec);
  EXPECT_NE(elsewhere.status, 101);
  EXPECT_EQ(ts.server().connections().websockets, 0u);
}

TEST(WebSocket, AnIdentityListensOnAtMostItsCapOfConnections) {
  server::ServerOptions options;
  options.max_listeners_per_identity = 2;
  TestServer ts(options);
  Player p = listening_player(ts);
  boost::asio::io_context ioc;
  auto creds = p.device.provider->credentials();
  ASSERT_TRUE(creds.ok());
  int port = ts.server().port();
  Upgrade first = upgrade(ioc, port, ts.pool(), p.device.identity_id, p.device_id, *creds);
  Upgrade second = upgrade(ioc, port, ts.pool(), p.device.identity_id, p.device_id, *creds);
  ASSERT_FALSE(first.ec);
  ASSERT_FALSE(second.ec);
  Upgrade third = upgrade(ioc, port, ts.pool(), p.device.identity_id, p.device_id, *creds);
  EXPECT_TRUE(third.ec);
  EXPECT_EQ(third.status, 400);
  auto poll =
      p.device.sync->poll_notifications({ts.pool(), p.device.identity_id, p.device_id, 0, 10});
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().service_code(), "LimitExceededException");
  // Another player is not held back by this one.
  Player other = listening_player(ts);
  auto other_creds = other.device.provider->credentials();
  ASSERT_TRUE(other_creds.ok());
  EXPECT_FALSE(
      upgrade(ioc, port, ts.pool(), other.device.identity_id, other.device_id, *other_creds).ec);

  // A connection that goes gives its place back.
  first.ws->close(websocket::close_code::normal);
  EXPECT_TRUE(eventually([&] {
    Upgrade again = upgrade(ioc, port, ts.pool(), p.device.identity_id, p.device_id, *creds);
    return !again.ec;
  }));
}

TEST(WebSocket, AClientThatNeverReadsIsCutOff) {
  // A client that takes nothing answers no ping either: it is closed once silent past the idle
  // time (or, if it still sent, once a send stalls past the stall time). Meanwhile the server holds
  // one message for it, never a queue: what comes meanwhile waits in the device's mailbox.
  TestServer ts({}, true, 5, [](server::ServerConfig& c) {
    c.websocket_stall_seconds = 1;
    c.websocket_idle_seconds = 1;
  });
  Player p = listening_player(ts);
  boost::asio::io_context ioc;
  auto creds = p.device.provider->credentials();
  ASSERT_TRUE(creds.ok());
  Upgrade u =
      upgrade(ioc, ts.server().port(), ts.pool(), p.device.identity_id, p.device_id, *creds);
  ASSERT_FALSE(u.ec);
  ASSERT_TRUE(eventually([&] { return ts.server().connections().websockets == 1; }));
  auto admin = ts.admin_sync();
  for (int64_t count = 0; count < 20; ++count) {
    ASSERT_TRUE(testing::push(*admin, ts.pool(), p.device.identity_id, "save",
                              {testing::put("k", std::to_string(count), count)})
                    .ok());
  }
  EXPECT_TRUE(eventually([&] { return ts.server().connections().websockets == 0; }))
      << "a client that never reads was not cut off";
  EXPECT_EQ(ts.server().api().events().notifications().waiting(), 0u) << "its watcher is gone";
  // The same device, reading this time, hears what it missed from its mailbox.
  Upgrade again =
      upgrade(ioc, ts.server().port(), ts.pool(), p.device.identity_id, p.device_id, *creds);
  ASSERT_FALSE(again.ec);
  boost::beast::flat_buffer buffer;
  again.ws->read(buffer);
  rapidjson::Document batch;
  batch.Parse(boost::beast::buffers_to_string(buffer.data()).c_str());
  ASSERT_TRUE(batch.IsObject());
  EXPECT_EQ(batch["Notifications"].Size(), 20u);
}

TEST(WebSocket, AMessageTooLargeOrUnmaskedClosesTheConnection) {
  TestServer ts;
  Player p = listening_player(ts);
  boost::asio::io_context ioc;
  auto creds = p.device.provider->credentials();
  ASSERT_TRUE(creds.ok());
  auto& channel = ts.server().api().events().notifications();

  {
    Upgrade u =
        upgrade(ioc, ts.server().port(), ts.pool(), p.device.identity_id, p.device_id, *creds);
    ASSERT_FALSE(u.ec);
    u.ws->write(boost::asio::buffer(std::string(8 * 1024, 'x')));
    boost::beast::flat_buffer buffer;
    boost::beast::error_code ec;
    u.ws->read(buffer, ec);
    // The server's close frame, or (when its closing raced the client's reply) a closed socket.
    ASSERT_TRUE(ec);
    if (ec == websocket::error::closed) {
      EXPECT_EQ(u.ws->reason().code, websocket::close_code::too_big);
    }
  }
  {
    Upgrade u =
        upgrade(ioc, ts.server().port(), ts.pool(), p.device.identity_id, p.device_id, *creds);
    ASSERT_FALSE(u.ec);
    // A text frame "hello" without the mask a client must set.
    const unsigned char unmasked[] = {0x81, 0x05, 'h', 'e', 'l', 'l', 'o'};
    boost::asio::write(boost::beast::get_lowest_layer(*u.ws).socket(),
                       boost::asio::buffer(unmasked, sizeof(unmasked)));
    boost::beast::flat_buffer buffer;
    boost::beast::error_code ec;
    u.ws->read(buffer, ec);
    // The server's close frame, or (when its closing raced the client's reply) a closed socket.
    ASSERT_TRUE(ec);
    if (ec == websocket::error::closed) {
      EXPECT_EQ(u.ws->reason().code, websocket::close_code::protocol_error);
    }
  }
  {
    Upgrade u =
        upgrade(ioc, ts.server().port(), ts.pool(), p.device.identity_id, p.device_id, *creds);
    ASSERT_FALSE(u.ec);
    u.ws->write(boost::asio::buffer(std::string("not an acknowledgement")));
    boost::beast::flat_buffer buffer;
    boost::beast::error_code ec;
    u.ws->read(buffer, ec);
    // The server's close frame, or (when its closing raced the client's reply) a closed socket.
    ASSERT_TRUE(ec);
    if (ec == websocket::error::closed) {
      EXPECT_EQ(u.ws->reason().code, websocket::close_code::policy_error);
    }
  }
  EXPECT_TRUE(eventually(
      [&] { return channel.waiting() == 0 && ts.server().connections().websockets == 0; }));
}

}  // namespace
}  // namespace cairn
