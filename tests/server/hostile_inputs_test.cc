// Hostile input against cairn-server: SQL metacharacters and quotes in every name, key and value;
// path tricks in labels; oversized bodies and headers; clients that open a connection and stall.
// Each gets a clear answer (or is taken as plain data), nothing reaches another identity's data,
// and the server goes on serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "server_fixture.h"
#include "transport/service_client.h"
#include "transport/sync_protocol.h"
#include "transport/uri.h"

namespace cairn {
namespace {

using namespace std::chrono_literals;
using testing::list_all;
using testing::push;
using testing::put;
using testing::TestServer;

// The strings an attacker tries first: quotes, comment markers, statement breaks, LIKE
// wildcards, NUL-free control and non-ASCII text, and a path walk.
const std::vector<std::string> kHostile = {
    "'",
    "\"",
    "'; DROP TABLE records; --",
    "\" OR \"1\"=\"1",
    "x' OR '1'='1",
    "%_%",
    "\\'\\\"\\\\",
    "Robert'); DELETE FROM datasets;--",
    "../../etc/passwd",
    "\xe2\x80\xae\xf0\x9f\x8e\xae \t\r\n",
    "/* */ UNION SELECT secret_access_key FROM credentials --",
};

TEST(HostileInputs, SqlMetacharactersInKeysAndValuesAreStoredAsPlainData) {
  TestServer ts;
  auto victim = ts.new_device();
  ASSERT_TRUE(
      push(*victim.sync, ts.pool(), victim.identity_id, "bank", {put("gold", "100", 0)}).ok());
  auto d = ts.new_device();
  std::vector<wire::RecordPatch> patches;
  for (size_t i = 0; i < kHostile.size(); ++i) {
    patches.push_back(put(kHostile[i], kHostile[(i + 3) % kHostile.size()], 0));
  }
  auto pushed = push(*d.sync, ts.pool(), d.identity_id, "save", patches);
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  auto back = list_all(*d.sync, ts.pool(), d.identity_id, "save");
  ASSERT_EQ(back.records.size(), kHostile.size());
  std::map<std::string, std::string> got;
  for (const auto& r : back.records) got[*r.key] = *r.value;
  for (size_t i = 0; i < kHostile.size(); ++i) {
    EXPECT_EQ(got[kHostile[i]], kHostile[(i + 3) % kHostile.size()]) << "key " << kHostile[i];
  }
  // Every table is intact and the other identity's data untouched.
  auto theirs = list_all(*victim.sync, ts.pool(), victim.identity_id, "bank");
  ASSERT_EQ(theirs.records.size(), 1u);
  EXPECT_EQ(*theirs.records[0].value, "100");
  EXPECT_TRUE(ts.admin_sync()->describe_identity_pool_usage({ts.pool()}).ok());
}

TEST(HostileInputs, MetacharactersInNamesAreRefusedByValidationOrTakenLiterally) {
  TestServer ts;
  auto d = ts.new_device();
  for (const auto& name : kHostile) {
    // Dataset names have a pattern: every hostile name is refused with a clear error.
    auto r = d.sync->list_records(
        {ts.pool(), d.identity_id, name, 0, std::nullopt, std::nullopt, std::nullopt});
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidParameter) << name;
    // A device token is free text: it is registered as given and comes back as the same device.
    auto first = d.sync->register_device({ts.pool(), d.identity_id, wire::kPlatformGcm, name});
    ASSERT_TRUE(first.ok()) << name << ": " << first.status().ToString();
    auto again = d.sync->register_device({ts.pool(), d.identity_id, wire::kPlatformGcm, name});
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*first->device_id, *again->device_id) << name;
  }
  // Developer user identifiers are free text too: each maps to its own identity, found again by
  // the same string and by no other.
  std::set<std::string> identities;
  for (const auto& user : kHostile) {
    auto r = ts.admin_identity()->get_open_id_token_for_developer_identity(
        {ts.pool(), std::nullopt, {{"login.cairn", user}}, {}, std::nullopt});
    ASSERT_TRUE(r.ok()) << user << ": " << r.status().ToString();
    identities.insert(*r->identity_id);
    identity::LookupDeveloperIdentityRequest lookup;
    lookup.identity_pool_id = ts.pool();
    lookup.developer_user_identifier = user;
    auto found = ts.admin_identity()->lookup_developer_identity(lookup);
    ASSERT_TRUE(found.ok()) << user;
    EXPECT_EQ(*found->identity_id, *r->identity_id) << user;
  }
  EXPECT_EQ(identities.size(), kHostile.size());
  // Pool names have a pattern as well.
  identity::CreateIdentityPoolRequest pool;
  pool.identity_pool_name = "x'; DROP TABLE pools; --";
  pool.allow_unauthenticated_identities = true;
  EXPECT_EQ(ts.admin_identity()->create_identity_pool(pool).status().code(),
            ErrorCode::kInvalidParameter);
}

TEST(HostileInputs, PathTricksInLabelsNeverReachAnotherResource) {
  TestServer ts;
  auto a = ts.new_device();
  auto b = ts.new_device();
  ASSERT_TRUE(push(*b.sync, ts.pool(), b.identity_id, "secret", {put("k", "b's", 0)}).ok());
  // ".." is a valid dataset name, and it is a dataset of its own, not a step up the path.
  auto dots = push(*a.sync, ts.pool(), a.identity_id, "..", {put("k", "dots", 0)});
  ASSERT_TRUE(dots.ok()) << dots.status().ToString();
  auto listed = list_all(*a.sync, ts.pool(), a.identity_id, "..");
  ASSERT_EQ(listed.records.size(), 1u);
  EXPECT_EQ(*listed.records[0].value, "dots");
  auto names = a.sync->list_datasets({ts.pool(), a.identity_id, std::nullopt, std::nullopt});
  ASSERT_TRUE(names.ok());
  ASSERT_EQ(names->datasets.size(), 1u);
  EXPECT_EQ(*names->datasets[0].dataset_name, "..");

  // Raw requests, signed as a's: encoded slashes and dot segments in the labels are data that
  // fails validation, never a way into b's identity.
  auto service = std::move(transport::ServiceClient::create(ts.config(a.provider), "cognito-sync",
                                                            transport::Protocol::kRestJson))
                     .value();
  auto http = make_curl_transport(HttpOptions{});
  std::string base = "/identitypools/" + transport::uri_encode(ts.pool()) + "/identities/";
  const std::vector<std::string> paths = {
      base + transport::uri_encode(a.identity_id) + "/datasets/..%2F..%2Fsecret/records",
      base + transport::uri_encode(a.identity_id) + "%2F..%2F" +
          transport::uri_encode(b.identity_id) + "/datasets/secret/records",
      base + transport::uri_encode(a.identity_id) + "/datasets/%2e%2e/records",
      base + transport::uri_encode(b.identity_id) + "/datasets/secret/records",
      "/identitypools/..%2F" + transport::uri_encode(ts.pool()) + "/identities/" +
          transport::uri_encode(b.identity_id) + "/datasets/secret/records",
  };
  for (const auto& path : paths) {
    transport::WireRequest wire;
    wire.operation = "ListRecords";
    wire.method = "GET";
    wire.path = path;
    auto prepared = service->prepare(wire, 1);
    ASSERT_TRUE(prepared.ok());
    auto r = http->send(*prepared);
    ASSERT_TRUE(r.ok()) << path;
    EXPECT_TRUE(r->status == 400 || r->status == 403 || r->status == 404 ||
                (r->status == 200 && r->body.find("b's") == std::string::npos))
        << path << " -> " << r->status << " " << r->body;
    EXPECT_EQ(r->body.find("b's"), std::string::npos) << path;
    EXPECT_LT(r->status, 500) << path << " -> " << r->body;
  }
}

// A raw loopback connection, for what a client library would never send.
int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}
// What the server sends until it closes the connection or `limit` passes.
std::string read_until_closed(int fd, std::chrono::milliseconds limit, bool* closed) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + limit;
  *closed = false;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      *closed = true;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(HostileInputs, OversizedHeadersAreRefusedAndTheServerCarriesOn) {
  TestServer ts;
  int fd = connect_to(ts.server().port());
  ASSERT_GE(fd, 0);
  std::string request =
      "GET /identitypools HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: " + std::string(256 * 1024, 'a') +
      "\r\n\r\n";
  (void)send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  bool closed = false;
  std::string answer = read_until_closed(fd, 5s, &closed);
  close(fd);
  EXPECT_TRUE(closed) << "the server must drop a request with a 256 KB header";
  EXPECT_TRUE(answer.empty() || answer.rfind("HTTP/1.1 4", 0) == 0) << answer.substr(0, 200);
  // A thousand headers.
  fd = connect_to(ts.server().port());
  std::string many = "GET /identitypools HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 1000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  many += "\r\n";
  (void)send(fd, many.data(), many.size(), MSG_NOSIGNAL);
  answer = read_until_closed(fd, 5s, &closed);
  close(fd);
  EXPECT_TRUE(answer.empty() || answer.rfind("HTTP/1.1 4", 0) == 0) << answer.substr(0, 200);
  // Everyone else is still served.
  auto d = ts.new_device();
  EXPECT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "s", {put("k", "v", 0)}).ok());
}

TEST(HostileInputs, ABodyAnnouncedOverTheLimitIsRefusedAtOnceNotAfterTheReadTimeout) {
  // A read timeout far past how long the test waits: only an answer at once passes.
  TestServer ts({}, true, /*read_timeout_seconds=*/3600);
  int fd = connect_to(ts.server().port());
  ASSERT_GE(fd, 0);
  std::string request =
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
      "X-Amz-Target: AWSCognitoIdentityService.GetId\r\nContent-Length: 99999999999\r\n\r\n{}";
  (void)send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  bool closed = false;
  std::string answer = read_until_closed(fd, 300s, &closed);  // the connection stays open
  close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 413 ", 0), 0u) << answer.substr(0, 200);
  EXPECT_NE(answer.find("RequestEntityTooLargeException"), std::string::npos);
  auto d = ts.new_device();
  EXPECT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "s", {put("k", "v", 0)}).ok());
}

TEST(HostileInputs, ClientsThatStallAreCutOffByTheReadTimeoutAndOthersAreServed) {
  server::ServerOptions options;
  TestServer ts(options, true, /*read_timeout_seconds=*/1);
  // More stalled connections than the server has workers (16): half a request head each, then
  // nothing.
  std::vector<int> stalled;
  for (int i = 0; i < 24; ++i) {
    int fd = connect_to(ts.server().port());
    ASSERT_GE(fd, 0);
    std::string half = "POST /identitypools/x/bulkpublish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-";
    (void)send(fd, half.data(), half.size(), MSG_NOSIGNAL);
    stalled.push_back(fd);
  }
  // A slow body: the head promises 1000 bytes, 10 arrive.
  int slow_body = connect_to(ts.server().port());
  std::string head =
      "POST /identitypools/x/bulkpublish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
      "1000\r\n\r\n0123456789";
  (void)send(slow_body, head.data(), head.size(), MSG_NOSIGNAL);
  stalled.push_back(slow_body);

  auto started = std::chrono::steady_clock::now();
  size_t cut_off = 0;
  for (int fd : stalled) {
    bool closed = false;
    read_until_closed(fd, 10s, &closed);
    cut_off += closed ? 1 : 0;
    close(fd);
  }
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(cut_off, stalled.size()) << "every stalled connection is closed by the server";
  std::printf(
      "\nslow clients: %zu stalled connections, all closed by the server within %.1f s "
      "(read timeout 1 s, 16 workers)\n",
      stalled.size(), waited);
  // And the server serves as before.
  auto d = ts.new_device();
  EXPECT_TRUE(push(*d.sync, ts.pool(), d.identity_id, "s", {put("k", "v", 0)}).ok());
}

}  // namespace
}  // namespace cairn
