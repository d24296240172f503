// The libmosquitto side of the mqtt connector. Everything here runs without PostgreSQL: the
// client thread only talks to libmosquitto, the queue and the wake callback; the worker calls
// take(), status(), publish() and the acknowledgement counters.
#include "connectors/mqtt/mqtt_client.hpp"

#include "core/url_authority.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace arroyo {

namespace {

// How long one turn of libmosquitto's loop may wait for the socket.
constexpr int kLoopTimeoutMs = 200;
// QoS 1/2 publications in flight at once (libmosquitto queues the rest).
constexpr unsigned kMaxInflight = 1000;
// The MQTT protocol's largest payload (a packet's remaining length is at most 268435455).
constexpr size_t kProtocolMaxPayload = 268435455;

int64_t clock_us(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(tolower((unsigned char)c));
  return s;
}

std::string describe_delay(int64_t us) {
  char buf[32];
  if (us % 1000000 == 0)
    snprintf(buf, sizeof buf, "%lld s", (long long)(us / 1000000));
  else
    snprintf(buf, sizeof buf, "%.1f s", double(us) / 1e6);
  return buf;
}

// libmosquitto's text for an error code, without its final period; errno for MOSQ_ERR_ERRNO.
std::string describe_error(int rc, int saved_errno) {
  std::string text = rc == MOSQ_ERR_ERRNO ? strerror(saved_errno) : mosquitto_strerror(rc);
  while (!text.empty() && (text.back() == '.' || text.back() == '\n')) text.pop_back();
  return text;
}

MqttClient* self(void* obj) { return static_cast<MqttClient*>(obj); }

void connect_cb(mosquitto*, void* obj, int rc) { self(obj)->on_connect(rc); }
void disconnect_cb(mosquitto*, void* obj, int rc) { self(obj)->on_disconnect(rc); }
void message_cb(mosquitto*, void* obj, const mosquitto_message* m) { self(obj)->on_message(m); }
void subscribe_cb(mosquitto*, void* obj, int, int count, const int* granted) {
  self(obj)->on_subscribe(count, granted);
}
void publish_cb(mosquitto*, void* obj, int mid) { self(obj)->on_publish(mid); }
void log_cb(mosquitto*, void* obj, int level, const char* text) { self(obj)->on_log(level, text); }

}  // namespace

bool parse_mqtt_url(const std::string& url, MqttEndpoint* out, std::string* why) {
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : lower(url.substr(0, scheme_end));
  if (scheme != "tcp" && scheme != "mqtt" && scheme != "ssl" && scheme != "mqtts") {
    *why = "The url must start with tcp://, mqtt://, ssl:// or mqtts://.";
    return false;
  }
  MqttEndpoint e;
  e.url = url;
  e.tls = scheme == "ssl" || scheme == "mqtts";
  std::string authority = url.substr(scheme_end + 3);
  if (!authority.empty() && authority.back() == '/') authority.pop_back();
  if (authority.find_first_of("/?#") != std::string::npos) {
    *why = "The url cannot have a path, query or fragment: only host and port.";
    return false;
  }
  if (authority.find('@') != std::string::npos) {
    *why =
        "User information (user@host) is not supported in the url; give username and "
        "password in a user mapping.";
    return false;
  }
  std::string port_text;
  bool has_port = false;
  if (!split_url_authority(authority, "url", &e.host, &port_text, &has_port, why)) return false;
  for (char c : e.host)
    if ((unsigned char)c <= 0x20 || (unsigned char)c >= 0x7f || strchr("[]<>\"\\", c)) {
      *why = "The url's host contains characters a host name cannot have.";
      return false;
    }
  if (has_port) {
    if (!parse_url_port(port_text, "url", &e.port, why)) return false;
  } else {
    e.port = e.tls ? 8883 : 1883;
  }
  *out = std::move(e);
  return true;
}

int parse_mqtt_qos(const std::string& text) {
  if (text == "AtMostOnce" || text == "0") return 0;
  if (text == "AtLeastOnce" || text == "1") return 1;
  if (text == "ExactlyOnce" || text == "2") return 2;
  return -1;
}

MqttClient::MqttClient(MqttClientConfig config, std::function<void()> wake)
    : config_(std::move(config)), wake_(std::move(wake)) {}

MqttClient::~MqttClient() { stop(); }

void MqttClient::start() {
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });
  mosq_ = mosquitto_new(config_.client_id.c_str(), config_.clean_session, this);
  if (!mosq_)
    throw std::runtime_error(std::string("could not create a client: ") + strerror(errno));
  // Publications from the worker then only queue and wake the thread's loop.
  mosquitto_threaded_set(mosq_, true);
  mosquitto_connect_callback_set(mosq_, connect_cb);
  mosquitto_disconnect_callback_set(mosq_, disconnect_cb);
  mosquitto_message_callback_set(mosq_, message_cb);
  mosquitto_subscribe_callback_set(mosq_, subscribe_cb);
  mosquitto_publish_callback_set(mosq_, publish_cb);
  mosquitto_log_callback_set(mosq_, log_cb);
  mosquitto_max_inflight_messages_set(mosq_, kMaxInflight);
  mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  int rc = MOSQ_ERR_SUCCESS;
  if (!config_.username.empty())
    rc = mosquitto_username_pw_set(mosq_, config_.username.c_str(),
                                   config_.password.empty() ? nullptr : config_.password.c_str());
  if (rc == MOSQ_ERR_SUCCESS && config_.endpoint.tls) {
    if (config_.ca_file.empty()) {
      rc = mosquitto_int_option(mosq_, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
      if (rc == MOSQ_ERR_SUCCESS)
        rc = mosquitto_tls_set(mosq_, nullptr, "/etc/ssl/certs",
                               config_.cert_file.empty() ? nullptr : config_.cert_file.c_str(),
                               config_.key_file.empty() ? nullptr : config_.key_file.c_str(),
                               nullptr);
    } else {
      rc =
          mosquitto_tls_set(mosq_, config_.ca_file.c_str(), nullptr,
                            config_.cert_file.empty() ? nullptr : config_.cert_file.c_str(),
                            config_.key_file.empty() ? nullptr : config_.key_file.c_str(), nullptr);
    }
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    std::string why = describe_error(rc, errno);
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
    throw std::runtime_error("could not configure the client: " + why);
  }

  // The thread must not take the backend's signals: block them all while creating it.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
    throw std::runtime_error("could not start the MQTT client thread");
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void MqttClient::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  room_.notify_all();
  acked_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (mosq_) mosquitto_destroy(mosq_);
  mosq_ = nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.clear();
  queued_bytes_ = 0;
}

// The thread: connects, runs libmosquitto's loop, and reconnects with backoff until stopped
// or failed for good; then says goodbye to the broker.
void MqttClient::run() {
  while (!stopping_) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (state_ == State::Failed) break;
    }
    if (!connection_live_) {
      attempts_++;
      errno = 0;
      int rc = attempts_ == 1
                   ? mosquitto_connect_async(mosq_, config_.endpoint.host.c_str(),
                                             config_.endpoint.port, config_.keepalive_secs)
                   : mosquitto_reconnect_async(mosq_);
      if (rc != MOSQ_ERR_SUCCESS) {
        connection_ended(describe_error(rc, errno));
        continue;
      }
      connection_live_ = true;
    }
    errno = 0;
    int rc = mosquitto_loop(mosq_, kLoopTimeoutMs, 1);
    if (rc != MOSQ_ERR_SUCCESS && !stopping_) connection_ended(describe_error(rc, errno));
  }
  // A clean goodbye, so that the broker does not publish a will or wait for the keepalive.
  if (connection_live_ && mosquitto_disconnect(mosq_) == MOSQ_ERR_SUCCESS)
    for (int i = 0; i < 5 && mosquitto_loop(mosq_, 20, 1) == MOSQ_ERR_SUCCESS; i++) {
    }
  // Wakes the worker, so that it sees a failure.
  wake_();
}

// Records why the connection (or an attempt) ended and waits out the backoff.
void MqttClient::connection_ended(const std::string& error) {
  int64_t now = clock_us(CLOCK_MONOTONIC);
  if (connected_at_us_ && now - connected_at_us_ >= kStableConnectionUs) consecutive_failures_ = 0;
  connected_at_us_ = 0;
  connection_live_ = false;
  int64_t delay = kFirstRetryUs << std::min(consecutive_failures_, 10);
  if (delay > kMaxRetryUs) delay = kMaxRetryUs;
  consecutive_failures_++;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    session_up_ = false;
    // QoS 0 publications not yet written are gone with the connection (at most once); QoS 1/2
    // ones are resent after the next CONNACK.
    if (config_.qos == 0 && unacknowledged_ > 0) unacknowledged_ = 0;
    if (state_ != State::Failed) {
      state_ = State::Reconnecting;
      status_attempt_ = attempts_ + 1;
      status_retry_us_ = delay;
      status_error_ = error;
      if (!last_log_error_.empty()) status_error_ += " (" + last_log_error_ + ")";
    }
    last_log_error_.clear();
  }
  wake_();
  std::unique_lock<std::mutex> lock(mutex_);
  room_.wait_for(lock, std::chrono::microseconds(delay),
                 [this] { return stopping_.load() || state_ == State::Failed; });
}

void MqttClient::set_failed(const std::string& why) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = State::Failed;
    status_error_ = why;
  }
  acked_.notify_all();
  wake_();
}

void MqttClient::on_connect(int rc) {
  if (rc != 0) {
    std::string why =
        std::string("the broker refused the connection: ") + mosquitto_connack_string(rc);
    while (!why.empty() && why.back() == '.') why.pop_back();
    // A refused protocol version, client id, user name or password will not get better.
    if (rc == 1 || rc == 2 || rc == 4 || rc == 5) {
      set_failed(why);
    } else {
      std::lock_guard<std::mutex> lock(mutex_);
      last_log_error_ = why;
    }
    return;
  }
  connections_++;
  connected_at_us_ = clock_us(CLOCK_MONOTONIC);
  bool subscribe = !config_.subscribe_topic.empty();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // A source counts as connected once its subscription is acknowledged (on_subscribe).
    if (subscribe) {
      state_ = State::Connecting;
      status_attempt_ = attempts_;
    } else {
      state_ = State::Connected;
    }
    status_connection_ = connections_;
    status_error_.clear();
    last_log_error_.clear();
    session_up_ = true;
  }
  if (subscribe) {
    int src = mosquitto_subscribe(mosq_, nullptr, config_.subscribe_topic.c_str(), config_.qos);
    if (src != MOSQ_ERR_SUCCESS) {
      std::lock_guard<std::mutex> lock(mutex_);
      last_log_error_ = "could not subscribe: " + describe_error(src, errno);
    }
  }
  wake_();
}

void MqttClient::on_disconnect(int) {
  std::lock_guard<std::mutex> lock(mutex_);
  session_up_ = false;
}

// Queues one received message, waiting (reading paused) while the queue is full.
void MqttClient::on_message(const mosquitto_message* m) {
  if (stopping_) return;
  try {
    MqttMessage msg;
    msg.topic = m->topic ? m->topic : "";
    msg.size = m->payloadlen > 0 ? size_t(m->payloadlen) : 0;
    msg.received_unix_us = clock_us(CLOCK_REALTIME);
    if (msg.size > config_.max_payload_bytes)
      msg.oversized = true;
    else if (msg.size > 0)
      msg.payload.assign(static_cast<const char*>(m->payload), msg.size);
    std::unique_lock<std::mutex> lock(mutex_);
    auto full = [this] {
      return !queue_.empty() && (queue_.size() >= config_.queue_max_messages ||
                                 queued_bytes_ >= config_.queue_max_bytes);
    };
    if (full()) {
      paused_ = true;
      room_.wait(lock, [&] { return stopping_.load() || !full(); });
      paused_ = false;
    }
    if (stopping_) return;
    queued_bytes_ += msg.payload.size() + msg.topic.size();
    queue_.push_back(std::move(msg));
  } catch (...) {
    set_failed("out of memory while receiving a message");
    return;
  }
  wake_();
}

void MqttClient::on_subscribe(int count, const int* granted) {
  if (count >= 1 && granted[0] == 0x80) {
    set_failed("the broker refused the subscription to topic \"" + config_.subscribe_topic + "\"");
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (state_ == State::Connecting) state_ = State::Connected;
  }
  wake_();
}

void MqttClient::on_publish(int) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    unacknowledged_--;
  }
  acked_.notify_all();
}

// Keeps libmosquitto's last error line (OpenSSL's reason for a failed TLS handshake).
void MqttClient::on_log(int level, const char* text) {
  if (level != MOSQ_LOG_ERR || !text) return;
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    last_log_error_.assign(text, strnlen(text, 500));
  } catch (...) {
  }
}

size_t MqttClient::take(std::vector<MqttMessage>& out, size_t max) {
  size_t n = 0;
  bool resume = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    while (n < max && !queue_.empty()) {
      queued_bytes_ -= queue_.front().payload.size() + queue_.front().topic.size();
      out.push_back(std::move(queue_.front()));
      queue_.pop_front();
      n++;
    }
    resume = paused_ && n > 0;
  }
  if (resume) room_.notify_all();
  return n;
}

std::string MqttClient::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  switch (state_) {
    case State::Connecting: return "connecting (attempt " + std::to_string(status_attempt_) + ")";
    case State::Connected:
      return "connected (connection " + std::to_string(status_connection_) + ")" +
             (paused_ ? ", reading paused: the pipeline is behind" : "");
    case State::Reconnecting:
      return "reconnecting (attempt " + std::to_string(status_attempt_) + " in " +
             describe_delay(status_retry_us_) + "): " + status_error_;
    case State::Failed: return "failed: " + status_error_;
  }
  return {};
}

bool MqttClient::failed(std::string* why) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_ != State::Failed) return false;
  *why = status_error_;
  return true;
}

bool MqttClient::connected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return session_up_;
}

int MqttClient::publish(const std::string& topic, const void* payload, size_t len, bool retain) {
  if (len > kProtocolMaxPayload) return MOSQ_ERR_PAYLOAD_SIZE;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    unacknowledged_++;
  }
  int rc = mosquitto_publish(mosq_, nullptr, topic.c_str(), int(len), payload, config_.qos, retain);
  // At QoS 1/2 libmosquitto keeps the message even when it could not send it now (no
  // connection yet, a connection lost): it sends it after the next CONNACK.
  if (config_.qos > 0 &&
      (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO))
    rc = MOSQ_ERR_SUCCESS;
  if (rc != MOSQ_ERR_SUCCESS) {
    std::lock_guard<std::mutex> lock(mutex_);
    unacknowledged_--;
  }
  return rc;
}

int64_t MqttClient::unacknowledged() const {
  std::lock_guard<std::mutex> lock(mutex_);
  // Below 0 only after a QoS 0 reset raced with a publication (connection_ended).
  return unacknowledged_ > 0 ? unacknowledged_ : 0;
}

void MqttClient::wait_acknowledgements(int timeout_ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  int64_t before = unacknowledged_;
  acked_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return stopping_.load() || unacknowledged_ != before || state_ == State::Failed;
  });
}

}  // namespace arroyo
