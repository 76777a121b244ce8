// Server-side events end to end (docs/events.md): push notifications on the channel and to a
// webhook, the sync trigger's http(s) hook, stream records in NDJSON files or over HTTP, and bulk
// publish into the sink. Hooks and sinks are real HTTP servers on 127.0.0.1.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <rapidjson/document.h>
#include "fixtures/hook_server.h"
#include "fixtures/wait.h"
#include "server_fixture.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <set>

namespace cairn {
namespace {

using testing::eventually;
using testing::HookServer;
using testing::TestServer;

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.data(), text.size());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string register_and_subscribe(TestServer::Device& d, const std::string& pool,
                                   const std::string& token, const std::string& dataset) {
  auto reg = d.sync->register_device({pool, d.identity_id, "GCM", token});
  EXPECT_TRUE(reg.ok()) << reg.status().ToString();
  if (!reg.ok()) return "";
  EXPECT_TRUE(d.sync->subscribe_to_dataset({pool, d.identity_id, dataset, *reg->device_id}).ok());
  return *reg->device_id;
}

// A push with the device's id, as the engine sends it.
Result<wire::UpdateRecordsResponse> push_from(CognitoSyncClient& c, const std::string& pool,
                                              const std::string& id, const std::string& dataset,
                                              const std::optional<std::string>& device,
                                              std::vector<wire::RecordPatch> patches) {
  auto lr = c.list_records({pool, id, dataset, 0, std::nullopt, 1, std::nullopt});
  if (!lr.ok()) return lr.status();
  return c.update_records(
      {pool, id, dataset, device, std::move(patches), *lr->sync_session_token, std::nullopt});
}

// --- push notifications --------------------------------------------------------------------------

TEST(Push, SubscribedDevicesHearAChangeOnTheChannelAndTheDeviceThatMadeItDoesNot) {
  TestServer ts;
  auto phone = ts.new_device();
  auto tablet_creds = phone.provider;  // the same player on a second device
  auto tablet = std::move(CognitoSyncClient::create(ts.config(tablet_creds))).value();
  std::string phone_id = register_and_subscribe(phone, ts.pool(), "phone-token", "save");
  auto reg = tablet->register_device({ts.pool(), phone.identity_id, "APNS", "tablet-token"});
  ASSERT_TRUE(reg.ok());
  std::string tablet_id = *reg->device_id;
  ASSERT_TRUE(tablet->subscribe_to_dataset({ts.pool(), phone.identity_id, "save", tablet_id}).ok());

  // Both devices wait on the channel; the phone writes.
  Result<wire::PollNotificationsResponse> tablet_heard = Status(ErrorCode::kInternalError, "");
  Result<wire::PollNotificationsResponse> phone_heard = Status(ErrorCode::kInternalError, "");
  std::chrono::steady_clock::time_point heard_at;
  std::thread t1([&] {
    tablet_heard = tablet->poll_notifications({ts.pool(), phone.identity_id, tablet_id, 0, 10});
    heard_at = std::chrono::steady_clock::now();
  });
  std::thread t2([&] {
    phone_heard = phone.sync->poll_notifications({ts.pool(), phone.identity_id, phone_id, 0, 2});
  });
  auto& channel = ts.server().api().events().notifications();
  ASSERT_TRUE(eventually([&] { return channel.waiting() == 2; })) << "both are waiting now";
  auto pushed = push_from(*phone.sync, ts.pool(), phone.identity_id, "save", phone_id,
                          {testing::put("level", "3", 0)});
  auto pushed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  t1.join();
  t2.join();

  ASSERT_TRUE(tablet_heard.ok()) << tablet_heard.status().ToString();
  ASSERT_EQ(tablet_heard->notifications.size(), 1u);
  auto payload = parse(tablet_heard->notifications[0].payload_json);
  EXPECT_STREQ(payload["source"].GetString(), "cognito-sync");
  EXPECT_EQ(payload["identityPoolId"].GetString(), ts.pool());
  EXPECT_EQ(payload["identityId"].GetString(), phone.identity_id);
  EXPECT_STREQ(payload["datasetName"].GetString(), "save");
  EXPECT_STREQ(payload["syncCount"].GetString(), "1");
  // One notification, not an empty answer: the write woke the 10 s poll (a poll that runs out
  // answers with nothing). How soon is printed below, not judged.
  ASSERT_TRUE(phone_heard.ok()) << phone_heard.status().ToString();
  EXPECT_TRUE(phone_heard->notifications.empty()) << "the writer is not told of its own change";

  // A notification that came while nobody listened waits in the mailbox for the next poll.
  ASSERT_TRUE(push_from(*phone.sync, ts.pool(), phone.identity_id, "save", phone_id,
                        {testing::put("level", "4", 1)})
                  .ok());
  ASSERT_TRUE(eventually([&] {
    auto r = tablet->poll_notifications(
        {ts.pool(), phone.identity_id, tablet_id, tablet_heard->next, 0});
    return r.ok() && r->notifications.size() == 1 &&
           parse(r->notifications[0].payload_json)["syncCount"].GetString() == std::string("2");
  }));
  std::printf("\npush channel: the tablet heard the phone's change %.1f ms after its push\n",
              std::chrono::duration<double, std::milli>(heard_at - pushed_at).count());
}

TEST(Push, OnlyTheDevicesIdentityMayListenToIt) {
  TestServer ts;
  auto alice = ts.new_device();
  auto bob = ts.new_device();
  std::string device = register_and_subscribe(alice, ts.pool(), "alice-token", "save");
  auto theirs = bob.sync->poll_notifications({ts.pool(), alice.identity_id, device, 0, 0});
  ASSERT_FALSE(theirs.ok());
  EXPECT_EQ(theirs.status().code(), ErrorCode::kNotAuthorized);
  auto not_hers = bob.sync->poll_notifications({ts.pool(), bob.identity_id, device, 0, 0});
  ASSERT_FALSE(not_hers.ok());
  EXPECT_EQ(not_hers.status().code(), ErrorCode::kResourceNotFound);
  auto too_long = alice.sync->poll_notifications({ts.pool(), alice.identity_id, device, 0, 51});
  EXPECT_EQ(too_long.status().code(), ErrorCode::kInvalidParameter);
}

TEST(Push, TheWebhookGetsEachNotificationWithPlatformAndTokenAndIsRetriedUntilItTakesIt) {
  HookServer hook;
  hook.set_handler([](const std::string&, size_t nth, httplib::Response& res) {
    if (nth < 2) res.status = 503;  // down for the first two attempts
  });
  server::ServerOptions options;
  options.events.push_webhooks["*"] = hook.url("/push");
  options.events.delivery_base_delay = std::chrono::milliseconds(20);
  TestServer ts(options);
  auto writer = ts.new_device();
  auto other = std::move(CognitoSyncClient::create(ts.config(writer.provider))).value();
  std::string writer_id = register_and_subscribe(writer, ts.pool(), "w-token", "save");
  auto reg = other->register_device({ts.pool(), writer.identity_id, "GCM", "fcm-token-123"});
  ASSERT_TRUE(reg.ok());
  ASSERT_TRUE(
      other->subscribe_to_dataset({ts.pool(), writer.identity_id, "save", *reg->device_id}).ok());
  ASSERT_TRUE(push_from(*writer.sync, ts.pool(), writer.identity_id, "save", writer_id,
                        {testing::put("k", "v", 0)})
                  .ok());
  ASSERT_EQ(hook.wait_for(3), 3u);
  // Every delivery of that write has its final outcome: a fourth request would be here now.
  ts.server().api().events().drain();
  ASSERT_TRUE(eventually([&] { return ts.server().api().events().outbox().idle(); }));
  auto got = hook.received();
  ASSERT_EQ(got.size(), 3u) << "two failed attempts, one delivery, and none for the writer";
  EXPECT_EQ(got[0].body, got[2].body);
  auto body = parse(got[2].body);
  EXPECT_STREQ(body["payload"]["source"].GetString(), "cognito-sync");
  EXPECT_STREQ(body["payload"]["syncCount"].GetString(), "1");
  EXPECT_EQ(body["device"]["deviceId"].GetString(), *reg->device_id);
  EXPECT_STREQ(body["device"]["platform"].GetString(), "GCM");
  EXPECT_STREQ(body["device"]["token"].GetString(), "fcm-token-123");
  EXPECT_EQ(ts.server().api().events().outbox().delivered(), 1u);
}

// A receiver that stops answering: deliveries pile up to the bound, then the oldest go, counted.
TEST(Push, DeliveriesWaitingForADeadReceiverAreBounded) {
  class Stuck final : public HttpTransport {
   public:
    Result<HttpResponse> send(const HttpRequest&) override {
      ++entered;
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return released; });
      return HttpResponse{200, {}, "{}"};
    }
    void release() {
      std::lock_guard<std::mutex> l(mu);
      released = true;
      cv.notify_all();
    }
    std::mutex mu;
    std::condition_variable cv;
    bool released = false;
    std::atomic<int> entered{0};
  };
  auto stuck = std::make_shared<Stuck>();
  server::EventsOptions o;
  o.max_queued_deliveries = 10;
  std::atomic<int> refused{0};
  {
    server::Outbox outbox(stuck, o, nullptr);
    struct Release {
      Stuck* s;
      ~Release() { s->release(); }  // before the outbox joins its thread, even if an assert fails
    } release{stuck.get()};
    auto count_refusals = [&](const Status& s) {
      if (!s.ok()) ++refused;
    };
    outbox.post("http://127.0.0.1:1/x", "{}", count_refusals);
    ASSERT_TRUE(eventually([&] { return stuck->entered.load() == 1; }));
    for (int i = 1; i < 30; ++i) outbox.post("http://127.0.0.1:1/x", "{}", count_refusals);
    // One is with the stuck receiver; 10 wait; the other 19 were dropped as newer ones came.
    EXPECT_EQ(outbox.failed(), 19u);
    EXPECT_EQ(refused.load(), 19);
  }
  EXPECT_EQ(refused.load(), 19) << "the 11 kept were delivered once the receiver came back";
}

// --- the outbox ----------------------------------------------------------------------------------

// Two devices of one player, the second subscribed to "save", and a pool that streams: each push
// from the first has a webhook post (for the second) and a stream record to deliver.
struct OutboxFixture {
  explicit OutboxFixture(HookServer& hook, server::ServerOptions options = {}) {
    options.events.push_webhooks["*"] = hook.url("/push");
    options.events.stream_sink = hook.url("/stream");
    options.events.delivery_base_delay = std::chrono::milliseconds(5);
    ts = std::make_unique<TestServer>(options);
    auto r = ts->admin_sync()->set_identity_pool_configuration(
        {ts->pool(), std::nullopt,
         wire::CognitoStreams{"saves", "arn:aws:iam::123456789012:role/stream", "ENABLED"}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    writer = ts->new_device();
    writer_device = register_and_subscribe(writer, ts->pool(), "w-token", "save");
    auto other = std::move(CognitoSyncClient::create(ts->config(writer.provider))).value();
    auto reg = other->register_device({ts->pool(), writer.identity_id, "GCM", "o-token"});
    EXPECT_TRUE(reg.ok());
    other_device = *reg->device_id;
    EXPECT_TRUE(
        other->subscribe_to_dataset({ts->pool(), writer.identity_id, "save", other_device}).ok());
  }
  Status push(const std::string& key, int64_t count) {
    return push_from(*writer.sync, ts->pool(), writer.identity_id, "save", writer_device,
                     {testing::put(key, "v", count)})
        .status();
  }
  server::OutboxCounts counts() { return ts->server().api().events().outbox_counts(); }

  std::unique_ptr<TestServer> ts;
  TestServer::Device writer;
  std::string writer_device, other_device;
};

// Every request for one delivery id carried the same body, and the id in its header and body.
void expect_stable_ids(const std::vector<HookServer::Received>& got) {
  std::map<std::string, std::string> body_of;
  for (const auto& r : got) {
    ASSERT_FALSE(r.delivery_id.empty()) << r.body;
    auto body = parse(r.body);
    const auto& carried = r.path == "/stream" ? body["record"]["deliveryId"] : body["deliveryId"];
    EXPECT_EQ(carried.GetString(), r.delivery_id);
    auto [it, fresh] = body_of.emplace(r.delivery_id, r.body);
    if (!fresh) {
      EXPECT_EQ(it->second, r.body) << "a retry of " << r.delivery_id << " changed";
    }
  }
}

TEST(Outbox, ARoundThatFailsIsTriedAgainLaterWithTheSameIdsUntilEachDeliveryIsMade) {
  HookServer hook;
  std::atomic<bool> up{false};
  hook.set_handler([&](const std::string&, size_t, httplib::Response& res) {
    if (!up) res.status = 503;
  });
  server::ServerOptions o;
  o.events.delivery_attempts = 2;
  o.events.outbox_retry_delay = std::chrono::milliseconds(20);
  o.events.outbox_sweep = std::chrono::milliseconds(20);
  OutboxFixture f(hook, o);
  ASSERT_TRUE(f.push("k", 0).ok());
  // Two rounds of two attempts each fail, for both deliveries.
  ASSERT_TRUE(eventually([&] { return f.counts().retried >= 2; }));
  EXPECT_EQ(f.counts().completed, 0u);
  up = true;
  ASSERT_TRUE(eventually([&] { return f.counts().completed == 1 && f.counts().waiting == 0; }));
  auto got = hook.received();
  expect_stable_ids(got);
  std::set<std::string> made;
  for (const auto& r : got) made.insert(r.delivery_id);
  ASSERT_EQ(made.size(), 2u) << "one webhook post for the other device, one stream record";
  std::string row = made.begin()->substr(0, made.begin()->find('.'));
  EXPECT_EQ(made, (std::set<std::string>{row + "." + f.other_device, row + ".stream"}));
  EXPECT_EQ(f.counts().staged, 1u);
  std::string metrics = f.ts->server().metrics_text();
  EXPECT_NE(metrics.find(R"(cairn_outbox_changes_total{outcome="retried"})"), std::string::npos);
  EXPECT_NE(metrics.find("cairn_outbox_waiting 0"), std::string::npos) << metrics;
}

TEST(Outbox, ARoundThatPartlySucceededMakesOnlyTheMissingDeliveriesNextTime) {
  HookServer hook;
  std::atomic<bool> stream_up{false};
  hook.set_handler([&](const std::string& body, size_t, httplib::Response& res) {
    bool stream = body.find("\"streamName\"") != std::string::npos;
    if (stream && !stream_up) res.status = 503;
  });
  server::ServerOptions o;
  o.events.delivery_attempts = 1;
  o.events.outbox_retry_delay = std::chrono::milliseconds(20);
  o.events.outbox_sweep = std::chrono::milliseconds(20);
  OutboxFixture f(hook, o);
  ASSERT_TRUE(f.push("k", 0).ok());
  ASSERT_TRUE(eventually([&] { return f.counts().retried >= 2; }));
  stream_up = true;
  ASSERT_TRUE(eventually([&] { return f.counts().completed == 1; }));
  size_t webhook_posts = 0;
  for (const auto& r : hook.received()) webhook_posts += r.path == "/push";
  EXPECT_EQ(webhook_posts, 1u) << "the webhook took it the first time; later rounds skip it";
  expect_stable_ids(hook.received());
}

TEST(Outbox, DeliveriesOwedWhenTheServerStopsAreMadeOnceItIsBack) {
  HookServer hook;
  std::atomic<bool> up{false};
  hook.set_handler([&](const std::string&, size_t, httplib::Response& res) {
    if (!up) res.status = 503;
  });
  server::ServerOptions o;
  o.events.delivery_attempts = 1;
  o.events.outbox_retry_delay = std::chrono::milliseconds(200);
  OutboxFixture f(hook, o);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.push("k" + std::to_string(i), 0).ok());
  ASSERT_TRUE(eventually([&] { return f.counts().retried >= 3; }));
  std::set<std::string> before;
  for (const auto& r : hook.received()) before.insert(r.delivery_id);
  ASSERT_EQ(before.size(), 6u);
  f.ts->restart([&] { up = true; });
  ASSERT_TRUE(eventually([&] { return f.counts().completed == 3; }));
  std::set<std::string> after;
  for (const auto& r : hook.received()) after.insert(r.delivery_id);
  EXPECT_EQ(after, before) << "the same deliveries, under the same ids";
  expect_stable_ids(hook.received());
}

// A server starting on a database that owes many changes takes them a batch at a time, each
// once: it must not take again the rows it has just taken while their rounds run.
TEST(Outbox, AtStartEveryOwedChangeIsTakenOnceBatchByBatch) {
  if (testing::testing_postgres()) {
    GTEST_SKIP() << "on PostgreSQL a restarted instance waits for the leases (Outbox tests above)";
  }
  HookServer hook;
  hook.set_handler([](const std::string&, size_t, httplib::Response& res) { res.status = 503; });
  server::ServerOptions o;
  o.events.delivery_attempts = 1;
  o.events.outbox_retry_delay = std::chrono::hours(1);
  o.events.outbox_sweep = std::chrono::hours(1);  // only the sweeps at start
  OutboxFixture f(hook, o);
  constexpr int kChanges = 150;  // a batch and a half
  for (int i = 0; i < kChanges; ++i) ASSERT_TRUE(f.push("k" + std::to_string(i), 0).ok());
  ASSERT_TRUE(eventually([&] { return f.counts().retried == kChanges; }));
  f.ts->restart();
  ASSERT_TRUE(eventually([&] { return f.counts().retried == kChanges; }))
      << "each owed change gets one round after the restart";
  EXPECT_EQ(f.counts().sweeps, 2u) << "two batches at start, then no sweep for an hour";
  EXPECT_EQ(f.counts().retried, static_cast<uint64_t>(kChanges)) << "none taken twice";
}

TEST(Outbox, IsBoundedByRowsAndByAgeAndCountsWhatItGivesUp) {
  HookServer hook;
  hook.set_handler([](const std::string&, size_t, httplib::Response& res) { res.status = 503; });
  server::ServerOptions o;
  o.events.delivery_attempts = 1;
  o.events.outbox_retry_delay = std::chrono::hours(1);
  o.events.outbox_sweep = std::chrono::hours(1);  // sweeps only when asked
  o.events.outbox_max_rows = 3;
  OutboxFixture f(hook, o);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(f.push("k" + std::to_string(i), 0).ok());
  ASSERT_TRUE(eventually([&] { return f.counts().retried == 5; }));
  f.ts->server().api().events().sweep_now();
  ASSERT_TRUE(eventually([&] { return f.counts().evicted == 2; }));
  EXPECT_EQ(f.counts().waiting, 3);
  EXPECT_EQ(f.counts().expired, 0u);
}

TEST(Outbox, ChangesOlderThanTheMaximumAgeAreGivenUp) {
  HookServer hook;
  hook.set_handler([](const std::string&, size_t, httplib::Response& res) { res.status = 503; });
  server::ServerOptions o;
  o.events.delivery_attempts = 1;
  o.events.outbox_retry_delay = std::chrono::hours(1);
  o.events.outbox_sweep = std::chrono::hours(1);
  o.events.outbox_max_age = std::chrono::milliseconds(1);
  OutboxFixture f(hook, o);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(f.push("k" + std::to_string(i), 0).ok());
  ASSERT_TRUE(eventually([&] { return f.counts().retried == 2; }));
  f.ts->server().api().events().sweep_now();
  ASSERT_TRUE(eventually([&] { return f.counts().expired == 2; }));
  EXPECT_EQ(f.counts().waiting, 0);
}

TEST(Outbox, APoolWithNoWebhookAndNoStreamWritesNoRow) {
  TestServer ts;
  auto d = ts.new_device();
  ASSERT_TRUE(
      testing::push(*d.sync, ts.pool(), d.identity_id, "save", {testing::put("a", "1", 0)}).ok());
  ts.server().api().events().drain();
  EXPECT_EQ(ts.server().api().events().outbox_counts().staged, 0u);
}

// --- sync trigger --------------------------------------------------------------------------------

struct TriggerFixture : ::testing::Test {
  HookServer hook;
  server::ServerOptions options = [] {
    server::ServerOptions o;
    o.events.sync_trigger_timeout = std::chrono::milliseconds(800);
    return o;
  }();
  std::unique_ptr<TestServer> ts;
  TestServer::Device device;

  void SetUp() override {
    ts = std::make_unique<TestServer>(options);
    ASSERT_TRUE(
        ts->admin_sync()->set_cognito_events({ts->pool(), {{"SyncTrigger", hook.url()}}}).ok());
    device = ts->new_device();
    ClientConfig c = ts->config(device.provider);
    c.retry.max_retries = 0;  // the throttle test wants the first answer
    device.sync = std::move(CognitoSyncClient::create(c)).value();
  }
  std::map<std::string, std::string> on_server() {
    auto all = testing::list_all(*ts->admin_sync(), ts->pool(), device.identity_id, "save");
    std::map<std::string, std::string> out;
    for (const auto& r : all.records) {
      if (r.value) out[*r.key] = *r.value;
    }
    return out;
  }
};

// Echoes the event back, with `edit` applied to its datasetRecords.
HookServer::Handler editing(std::function<void(rapidjson::Document&)> edit) {
  return [edit](const std::string& body, size_t, httplib::Response& res) {
    rapidjson::Document d;
    d.Parse(body.data(), body.size());
    edit(d);
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    d.Accept(w);
    res.set_content(std::string(buf.GetString(), buf.GetSize()), "application/json");
  };
}

TEST_F(TriggerFixture, AHookClampsAHighScoreBeforeItIsStored) {
  hook.set_handler(editing([](rapidjson::Document& d) {
    auto& records = d["datasetRecords"];
    if (records.HasMember("score") && records["score"]["newValue"].IsString()) {
      long score = std::atol(records["score"]["newValue"].GetString());
      if (score > 1000) records["score"]["newValue"].SetString("1000", d.GetAllocator());
    }
  }));
  ASSERT_TRUE(testing::push(*device.sync, ts->pool(), device.identity_id, "save",
                            {testing::put("name", "ada", 0)})
                  .ok());
  auto pushed = testing::push(*device.sync, ts->pool(), device.identity_id, "save",
                              {testing::put("score", "99999", 0)});
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  ASSERT_EQ(pushed->records.size(), 1u);
  EXPECT_EQ(pushed->records[0].value, "1000") << "the answer shows what was stored";
  EXPECT_EQ(on_server(), (std::map<std::string, std::string>{{"name", "ada"}, {"score", "1000"}}));

  // The event as the reference describes it: version 2, every record of the dataset.
  auto got = hook.received();
  ASSERT_EQ(got.size(), 2u);
  auto event = parse(got[1].body);
  EXPECT_EQ(event["version"].GetInt(), 2);
  EXPECT_STREQ(event["eventType"].GetString(), "SyncTrigger");
  EXPECT_STREQ(event["region"].GetString(), "us-east-1");
  EXPECT_EQ(event["identityId"].GetString(), device.identity_id);
  EXPECT_STREQ(event["datasetName"].GetString(), "save");
  const auto& records = event["datasetRecords"];
  EXPECT_STREQ(records["name"]["oldValue"].GetString(), "ada");
  EXPECT_STREQ(records["name"]["newValue"].GetString(), "ada");
  EXPECT_TRUE(records["score"]["oldValue"].IsNull());
  EXPECT_STREQ(records["score"]["newValue"].GetString(), "99999");
  EXPECT_STREQ(records["score"]["op"].GetString(), "replace");
}

TEST_F(TriggerFixture, AHookMayRemoveAndAddRecords) {
  hook.set_handler(editing([](rapidjson::Document& d) {
    auto& records = d["datasetRecords"];
    auto& a = d.GetAllocator();
    if (records.HasMember("cheat")) records["cheat"]["op"].SetString("remove", a);
    rapidjson::Value audit(rapidjson::kObjectType);
    audit.AddMember("newValue", "yes", a);
    audit.AddMember("op", "replace", a);
    records.AddMember("audited", audit, a);
  }));
  auto pushed = testing::push(*device.sync, ts->pool(), device.identity_id, "save",
                              {testing::put("cheat", "godmode", 0), testing::put("hp", "10", 0)});
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  EXPECT_EQ(on_server(), (std::map<std::string, std::string>{{"audited", "yes"}, {"hp", "10"}}));
}

TEST_F(TriggerFixture, AHookThatAnswersBadlyOrSlowlyOrThrottlesWritesNothing) {
  auto attempt = [&] {
    return testing::push(*device.sync, ts->pool(), device.identity_id, "save",
                         {testing::put("k", "v", 0)});
  };
  hook.set_handler([](const std::string&, size_t, httplib::Response& res) {
    res.set_content("this is not JSON", "text/plain");
  });
  auto bad = attempt();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidLambdaFunctionOutput)
      << bad.status().ToString();
  EXPECT_EQ(bad.status().http_status(), 400);

  hook.set_handler([](const std::string&, size_t, httplib::Response& res) {
    res.set_content(R"({"version":2})", "application/json");
  });
  EXPECT_EQ(attempt().status().code(), ErrorCode::kInvalidLambdaFunctionOutput);

  hook.set_handler([](const std::string&, size_t, httplib::Response& res) { res.status = 429; });
  auto throttled = attempt();
  EXPECT_EQ(throttled.status().code(), ErrorCode::kLambdaThrottled)
      << throttled.status().ToString();
  EXPECT_EQ(throttled.status().http_status(), 429);

  auto hold = std::make_shared<testing::Hold>();
  hook.set_handler([hold](const std::string&, size_t, httplib::Response&) {
    hold->wait();  // no answer until the test is done: far past the 800 ms limit
  });
  auto slow = attempt();
  hold->release();
  EXPECT_EQ(slow.status().code(), ErrorCode::kLambdaSocketTimeout) << slow.status().ToString();

  EXPECT_TRUE(on_server().empty());
  auto ds = ts->admin_sync()->describe_dataset({ts->pool(), device.identity_id, "save"});
  EXPECT_FALSE(ds.ok()) << "not even the dataset was created";
}

TEST_F(TriggerFixture, DeveloperCredentialsAreNotSeenByTheHook) {
  hook.set_handler([](const std::string&, size_t, httplib::Response& res) { res.status = 500; });
  auto admin = ts->admin_sync();
  ASSERT_TRUE(testing::push(*admin, ts->pool(), device.identity_id, "save",
                            {testing::put("score", "99999", 0)})
                  .ok());
  EXPECT_EQ(hook.received().size(), 0u);
  EXPECT_EQ(on_server().at("score"), "99999");
}

// --- streams and bulk publish --------------------------------------------------------------------

void enable_stream(TestServer& ts, const std::string& name) {
  auto r = ts.admin_sync()->set_identity_pool_configuration(
      {ts.pool(), std::nullopt,
       wire::CognitoStreams{name, "arn:aws:iam::123456789012:role/stream", "ENABLED"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

TEST(Streams, EverySyncIsOneNdjsonRecordInTheCognitoStreamsFormat) {
  TestServer ts;
  enable_stream(ts, "game-events");
  auto d = ts.new_device();
  ASSERT_TRUE(testing::push(*d.sync, ts.pool(), d.identity_id, "save",
                            {testing::put("a", "1", 0), testing::put("b", "2", 0)})
                  .ok());
  ASSERT_TRUE(
      testing::push(*d.sync, ts.pool(), d.identity_id, "save", {testing::del("a", 1)}).ok());
  ASSERT_TRUE(d.sync->delete_dataset({ts.pool(), d.identity_id, "save"}).ok());
  std::string file = ts.dir() + "/streams/game-events.ndjson";
  ASSERT_TRUE(eventually([&] { return lines_of(file).size() == 3; })) << lines_of(file).size();
  auto lines = lines_of(file);
  auto first = parse(lines[0]);
  EXPECT_EQ(first["identityPoolId"].GetString(), ts.pool());
  EXPECT_EQ(first["identityId"].GetString(), d.identity_id);
  EXPECT_STREQ(first["dataSetName"].GetString(), "save");
  EXPECT_STREQ(first["operation"].GetString(), "replace");
  EXPECT_STREQ(first["payloadType"].GetString(), "Inline");
  EXPECT_EQ(first["syncCount"].GetInt64(), 1);
  EXPECT_GT(first["lastModifiedDate"].GetInt64(), 1'000'000'000'000LL) << "epoch milliseconds";
  ASSERT_EQ(first["kinesisSyncRecords"].Size(), 2u);
  const auto& rec = first["kinesisSyncRecords"][0];
  EXPECT_STREQ(rec["key"].GetString(), "a");
  EXPECT_STREQ(rec["value"].GetString(), "1");
  EXPECT_STREQ(rec["op"].GetString(), "replace");
  EXPECT_GT(rec["lastModifiedDate"].GetInt64(), 1'000'000'000'000LL);
  auto second = parse(lines[1]);
  EXPECT_STREQ(second["kinesisSyncRecords"][0]["op"].GetString(), "remove");
  EXPECT_EQ(second["syncCount"].GetInt64(), 2);
  auto third = parse(lines[2]);
  EXPECT_STREQ(third["operation"].GetString(), "remove") << "the dataset was deleted";
}

TEST(Streams, FilesRotateBySizeAndNoRecordIsLostOrTorn) {
  server::ServerOptions options;
  options.events.stream_rotate_bytes = 2000;
  TestServer ts(options);
  enable_stream(ts, "s");
  auto d = ts.new_device();
  constexpr int kSyncs = 12;
  for (int i = 0; i < kSyncs; ++i) {
    ASSERT_TRUE(testing::push(*d.sync, ts.pool(), d.identity_id, "d" + std::to_string(i),
                              {testing::put("k", std::string(400, 'x'), 0)})
                    .ok());
  }
  // Every change is written out once the hub has drained (the directory appears with the first).
  ts.server().api().events().drain();
  std::vector<std::string> all;
  ASSERT_TRUE(eventually([&] {
    all.clear();
    size_t files = 0;
    if (!std::filesystem::exists(ts.dir() + "/streams")) return false;
    for (const auto& e : std::filesystem::directory_iterator(ts.dir() + "/streams")) {
      ++files;
      EXPECT_LE(std::filesystem::file_size(e.path()), 2000u) << e.path();
      for (auto& line : lines_of(e.path().string())) all.push_back(line);
    }
    return all.size() == kSyncs && files > 1;
  })) << all.size();
  std::set<std::string> datasets;
  for (const auto& line : all) datasets.insert(parse(line)["dataSetName"].GetString());
  EXPECT_EQ(datasets.size(), static_cast<size_t>(kSyncs));
}

TEST(Streams, AnHttpSinkGetsEachRecordWithItsStreamName) {
  HookServer sink;
  server::ServerOptions options;
  options.events.stream_sink = sink.url("/stream");
  TestServer ts(options);
  enable_stream(ts, "to-http");
  auto d = ts.new_device();
  ASSERT_TRUE(
      testing::push(*d.sync, ts.pool(), d.identity_id, "save", {testing::put("k", "v", 0)}).ok());
  ASSERT_EQ(sink.wait_for(1), 1u);
  auto body = parse(sink.received()[0].body);
  EXPECT_STREQ(body["streamName"].GetString(), "to-http");
  EXPECT_STREQ(body["record"]["dataSetName"].GetString(), "save");
  EXPECT_STREQ(body["record"]["kinesisSyncRecords"][0]["value"].GetString(), "v");
}

TEST(BulkPublish, ALargePoolGoesToTheSinkDatasetByDatasetThenSucceeds) {
  TestServer ts;
  auto admin = ts.admin_sync();
  constexpr int kIdentities = 150, kRecords = 8;
  for (int i = 0; i < kIdentities; ++i) {
    char id[64];
    std::snprintf(id, sizeof id, "us-east-1:00000000-0000-0000-0000-%012d", i);
    std::vector<wire::RecordPatch> patches;
    for (int k = 0; k < kRecords; ++k)
      patches.push_back(testing::put("k" + std::to_string(k), "v", 0));
    ASSERT_TRUE(testing::push(*admin, ts.pool(), id, "save", patches).ok());
  }
  // After the pushes' own events are done: the file then holds the bulk publish alone.
  ts.server().api().events().drain();
  enable_stream(ts, "bulk");
  EXPECT_EQ(*admin->get_bulk_publish_details({ts.pool()})->bulk_publish_status, "NOT_STARTED");
  ASSERT_TRUE(admin->bulk_publish({ts.pool()}).ok());
  std::string status;
  ASSERT_TRUE(eventually([&] {
    status = *admin->get_bulk_publish_details({ts.pool()})->bulk_publish_status;
    return status == "SUCCEEDED" || status == "FAILED";
  }));
  ASSERT_EQ(status, "SUCCEEDED");
  auto lines = lines_of(ts.dir() + "/streams/bulk.ndjson");
  ASSERT_EQ(lines.size(), static_cast<size_t>(kIdentities));
  std::set<std::string> identities;
  for (const auto& line : lines) {
    auto rec = parse(line);
    identities.insert(rec["identityId"].GetString());
    EXPECT_EQ(rec["kinesisSyncRecords"].Size(), static_cast<size_t>(kRecords));
  }
  EXPECT_EQ(identities.size(), static_cast<size_t>(kIdentities));
}

TEST(BulkPublish, ASinkThatRefusesEndsFailedWithTheReason) {
  HookServer sink;
  sink.set_handler([](const std::string&, size_t, httplib::Response& res) { res.status = 500; });
  server::ServerOptions options;
  options.events.stream_sink = sink.url("/stream");
  options.events.delivery_attempts = 2;
  options.events.delivery_base_delay = std::chrono::milliseconds(10);
  TestServer ts(options);
  auto admin = ts.admin_sync();
  ASSERT_TRUE(testing::push(*admin, ts.pool(), "us-east-1:00000000-0000-0000-0000-000000000001",
                            "save", {testing::put("k", "v", 0)})
                  .ok());
  enable_stream(ts, "s");
  ASSERT_TRUE(admin->bulk_publish({ts.pool()}).ok());
  std::optional<wire::GetBulkPublishDetailsResponse> details;
  ASSERT_TRUE(eventually([&] {
    auto d = admin->get_bulk_publish_details({ts.pool()});
    if (d.ok()) details = *d;
    return d.ok() && *d->bulk_publish_status != "IN_PROGRESS";
  }));
  EXPECT_EQ(*details->bulk_publish_status, "FAILED");
  ASSERT_TRUE(details->failure_message);
  EXPECT_NE(details->failure_message->find("answered 500"), std::string::npos)
      << *details->failure_message;
  // A failed one may be started again at once (only a success waits 24 h).
  EXPECT_TRUE(admin->bulk_publish({ts.pool()}).ok());
}

}  // namespace
}  // namespace cairn
