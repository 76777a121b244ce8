#include "server/server.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "server/listen_backlog.h"

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

  std::unique_ptr<httplib::Server> http;
  if (tls) {
    auto https = std::make_unique<httplib::SSLServer>(config.tls_cert_file.c_str(),
                                                      config.tls_key_file.c_str());
    if (!https->is_valid()) {
      return Status(ErrorCode::kInvalidArgument,
                    "cannot load the TLS certificate '" + config.tls_cert_file + "' with key '" +
                        config.tls_key_file + "' (PEM files that belong together?)");
    }
    http = std::move(https);
  } else {
    http = std::make_unique<httplib::Server>();
  }
  http->set_tcp_nodelay(true);
  http->set_keep_alive_max_count(100000);
  // An idle keep-alive connection holds a worker until this timeout, even after stop(): keep it
  // short so a stop takes at most this long, yet long enough for a sync's ListRecords and
  // UpdateRecords to share one connection.
  http->set_keep_alive_timeout(2);
  http->set_payload_max_length(config.options.max_body_bytes);
  http->set_read_timeout(config.read_timeout_seconds, 0);
  http->set_write_timeout(config.read_timeout_seconds, 0);
  int workers = config.worker_threads;
  http->new_task_queue = [workers] {
    return new httplib::ThreadPool(static_cast<size_t>(workers));
  };
  Api* a = server->api_.get();
  auto handler = [a](const httplib::Request& req, httplib::Response& res) { a->handle(req, res); };
  // Health first: cpp-httplib takes the first pattern that matches.
  http->Get("/health", [a](const httplib::Request&, httplib::Response& res) { a->health(res); });
  http->Get(".*", handler);
  http->Post(".*", handler);
  http->Delete(".*", handler);
  http->Put(".*", handler);
  http->Patch(".*", handler);
  // Errors httplib raises itself (an oversized body, a malformed request line) get the same
  // shape as the API's own.
  size_t cap = config.options.max_body_bytes;
  http->set_error_handler([cap, a](const httplib::Request& req, httplib::Response& res) {
    if (!res.has_header("x-amzn-RequestId")) a->stamp(res);
    if (!res.body.empty()) return;  // the API's own error, logged by Api::handle
    std::string code = res.status == 413 ? "RequestEntityTooLargeException" : "BadRequestException";
    std::string message =
        res.status == 413 ? "Request body exceeds the limit of " + std::to_string(cap) + " bytes"
                          : "Malformed HTTP request";
    res.set_header("x-amzn-ErrorType", code);
    res.set_content(R"({"__type":")" + code + R"(","message":")" + message + "\"}",
                    "application/json");
    a->log_refused(req, res, code, message);
  });

  auto listen_socket = record_listen_socket(*http, config.reuse_port);
  errno = 0;
  int bound =
      port == 0 ? http->bind_to_any_port(host) : (http->bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    int err = errno;
    std::string why = err == EADDRINUSE
                          ? "the port is in use by another process (--reuse-port shares it on "
                            "purpose, between instances of one database)"
                      : err != 0 ? std::string(std::strerror(err))
                                 : "the address cannot be bound";
    return Status(ErrorCode::kInvalidArgument, "cannot listen on " + config.listen + ": " + why);
  }
  raise_listen_backlog(listen_socket);
  server->host_ = host;
  server->port_ = bound;
  server->tls_ = tls;
  server->http_ = std::move(http);
  httplib::Server* raw = server->http_.get();
  server->thread_ = std::thread([raw] { raw->listen_after_bind(); });
  while (!raw->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return server;
}

void Server::stop() {
  std::unique_lock<std::mutex> l(mu_);
  if (stopped_) return;
  if (api_) api_->begin_shutdown();  // long polls answer now, not at their deadline
  // httplib's stop() closes the listening socket; the listen thread then drains its worker pool,
  // so every request already accepted gets its answer before the join returns.
  if (http_) http_->stop();
  if (thread_.joinable()) thread_.join();
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
