#include "server/server.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

namespace cairn::server {

Result<std::unique_ptr<Server>> Server::start(ServerConfig config) {
  size_t colon = config.listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status(ErrorCode::kInvalidArgument,
                  "--listen takes HOST:PORT, got '" + config.listen + "'");
  }
  std::string host = config.listen.substr(0, colon);
  int port = 0;
  try {
    size_t used = 0;
    port = std::stoi(config.listen.substr(colon + 1), &used);
    if (used != config.listen.size() - colon - 1 || port < 0 || port > 65535)
      throw std::out_of_range("");
  } catch (...) {
    return Status(ErrorCode::kInvalidArgument, "--listen has a bad port: '" + config.listen + "'");
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
  auto storage = open_storage(config.db, storage_options);
  if (!storage.ok()) return storage.status();
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
  front.read_timeout = std::chrono::seconds(config.read_timeout_seconds);
  front.max_connections = config.max_connections;
  front.tls_cert_file = config.tls_cert_file;
  front.tls_key_file = config.tls_key_file;

  size_t allowed = raise_open_file_limit(config.max_connections);
  if (allowed < config.max_connections && config.options.logger) {
    config.options.logger->log(
        LogLevel::kWarn,
        "the open-file limit allows about " + std::to_string(allowed) +
            " connections, fewer than --max-connections " + std::to_string(config.max_connections) +
            ": raise it (ulimit -n, or LimitNOFILE= in a systemd unit) to hold that many");
  }

  Api* a = server->api_.get();
  auto handler = [a](ServerRequest request, HttpFront::Respond respond) {
    if (request.method == "GET" && request.path == "/health") {
      ServerResponse response;
      a->health(response);
      return respond(std::move(response));
    }
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
  auto started = HttpFront::start(std::move(front), std::move(handler), std::move(refusal),
                                  std::move(upgrade));
  if (!started.ok()) return started.status();
  server->front_ = std::move(*started);
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
