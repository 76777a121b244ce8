// Api: cairn-server's protocol layer. It turns an HTTP request into an operation (routing the
// restJson Cognito Sync paths and the awsJson Cognito Identity targets), authenticates and
// authorises the caller, validates the input against the model, runs the operation on Storage,
// and writes the reply with the wire's conventions (x-amzn-ErrorType plus {"__type","message"},
// epoch-second numbers, x-amzn-RequestId, Date).
//
// Thread safety: handle() runs concurrently on the HTTP server's worker threads. It answers before
// it returns, except a notification poll that has nothing to say yet: that one parks a watcher
// (no thread) and answers when a notification comes, at its deadline, or at shutdown.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "cairn/clock.h"
#include "cairn/cognito/identity_types.h"
#include "cairn/cognito/sync_types.h"
#include "cairn/logging.h"
#include "server/auth.h"
#include "server/events.h"
#include "server/limits.h"
#include "server/metrics.h"
#include "server/request_log.h"
#include "server/server_message.h"
#include "server/storage/storage.h"
#include "server/tokens.h"
#include "transport/identity_protocol.h"
#include "transport/sync_protocol.h"

namespace cairn::server {

struct ServerOptions {
  std::string region = "us-east-1";
  AdminCredentials admin;
  // How long a SyncSessionToken from ListRecords stays good for UpdateRecords.
  int64_t sync_session_ttl_seconds = 3600;
  // Lifetime of temporary credentials from GetCredentialsForIdentity.
  int64_t credentials_ttl_seconds = 3600;
  // Request bodies above this are refused before parsing. A full 1 MiB dataset of JSON-escaped
  // values can take twice its size on the wire, so 4 MiB leaves room for every legal request.
  size_t max_body_bytes = 4 * 1024 * 1024;
  // Cognito Sync's published quotas.
  int64_t max_datasets_per_identity = 20;
  int64_t max_records_per_dataset = 1024;
  int64_t max_dataset_bytes = 1024 * 1024;
  int64_t max_identity_pools = 1000;
  // Pace of a bulk publish, in records per second (0: as fast as storage reads), so a large pool
  // does not flood the stream it feeds.
  int64_t bulk_publish_records_per_second = 0;
  // The key that signs SyncSessionTokens, NextTokens and OpenID tokens. Empty: the one kept in
  // storage (made on first start), which every instance on that storage shares. Instances that
  // must agree without reading it from the database (or rotate it) set it from a file or the
  // environment; at least 32 characters.
  std::string signing_key;
  // Connections one identity may hold listening at once (long polls and WebSockets): a player's
  // devices, with room for reconnections that overlap the old connection's end.
  int max_listeners_per_identity = 8;
  // Push notifications, streams and sync-trigger hooks (docs/events.md).
  EventsOptions events;
  // Rate limits, blocks and quotas (server/limits.h).
  LimitsOptions limits;
  // Unauthenticated identities with no login and no data, not active (credentials or a token)
  // for this many days, are deleted, hourly; 0: never.
  int64_t expire_unauthenticated_days = 0;
  std::shared_ptr<Clock> clock;
  LoggerPtr logger;
  LogFormat log_format = LogFormat::kText;  // of the request lines (server/request_log.h)
};

// Where the server's time goes, summed per operation since start: for benchmarks and for operators
// asking which phase a slow operation spends its time in.
struct PhaseTotals {
  uint64_t requests = 0;
  uint64_t handler_ns = 0;  // the whole handler: routing, auth, parse, storage, reply
  uint64_t auth_ns = 0;     // SigV4 verification and payload hash (its key lookup is storage)
  uint64_t parse_ns = 0;    // the JSON request body
  uint64_t storage_ns = 0;  // inside storage transactions, commit included
};

// One operation's outcome before it is written out: a JSON body, or an error.
using Reply = Result<std::string>;

// The Retry-After, in seconds, that this thread's request answers with (0: none): a rate
// limit's refusal sets it.
int& retry_after_of_this_request();
// Marks this thread's request as refused by a rate limit or a block (its answer then waits in
// the tarpit, LimitsOptions::refusal_delay), and returns `s`.
Status refused_by_limits(Status s);

class Api {
 public:
  static Result<std::unique_ptr<Api>> create(std::unique_ptr<Storage> storage,
                                             ServerOptions options);
  ~Api();

  using Respond = std::function<void(ServerResponse)>;
  // Answers `request` through `respond`, once, on this thread or (a parked poll, or a refusal the
  // tarpit holds back) on the thread
  // that wakes it. `request` need not outlive the call.
  void handle(const ServerRequest& request, Respond respond);
  // A WebSocket upgrade of the notification channel's path, authenticated and authorised as its
  // poll is: the channel that carries the device's notifications, or the error answer.
  std::variant<ServerResponse, std::shared_ptr<Channel>> upgrade(const ServerRequest& request);
  // handle(), waiting on this thread for the answer.
  ServerResponse handle(const ServerRequest& request);

  // Makes sure a pool named `name` exists (unauthenticated identities allowed, developer provider
  // login.cairn) and returns its id; the first pool of that name is reused across restarts.
  Result<std::string> bootstrap_pool(const std::string& name);

  // Before the HTTP server drains its requests: wakes the long polls of the notification channel
  // so that they answer at once.
  void begin_shutdown();
  EventHub& events() { return *events_; }

  // GET /health for load balancers: 200 {"status":"ready"} when storage answers, 503 otherwise.
  void health(ServerResponse& response);

  // Adds x-amzn-RequestId and Date, as every response carries them.
  std::string stamp(ServerResponse& response) const;
  // Logs the request line of a request refused before it reached handle() (a body over the
  // limit, a malformed request).
  // Counted in the metrics as well.
  void log_refused(const ServerRequest& request, const ServerResponse& response,
                   const std::string& error_type, const std::string& reason);
  Metrics& metrics() { return metrics_; }

  Storage& storage() { return *storage_; }
  // Rate limits, blocks and quotas; reload() on SIGHUP.
  Limits& limits() { return limits_; }
  // Refusals whose answers are held back now.
  size_t refusals_held() const { return tarpit_.held(); }
  // Deletes the identities expiry may delete (ServerOptions::expire_unauthenticated_days) that
  // were last active before `before`; how many. The server runs it hourly.
  Result<int64_t> expire_idle_identities(Millis before);
  // Operation name -> totals since start.
  std::map<std::string, PhaseTotals> phase_totals() const;
  const ServerOptions& options() const { return options_; }
  Millis now() const;

  // Wire names and statuses for errors, per protocol (restJson statuses come from the model).
  static int sync_status(const Status& s);
  static int identity_status(const Status& s);

 private:
  Api(std::unique_ptr<Storage> storage, TokenSigner tokens, ServerOptions options);

  struct Call {
    const ServerRequest* http;
    Caller caller;
    Millis now;
    // Set by an operation that answers later: called with the function that takes its reply.
    std::function<void(std::function<void(Reply)>)> park;
    // A WebSocket upgrade: the operation (the notification channel) answers with a channel.
    bool upgrade = false;
    std::shared_ptr<Channel> channel;
    std::string client;  // the client's address (Limits::client_address)
  };
  // The response for an operation's reply, logged and added to the phase totals.
  ServerResponse respond(const ServerRequest& request, const std::string& operation,
                         bool identity_protocol, Reply reply,
                         std::chrono::steady_clock::time_point started, const PhaseTotals& phases,
                         bool upgraded = false);

  Reply route_sync(Call& call, std::string& operation);
  // The rate limits and blocks of a Cognito Sync call on `pool` and `identity` (either may be
  // empty), once its caller is known.
  Status admit_sync(const Call& call, const std::string& operation, const std::string& pool,
                    const std::string& identity);
  Reply route_identity(Call& call, const std::string& operation);

  // Cognito Sync (sync_api.cc), one handler per operation. Each gets its request decoded and
  // validated from the operation's declaration, and its answer is encoded from it likewise.
  template <typename Request>
  Reply serve_decoded(Call& call, const transport::codec::ReceivedRequest& received);
  Result<wire::BulkPublishResponse> serve(Call& c, const wire::BulkPublishRequest& r);
  Result<wire::DeleteDatasetResponse> serve(Call& c, const wire::DeleteDatasetRequest& r);
  Result<wire::DescribeDatasetResponse> serve(Call& c, const wire::DescribeDatasetRequest& r);
  Result<wire::DescribeIdentityPoolUsageResponse> serve(
      Call& c, const wire::DescribeIdentityPoolUsageRequest& r);
  Result<wire::DescribeIdentityUsageResponse> serve(Call& c,
                                                    const wire::DescribeIdentityUsageRequest& r);
  Result<wire::GetBulkPublishDetailsResponse> serve(Call& c,
                                                    const wire::GetBulkPublishDetailsRequest& r);
  Result<wire::GetCognitoEventsResponse> serve(Call& c, const wire::GetCognitoEventsRequest& r);
  Result<wire::GetIdentityPoolConfigurationResponse> serve(
      Call& c, const wire::GetIdentityPoolConfigurationRequest& r);
  Result<wire::ListDatasetsResponse> serve(Call& c, const wire::ListDatasetsRequest& r);
  Result<wire::ListIdentityPoolUsageResponse> serve(Call& c,
                                                    const wire::ListIdentityPoolUsageRequest& r);
  Result<wire::ListRecordsResponse> serve(Call& c, const wire::ListRecordsRequest& r);
  Result<wire::RegisterDeviceResponse> serve(Call& c, const wire::RegisterDeviceRequest& r);
  Result<wire::SetCognitoEventsResponse> serve(Call& c, const wire::SetCognitoEventsRequest& r);
  Result<wire::SetIdentityPoolConfigurationResponse> serve(
      Call& c, const wire::SetIdentityPoolConfigurationRequest& r);
  Result<wire::SubscribeToDatasetResponse> serve(Call& c, const wire::SubscribeToDatasetRequest& r);
  Result<wire::UnsubscribeFromDatasetResponse> serve(Call& c,
                                                     const wire::UnsubscribeFromDatasetRequest& r);
  Result<wire::UpdateRecordsResponse> serve(Call& c, const wire::UpdateRecordsRequest& r);
  // cairn's notification channel (docs/events.md, events_api.cc): a long poll for a device's
  // notifications, answered later through Call::park, or upgraded to a WebSocket.
  Reply serve(Call& c, const wire::PollNotificationsRequest& r);
  // The sync trigger of a pool that has an http(s) hook as its SyncTrigger (docs/events.md):
  // hands the dataset and the patches to the hook and turns its answer into the patches to
  // write. `observed_count` is the dataset's count the hook saw, which the write then requires.
  Result<std::vector<wire::RecordPatch>> run_sync_trigger(const std::string& hook,
                                                          const wire::UpdateRecordsRequest& r,
                                                          int64_t* observed_count);
  // A listening connection's place under its identity's cap (max_listeners_per_identity),
  // given back when the last copy goes; null when the identity is at its cap.
  std::shared_ptr<void> take_listener_slot(const std::string& identity);
  // The pool's SyncTrigger URL when it is an http(s) hook; read through a one-second cache, since
  // every UpdateRecords asks.
  std::optional<std::string> sync_trigger_hook(const std::string& pool_id);

  // Cognito Identity (identity_api.cc), one handler per operation, as for Cognito Sync.
  Result<identity::CreateIdentityPoolResponse> serve(Call& c,
                                                     const identity::CreateIdentityPoolRequest& r);
  Result<identity::DescribeIdentityPoolResponse> serve(
      Call& c, const identity::DescribeIdentityPoolRequest& r);
  Result<identity::ListIdentityPoolsResponse> serve(Call& c,
                                                    const identity::ListIdentityPoolsRequest& r);
  Result<identity::DeleteIdentityPoolResponse> serve(Call& c,
                                                     const identity::DeleteIdentityPoolRequest& r);
  Result<identity::GetIdResponse> serve(Call& c, const identity::GetIdRequest& r);
  Result<identity::GetCredentialsForIdentityResponse> serve(
      Call& c, const identity::GetCredentialsForIdentityRequest& r);
  Result<identity::GetOpenIdTokenResponse> serve(Call& c, const identity::GetOpenIdTokenRequest& r);
  Result<identity::GetOpenIdTokenForDeveloperIdentityResponse> serve(
      Call& c, const identity::GetOpenIdTokenForDeveloperIdentityRequest& r);
  Result<identity::LookupDeveloperIdentityResponse> serve(
      Call& c, const identity::LookupDeveloperIdentityRequest& r);
  Result<identity::MergeDeveloperIdentitiesResponse> serve(
      Call& c, const identity::MergeDeveloperIdentitiesRequest& r);
  Result<identity::UnlinkDeveloperIdentityResponse> serve(
      Call& c, const identity::UnlinkDeveloperIdentityRequest& r);
  Result<identity::DescribeIdentityResponse> serve(Call& c,
                                                   const identity::DescribeIdentityRequest& r);
  Result<identity::ListIdentitiesResponse> serve(Call& c, const identity::ListIdentitiesRequest& r);
  Result<identity::DeleteIdentitiesResponse> serve(Call& c,
                                                   const identity::DeleteIdentitiesRequest& r);

  // Shared identity rules.
  // The pool's settings in `out` (nullptr: only that it exists); for_update when the transaction
  // writes them back.
  Status require_pool(StorageTxn& txn, const std::string& pool_id, PoolRow* out,
                      bool for_update = false);
  // Resolves the identity a set of logins proves, or NotAuthorized.
  Result<std::optional<std::string>> identity_from_logins(StorageTxn& txn, const PoolRow& pool,
                                                          const identity::Logins& logins,
                                                          Millis now);
  // Moves source's logins and datasets (as NAME.SOURCE_ID) to dest, then deletes source.
  void merge_identity(StorageTxn& txn, const std::string& source_id, const std::string& dest_id,
                      Millis now);
  std::string new_identity_id();
  // Whether the pool holds its quota of identities already (counted through pool_usage_), and
  // the refusal to answer when a call would make one more.
  Status identity_quota(const std::string& pool_id, bool* full);
  Status identity_quota_refusal(const std::string& pool_id);

  // Sync sessions are counted in memory and written once a second, on a usage read and on
  // shutdown, so opening a session (ListRecords) is a read, not a second write per sync.
  void count_sync_session(const std::string& pool_id);
  Status flush_sync_sessions();
  void usage_flusher();

  // Bulk publish jobs run on one background thread (bulk_publish.cc).
  void bulk_publish_requested(const std::string& pool_id);
  void bulk_publish_worker();
  Status run_bulk_publish(const std::string& pool_id, int64_t* published);

  Metrics metrics_;  // before storage_, which reports its transactions to it
  Limits limits_;
  // Declared before storage_, so it outlives the storage's revocation feed, which calls it.
  CredentialsCache credentials_cache_;  // revoked after every write that deletes identities
  std::unique_ptr<Storage> storage_;    // timed: every transaction adds to the request's storage_ns
  TokenSigner tokens_;
  std::unique_ptr<EventHub> events_;  // after storage_: it reads storage until it is destroyed
  std::shared_ptr<HttpTransport> hook_transport_;  // sync triggers: their own timeout
  std::mutex hooks_mu_;
  struct CachedHook {
    std::optional<std::string> url;
    std::chrono::steady_clock::time_point read;
  };
  std::map<std::string, CachedHook> hooks_;  // pool id -> its SyncTrigger hook
  ServerOptions options_;
  std::shared_ptr<Clock> clock_;
  std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::deque<std::string> jobs_;
  bool stopping_ = false;
  std::thread jobs_thread_;
  std::mutex usage_mu_;
  std::condition_variable usage_cv_;
  std::map<std::string, int64_t> pending_sessions_;  // pool id -> sessions not yet written
  bool usage_stopping_ = false;
  std::thread usage_thread_;
  std::mutex listeners_mu_;
  std::map<std::string, int> listeners_;  // identity -> connections listening now
  mutable std::mutex phases_mu_;
  std::map<std::string, PhaseTotals> phases_;
  PoolUsage pool_usage_;   // for the quotas; counts through storage_
  Millis expired_at_ = 0;  // the last expiry run
  // Last: destroyed first, answering what it holds while everything else is still there.
  Tarpit tarpit_;
};

}  // namespace cairn::server
