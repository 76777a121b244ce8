#include "server/server.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>
#include <thread>
#include <variant>

namespace cairn::server {

namespace {

// HOST:PORT of a --listen style flag.
Status parse_listen(const std::string& flag, const std::string& value, std::string* host,
                    int* port) {
  size_t colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status(ErrorCode::kInvalidArgument, flag + " takes HOST:PORT, got '" + value + "'");
  }
  *host = value.substr(0, colon);
  try {
    size_t used = 0;
    *port = std::stoi(value.substr(colon + 1), &used);
    if (used != value.size() - colon - 1 || *port < 0 || *port > 65535) throw std::out_of_range("");
  } catch (...) {
    return Status(ErrorCode::kInvalidArgument, flag + " has a bad port: '" + value + "'");
  }
  return Status::OK();
}

ServerResponse text_response(int status, std::string body, const std::string& type) {
  ServerResponse response;
  response.status = status;
  response.set_content(std::move(body), type);
  return response;
}

}  // namespace

std::string Server::metrics_text() {
  MetricsSnapshot now;
  FrontCounts c = front_->counts();
  now.long_poll = c.parked;
  now.websocket = c.websockets;
  now.http = c.open - c.parked - c.websockets;
  now.refused = c.refused;
  auto n = api_->events().notifications().counts();
  now.posted = n.posted;
  now.delivered = n.delivered;
  now.dropped = n.dropped;
  now.webhook_delivered = api_->events().outbox().delivered();
  now.webhook_failed = api_->events().outbox().failed();
  OutboxCounts o = api_->events().outbox_counts();
  now.outbox_staged = o.staged;
  now.outbox_completed = o.completed;
  now.outbox_retried = o.retried;
  now.outbox_taken_over = o.taken_over;
  now.outbox_expired = o.expired;
  now.outbox_evicted = o.evicted;
  now.outbox_waiting = o.waiting;
  now.limited = api_->limits().counts();
  Storage::Stats st = api_->storage().stats();
  now.storage_retries = st.retries;
  now.pool_max = st.pool_size;
  now.pool_open = st.pool_open;
  now.pool_in_use = st.pool_in_use;
  return api_->metrics().render(now);
}

Result<std::unique_ptr<Server>> Server::start(ServerConfig config) {
  std::string host;
  int port = 0;
  Status parsed = parse_listen("--listen", config.listen, &host, &port);
  if (!parsed.ok()) return parsed;
  std::string admin_host;
  int admin_port = 0;
  if (!config.admin_listen.empty()) {
    parsed = parse_listen("--admin-listen", config.admin_listen, &admin_host, &admin_port);
    if (!parsed.ok()) return parsed;
  }

  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "HTTPS needs both --tls-cert and --tls-key, or neither");
  }
  bool tls = !config.tls_cert_file.empty();
  if (tls) {
    for (const auto& file : {config.tls_cert_file, config.tls_key_file}) {
      if (!std::filesystem::is_regular_file(file))
        return Status(ErrorCode::kInvalidArgument, "cannot read TLS file '" + file + "'");
    }
  }

  StorageOptions storage_options;
  storage_options.pool_size = config.db_pool_size;
  storage_options.durability = config.durability;
  auto storage = open_storage(config.db, storage_options);
  if (!storage.ok()) return storage.status();
  if (config.options.logger) {
    config.options.logger->log(
        LogLevel::kInfo, "storage " + (*storage)->describe() + ", " + (*storage)->durability());
  }
  auto api = Api::create(std::move(*storage), config.options);
  if (!api.ok()) return api.status();

  std::unique_ptr<Server> server(new Server());
  server->api_ = std::move(*api);
  for (const auto& name : config.bootstrap_pools) {
    auto id = server->api_->bootstrap_pool(name);
    if (!id.ok()) return id.status();
    server->pools_.emplace_back(name, *id);
  }

  FrontOptions front;
  front.host = host;
  front.port = port;
  front.reuse_port = config.reuse_port;
  front.max_body_bytes = config.options.max_body_bytes;
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  bool postgres = config.db.rfind("postgres", 0) == 0;
  front.workers = config.worker_threads > 0 ? config.worker_threads
                  : postgres                ? std::max(4, config.db_pool_size)
                                            : static_cast<int>(std::max(8u, 4 * cores));
  front.io_threads =
      config.io_threads > 0 ? config.io_threads : static_cast<int>(std::max(1u, cores / 2));
  front.keep_alive_idle = std::chrono::seconds(config.keep_alive_seconds);
  front.compression.level = config.gzip_level;
  front.read_timeout = std::chrono::seconds(config.read_timeout_seconds);
  front.max_connections = config.max_connections;
  front.ws_stall = std::chrono::seconds(config.websocket_stall_seconds);
  front.ws_idle = std::chrono::seconds(config.websocket_idle_seconds);
  front.tls_cert_file = config.tls_cert_file;
  front.tls_key_file = config.tls_key_file;

  if (config.options.admin.access_key_id.empty() && config.options.logger) {
    config.options.logger->log(
        LogLevel::kWarn,
        "no developer credentials (--admin-access-key-id and --admin-secret-access-key): every "
        "developer operation will be refused (CreateIdentityPool, "
        "GetOpenIdTokenForDeveloperIdentity, ListIdentities, ...); devices can still sign in as "
        "guests and sync");
  }
  size_t allowed = raise_open_file_limit(config.max_connections);
  if (allowed < config.max_connections && config.options.logger) {
    config.options.logger->log(
        LogLevel::kWarn,
        "the open-file limit allows about " + std::to_string(allowed) +
            " connections, fewer than --max-connections " + std::to_string(config.max_connections) +
            ": raise it (ulimit -n, or LimitNOFILE= in a systemd unit) to hold that many");
  }

  Api* a = server->api_.get();
  Server* self = server.get();
  // GET /health and GET /metrics; /metrics only on the admin address when there is one.
  auto admin_route = [a, self](const ServerRequest& request,
                               bool metrics) -> std::optional<ServerResponse> {
    if (request.method != "GET") return std::nullopt;
    if (request.path == "/health") {
      ServerResponse response;
      a->health(response);
      return response;
    }
    if (metrics && request.path == "/metrics") {
      return text_response(200, self->metrics_text(), "text/plain; version=0.0.4");
    }
    return std::nullopt;
  };
  bool metrics_here = config.admin_listen.empty();
  auto handler = [a, admin_route, metrics_here](ServerRequest request, HttpFront::Respond respond) {
    if (auto answer = admin_route(request, metrics_here)) return respond(std::move(*answer));
    a->handle(request, std::move(respond));
  };
  // Requests refused before they reach the API get the same shape as the API's own errors.
  size_t cap = config.options.max_body_bytes;
  size_t max_connections = config.max_connections;
  auto refusal = [a, cap, max_connections](const ServerRequest& request, int status) {
    ServerResponse response;
    response.status = status;
    a->stamp(response);
    std::string code = status == 413   ? "RequestEntityTooLargeException"
                       : status == 503 ? "ServiceUnavailableException"
                                       : "BadRequestException";
    std::string message =
        status == 413   ? "Request body exceeds the limit of " + std::to_string(cap) + " bytes"
        : status == 503 ? "The server holds its most connections (" +
                              std::to_string(max_connections) + "); retry shortly"
                        : "Malformed HTTP request";
    response.set_header("x-amzn-ErrorType", code);
    response.set_content(R"({"__type":")" + code + R"(","message":")" + message + "\"}",
                         "application/json");
    a->log_refused(request, response, code, message);
    return response;
  };
  auto upgrade = [a](const ServerRequest& request) { return a->upgrade(request); };
  auto started =
      HttpFront::start(std::move(front), std::move(handler), refusal, std::move(upgrade));
  if (!started.ok()) return started.status();
  server->front_ = std::move(*started);
  if (!config.admin_listen.empty()) {
    FrontOptions admin;
    admin.host = admin_host;
    admin.port = admin_port;
    admin.workers = 1;
    admin.io_threads = 1;
    admin.max_connections = 64;
    admin.read_timeout = std::chrono::seconds(config.read_timeout_seconds);
    auto admin_handler = [admin_route](ServerRequest request, HttpFront::Respond respond) {
      if (auto answer = admin_route(request, true)) return respond(std::move(*answer));
      respond(text_response(404, R"({"message":"The admin address serves /health and /metrics"})",
                            "application/json"));
    };
    auto no_upgrade =
        [](const ServerRequest&) -> std::variant<ServerResponse, std::shared_ptr<Channel>> {
      return text_response(400, R"({"message":"No WebSocket here"})", "application/json");
    };
    auto admin_front = HttpFront::start(std::move(admin), std::move(admin_handler), refusal,
                                        std::move(no_upgrade));
    if (!admin_front.ok()) return admin_front.status();
    server->admin_ = std::move(*admin_front);
  }
  server->host_ = host;
  server->port_ = server->front_->port();
  server->tls_ = server->front_->tls();
  return server;
}

void Server::stop() {
  std::unique_lock<std::mutex> l(mu_);
  if (stopped_) return;
  if (api_) api_->begin_shutdown();  // waiting polls answer now, not at their deadline
  if (front_) front_->stop();
  if (admin_) admin_->stop();
  stopped_ = true;
  stopped_cv_.notify_all();
}

void Server::wait() {
  std::unique_lock<std::mutex> l(mu_, std::defer_lock);
  l.lock();
  stopped_cv_.wait(l, [&] { return stopped_; });
}

Server::~Server() { stop(); }

}  // namespace cairn::server
