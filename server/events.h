// Server-side events (docs/events.md): what a successful sync sets off once it has committed.
//
//  - Push notifications to the devices subscribed to the dataset, except the device that made the
//    change. They go to cairn's notification channel, a long poll a device holds open
//    (Notifications), and to the pool's webhook, if the operator configured one, for a team's own
//    APNS or FCM sender (Outbox).
//  - Stream records, in the Cognito Streams format, to the configured sink: NDJSON files under the
//    data directory, rotated by size, or an HTTP POST (StreamSink).
//
// None of it runs on the request's path. UpdateRecords writes a row to the outbox table in its own
// transaction when the change has HTTP deliveries or a stream record to make (EventHub::stage),
// hands the change to the EventHub's queue and answers; the hub's thread reads the subscribers,
// then posts. Each delivery carries a stable id; the row is deleted once every delivery has been
// made, so a crash or a receiver that is down only delays them (at least once, docs/events.md).
// Notifications to the channel live in memory: a crash loses them, and the devices' next sync
// brings the change anyway.
//
// Thread safety: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cairn/http.h"
#include "cairn/logging.h"
#include "server/server_message.h"
#include "server/storage/storage.h"

namespace cairn::server {

// What the operator configures on the server (cairn-server flags).
struct EventsOptions {
  // Pool id (or "*", for every pool) -> URL that gets an HTTP POST per notification.
  std::map<std::string, std::string> push_webhooks;
  // Where stream records go: empty for NDJSON files under data_dir/streams, or an http(s) URL.
  std::string stream_sink;
  std::string data_dir = "./cairn-data";
  // An NDJSON stream file past this size is renamed with its time, and a new one started.
  int64_t stream_rotate_bytes = 64LL * 1024 * 1024;
  // HTTP deliveries (webhooks, the HTTP sink): attempts in all, and the first retry's delay,
  // doubling after that.
  int delivery_attempts = 5;
  std::chrono::milliseconds delivery_base_delay{200};
  std::chrono::milliseconds delivery_timeout{5000};
  // Deliveries waiting in memory at most; past that the oldest is dropped from memory, counted and
  // logged (its outbox row keeps it for a later round), so a dead webhook cannot grow the
  // server's memory without bound.
  size_t max_queued_deliveries = 100000;
  // The outbox: a change whose deliveries still fail after `delivery_attempts` is tried again
  // `outbox_retry_delay` later, doubling to at most an hour. Rows older than `outbox_max_age`, and
  // the oldest beyond `outbox_max_rows`, are given up: counted and logged.
  std::chrono::milliseconds outbox_retry_delay{30000};
  std::chrono::milliseconds outbox_max_age{24LL * 3600 * 1000};
  int64_t outbox_max_rows = 1000000;
  // How often the hub looks for outbox rows to take over (another instance's, once their lease
  // has run out) and trims the outbox. A row is leased for `outbox_lease` by the instance that
  // wrote or took it: on PostgreSQL, what a crashed instance owed waits that long for another.
  std::chrono::milliseconds outbox_sweep{1000};
  std::chrono::milliseconds outbox_lease{60000};
  // How long a sync trigger hook may take (the reference's 5 s).
  std::chrono::milliseconds sync_trigger_timeout{5000};
  // The longest a notification channel poll may be held (a poll asking more is refused).
  int64_t max_poll_seconds = 50;
  // Every outgoing call (hooks, webhooks, the HTTP sink) goes through this when set; null:
  // libcurl with the timeouts above. The fuzzer sets one that never leaves the process.
  std::shared_ptr<HttpTransport> transport;
};

// The Cognito push payload, as a JSON object: source, identityPoolId, identityId, datasetName,
// syncCount (a string, as the official clients read it).
std::string push_payload_json(const std::string& pool_id, const std::string& identity_id,
                              const std::string& dataset, int64_t sync_count);

// The notification channel: a mailbox per device of its recent notifications, numbered, and the
// watchers waiting on them. A watcher is a callback, not a thread: a long poll or a WebSocket
// parks one and holds nothing else while it waits.
class Notifications {
 public:
  struct Entry {
    int64_t seq = 0;
    std::string payload_json;
  };
  static constexpr size_t kPerDevice = 64;    // notifications kept per device
  static constexpr size_t kDevices = 100000;  // mailboxes kept at most (oldest go first)
  // The entries after a watcher's `after` (none at its deadline or at shutdown), and what to pass
  // as `after` next time.
  using Fire = std::function<void(std::vector<Entry> entries, int64_t next)>;
  using Deadline = std::chrono::steady_clock::time_point;

  Notifications();
  ~Notifications();

  void post(const std::string& device_id, const std::string& payload_json);
  // Calls `fire` once: with the entries after `after` as soon as there are some (on this thread,
  // before returning, when there are some already), or with none when `deadline` passes or at
  // shutdown(). Returns an id for cancel().
  uint64_t watch(const std::string& device_id, int64_t after, Deadline deadline, Fire fire);
  // Forgets a watcher that has not fired; false when it has fired or is firing.
  bool cancel(uint64_t id);
  // watch(), waiting on this thread.
  std::vector<Entry> wait(const std::string& device_id, int64_t after,
                          std::chrono::milliseconds wait, int64_t* next);
  // Fires every watcher with nothing, and each later one at once (the server is stopping).
  void shutdown();
  // Watchers parked now.
  size_t waiting() const;
  struct Counts {
    uint64_t posted = 0;     // into a device's mailbox
    uint64_t delivered = 0;  // handed to a waiting poll or WebSocket
    uint64_t dropped = 0;    // pushed out of a full mailbox (or with it) before anyone heard it
  };
  Counts counts() const;

 private:
  struct Mailbox {
    std::deque<Entry> entries;
    uint64_t touched = 0;
    int64_t delivered_upto = 0;  // the highest seq handed to a listener
  };
  using DeviceIndex = std::multimap<std::string, uint64_t>;
  using DeadlineIndex = std::multimap<Deadline, uint64_t>;
  struct Watcher {
    std::string device_id;
    int64_t after = 0;
    Deadline deadline;
    Fire fire;
    DeviceIndex::iterator device_pos;      // its entry in by_device_
    DeadlineIndex::iterator deadline_pos;  // and in by_deadline_
  };
  // Counts `entries` of `device_id` as delivered, under mu_.
  void delivered(const std::string& device_id, const std::vector<Entry>& entries);
  static size_t undelivered(const Mailbox& box);
  // Removes a watcher from every index, under mu_.
  std::optional<Watcher> take(uint64_t id);
  // Entries of `device_id` after `after`, under mu_.
  std::vector<Entry> entries_after(const std::string& device_id, int64_t after);
  int64_t next_after(const std::vector<Entry>& entries, int64_t after) const;
  void expire();  // the timer thread: fires watchers whose deadline has passed

  mutable std::mutex mu_;
  std::condition_variable cv_;  // the timer thread waits on it
  std::map<std::string, Mailbox> boxes_;
  std::map<uint64_t, Watcher> watchers_;
  DeviceIndex by_device_;
  DeadlineIndex by_deadline_;
  uint64_t next_id_ = 0;
  uint64_t posted_ = 0, delivered_ = 0, dropped_ = 0;
  int64_t last_seq_ = 0;
  uint64_t clock_ = 0;
  bool stopping_ = false;
  std::thread timer_;
};

class EventHub;

// The notification channel over WebSocket: sends each batch of a device's notifications as a
// poll's answer would carry it, and takes the client's acknowledgements, {"after": N}.
class NotificationChannel : public Channel,
                            public std::enable_shared_from_this<NotificationChannel> {
 public:
  // `slot` is the connection's place under its identity's cap, held until closed().
  NotificationChannel(EventHub* events, std::string device_id, int64_t after,
                      std::shared_ptr<void> slot);
  void open(Send send) override;
  void sent() override;
  Status received(const std::string& text) override;
  void closed() override;
  // The client's place, as it last acknowledged it.
  int64_t acked() const;

 private:
  void watch();
  EventHub* events_;
  std::string device_id_;
  mutable std::mutex mu_;
  std::shared_ptr<void> slot_;
  Send send_;
  int64_t next_ = 0;
  int64_t acked_ = 0;
  uint64_t watch_id_ = 0;
  bool closed_ = false;
};

// A poll's answer: {"Notifications":[{"Seq":N,"Payload":{...}},...],"Next":N}.
std::string notifications_json(const std::vector<Notifications::Entry>& entries, int64_t next);

// HTTP POSTs delivered in the background by one thread, with bounded retries: a post that fails
// waits for its next attempt aside, so other posts go on meanwhile.
class Outbox {
 public:
  Outbox(std::shared_ptr<HttpTransport> transport, const EventsOptions& options, LoggerPtr logger);
  ~Outbox();
  // Queues a POST of `json` to `url`, with the header X-Cairn-Delivery-Id: `id` when an id is
  // given. `done`, if given, hears the outcome once it is final.
  void post(const std::string& url, const std::string& json,
            std::function<void(const Status&)> done = {}, const std::string& id = "");
  // Posts now, on this thread, with the same retries; the final outcome.
  Status post_now(const std::string& url, const std::string& json, const std::string& id = "");
  uint64_t delivered() const;
  // Posts that failed every attempt, or were pushed out of a full queue (the outbox row behind
  // them is tried again later).
  uint64_t failed() const;
  // Nothing queued and nothing being delivered: every post so far has its final outcome.
  bool idle() const;
  // Makes what is queued its attempts without waiting between them (the server is stopping);
  // nothing may be posted after.
  void hurry();

 private:
  struct Item {
    std::string url, json;
    std::function<void(const Status&)> done;
    std::string id;
    int attempt = 0;  // attempts made so far
  };
  void run();
  Status send_once(const std::string& url, const std::string& json, const std::string& id);
  // How long after failed attempt number `attempt` (from 1) the next is made.
  std::chrono::milliseconds retry_delay(int attempt) const;

  std::shared_ptr<HttpTransport> transport_;
  EventsOptions options_;
  LoggerPtr logger_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;                                              // posts not yet tried
  std::multimap<std::chrono::steady_clock::time_point, Item> retries_;  // by when they are due
  bool stopping_ = false;
  bool delivering_ = false;  // run() holds an item taken from queue_ or retries_
  uint64_t delivered_ = 0, failed_ = 0;
  std::thread thread_;
};

// One Cognito Streams record: a dataset's records after a sync (or all of them, for a bulk
// publish), with dates in epoch milliseconds.
std::string stream_record_json(const std::string& pool_id, const std::string& identity_id,
                               const std::string& dataset, const std::string& operation,
                               int64_t sync_count, Millis last_modified,
                               const std::vector<RecordRow>& records);

// Where stream records go.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Writes one record of `stream`. Synchronous: the write is done (or has failed) on return.
  virtual Status write(const std::string& stream, const std::string& record_json) = 0;
  // For live syncs: the record carries `id`, its delivery's id, and `done` hears the outcome
  // once it is final, which need not be on return.
  virtual void write_async(const std::string& stream, const std::string& record_json,
                           const std::string& id, std::function<void(const Status&)> done) {
    done(write(stream, with_delivery_id(record_json, id)));
  }
  // The record with "deliveryId" as its first field.
  static std::string with_delivery_id(const std::string& record_json, const std::string& id);
};

// NDJSON files under `dir`, one per stream (STREAM.ndjson), rotated by size to
// STREAM.EPOCHMS.ndjson.
std::unique_ptr<StreamSink> make_ndjson_sink(std::string dir, int64_t rotate_bytes,
                                             LoggerPtr logger);
// An HTTP POST per record through the outbox, with the stream's name in X-Cairn-Stream... as a
// field: {"streamName": ..., "record": {...}}.
std::unique_ptr<StreamSink> make_http_sink(std::string url, Outbox* outbox);

// A committed change to a dataset, as UpdateRecords and DeleteDataset report it.
struct DatasetChange {
  DatasetChange() = default;
  DatasetChange(std::string pool, std::string identity, std::string name, std::string op,
                std::optional<std::string> device, int64_t count, Millis when)
      : pool_id(std::move(pool)),
        identity_id(std::move(identity)),
        dataset(std::move(name)),
        operation(std::move(op)),
        device_id(std::move(device)),
        sync_count(count),
        modified(when) {}

  std::string pool_id, identity_id, dataset;
  std::string operation;  // "replace" (records written) or "remove" (dataset deleted)
  std::optional<std::string> device_id;  // the device that made it, if it said
  int64_t sync_count = 0;
  Millis modified = 0;
  // Its outbox row (EventHub::stage), 0 when it has nothing to deliver but notifications; the
  // row's deliveries: a webhook post per subscribed device, a stream record; those made already,
  // and the failed rounds so far.
  int64_t outbox_id = 0;
  bool webhook = false;
  std::string stream, stream_record;
  std::set<std::string> done;
  int64_t attempts = 0;
};

// What the outbox has seen since the server started (metrics).
struct OutboxCounts {
  uint64_t staged = 0;      // rows written with a change
  uint64_t completed = 0;   // rows whose every delivery was made
  uint64_t retried = 0;     // rounds that left a delivery failing, to be tried again
  uint64_t taken_over = 0;  // rows taken from a crashed process or another instance
  uint64_t expired = 0;     // rows given up past outbox_max_age
  uint64_t evicted = 0;     // rows given up past outbox_max_rows
  int64_t waiting = 0;      // rows in the table at the last sweep
  uint64_t sweeps = 0;      // sweeps run (each takes over at most kClaimBatch rows)
};

// Takes committed changes and sets off their notifications and stream records in order.
class EventHub {
 public:
  EventHub(Storage* storage, EventsOptions options, LoggerPtr logger,
           std::shared_ptr<HttpTransport> transport);
  ~EventHub();

  // Inside the change's write transaction, before changed(): writes its outbox row when it has
  // deliveries to make (the pool has a webhook, or streams: `streams_json` is its configuration),
  // and fills in the change's deliveries. `records` are what the change wrote.
  void stage(StorageTxn& txn, DatasetChange& change, const std::string& streams_json,
             const std::vector<RecordRow>& records, Millis now) const;
  // After the commit: queues the change's notifications and deliveries.
  void changed(DatasetChange change);
  OutboxCounts outbox_counts() const;
  Notifications& notifications() { return notifications_; }
  Outbox& outbox() { return outbox_; }
  StreamSink& sink() { return *sink_; }
  const EventsOptions& options() const { return options_; }
  // The webhook configured for a pool, if any.
  std::optional<std::string> webhook_for(const std::string& pool_id) const;
  // Stops taking changes, wakes the long polls; queued changes are still processed.
  void shutdown();
  // Returns once every change handed in before the call has been processed (its notifications
  // posted, its stream record written or queued).
  void drain();
  // Runs a sweep of the outbox now (tests: rather than waiting for the next).
  void sweep_now();

 private:
  struct Round;  // one change's deliveries in flight
  void run();
  void process(const DatasetChange& change);
  void finished(const std::shared_ptr<Round>& round);
  // Deletes the rows whose rounds are done, schedules those that failed, and when due, trims the
  // outbox and takes over up to kClaimBatch rows whose lease ran out (every row, when
  // `take_everything`), after *after_id when given, which it then moves to the last row taken;
  // how many it took. On the hub's thread.
  // Rows claimed per query: small enough that one sweep's lease is short, big enough that a
  // backlog drains in few queries.
  static constexpr int kClaimBatch = 100;
  size_t housekeep(bool sweep, bool take_everything, int64_t* after_id);
  void received(const std::string& message);  // another instance's notifications

  Storage* storage_;
  std::string instance_;  // names this instance's broadcasts
  EventsOptions options_;
  LoggerPtr logger_;
  Notifications notifications_;
  Outbox outbox_;
  std::unique_ptr<StreamSink> sink_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<DatasetChange> queue_;
  uint64_t taken_ = 0, processed_ = 0;  // changes handed in, and done with
  std::condition_variable drained_cv_;
  bool stopping_ = false;
  bool sweep_asked_ = false;
  std::vector<std::shared_ptr<Round>> finished_;  // rounds done, rows not yet updated
  std::set<int64_t> in_flight_;                   // outbox rows this process is delivering
  mutable std::mutex counts_mu_;
  OutboxCounts counts_;
  std::thread thread_;
};

}  // namespace cairn::server
