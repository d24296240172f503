// The nats connector's client side, free of PostgreSQL: a connection to the NATS servers
// (libnats, reconnecting with backoff), and the reader thread of a source, which receives
// messages from a core subject or pulls them from a JetStream stream and queues them for the
// pipeline's worker. Nothing here calls PostgreSQL except SetLatch (thread-safe); every thread
// libnats or the reader starts blocks all signals, so the worker alone handles PostgreSQL's.
#pragma once

#include "connectors/nats/nats_options.hpp"

#include <nats/nats.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace arroyo {

// One connection to the NATS servers. open() connects (or fails, and the caller tries again
// after retry_delay_ms()); once connected, libnats reconnects by itself after an outage, with
// the connector's backoff (0.5 s doubling to 30 s). status() tells where it stands.
class NatsConnection {
 public:
  explicit NatsConnection(NatsConnectionConfig config);
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  // Connects; false when no server could be reached or one refused (authorization, say):
  // status() says why, and the caller tries again after retry_delay_ms().
  bool open();
  int64_t retry_delay_ms() const;
  natsConnection* handle() const { return nc_; }
  bool connected() const;
  // "connected", "connecting (attempt 3): <error>", "reconnecting (attempt 2): <error>", ...
  std::string status() const;
  // The last error the server reported on a working connection (a permissions violation,
  // say), or "".
  std::string async_error() const;
  const std::string& label() const { return config_.label; }
  // Closes the connection and waits for libnats' threads of it to stop calling back.
  void close();

 private:
  static void on_disconnected(natsConnection* nc, void* self);
  static void on_reconnected(natsConnection* nc, void* self);
  static void on_closed(natsConnection* nc, void* self);
  static void on_async_error(natsConnection* nc, natsSubscription* sub, natsStatus err, void* self);
  static int64_t reconnect_delay(natsConnection* nc, int attempts, void* self);
  void note(const char* state, natsConnection* nc);

  NatsConnectionConfig config_;
  natsOptions* options_ = nullptr;
  natsConnection* nc_ = nullptr;
  mutable std::mutex mutex_;
  std::string state_ = "connecting";  // guarded by mutex_
  std::string last_error_;
  std::string async_error_;
  int attempts_ = 0;
  int connections_ = 0;
  int failed_opens_ = 0;
  bool closed_ = false;  // the closed callback has run
  std::condition_variable closed_cv_;
};

// One message a source received.
struct NatsMessage {
  std::string payload;
  std::string subject;
  uint64_t seq = 0;     // JetStream: the stream sequence number; core: 0
  int64_t unix_us = 0;  // JetStream: when the stream stored it; core: when it was received
};

// The reader thread of a source and its bounded queue.
class NatsReader {
 public:
  NatsReader(NatsSourceConfig config, NatsConnection& connection, std::function<void()> wake);
  ~NatsReader();

  // JetStream: the first stream sequence to read (0: as source.offset says).
  void start(uint64_t start_seq);
  void stop();
  // Moves up to `max` queued messages into `out`.
  void take(std::vector<NatsMessage>& out, size_t max);
  // Whether the thread gave up (the stream does not exist, ...): `why` says why.
  bool failed(std::string* why) const;
  // source.stop_at 'latest': whether every message up to the stream's end at start is queued.
  bool reached_end() const;
  // JetStream: where reading starts once known (source.offset resolved): the next sequence.
  uint64_t resolved_start() const;
  std::string status() const;
  // Core subjects: messages libnats dropped because the source fell behind.
  int64_t dropped() const;

  static constexpr size_t kQueueMaxMessages = 8192;
  static constexpr size_t kQueueMaxBytes = size_t(16) << 20;

 private:
  void run();
  void run_core();
  void run_jetstream();
  bool resolve_stream();
  bool create_consumer();
  bool pull_batch();
  void push(NatsMessage&& m);
  bool wait_for_room();
  void backoff(const std::string& what, const std::string& error);
  void set_status(std::string s);
  void fail(std::string why);
  // A JetStream API request; returns the reply's body, or "" with `error` set.
  std::string api_request(const std::string& subject, const std::string& body, std::string* error);

  NatsSourceConfig config_;
  NatsConnection& connection_;
  std::function<void()> wake_;
  std::thread thread_;

  mutable std::mutex mutex_;
  std::condition_variable room_;  // signalled when the worker takes messages or on stop
  std::deque<NatsMessage> queue_;
  size_t queue_bytes_ = 0;
  bool stopping_ = false;
  bool failed_ = false;
  bool at_end_ = false;
  std::string failure_;
  std::string status_;  // empty while reading normally
  int64_t dropped_ = 0;
  uint64_t resolved_start_ = 0;

  // The thread's own state (JetStream).
  uint64_t next_seq_ = 0;  // the next stream sequence to queue
  uint64_t end_seq_ = 0;   // source.stop_at 'latest': the stream's last sequence at start
  std::string consumer_;   // the current ephemeral consumer's name
  natsSubscription* inbox_sub_ = nullptr;
  std::string inbox_;
  int failures_ = 0;          // consecutive, for the backoff
  bool single_next_ = false;  // the next pull asks for one message without a byte limit
};

// Starts a thread that blocks every signal (PostgreSQL's are the worker's).
std::thread nats_start_thread(std::function<void()> body);

// Runs `f` with every signal blocked in this thread, so that threads libnats starts inside
// inherit that mask.
template <typename F>
auto nats_without_signals(F&& f) -> decltype(f());

}  // namespace arroyo

#include <csignal>

namespace arroyo {

template <typename F>
auto nats_without_signals(F&& f) -> decltype(f()) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  struct Restore {
    sigset_t mask;
    ~Restore() { pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
  } restore{old};
  return f();
}

}  // namespace arroyo
