// Server-side events (docs/events.md): what a successful sync sets off once it has committed.
//
//  - Push notifications to the devices subscribed to the dataset, except the device that made the
//    change. They go to cairn's notification channel, a long poll a device holds open
//    (Notifications), and to the pool's webhook, if the operator configured one, for a team's own
//    APNS or FCM sender (Outbox).
//  - Stream records, in the Cognito Streams format, to the configured sink: NDJSON files under the
//    data directory, rotated by size, or an HTTP POST (StreamSink).
//
// None of it runs on the request's path. UpdateRecords hands an event to the EventHub's queue and
// answers; the hub's thread reads the subscribers and the pool's stream configuration, then posts.
// HTTP deliveries are at least once, with bounded retries, while the server runs. A crash drops
// what was still queued (the device's next sync still brings the change; docs/events.md).
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
#include <string>
#include <thread>
#include <vector>

#include "cairn/http.h"
#include "cairn/logging.h"
#include "server/server_message.h"
#include "server/storage.h"

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
  // Deliveries waiting at most; past that the oldest is dropped, counted and logged, so a dead
  // webhook cannot grow the server's memory without bound.
  size_t max_queued_deliveries = 100000;
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

// HTTP POSTs delivered in the background, at least once, with bounded retries.
class Outbox {
 public:
  Outbox(std::shared_ptr<HttpTransport> transport, const EventsOptions& options, LoggerPtr logger);
  ~Outbox();
  // Queues a POST of `json` to `url`. `done`, if given, hears the outcome once it is final.
  void post(const std::string& url, const std::string& json,
            std::function<void(const Status&)> done = {});
  // Posts now, on this thread, with the same retries; the final outcome.
  Status post_now(const std::string& url, const std::string& json);
  uint64_t delivered() const;
  uint64_t dropped() const;  // given up after every attempt
  // Nothing queued and nothing being delivered: every post so far has its final outcome.
  bool idle() const;

 private:
  struct Item {
    std::string url, json;
    std::function<void(const Status&)> done;
  };
  void run();

  std::shared_ptr<HttpTransport> transport_;
  EventsOptions options_;
  LoggerPtr logger_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  bool delivering_ = false;  // run() holds an item taken from queue_
  uint64_t delivered_ = 0, dropped_ = 0;
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
  // For live syncs: need not be done on return; failures are logged.
  virtual void write_async(const std::string& stream, const std::string& record_json) {
    Status s = write(stream, record_json);
    (void)s;
  }
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
  std::string pool_id, identity_id, dataset;
  std::string operation;  // "replace" (records written) or "remove" (dataset deleted)
  std::optional<std::string> device_id;  // the device that made it, if it said
  int64_t sync_count = 0;
  Millis modified = 0;
  std::vector<RecordRow> records;  // the records the change wrote
};

// Takes committed changes and sets off their notifications and stream records in order.
class EventHub {
 public:
  EventHub(Storage* storage, EventsOptions options, LoggerPtr logger,
           std::shared_ptr<HttpTransport> transport);
  ~EventHub();

  void changed(DatasetChange change);
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

 private:
  void run();
  void process(const DatasetChange& change);
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
  std::thread thread_;
};

}  // namespace cairn::server
