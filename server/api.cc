// Api: routing, authentication, request parsing and reply writing. The operations themselves are
// in sync_api.cc and identity_api.cc.
#include "server/api.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "server/api_internal.h"
#include "transport/crypto.h"
#include "transport/uri.h"
#include "transport/validation.h"

namespace cairn::server {

using namespace internal;

namespace {

constexpr char kIdentityTargetPrefix[] = "AWSCognitoIdentityService.";

std::string http_date(Millis now) {
  std::time_t t = static_cast<std::time_t>(now / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string request_id() {
  std::string h = transport::random_hex(16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20, 12);
}

// Local failures go out under the model's codes: bad input as InvalidParameter, anything else
// (storage, say) as InternalError.
Status to_wire(const Status& s) {
  if (s.code() == ErrorCode::kInvalidArgument || s.code() == ErrorCode::kParse) {
    return Status(ErrorCode::kInvalidParameter, s.message());
  }
  if (s.code() > ErrorCode::kUnknownServiceError)
    return Status(ErrorCode::kInternalError, s.message());
  return s;
}

std::vector<std::string> split_raw(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    out.push_back(
        path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

// The phases of the request this thread is handling (one request per thread at a time).
thread_local PhaseTotals t_phases;
// A rate limit's answer sets it: the Retry-After of this thread's request, in seconds.
thread_local int t_retry_after = 0;
// Whether this thread's request was refused by a rate limit or a block.
thread_local bool t_refused = false;

uint64_t elapsed_ns(std::chrono::steady_clock::time_point since) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - since)
          .count());
}

// Adds the time spent in each transaction to the current request's storage phase.
class TimedStorage final : public Storage {
 public:
  TimedStorage(std::unique_ptr<Storage> inner, Metrics* metrics)
      : inner_(std::move(inner)), metrics_(metrics) {}
  Status read(const std::function<Status(StorageTxn&)>& fn) override {
    return timed(false, [&] { return inner_->read(fn); });
  }
  Status write(const std::function<Status(StorageTxn&)>& fn) override {
    return timed(true, [&] { return inner_->write(fn); });
  }
  std::string describe() const override { return inner_->describe(); }
  std::string durability() const override { return inner_->durability(); }
  void watch_revocations(std::function<void()> revoked, std::function<void()> feed_lost) override {
    inner_->watch_revocations(std::move(revoked), std::move(feed_lost));
  }
  Status ping() override { return inner_->ping(); }
  Stats stats() const override { return inner_->stats(); }
  Status broadcast(const std::string& message) override { return inner_->broadcast(message); }
  void watch_broadcasts(std::function<void(const std::string&)> on_message) override {
    inner_->watch_broadcasts(std::move(on_message));
  }

 private:
  template <typename Run>
  Status timed(bool write, Run run) {
    auto started = std::chrono::steady_clock::now();
    Status s = run();
    uint64_t ns = elapsed_ns(started);
    t_phases.storage_ns += ns;
    metrics_->transaction(write, static_cast<double>(ns) / 1e9);
    return s;
  }

  std::unique_ptr<Storage> inner_;
  Metrics* metrics_;
};

}  // namespace

int& retry_after_of_this_request() { return t_retry_after; }

Status refused_by_limits(Status s) {
  if (!s.ok()) t_refused = true;
  return s;
}

Result<std::unique_ptr<Api>> Api::create(std::unique_ptr<Storage> storage, ServerOptions options) {
  auto signer = TokenSigner::load_or_create(*storage, options.signing_key);
  if (!signer.ok()) return signer.status();
  Storage* shared = storage.get();
  std::unique_ptr<Api> api(new Api(std::move(storage), std::move(*signer), std::move(options)));
  // Storage that several instances share tells this one of their revocations. The watch ends with
  // the storage, which the Api owns, so the cache outlives every callback.
  CredentialsCache* cache = &api->credentials_cache_;
  shared->watch_revocations([cache] { cache->revoked_elsewhere(); },
                            [cache] { cache->feed_lost(); });
  // A bulk publish that was running when the server stopped starts over.
  std::vector<std::string> resume;
  Status s = api->storage_->read([&](StorageTxn& txn) {
    std::string after;
    for (;;) {
      auto pools = txn.pools_after(after, 256);
      if (pools.empty()) break;
      for (const auto& p : pools) {
        if (p.bulk_status == "IN_PROGRESS") resume.push_back(p.id);
      }
      after = pools.back().id;
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  for (const auto& id : resume) api->bulk_publish_requested(id);
  Status policy = api->limits_.reload();
  if (!policy.ok()) return policy;
  return api;
}

Api::Api(std::unique_ptr<Storage> storage, TokenSigner tokens, ServerOptions options)
    : limits_(options.limits, options.clock),
      storage_(std::make_unique<TimedStorage>(std::move(storage), &metrics_)),
      tokens_(std::move(tokens)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : Clock::system()),
      pool_usage_(
          [this](const std::string& pool_id) -> Result<PoolUsage::Usage> {
            PoolUsage::Usage u;
            Status s = storage_->read([&](StorageTxn& txn) {
              u.identities = txn.count_identities(pool_id);
              u.bytes = txn.pool_usage(pool_id).data_storage;
              return Status::OK();
            });
            if (!s.ok()) return s;
            return u;
          },
          clock_),
      tarpit_(options_.limits.refusal_delay, options_.limits.max_delayed, clock_) {
  events_ = std::make_unique<EventHub>(storage_.get(), options_.events, options_.logger,
                                       options_.events.transport);
  if (options_.events.transport) {
    hook_transport_ = options_.events.transport;
  } else {
    HttpOptions hook;
    hook.connect_timeout = options_.events.sync_trigger_timeout;
    hook.read_timeout = options_.events.sync_trigger_timeout;
    hook.total_timeout = options_.events.sync_trigger_timeout;
    hook_transport_ = make_curl_transport(hook);
  }
  jobs_thread_ = std::thread([this] { bulk_publish_worker(); });
  usage_thread_ = std::thread([this] { usage_flusher(); });
}

Api::~Api() {
  {
    std::lock_guard<std::mutex> l(jobs_mu_);
    stopping_ = true;
  }
  jobs_cv_.notify_all();
  if (jobs_thread_.joinable()) jobs_thread_.join();
  {
    std::lock_guard<std::mutex> l(usage_mu_);
    usage_stopping_ = true;
  }
  usage_cv_.notify_all();
  if (usage_thread_.joinable()) usage_thread_.join();
  (void)flush_sync_sessions();
}

void Api::begin_shutdown() {
  events_->shutdown();
  tarpit_.release_all();  // held refusals answer now, like the waiting polls
}

void Api::health(ServerResponse& response) {
  stamp(response);
  Status s = storage_->ping();
  std::string scheme = storage_->describe().substr(0, storage_->describe().find(':'));
  if (s.ok()) {
    response.status = 200;
    response.set_content(R"({"status":"ready","storage":")" + scheme + "\"}", "application/json");
    return;
  }
  response.status = 503;
  transport::json::Writer w;
  w.begin_object();
  w.str("status", "unavailable");
  w.str("storage", scheme);
  w.str("reason", s.message());
  w.end_object();
  response.set_content(w.take(), "application/json");
}

Millis Api::now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_->now().time_since_epoch())
      .count();
}

int Api::sync_status(const Status& s) {
  if (s.http_status() != 0) return s.http_status();
  switch (s.code()) {
    case ErrorCode::kNotAuthorized:
      return 403;
    case ErrorCode::kResourceNotFound:
      return 404;
    case ErrorCode::kResourceConflict:
      return 409;
    case ErrorCode::kTooManyRequests:
    case ErrorCode::kLambdaThrottled:
      return 429;
    case ErrorCode::kInternalError:
      return 500;
    default:
      return 400;
  }
}

int Api::identity_status(const Status& s) {
  if (s.http_status() == 403) return 403;  // SigV4 failures keep their conventional 403
  return s.code() == ErrorCode::kInternalError ? 500 : 400;
}

std::string Api::stamp(ServerResponse& response) const {
  std::string rid = request_id();
  response.set_header("x-amzn-RequestId", rid);
  response.set_header("Date", http_date(now()));
  return rid;
}

std::map<std::string, PhaseTotals> Api::phase_totals() const {
  std::lock_guard<std::mutex> l(phases_mu_);
  return phases_;
}

void Api::handle(const ServerRequest& request, Respond respond) {
  auto started = std::chrono::steady_clock::now();
  t_phases = PhaseTotals{};
  Call call{&request, Caller{}, now(), {}, false, nullptr, {}};
  std::string operation = "Unknown";
  bool identity_protocol = request.method == "POST" && request.has_header("X-Amz-Target");
  Reply reply = std::string();
  t_retry_after = 0;
  t_refused = false;
  call.client =
      limits_.client_address(request.remote_addr, request.get_header_value("X-Forwarded-For"));
  if (Status blocked = limits_.admit_source(call.client); !blocked.ok()) {
    reply = refused_by_limits(blocked);
  } else if (identity_protocol) {
    std::string target = request.get_header_value("X-Amz-Target");
    if (target.rfind(kIdentityTargetPrefix, 0) == 0) {
      operation = target.substr(sizeof(kIdentityTargetPrefix) - 1);
      reply = route_identity(call, operation);
    } else {
      reply =
          Status::FromService("UnknownOperationException", "Unknown X-Amz-Target: " + target, 400);
    }
  } else {
    reply = route_sync(call, operation);
  }
  if (!call.park || !reply.ok()) {
    ServerResponse response =
        this->respond(request, operation, identity_protocol, std::move(reply), started, t_phases);
    if (t_retry_after > 0) response.set_header("Retry-After", std::to_string(t_retry_after));
    if (t_refused) {
      // A refused client waits for its answer: one that sends again at once slows down.
      std::function<void()> answer = [respond, response]() mutable {
        respond(std::move(response));
      };
      if (tarpit_.hold(answer)) return;
    }
    respond(std::move(response));
    return;
  }
  // What the log line needs outlives `request`.
  ServerRequest line;
  line.method = request.method;
  line.path = request.path;
  call.park([this, line = std::move(line), operation, identity_protocol, started, phases = t_phases,
             respond = std::move(respond)](Reply later) {
    respond(this->respond(line, operation, identity_protocol, std::move(later), started, phases));
  });
}

std::variant<ServerResponse, std::shared_ptr<Channel>> Api::upgrade(const ServerRequest& request) {
  auto started = std::chrono::steady_clock::now();
  t_phases = PhaseTotals{};
  Call call{&request, Caller{}, now(), {}, /*upgrade=*/true, nullptr, {}};
  std::string operation = "Unknown";
  t_retry_after = 0;
  t_refused = false;
  call.client =
      limits_.client_address(request.remote_addr, request.get_header_value("X-Forwarded-For"));
  Status blocked = limits_.admit_source(call.client);
  Reply reply = blocked.ok() ? route_sync(call, operation) : Reply(blocked);
  if (reply.ok() && !call.channel) {
    reply = Status::FromService("BadRequestException",
                                "Only the notification channel upgrades to WebSocket", 400);
  }
  ServerResponse response = respond(request, operation, false, std::move(reply), started, t_phases,
                                    call.channel != nullptr);
  if (t_retry_after > 0) response.set_header("Retry-After", std::to_string(t_retry_after));
  if (call.channel) return call.channel;
  return response;
}

ServerResponse Api::handle(const ServerRequest& request) {
  struct Outcome {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<ServerResponse> response;
  };
  auto outcome = std::make_shared<Outcome>();
  handle(request, [outcome](ServerResponse response) {
    std::lock_guard<std::mutex> l(outcome->mu);
    outcome->response = std::move(response);
    outcome->cv.notify_all();
  });
  std::unique_lock<std::mutex> l(outcome->mu);
  outcome->cv.wait(l, [&] { return outcome->response.has_value(); });
  return std::move(*outcome->response);
}

ServerResponse Api::respond(const ServerRequest& request, const std::string& operation,
                            bool identity_protocol, Reply reply,
                            std::chrono::steady_clock::time_point started,
                            const PhaseTotals& phases, bool upgraded) {
  ServerResponse response;
  std::string rid = stamp(response);
  const char* content_type = identity_protocol ? "application/x-amz-json-1.1" : "application/json";
  RequestRecord record;
  if (reply.ok()) {
    response.status = upgraded ? 101 : 200;
    response.set_content(std::move(*reply), content_type);
  } else {
    Status s = to_wire(reply.status());
    response.status = identity_protocol ? identity_status(s) : sync_status(s);
    std::string code = s.service_code();
    response.set_header("x-amzn-ErrorType", code);
    transport::json::Writer w;
    w.begin_object();
    w.str("__type", code);
    w.str("message", s.message());
    w.end_object();
    response.set_content(w.take(), content_type);
    record.error_type = code;
    record.reason = s.message();
  }
  uint64_t handler_ns = elapsed_ns(started);
  metrics_.request(operation, response.status, static_cast<double>(handler_ns) / 1e9);
  {
    std::lock_guard<std::mutex> l(phases_mu_);
    PhaseTotals& total = phases_[operation];
    total.requests += 1;
    total.handler_ns += handler_ns;
    total.auth_ns += phases.auth_ns;
    total.parse_ns += phases.parse_ns;
    total.storage_ns += phases.storage_ns;
  }
  LogLevel level = request_level(response.status);
  if (options_.logger && options_.logger->enabled(level)) {
    record.operation = operation;
    record.method = request.method;
    record.path = request.path;
    record.status = response.status;
    record.latency = std::chrono::nanoseconds(handler_ns);
    record.request_id = rid;
    options_.logger->log(level, format_request(record, options_.log_format));
  }
  return response;
}

void Api::log_refused(const ServerRequest& request, const ServerResponse& response,
                      const std::string& error_type, const std::string& reason) {
  metrics_.request("Unknown", response.status, 0);
  LogLevel level = request_level(response.status);
  if (!options_.logger || !options_.logger->enabled(level)) return;
  RequestRecord record;
  record.operation = "Unknown";
  record.method = request.method;
  record.path = request.path;
  record.status = response.status;
  record.error_type = error_type;
  record.reason = reason;
  record.request_id = response.get_header_value("x-amzn-RequestId");
  options_.logger->log(level, format_request(record, options_.log_format));
}

// --- Cognito Sync routing ------------------------------------------------------------------------

Reply Api::route_sync(Call& call, std::string& operation) {
  const ServerRequest& req = *call.http;
  size_t q = req.target.find('?');
  std::string raw_path = req.target.substr(0, q);
  std::string raw_query = q == std::string::npos ? "" : req.target.substr(q + 1);
  // Split the raw path first, then decode each segment: a DeviceId may hold an encoded '/'.
  auto raw = split_raw(raw_path);
  std::vector<std::string> seg;
  for (size_t i = 1; i < raw.size(); ++i) seg.push_back(transport::uri_decode(raw[i]));
  const std::string& m = req.method;
  if (seg.empty() || seg[0] != "identitypools") {
    return Status::FromService("UnknownOperationException", "No operation at " + raw_path, 404);
  }
  // Match the path against each operation's (docs/wire-protocol.md 1.2). An empty label still
  // matches its slot, so ".../datasets/" is DescribeDataset with an empty name, which validation
  // then refuses.
  transport::codec::ReceivedRequest received;
  const transport::codec::OperationInfo* op = nullptr;
  for (const auto* candidate : transport::sync_wire::operations()) {
    if (candidate->method == m &&
        transport::codec::match_path(candidate->path, seg, &received.labels)) {
      op = candidate;
      break;
    }
  }
  if (!op) {
    return Status::FromService("UnknownOperationException",
                               "No operation for " + m + " " + raw_path, 404);
  }
  operation = op->name;

  auto auth_started = std::chrono::steady_clock::now();
  uint64_t storage_before = t_phases.storage_ns;
  auto caller =
      authenticate(req, "cognito-sync", options_.admin, *storage_, credentials_cache_, call.now);
  t_phases.auth_ns += elapsed_ns(auth_started) - (t_phases.storage_ns - storage_before);
  if (!caller.ok()) return caller.status();
  call.caller = *caller;

  auto label = [&](const char* name) -> std::string {
    for (const auto& [k, v] : received.labels) {
      if (k == name) return v;
    }
    return "";
  };
  Status admitted = admit_sync(call, operation, label("IdentityPoolId"), label("IdentityId"));
  if (!admitted.ok()) return refused_by_limits(admitted);

  received.raw_query = raw_query;
  received.header = [&req](const char* name) -> const std::string* {
    auto it = req.headers.find(name);
    return it == req.headers.end() ? nullptr : &it->second;
  };
  received.body = &req.body;
#define CAIRN_SERVE_SYNC(Op) \
  if (operation == #Op) return serve_decoded<wire::Op##Request>(call, received);
  CAIRN_SYNC_OPERATIONS(CAIRN_SERVE_SYNC)
  CAIRN_SERVE_SYNC(PollNotifications)
#undef CAIRN_SERVE_SYNC
  return Status(ErrorCode::kInternalError, "no handler for " + operation);
}

template <typename Request>
Reply Api::serve_decoded(Call& call, const transport::codec::ReceivedRequest& received) {
  using transport::identity_wire::decode;
  using transport::identity_wire::encode;
  using transport::sync_wire::decode;
  using transport::sync_wire::encode;
  Request request;
  auto parse_started = std::chrono::steady_clock::now();
  Status s = decode(received, &request);
  t_phases.parse_ns += elapsed_ns(parse_started);
  if (!s.ok()) return s;
  s = transport::validate(request);
  if (!s.ok()) return s;
  auto response = serve(call, request);
  if constexpr (std::is_same_v<decltype(response), Reply>) {
    return response;  // the notification poll answers, or parks, by itself
  } else {
    if (!response.ok()) return response.status();
    return encode(*response);
  }
}

// --- Cognito Identity routing --------------------------------------------------------------------

Status Api::admit_sync(const Call& call, const std::string& operation, const std::string& pool,
                       const std::string& identity) {
  // A caller with an identity's credentials acts as that identity, wherever it points.
  if (call.caller.identity()) {
    Status s = limits_.admit_identity(call.caller.identity_id);
    if (!s.ok()) return s;
  }
  static const char* const kWrites[] = {"UpdateRecords", "DeleteDataset", "RegisterDevice",
                                        "SubscribeToDataset", "UnsubscribeFromDataset"};
  static const char* const kIdentityReads[] = {"ListRecords", "ListDatasets", "DescribeDataset",
                                               "DescribeIdentityUsage", "PollNotifications"};
  bool write = false, per_identity = false;
  for (const char* op : kWrites) write |= operation == op;
  per_identity = write;
  for (const char* op : kIdentityReads) per_identity |= operation == op;
  // Developer credentials are the game's own backend, which acts for many identities: only the
  // pool's limit and the blocks apply to it.
  if (call.caller.developer()) {
    Status s = limits_.admit_identity(identity);
    return s.ok() ? limits_.admit_pool(pool, &t_retry_after) : s;
  }
  if (per_identity && !identity.empty()) {
    return limits_.admit_identity_call(pool, identity, write, &t_retry_after);
  }
  return limits_.admit_pool(pool, &t_retry_after);
}

Reply Api::route_identity(Call& call, const std::string& operation) {
  const ServerRequest& req = *call.http;
  const transport::codec::OperationInfo* op = nullptr;
  for (const auto* candidate : transport::identity_wire::operations()) {
    if (operation == candidate->name) op = candidate;
  }
  if (op && !op->sign) {
    // The model marks these unsigned: anyone may call them, so they are limited by where they
    // come from.
    Status s = limits_.admit_unauthenticated(call.client, &t_retry_after);
    if (!s.ok()) return refused_by_limits(s);
  } else {
    auto auth_started = std::chrono::steady_clock::now();
    uint64_t storage_before = t_phases.storage_ns;
    auto caller = authenticate(req, "cognito-identity", options_.admin, *storage_,
                               credentials_cache_, call.now);
    t_phases.auth_ns += elapsed_ns(auth_started) - (t_phases.storage_ns - storage_before);
    if (!caller.ok()) return caller.status();
    if (!caller->developer()) {
      return Status(ErrorCode::kNotAuthorized, operation + " needs developer credentials");
    }
    call.caller = *caller;
  }
  transport::codec::ReceivedRequest received;
  received.body = &req.body;
#define CAIRN_SERVE_IDENTITY(Op) \
  if (operation == #Op) return serve_decoded<identity::Op##Request>(call, received);
  CAIRN_IDENTITY_OPERATIONS(CAIRN_SERVE_IDENTITY)
#undef CAIRN_SERVE_IDENTITY
  return Status::FromService("UnknownOperationException",
                             "cairn-server does not implement " + operation, 400);
}

}  // namespace cairn::server
