// Devices for engine tests: each is a SyncManager with its own database file, talking to a real
// in-process cairn-server on loopback through a transport the test can watch and, where a fault
// is hard to cause for real, interfere with (a reset after the server answered, a 409 storm).
#pragma once

#include <gtest/gtest.h>
#include <strings.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cairn/sync_manager.h"
#include "engine/engine.h"
#include "fixtures/wait.h"
#include "server/server_fixture.h"
#include "temp_dir.h"

namespace cairn::testing {

// Which Cognito operation an HTTP request is, from its method, path and target header.
inline std::string operation_of(const HttpRequest& r) {
  for (const auto& [name, value] : r.headers) {
    if (strcasecmp(name.c_str(), "X-Amz-Target") == 0) return value.substr(value.rfind('.') + 1);
  }
  std::string path = r.url.substr(r.url.find('/', r.url.find("//") + 2));
  path = path.substr(0, path.find('?'));
  auto ends = [&](const std::string& s) {
    return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
  };
  if (path.find("/subscriptions/") != std::string::npos) {
    return r.method == "POST" ? "SubscribeToDataset" : "UnsubscribeFromDataset";
  }
  if (r.method == "GET" && ends("/records")) return "ListRecords";
  if (r.method == "GET" && ends("/datasets")) return "ListDatasets";
  if (r.method == "POST" && ends("/device")) return "RegisterDevice";
  auto datasets = path.rfind("/datasets/");
  if (datasets != std::string::npos && path.find('/', datasets + 10) == std::string::npos) {
    if (r.method == "POST") return "UpdateRecords";
    if (r.method == "DELETE") return "DeleteDataset";
    if (r.method == "GET") return "DescribeDataset";
  }
  return r.method + " " + path;
}

// Forwards to the real transport; hooks may act before a request or replace its answer.
class HookTransport final : public HttpTransport {
 public:
  using Before =
      std::function<std::optional<Result<HttpResponse>>(const std::string& op, const HttpRequest&)>;
  using After = std::function<std::optional<Result<HttpResponse>>(
      const std::string& op, const HttpRequest&, const Result<HttpResponse>&)>;

  explicit HookTransport(std::shared_ptr<HttpTransport> inner) : inner_(std::move(inner)) {}

  // Counts an operation once it has an answer (from the server or a hook). An attempt that died
  // on the network, such as a send on a keep-alive connection the server had just closed, which
  // the transport then retries, is not a second request.
  Result<HttpResponse> send(const HttpRequest& request) override {
    std::string op = operation_of(request);
    Before before;
    After after;
    {
      std::lock_guard<std::mutex> l(mu_);
      before = before_;
      after = after_;
    }
    auto response = [&]() -> Result<HttpResponse> {
      if (before) {
        if (auto answer = before(op, request)) return *answer;
      }
      auto r = inner_->send(request);
      if (after) {
        if (auto answer = after(op, request, r)) return *answer;
      }
      return r;
    }();
    if (response.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      ops_.push_back(op);
    }
    return response;
  }

  void set_before(Before b) {
    std::lock_guard<std::mutex> l(mu_);
    before_ = std::move(b);
  }
  void set_after(After a) {
    std::lock_guard<std::mutex> l(mu_);
    after_ = std::move(a);
  }
  std::vector<std::string> ops() {
    std::lock_guard<std::mutex> l(mu_);
    return ops_;
  }
  size_t count(const std::string& op) {
    std::lock_guard<std::mutex> l(mu_);
    return static_cast<size_t>(std::count(ops_.begin(), ops_.end(), op));
  }
  void clear() {
    std::lock_guard<std::mutex> l(mu_);
    ops_.clear();
  }

 private:
  std::shared_ptr<HttpTransport> inner_;
  std::mutex mu_;
  Before before_;
  After after_;
  std::vector<std::string> ops_;
};

inline Result<HttpResponse> http_error(int status, const std::string& type,
                                       const std::string& message) {
  return HttpResponse{status,
                      {{"x-amzn-ErrorType", type}, {"Content-Type", "application/json"}},
                      "{\"message\":\"" + message + "\"}"};
}

// A developer-authenticated player: its identity id and a login token any device can present.
struct Player {
  std::string identity_id;
  identity::Logins logins;
};
inline Player make_player(TestServer& ts, const std::string& user) {
  auto r = ts.admin_identity()->get_open_id_token_for_developer_identity(
      {ts.pool(), std::nullopt, {{"login.cairn", user}}, {}, std::nullopt});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return {};
  return {*r->identity_id, {{"cognito-identity.amazonaws.com", *r->token}}};
}

struct Device {
  std::string db;
  std::shared_ptr<HookTransport> wire;
  std::unique_ptr<SyncManager> manager;
  std::weak_ptr<engine::Engine> engine;  // behind the manager, for idle()

  // Nothing of the engine's runs or is due now: under a manual clock, nothing will happen until
  // the test moves the clock. Waits for that up to kHungTest (a hung test fails, not a slow one).
  bool settle() {
    bool idle = eventually([&] {
      auto e = engine.lock();
      return !e || e->idle();
    });
    if (!idle) ADD_FAILURE() << "the engine never went idle";
    return idle;
  }

  std::shared_ptr<Dataset> open(const std::string& name) {
    auto d = manager->open_or_create_dataset(name);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? *d : nullptr;
  }
  // Synchronizes and waits; the outcome is checked by the caller.
  SyncResult sync(const std::string& name, SyncCallbacks callbacks = {}) {
    auto future = manager->synchronize(name, std::move(callbacks));
    if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
      ADD_FAILURE() << "sync of " << name << " did not finish";
      return SyncResult::failed(Status(ErrorCode::kTimeout, "test wait"));
    }
    return future.get();
  }
  void sync_ok(const std::string& name, SyncCallbacks callbacks = {}) {
    auto r = sync(name, std::move(callbacks));
    EXPECT_TRUE(r.status.ok()) << name << ": " << r.status.ToString();
  }
  std::map<std::string, std::string> all(const std::string& name) {
    auto v = open(name)->get_all();
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : std::map<std::string, std::string>{};
  }
};

inline SyncManagerOptions device_options(const TestServer& ts, const std::string& db) {
  SyncManagerOptions o;
  o.endpoint = ts.url();
  o.region = "us-east-1";
  o.identity_pool_id = ts.pool();
  o.database_path = db;
  o.retry.base_delay = std::chrono::milliseconds(1);
  o.retry.throttle_base_delay = std::chrono::milliseconds(1);
  return o;
}

// A device with its own database file under `dir`; `tweak` adjusts the options first (its `http`
// shapes the device's libcurl).
inline Device make_device(const TestServer& ts, const TempDir& dir, const std::string& name,
                          identity::Logins logins = {},
                          const std::function<void(SyncManagerOptions&)>& tweak = {}) {
  Device d;
  d.db = dir.path + "/" + name + ".db";
  SyncManagerOptions o = device_options(ts, d.db);
  o.logins = std::move(logins);
  if (tweak) tweak(o);
  // libcurl as the options' `http` says, behind the hook the tests use.
  d.wire = std::make_shared<HookTransport>(make_curl_transport(o.http));
  o.transport = d.wire;
  auto e = engine::Engine::open(std::move(o));
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  if (e.ok()) {
    d.engine = *e;
    d.manager = Dataset::Core::manager(std::move(*e));
  }
  return d;
}

// The server's view of a dataset: live records only.
inline std::map<std::string, std::string> server_records(const TestServer& ts,
                                                         const std::string& identity_id,
                                                         const std::string& dataset) {
  auto all = list_all(*ts.admin_sync(), ts.pool(), identity_id, dataset);
  std::map<std::string, std::string> out;
  for (const auto& r : all.records) {
    if (r.value) out[*r.key] = *r.value;
  }
  return out;
}

// A server, a scratch directory and one player, alice, whose devices the tests make.
struct OnePlayer : ::testing::Test {
  TestServer ts;
  TempDir dir{"cairn-engine"};
  Player alice = make_player(ts, "alice");

  Device device(const std::string& name,
                const std::function<void(SyncManagerOptions&)>& tweak = {}) {
    return make_device(ts, dir, name, alice.logins, tweak);
  }
  std::map<std::string, std::string> on_server(const std::string& dataset) {
    return server_records(ts, alice.identity_id, dataset);
  }
  // Alice's device `a` and bob's own device each sync a "save" with the given records; then the
  // server merges bob into alice (MergeDeveloperIdentities), so alice's "save" reports
  // "save.<bob>" as merged. Returns bob.
  Player merge_bob_into_alice(Device& a, const std::map<std::string, std::string>& alice_save,
                              const std::map<std::string, std::string>& bob_save) {
    Player bob = make_player(ts, "bob");
    auto b = make_device(ts, dir, "bob", bob.logins);
    for (const auto& [k, v] : alice_save) EXPECT_TRUE(a.open("save")->put(k, v).ok());
    a.sync_ok("save");
    for (const auto& [k, v] : bob_save) EXPECT_TRUE(b.open("save")->put(k, v).ok());
    b.sync_ok("save");
    auto merged =
        ts.admin_identity()->merge_developer_identities({"bob", "alice", "login.cairn", ts.pool()});
    EXPECT_TRUE(merged.ok()) << merged.status().ToString();
    return bob;
  }
};

}  // namespace cairn::testing
