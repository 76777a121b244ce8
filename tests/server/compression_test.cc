// Response compression against the real server on loopback: gzip for a client that asks for it,
// plain bodies for one that does not (as boto3, the AWS CLI and the JS SDK send), and the engine
// asking for it by default and counting the bytes as they crossed the wire.
#include <gtest/gtest.h>
#include <zlib.h>

#include <mutex>

#include "cairn/sync_manager.h"
#include "fixtures/game_saves.h"
#include "server/compression.h"
#include "server_fixture.h"

namespace cairn::testing {
namespace {

// libcurl with or without Accept-Encoding: gzip, keeping the last response as libcurl handed it
// over (decoded, with the headers as they came).
class Recording final : public HttpTransport {
 public:
  explicit Recording(bool gzip) {
    HttpOptions o;
    o.accept_gzip = gzip;
    inner_ = make_curl_transport(o);
  }
  Result<HttpResponse> send(const HttpRequest& request) override {
    auto r = inner_->send(request);
    std::lock_guard<std::mutex> l(mu_);
    if (r.ok()) last_ = *r;
    return r;
  }
  HttpResponse last() {
    std::lock_guard<std::mutex> l(mu_);
    return last_;
  }

 private:
  std::shared_ptr<HttpTransport> inner_;
  std::mutex mu_;
  HttpResponse last_;
};

std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (transport::iequals(k, name)) return v;
  }
  return "";
}

std::unique_ptr<CognitoSyncClient> client(const TestServer& ts, std::shared_ptr<Recording> wire) {
  ClientConfig c = ts.config();
  c.transport = std::move(wire);
  return std::move(CognitoSyncClient::create(c)).value();
}

std::string inflate_gzip(const std::string& packed) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(packed.size() * 20 + 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = static_cast<uInt>(packed.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

// 200 saves of about 1 KB in dataset "saves" of a fresh identity.
std::string fill(TestServer& ts, CognitoSyncClient& admin) {
  auto device = ts.new_device();
  std::vector<wire::RecordPatch> patches;
  for (uint32_t i = 0; i < 200; ++i)
    patches.push_back(put("slot-" + std::to_string(i), game_save(i, 1000), 0));
  auto pushed = push(admin, ts.pool(), device.identity_id, "saves", patches);
  EXPECT_TRUE(pushed.ok()) << pushed.status().ToString();
  return device.identity_id;
}

TEST(Compression, AcceptEncodingIsReadAsRfc9110Says) {
  using server::accepts_gzip;
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("GZip"));
  EXPECT_TRUE(accepts_gzip("deflate, gzip;q=0.5"));
  EXPECT_TRUE(accepts_gzip("br ,  gzip ; q=1.0"));
  EXPECT_TRUE(accepts_gzip("x-gzip"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_FALSE(accepts_gzip("identity"));  // what boto3, the AWS CLI and JS v3 send
  EXPECT_FALSE(accepts_gzip(""));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0.000"));
  EXPECT_FALSE(
      accepts_gzip("gzip;q=0, *"));  // refused by name: the wildcard does not bring it back
  EXPECT_FALSE(accepts_gzip("*;q=0"));
  EXPECT_FALSE(accepts_gzip("br, deflate"));
  EXPECT_FALSE(accepts_gzip("gzip;q=nonsense"));
  EXPECT_FALSE(accepts_gzip("gzipped"));
}

TEST(Compression, GzipIsAStandardMemberThatInflatesBackToTheBody) {
  // The window follows the body's size: each size below takes another, up to zlib's largest.
  for (size_t size : {1000, 1025, 3000, 5000, 20000, 70000, 1000000}) {
    std::string body = game_save(7, size);
    for (int level : {1, 6, 9}) {
      std::string packed = server::gzip(body, level);
      ASSERT_GE(packed.size(), 18u);
      EXPECT_EQ(static_cast<unsigned char>(packed[0]), 0x1f);  // the gzip magic
      EXPECT_EQ(static_cast<unsigned char>(packed[1]), 0x8b);
      EXPECT_LT(packed.size(), body.size() / 2) << size << " B, level " << level;
      EXPECT_EQ(inflate_gzip(packed), body) << size << " B, level " << level;
    }
  }
}

TEST(Compression, ALargePageGoesGzippedToAClientThatAsksAndPlainToOneThatDoesNot) {
  TestServer ts;
  auto admin = ts.admin_sync();
  std::string id = fill(ts, *admin);

  auto zipped_wire = std::make_shared<Recording>(true);
  auto plain_wire = std::make_shared<Recording>(false);
  auto zipped = list_all(*client(ts, zipped_wire), ts.pool(), id, "saves");
  HttpResponse z = zipped_wire->last();
  auto plain = list_all(*client(ts, plain_wire), ts.pool(), id, "saves");
  HttpResponse p = plain_wire->last();

  ASSERT_EQ(zipped.records.size(), 200u);
  ASSERT_EQ(plain.records.size(), 200u);
  for (size_t i = 0; i < 200; ++i) {
    EXPECT_EQ(zipped.records[i].key, plain.records[i].key);
    EXPECT_EQ(zipped.records[i].value, plain.records[i].value);
    EXPECT_EQ(zipped.records[i].sync_count, plain.records[i].sync_count);
  }
  EXPECT_EQ(header(z, "Content-Encoding"), "gzip");
  EXPECT_EQ(header(z, "Vary"), "Accept-Encoding");
  EXPECT_EQ(header(p, "Content-Encoding"), "");
  // libcurl decoded the body; Content-Length says what crossed the wire.
  size_t wire_bytes = std::stoul(header(z, "Content-Length"));
  EXPECT_EQ(std::stoul(header(p, "Content-Length")), p.body.size());
  EXPECT_LT(wire_bytes * 2, p.body.size()) << "JSON saves shrink to under half";
}

TEST(Compression, ASmallAnswerAndAnErrorUnderAKilobyteStayPlain) {
  TestServer ts;
  auto admin = ts.admin_sync();
  std::string id = fill(ts, *admin);
  auto wire = std::make_shared<Recording>(true);
  auto c = client(ts, wire);
  auto described = c->describe_dataset({ts.pool(), id, "saves"});
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  EXPECT_EQ(header(wire->last(), "Content-Encoding"), "");
  auto missing = c->describe_dataset({ts.pool(), id, "nothing-here"});
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kResourceNotFound);
  EXPECT_EQ(header(wire->last(), "Content-Encoding"), "");
}

TEST(Compression, LevelZeroTurnsItOff) {
  TestServer ts({}, true, 5, [](server::ServerConfig& c) { c.gzip_level = 0; });
  auto admin = ts.admin_sync();
  std::string id = fill(ts, *admin);
  auto wire = std::make_shared<Recording>(true);
  auto all = list_all(*client(ts, wire), ts.pool(), id, "saves");
  EXPECT_EQ(all.records.size(), 200u);
  EXPECT_EQ(header(wire->last(), "Content-Encoding"), "");
}

// Two devices of one player pull the same saves; the one that asks for gzip (the default) reads
// the same records and counts fewer bytes received, as they crossed the wire.
TEST(Compression, TheEngineAsksForGzipAndCountsTheBytesAsTheyCrossedTheWire) {
  TestServer ts;
  auto admin = ts.admin_sync();
  auto device = ts.new_device();
  std::vector<wire::RecordPatch> patches;
  for (uint32_t i = 0; i < 200; ++i)
    patches.push_back(put("slot-" + std::to_string(i), game_save(i, 1000), 0));
  ASSERT_TRUE(push(*admin, ts.pool(), device.identity_id, "saves", patches).ok());

  auto pull = [&](bool gzip, std::map<std::string, std::string>* records) -> uint64_t {
    SyncManagerOptions o;
    o.endpoint = ts.url();
    o.identity_pool_id = ts.pool();
    o.credentials = std::make_shared<StaticCredentialsProvider>(kAdminKey, kAdminSecret);
    o.identity_id = device.identity_id;
    o.http.accept_gzip = gzip;
    auto m = SyncManager::open(o);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (!m.ok()) return 0;
    auto ds = (*m)->open_or_create_dataset("saves");
    EXPECT_TRUE(ds.ok());
    uint64_t before = (*m)->stats().bytes_received;
    SyncResult r = (*ds)->synchronize({}).get();
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    auto all = (*ds)->get_all();
    EXPECT_TRUE(all.ok());
    if (all.ok()) *records = *all;
    return (*m)->stats().bytes_received - before;
  };
  std::map<std::string, std::string> zipped, plain;
  uint64_t zipped_bytes = pull(true, &zipped);
  uint64_t plain_bytes = pull(false, &plain);
  EXPECT_EQ(zipped.size(), 200u);
  EXPECT_EQ(zipped, plain);
  EXPECT_LT(zipped_bytes * 2, plain_bytes) << zipped_bytes << " against " << plain_bytes;
}

}  // namespace
}  // namespace cairn::testing
