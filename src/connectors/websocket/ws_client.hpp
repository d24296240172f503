// WsClient: one websocket client connection, run by libwebsockets on a thread of its own.
// This half of the websocket connector never touches PostgreSQL (no PostgreSQL headers here):
// it connects, sends the subscription messages, reconnects with exponential backoff, and
// hands complete messages to the pipeline's worker through a bounded queue. When the queue
// is full it stops reading the socket (lws_rx_flow_control), so TCP pushes back on the server.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct lws;
struct lws_context;
struct lws_sorted_usec_list;

namespace arroyo {

// A ws:// or wss:// URL taken apart.
struct WsEndpoint {
  std::string url;   // as given
  bool tls = false;  // wss://
  std::string host;  // without brackets for an IPv6 literal
  int port = 0;
  std::string path;  // path and query, at least "/"
};

// Parses a ws:// or wss:// URL; on failure returns false with the reason in *why.
bool parse_ws_endpoint(const std::string& url, WsEndpoint* out, std::string* why);

struct WsHeader {
  std::string name, value;
};

// Parses 'Name: value, Other-Name: value'; on failure returns false with the reason in *why.
bool parse_ws_headers(const std::string& text, std::vector<WsHeader>* out, std::string* why);

struct WsClientConfig {
  WsEndpoint endpoint;
  std::vector<WsHeader> headers;
  std::vector<std::string> subscriptions;  // sent in order on every connection
  std::string ca_file;                     // extra trusted CA certificates (PEM), or empty
  size_t max_message_bytes = 0;            // larger messages are cut and reported oversized
  size_t queue_max_messages = 0;           // reading pauses at either bound
  size_t queue_max_bytes = 0;
};

// One received message.
struct WsMessage {
  std::string payload;     // empty when oversized
  bool binary = false;     // a binary frame (else text)
  bool oversized = false;  // longer than max_message_bytes: the payload was dropped
  size_t size = 0;         // the message's length in bytes
  int64_t received_unix_us = 0;
};

// Collects a message from its fragments; a message over `max_bytes` is dropped as it arrives
// (never held in memory) and returned empty, marked oversized. No PostgreSQL, no sockets.
class WsAssembler {
 public:
  explicit WsAssembler(size_t max_bytes) : max_bytes_(max_bytes) {}
  // Adds one fragment; returns true with the message in *done after its final fragment.
  bool add(const char* data, size_t len, bool binary, bool final, WsMessage* done);
  void reset();  // forgets a message cut short (the connection ended)

 private:
  size_t max_bytes_;
  bool in_message_ = false;  // partial_ holds the start of a message
  WsMessage partial_;
};

// The status text for a close frame's payload (a 2-byte code, then a reason).
std::string ws_close_reason(const unsigned char* data, size_t len);

class WsClient {
 public:
  // `wake` is called (from the client's thread) when messages arrive or the status changes.
  WsClient(WsClientConfig config, std::function<void()> wake);
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Creates the libwebsockets context and starts the thread; throws std::runtime_error.
  void start();
  // Stops the thread and closes the connection; queued messages are discarded. Idempotent.
  void stop();

  // Moves up to `max` queued messages into `out` (appending); returns how many.
  size_t take(std::vector<WsMessage>& out, size_t max);
  // One line: connecting / connected / reconnecting, with the last error.
  std::string status() const;
  // Whether the client thread gave up for good (an internal error, not a connection
  // problem: those are retried); if so, why.
  bool failed(std::string* why) const;

  // Backoff between connection attempts: 0.5 s, doubling, at most 30 s; it starts again at
  // 0.5 s after a connection that lasted at least kStableConnectionUs.
  static constexpr int64_t kFirstRetryUs = 500000;
  static constexpr int64_t kMaxRetryUs = 30000000;
  static constexpr int64_t kStableConnectionUs = 10000000;

  // Internal: libwebsockets' protocol callback (reason is an lws_callback_reasons).
  static int dispatch(lws* wsi, int reason, void* user, void* in, size_t len);

 private:
  int callback(lws* wsi, int reason, void* user, void* in, size_t len);
  static void connect_timer(::lws_sorted_usec_list* sul);

  void run();  // the thread's body
  void connect();
  void on_established(lws* wsi);
  int on_writeable(lws* wsi);
  void on_receive(lws* wsi, const char* data, size_t len);
  int append_headers(lws* wsi, void* in, size_t len);
  void on_peer_close(const unsigned char* data, size_t len);
  std::string connection_error(const void* in, size_t len);
  std::string start_failure();
  void on_connection_ended(const std::string& error);
  void on_wakeup();
  void push(WsMessage&& message);
  void fail(const char* why) noexcept;

  const WsClientConfig config_;
  const std::function<void()> wake_;
  lws_context* context_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> failed_{false};
  struct Timer;
  std::unique_ptr<Timer> timer_;  // the reconnect timer (an lws_sorted_usec_list_t)

  // Owned by the client thread.
  lws* wsi_ = nullptr;
  bool connection_live_ = false;  // an attempt or connection is under way
  size_t next_subscription_ = 0;
  int64_t connected_at_us_ = 0;
  int64_t attempts_ = 0, connections_ = 0;
  int consecutive_failures_ = 0;
  std::string closing_reason_;  // from the server's close frame, if any
  std::string tls_error_;       // why the server's certificate was rejected, if it was
  WsAssembler assembler_;       // the message being received

  // Shared between the threads, under mutex_.
  mutable std::mutex mutex_;
  std::deque<WsMessage> queue_;
  size_t queued_bytes_ = 0;
  bool paused_ = false;            // the client thread stopped reading (queue full)
  bool resume_requested_ = false;  // the worker drained the queue below half
  enum class State { Connecting, Connected, Reconnecting, Failed } state_ = State::Connecting;
  int64_t status_attempt_ = 1;     // Connecting: this attempt; Reconnecting: the next one
  int64_t status_connection_ = 0;  // Connected: the how-manieth connection of this run
  int64_t status_retry_us_ = 0;    // Reconnecting: the delay before the next attempt
  std::string status_error_;       // Reconnecting, Failed: why
};

}  // namespace arroyo
