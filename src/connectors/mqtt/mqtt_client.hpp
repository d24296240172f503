// MqttClient: one MQTT connection (libmosquitto), run on a thread of its own. This half of the
// mqtt connector never touches PostgreSQL (no PostgreSQL headers here): the thread drives
// libmosquitto's non-blocking loop, reconnects with exponential backoff, subscribes after every
// connection (a source) and hands received messages to the pipeline's worker through a bounded
// queue; the worker publishes (a sink) through the same client and waits for the broker's
// acknowledgements. When the queue is full the thread stops reading, so TCP pushes back on the
// broker.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

struct mosquitto;
struct mosquitto_message;

namespace arroyo {

// A broker URL taken apart: tcp:// or mqtt:// (plain), ssl:// or mqtts:// (TLS).
struct MqttEndpoint {
  std::string url;  // as given
  bool tls = false;
  std::string host;
  int port = 0;
};

// Parses a broker URL; on failure returns false with the reason in *why.
bool parse_mqtt_url(const std::string& url, MqttEndpoint* out, std::string* why);

// The qos option: AtMostOnce/AtLeastOnce/ExactlyOnce or 0/1/2; -1 for anything else.
int parse_mqtt_qos(const std::string& text);

struct MqttClientConfig {
  MqttEndpoint endpoint;
  std::string client_id;
  std::string username, password;  // empty username: none
  std::string ca_file, cert_file, key_file;
  int qos = 0;
  bool clean_session = true;
  std::string subscribe_topic;    // a source's topic filter; empty for a sink
  size_t max_payload_bytes = 0;   // larger received messages are reported oversized
  size_t queue_max_messages = 0;  // reading pauses at either bound
  size_t queue_max_bytes = 0;
  int keepalive_secs = 30;
};

// One received message.
struct MqttMessage {
  std::string topic;
  std::string payload;     // empty when oversized
  bool oversized = false;  // longer than max_payload_bytes: the payload was dropped
  size_t size = 0;         // the payload's length in bytes
  int64_t received_unix_us = 0;
};

class MqttClient {
 public:
  // `wake` is called (from the client's thread) when messages arrive, the status changes or
  // publications are acknowledged.
  MqttClient(MqttClientConfig config, std::function<void()> wake);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // Creates the libmosquitto client and starts the thread; throws std::runtime_error.
  void start();
  // Stops the thread and closes the connection; queued messages are discarded. Idempotent.
  void stop();

  // Moves up to `max` queued messages into `out` (appending); returns how many.
  size_t take(std::vector<MqttMessage>& out, size_t max);
  // One line: connecting / connected / reconnecting, with the last error.
  std::string status() const;
  // Whether the client gave up for good (the broker refused the credentials or the
  // subscription; an internal error); if so, why.
  bool failed(std::string* why) const;
  bool connected() const;

  // Publishes one message (thread-safe); QoS 1/2 messages are kept and resent by libmosquitto
  // across reconnections until acknowledged. Returns a libmosquitto error code (0: queued).
  int publish(const std::string& topic, const void* payload, size_t len, bool retain);
  // Publications not yet acknowledged (QoS 0: not yet written to the socket).
  int64_t unacknowledged() const;
  // Waits up to `timeout_ms` for the count of unacknowledged publications to change.
  void wait_acknowledgements(int timeout_ms);

  // Backoff between connection attempts: 0.5 s, doubling, at most 30 s; it starts again at
  // 0.5 s after a connection that lasted at least kStableConnectionUs.
  static constexpr int64_t kFirstRetryUs = 500000;
  static constexpr int64_t kMaxRetryUs = 30000000;
  static constexpr int64_t kStableConnectionUs = 10000000;

  // Internal: libmosquitto's callbacks (on the client thread).
  void on_connect(int rc);
  void on_disconnect(int rc);
  void on_message(const mosquitto_message* m);
  void on_subscribe(int qos_count, const int* granted);
  void on_publish(int mid);
  void on_log(int level, const char* text);

 private:
  void run();  // the thread's body
  void connection_ended(const std::string& error);
  void backoff_wait();
  void set_failed(const std::string& why);

  const MqttClientConfig config_;
  const std::function<void()> wake_;
  mosquitto* mosq_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  // Owned by the client thread.
  bool connection_live_ = false;  // a connection is under way or established
  int64_t connected_at_us_ = 0;
  int64_t attempts_ = 0, connections_ = 0;
  int consecutive_failures_ = 0;
  std::string last_log_error_;  // libmosquitto's last error log line (TLS failures)

  // Shared between the threads, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable room_;   // the worker took messages, or stopping
  std::condition_variable acked_;  // unacknowledged_ changed
  std::deque<MqttMessage> queue_;
  size_t queued_bytes_ = 0;
  bool paused_ = false;  // the client thread waits for room in the queue
  enum class State { Connecting, Connected, Reconnecting, Failed } state_ = State::Connecting;
  int64_t status_attempt_ = 1;
  int64_t status_connection_ = 0;
  int64_t status_retry_us_ = 0;
  std::string status_error_;
  bool session_up_ = false;  // CONNACK accepted, connection not yet lost
  int64_t unacknowledged_ = 0;
};

}  // namespace arroyo
