// The game-save demo: one player, two devices, an embedded cairn-server.
//
// It starts cairn-server on a free loopback port with a throwaway database, creates a pool, and
// signs one player in on a phone and a tablet, each with its own local database. Both play
// offline and edit the same save; when they come back, the sync meets a real conflict, resolves it
// with the three-way merge, and both devices converge. It tells the story as it goes and exits 0
// only if the devices and the server agree at the end.
#include <stdlib.h>

#include <filesystem>
#include <iostream>
#include <random>

#include "cairn/cognito/identity.h"
#include "cairn/sync_manager.h"
#include "server/server.h"

namespace {

void say(const std::string& line) { std::cout << line << std::endl; }

std::string random_secret() {
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 32; ++i) s += "0123456789abcdef"[rd() % 16];
  return s;
}

struct Device {
  std::string name;
  std::unique_ptr<cairn::SyncManager> manager;
  std::shared_ptr<cairn::Dataset> save;

  // Syncs and narrates; conflicts go through the three-way merge and are told as they happen.
  bool sync() {
    pending.clear();
    if (auto all = save->get_all_records(); all.ok()) {
      for (const auto& r : *all) {
        if (r.dirty) pending.push_back(r.key);
      }
    }
    cairn::SyncCallbacks cb;
    cb.on_conflict = [this](const std::vector<cairn::Conflict>& conflicts,
                            const cairn::ResolveContext& context) {
      auto merge = cairn::three_way_merge();
      std::vector<cairn::Resolution> out;
      for (const auto& c : conflicts) {
        auto r = merge(c, context);
        say("  " + name + " meets a conflict on '" + c.key + "':");
        say("    base   " + c.base_value.value_or("(none)"));
        say("    mine   " + c.local_value.value_or("(removed)"));
        say("    theirs " + c.remote_value.value_or("(removed)"));
        say("    merged " + r.resulting_value(c).value_or("(removed)"));
        out.push_back(r);
      }
      return out;
    };
    auto result = save->synchronize(cb).get();
    if (!result.status.ok()) {
      say("  " + name + " sync failed: " + result.status.ToString());
      return false;
    }
    // In the game's terms: which records went up to the server and which came down.
    std::string received;
    for (const auto& r : result.updated) received += (received.empty() ? "" : ", ") + r.key;
    say("  " + name + " sent " + std::to_string(result.pushed) + " record(s)" + sent_keys(result) +
        " and received " + std::to_string(result.updated.size()) +
        (received.empty() ? "" : " (" + received + ")") + "; the save is now at version " +
        std::to_string(*save->last_sync_count()));
    return true;
  }

  std::string show(const std::string& key) { return save->get(key)->value_or("(none)"); }

  // The keys a sync sent: those that were pending before it and are not now.
  std::string sent_keys(const cairn::SyncResult& result) const {
    if (result.pushed == 0) return "";
    std::string keys;
    for (const auto& k : pending) keys += (keys.empty() ? "" : ", ") + k;
    return keys.empty() ? "" : " (" + keys + ")";
  }
  std::vector<std::string> pending;  // the keys changed since the last sync
};

int run() {
  char tmpl[] = "/tmp/cairn-demo-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir};

  // 1. The server.
  cairn::server::ServerConfig config;
  config.listen = "127.0.0.1:0";
  config.db = "sqlite:" + dir + "/server.db";
  config.bootstrap_pools = {"demo-game"};
  config.options.admin = {"AKIDCAIRNDEMO", random_secret()};
  auto server = cairn::server::Server::start(config);
  if (!server.ok()) {
    std::cerr << "cannot start cairn-server: " << server.status().ToString() << "\n";
    return 1;
  }
  std::string pool = (*server)->pools()[0].second;
  say("cairn-server is up at " + (*server)->url() + ", identity pool " + pool);

  // 2. The player signs in: the game's backend vouches for "ayla" (a developer identity), and
  //    both devices present the same login.
  cairn::ClientConfig admin;
  admin.endpoint = (*server)->url();
  admin.region = "us-east-1";
  admin.credentials = std::make_shared<cairn::StaticCredentialsProvider>(
      config.options.admin.access_key_id, config.options.admin.secret_access_key);
  auto identity = cairn::CognitoIdentityClient::create(admin);
  auto login = (*identity)->get_open_id_token_for_developer_identity(
      {pool, std::nullopt, {{"login.cairn", "ayla"}}, {}, std::nullopt});
  if (!login.ok()) {
    std::cerr << "cannot sign the player in: " << login.status().ToString() << "\n";
    return 1;
  }
  say("player ayla is identity " + *login->identity_id);

  Device phone{"phone", nullptr, nullptr, {}}, tablet{"tablet", nullptr, nullptr, {}};
  for (Device* d : {&phone, &tablet}) {
    cairn::SyncManagerOptions o;
    o.endpoint = (*server)->url();
    o.region = "us-east-1";
    o.identity_pool_id = pool;
    o.database_path = dir + "/" + d->name + ".db";
    o.logins = {{"cognito-identity.amazonaws.com", *login->token}};
    auto m = cairn::SyncManager::open(o);
    if (!m.ok()) {
      std::cerr << "cannot open " << d->name << ": " << m.status().ToString() << "\n";
      return 1;
    }
    d->manager = std::move(*m);
    d->save = *d->manager->open_or_create_dataset("save");
  }

  // 3. A first session on the phone, picked up by the tablet.
  say("\nayla starts on her phone:");
  (void)phone.save->put("hero", R"({"level":3,"gold":120,"weapon":"bow"})");
  (void)phone.save->put("settings", R"({"music":0.8})");
  if (!phone.sync()) return 1;
  say("\nthe tablet picks the save up:");
  if (!tablet.sync()) return 1;
  say("  tablet sees hero = " + tablet.show("hero"));

  // 4. Both play offline, each changing a different field of the same record.
  say("\nboth devices go offline and keep playing:");
  phone.manager->set_network_reachable(false);
  tablet.manager->set_network_reachable(false);
  (void)phone.save->put("hero", R"({"level":3,"gold":175,"weapon":"bow"})");
  say("  on the phone, ayla finds treasure: gold 120 -> 175");
  (void)tablet.save->put("hero", R"({"level":4,"gold":120,"weapon":"longbow"})");
  (void)tablet.save->put("achievement.first-boss", "won");
  say("  on the tablet, she beats a boss: level 3 -> 4, a longbow, an achievement");
  auto offline = phone.save->synchronize().get();
  say("  the phone tries to sync with no network: it fails at once (" +
      std::string(cairn::error_code_name(offline.status.code())) +
      "), and its changes wait on the phone");

  // 5. Back online: the phone pushes first, the tablet meets the conflict and merges.
  say("\nback online, the phone syncs first:");
  phone.manager->set_network_reachable(true);
  tablet.manager->set_network_reachable(true);
  if (!phone.sync()) return 1;
  say("\nthe tablet syncs and meets the phone's change:");
  if (!tablet.sync()) return 1;
  say("\nthe phone syncs again:");
  if (!phone.sync()) return 1;

  // 6. The end: everyone agrees, and nothing was lost.
  auto a = phone.save->get_all();
  auto b = tablet.save->get_all();
  say("\nfinal save on both devices:");
  for (const auto& [k, v] : *a) say("  " + k + " = " + v);
  bool same = a.ok() && b.ok() && *a == *b;
  bool merged = phone.show("hero") == R"({"level":4,"gold":175,"weapon":"longbow"})";
  say(same && merged ? "\nconverged: both devices agree, and every change survived."
                     : "\nNOT converged: the devices disagree.");
  phone.manager.reset();
  tablet.manager.reset();
  (*server)->stop();
  say("server stopped.");
  return same && merged ? 0 : 1;
}

}  // namespace

int main() { return run(); }
