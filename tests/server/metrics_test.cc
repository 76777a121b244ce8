// GET /metrics: Prometheus text that parses line by line, and counters and gauges that move with
// what a test does to a real server; --admin-listen keeps /metrics off the public address.
#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "fixtures/wait.h"
#include "server_fixture.h"

namespace cairn {
namespace {

using testing::eventually;
using testing::TestServer;

// Series (name with its labels, as written) -> value. Fails the test on a line that is not the
// text format: "# HELP name text", "# TYPE name counter|gauge|histogram|summary|untyped", or
// "name{label="value",...} number".
std::map<std::string, double> parse_exposition(const std::string& text) {
  static const std::regex help(R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
  static const std::regex type(
      R"(# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})?) )"
      R"(([-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN))( [0-9]+)?)");
  std::map<std::string, double> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::smatch m;
    if (std::regex_match(line, help) || std::regex_match(line, type)) continue;
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "not Prometheus text: " << line;
      continue;
    }
    std::string value = m[5];
    out[m[1]] = value == "+Inf" || value == "Inf" ? INFINITY : std::stod(value);
  }
  return out;
}

double get(const std::map<std::string, double>& m, const std::string& series) {
  auto it = m.find(series);
  return it == m.end() ? 0 : it->second;
}

std::map<std::string, double> scrape(int port) {
  httplib::Client http("127.0.0.1", port);
  auto r = http.Get("/metrics");
  EXPECT_TRUE(r);
  if (!r) return {};
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/plain", 0), 0u);
  return parse_exposition(r->body);
}

TEST(Metrics, CountersMoveWithRequestsAndTheAdminAddressKeepsThemOffThePublicOne) {
  TestServer ts({}, true, 5, [](server::ServerConfig& c) { c.admin_listen = "127.0.0.1:0"; });
  int admin = ts.server().admin_port();
  ASSERT_GT(admin, 0);
  {
    httplib::Client pub("127.0.0.1", ts.server().port());
    auto r = pub.Get("/metrics");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << "not on the public address when --admin-listen is set";
    httplib::Client adm("127.0.0.1", admin);
    auto health = adm.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
  }

  auto before = scrape(admin);
  const std::string ok = R"(cairn_requests_total{operation="ListDatasets",status="200"})";
  const std::string denied = R"(cairn_requests_total{operation="ListDatasets",status="403"})";
  const std::string count = R"(cairn_request_duration_seconds_count{operation="ListDatasets"})";
  auto player = ts.new_device();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(player.sync->list_datasets({ts.pool(), player.identity_id, std::nullopt, 10}).ok());
  }
  auto other = ts.new_device();
  EXPECT_FALSE(other.sync->list_datasets({ts.pool(), player.identity_id, std::nullopt, 10}).ok());

  auto after = scrape(admin);
  EXPECT_EQ(get(after, ok) - get(before, ok), 3);
  EXPECT_EQ(get(after, denied) - get(before, denied), 1);
  EXPECT_EQ(get(after, count) - get(before, count), 4);
  EXPECT_GT(get(after, R"(cairn_storage_transaction_seconds_count{kind="read"})"),
            get(before, R"(cairn_storage_transaction_seconds_count{kind="read"})"));
  EXPECT_EQ(get(after, R"(cairn_connections{kind="long_poll"})"), 0);

  // A device listening shows as a long poll; a change posts and delivers a notification.
  auto reg = player.sync->register_device({ts.pool(), player.identity_id, "GCM", "t"});
  ASSERT_TRUE(reg.ok());
  ASSERT_TRUE(
      player.sync->subscribe_to_dataset({ts.pool(), player.identity_id, "save", *reg->device_id})
          .ok());
  std::thread listener([&] {
    auto heard =
        player.sync->poll_notifications({ts.pool(), player.identity_id, *reg->device_id, 0, 30});
    EXPECT_TRUE(heard.ok() && heard->notifications.size() == 1);
  });
  ASSERT_TRUE(eventually(
      [&] { return get(scrape(admin), R"(cairn_connections{kind="long_poll"})") == 1; }));
  ASSERT_TRUE(testing::push(*ts.admin_sync(), ts.pool(), player.identity_id, "save",
                            {testing::put("k", "v", 0)})
                  .ok());
  listener.join();
  auto heard = scrape(admin);
  EXPECT_EQ(get(heard, R"(cairn_notifications_total{outcome="posted"})"), 1);
  EXPECT_EQ(get(heard, R"(cairn_notifications_total{outcome="delivered"})"), 1);
  EXPECT_EQ(get(heard, R"(cairn_notifications_total{outcome="dropped"})"), 0);
  EXPECT_EQ(get(heard, R"(cairn_requests_total{operation="UpdateRecords",status="200"})"), 1);
}

TEST(Metrics, WithoutAnAdminAddressMetricsAreOnTheMainOneAndCountRefusals) {
  TestServer ts;
  EXPECT_EQ(ts.server().admin_port(), 0);
  httplib::Client http("127.0.0.1", ts.server().port());
  auto refused = http.Post("/identitypools/p/identities/i/datasets/d", std::string(5 << 20, 'x'),
                           "application/json");
  auto m = scrape(ts.server().port());
  EXPECT_EQ(get(m, R"(cairn_requests_total{operation="Unknown",status="413"})"), 1);
  EXPECT_GE(get(m, R"(cairn_connections{kind="http"})"), 1) << "the scrape's own connection";
}

}  // namespace
}  // namespace cairn
