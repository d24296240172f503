#include "connectors/nats/nats_client.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace arroyo {

namespace {

constexpr int64_t kFirstDelayMs = 500;
constexpr int64_t kMaxDelayMs = 30000;
constexpr int64_t kPollMs = 200;            // how long a wait for a core message lasts
constexpr int kPullBatch = 1024;            // messages one JetStream pull asks for at most
constexpr int64_t kPullExpiresMs = 1000;    // how long the server holds a pull open
constexpr int64_t kPullReplyWaitMs = 5000;  // a pull without any answer by then is lost
constexpr int64_t kApiTimeoutMs = 5000;
constexpr int kCoreMaxPending = 65536;
constexpr int kCorePendingBytes = 64 << 20;

// 0.5 s after the first failure, doubling up to 30 s.
int64_t backoff_ms(int failures) {
  int64_t ms = kFirstDelayMs;
  for (int i = 1; i < failures && ms < kMaxDelayMs; i++) ms *= 2;
  return std::min(ms, kMaxDelayMs);
}

std::string seconds_text(int64_t ms) {
  char buf[32];
  if (ms % 1000 == 0)
    snprintf(buf, sizeof buf, "%lld s", (long long)(ms / 1000));
  else
    snprintf(buf, sizeof buf, "%.1f s", double(ms) / 1000);
  return buf;
}

// An error text of libnats without its "(conn.c:1905): " source location.
std::string without_location(const char* text) {
  std::string t = text;
  if (!t.empty() && t[0] == '(') {
    size_t end = t.find("): ");
    if (end != std::string::npos) t = t.substr(end + 3);
  }
  return t;
}

// libnats' last error of this thread, or the status's text.
std::string error_text(natsStatus s) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  if (text && *text) return without_location(text);
  return natsStatus_GetText(s);
}

// Whether `text` only says that no server could be used, which hides the reason a server gave
// before (an authorization violation, say).
bool is_generic_error(const std::string& text) {
  return text.find("No server available") != std::string::npos;
}

// A JSON string literal of `s`.
std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

// The value of the first "key": <unsigned integer> in a JetStream API reply, if any.
bool json_uint(const std::string& body, const std::string& key, uint64_t* out) {
  size_t at = body.find("\"" + key + "\":");
  if (at == std::string::npos) return false;
  at += key.size() + 3;
  while (at < body.size() && body[at] == ' ') at++;
  uint64_t v = 0;
  size_t digits = 0;
  for (; at < body.size() && isdigit((unsigned char)body[at]) && digits < 20; at++, digits++)
    v = v * 10 + uint64_t(body[at] - '0');
  if (digits == 0) return false;
  *out = v;
  return true;
}

// The value of the first "key": "<string>" in a JetStream API reply (escapes kept), if any.
bool json_string(const std::string& body, const std::string& key, std::string* out) {
  size_t at = body.find("\"" + key + "\":");
  if (at == std::string::npos) return false;
  at += key.size() + 3;
  while (at < body.size() && body[at] == ' ') at++;
  if (at >= body.size() || body[at] != '"') return false;
  size_t end = at + 1;
  while (end < body.size() && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
  if (end >= body.size()) return false;
  *out = body.substr(at + 1, end - at - 1);
  return true;
}

// A JetStream API error in a reply ("" if none): its description and code.
std::string api_error(const std::string& body, uint64_t* err_code) {
  size_t at = body.find("\"error\":");
  if (at == std::string::npos) return {};
  std::string rest = body.substr(at);
  std::string description = "unknown error";
  json_string(rest, "description", &description);
  *err_code = 0;
  json_uint(rest, "err_code", err_code);
  return description;
}

}  // namespace

std::thread nats_start_thread(std::function<void()> body) {
  return nats_without_signals([&] { return std::thread(std::move(body)); });
}

// --- NatsConnection ------------------------------------------------------------------------

NatsConnection::NatsConnection(NatsConnectionConfig config) : config_(std::move(config)) {}

NatsConnection::~NatsConnection() { close(); }

bool NatsConnection::open() {
  close();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = false;
    state_ = "connecting";
  }
  natsStatus s = nats_without_signals([&] {
    natsStatus st = natsOptions_Create(&options_);
    std::vector<const char*> urls;
    for (const std::string& u : config_.servers) urls.push_back(u.c_str());
    if (st == NATS_OK) st = natsOptions_SetServers(options_, urls.data(), int(urls.size()));
    if (st == NATS_OK) st = natsOptions_SetNoRandomize(options_, true);
    if (st == NATS_OK) st = natsOptions_SetName(options_, "arroyo_stream");
    if (st == NATS_OK) st = natsOptions_SetTimeout(options_, 5000);
    if (st == NATS_OK) st = natsOptions_SetPingInterval(options_, 10000);
    if (st == NATS_OK) st = natsOptions_SetMaxPingsOut(options_, 3);
    if (st == NATS_OK) st = natsOptions_SetMaxReconnect(options_, -1);
    if (st == NATS_OK) st = natsOptions_SetCustomReconnectDelay(options_, reconnect_delay, this);
    if (st == NATS_OK) st = natsOptions_SetDisconnectedCB(options_, on_disconnected, this);
    if (st == NATS_OK) st = natsOptions_SetReconnectedCB(options_, on_reconnected, this);
    if (st == NATS_OK) st = natsOptions_SetClosedCB(options_, on_closed, this);
    if (st == NATS_OK) st = natsOptions_SetErrorHandler(options_, on_async_error, this);
    if (st == NATS_OK && !config_.username.empty())
      st = natsOptions_SetUserInfo(options_, config_.username.c_str(), config_.password.c_str());
    if (st == NATS_OK && !config_.token.empty())
      st = natsOptions_SetToken(options_, config_.token.c_str());
    if (st != NATS_OK) return st;
    return natsConnection_Connect(&nc_, options_);
  });
  std::lock_guard<std::mutex> lock(mutex_);
  if (s == NATS_OK) {
    state_ = "connected";
    connections_++;
    failed_opens_ = 0;
    last_error_.clear();
    return true;
  }
  std::string error = error_text(s);
  if (!is_generic_error(error) || last_error_.empty()) last_error_ = error;
  failed_opens_++;
  attempts_++;
  state_ = "connecting";
  if (nc_) natsConnection_Destroy(nc_);
  nc_ = nullptr;
  natsOptions_Destroy(options_);
  options_ = nullptr;
  closed_ = true;
  return false;
}

int64_t NatsConnection::retry_delay_ms() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return backoff_ms(std::max(failed_opens_, 1));
}

bool NatsConnection::connected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return nc_ && state_ == "connected";
}

std::string NatsConnection::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (state_ == "connected") return "connected";
  std::string s = state_;
  if (attempts_ > 0) s += " (attempt " + std::to_string(attempts_ + 1) + ")";
  if (!last_error_.empty()) s += ": " + last_error_;
  return s;
}

void NatsConnection::note(const char* state, natsConnection* nc) {
  const char* text = nullptr;
  if (nc) natsConnection_GetLastError(nc, &text);
  std::lock_guard<std::mutex> lock(mutex_);
  state_ = state;
  if (strcmp(state, "connected") == 0) {
    connections_++;
    attempts_ = 0;
    last_error_.clear();
  } else if (text && *text && (!is_generic_error(text) || last_error_.empty())) {
    last_error_ = without_location(text);
  }
}

void NatsConnection::on_disconnected(natsConnection* nc, void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  c->note("reconnecting", nc);
  std::lock_guard<std::mutex> lock(c->mutex_);
  if (c->last_error_.empty()) c->last_error_ = "disconnected";
}

void NatsConnection::on_reconnected(natsConnection* nc, void* self) {
  static_cast<NatsConnection*>(self)->note("connected", nc);
}

void NatsConnection::on_closed(natsConnection* nc, void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  c->note("closed", nc);
  std::lock_guard<std::mutex> lock(c->mutex_);
  c->closed_ = true;
  c->closed_cv_.notify_all();
}

void NatsConnection::on_async_error(natsConnection* nc, natsSubscription*, natsStatus err,
                                    void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  const char* text = nullptr;
  natsConnection_GetLastError(nc, &text);
  std::string error = text && *text ? without_location(text) : natsStatus_GetText(err);
  std::lock_guard<std::mutex> lock(c->mutex_);
  c->async_error_ = error.substr(0, 200);
}

std::string NatsConnection::async_error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return async_error_;
}

// libnats asks how long to wait before the next pass over the servers.
int64_t NatsConnection::reconnect_delay(natsConnection*, int attempts, void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  std::lock_guard<std::mutex> lock(c->mutex_);
  c->attempts_ = attempts;
  return backoff_ms(attempts);
}

void NatsConnection::close() {
  if (nc_) {
    natsConnection_Close(nc_);
    // After the closed callback libnats calls nothing of this object any more.
    std::unique_lock<std::mutex> lock(mutex_);
    closed_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return closed_; });
    lock.unlock();
    natsConnection_Destroy(nc_);
    nc_ = nullptr;
  }
  if (options_) {
    natsOptions_Destroy(options_);
    options_ = nullptr;
  }
}

// --- NatsReader ----------------------------------------------------------------------------

NatsReader::NatsReader(NatsSourceConfig config, NatsConnection& connection,
                       std::function<void()> wake)
    : config_(std::move(config)), connection_(connection), wake_(std::move(wake)) {}

NatsReader::~NatsReader() { stop(); }

void NatsReader::start(uint64_t start_seq) {
  next_seq_ = start_seq;
  thread_ = nats_start_thread([this] { run(); });
}

void NatsReader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  room_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void NatsReader::take(std::vector<NatsMessage>& out, size_t max) {
  std::lock_guard<std::mutex> lock(mutex_);
  while (!queue_.empty() && out.size() < max) {
    queue_bytes_ -= queue_.front().payload.size();
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  room_.notify_all();
}

bool NatsReader::failed(std::string* why) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (failed_) *why = failure_;
  return failed_;
}

bool NatsReader::reached_end() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return at_end_ && queue_.empty();
}

uint64_t NatsReader::resolved_start() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return resolved_start_;
}

std::string NatsReader::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

int64_t NatsReader::dropped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return dropped_;
}

void NatsReader::set_status(std::string s) {
  std::lock_guard<std::mutex> lock(mutex_);
  status_ = std::move(s);
}

void NatsReader::fail(std::string why) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failed_ = true;
    failure_ = std::move(why);
  }
  wake_();
}

void NatsReader::push(NatsMessage&& m) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    was_empty = queue_.empty();
    queue_bytes_ += m.payload.size();
    queue_.push_back(std::move(m));
  }
  if (was_empty) wake_();
}

// Waits until the queue has room; false when the reader is stopping.
bool NatsReader::wait_for_room() {
  std::unique_lock<std::mutex> lock(mutex_);
  room_.wait(lock, [&] {
    return stopping_ || (queue_.size() < kQueueMaxMessages && queue_bytes_ < kQueueMaxBytes);
  });
  return !stopping_;
}

// Shows `what` failed with `error` and waits the backoff delay (or until stopped).
void NatsReader::backoff(const std::string& what, const std::string& error) {
  failures_++;
  int64_t ms = backoff_ms(failures_);
  std::unique_lock<std::mutex> lock(mutex_);
  status_ = what + ", retrying in " + seconds_text(ms) + ": " + error;
  room_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_; });
}

void NatsReader::run() {
  for (;;) {
    // Connects from this thread, so a refused connection is retried without the worker.
    while (!connection_.handle()) {
      if (connection_.open()) break;
      std::unique_lock<std::mutex> lock(mutex_);
      status_.clear();  // the connection's status says why
      if (room_.wait_for(lock, std::chrono::milliseconds(connection_.retry_delay_ms()),
                         [&] { return stopping_; }))
        return;
    }
    if (config_.jetstream)
      run_jetstream();
    else
      run_core();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_ || failed_) return;
    }
    // libnats closed the connection for good (the server refused the credentials, say):
    // a new one after the backoff.
    std::string why = connection_.status();
    connection_.close();
    backoff("the connection was closed", why);
  }
}

// Core NATS: a subscription; what is published while the source lags by more than libnats'
// pending limits is dropped by libnats and counted.
void NatsReader::run_core() {
  natsSubscription* sub = nullptr;
  natsStatus s = nats_without_signals([&] {
    return natsConnection_SubscribeSync(&sub, connection_.handle(), config_.subject.c_str());
  });
  if (s != NATS_OK) {
    fail("could not subscribe to subject \"" + config_.subject + "\": " + error_text(s));
    return;
  }
  natsSubscription_SetPendingLimits(sub, kCoreMaxPending, kCorePendingBytes);
  if (connection_.connected()) failures_ = 0;
  while (wait_for_room()) {
    natsMsg* msg = nullptr;
    s = natsSubscription_NextMsg(&msg, sub, kPollMs);
    int64_t dropped = 0;
    if (natsSubscription_GetDropped(sub, &dropped) == NATS_OK) {
      std::lock_guard<std::mutex> lock(mutex_);
      dropped_ = dropped;
    }
    if (s == NATS_TIMEOUT || s == NATS_SLOW_CONSUMER) continue;
    if (s != NATS_OK) {
      if (s == NATS_CONNECTION_CLOSED || s == NATS_INVALID_SUBSCRIPTION) break;
      continue;
    }
    NatsMessage m;
    m.payload.assign(natsMsg_GetData(msg), size_t(natsMsg_GetDataLength(msg)));
    m.subject = natsMsg_GetSubject(msg);
    m.unix_us = int64_t(std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
    natsMsg_Destroy(msg);
    push(std::move(m));
  }
  natsSubscription_Destroy(sub);
}

std::string NatsReader::api_request(const std::string& subject, const std::string& body,
                                    std::string* error) {
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_Request(&reply, connection_.handle(), subject.c_str(), body.data(),
                                        int(body.size()), kApiTimeoutMs);
  if (s != NATS_OK) {
    *error = s == NATS_NO_RESPONDERS ? "JetStream is not available (no responders)" : error_text(s);
    return {};
  }
  std::string out(natsMsg_GetData(reply), size_t(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  if (out.empty()) *error = "empty JetStream API reply";
  return out;
}

// Reads the stream's state: where source.offset 'latest' starts and stop_at 'latest' ends.
// False to be retried; a missing stream fails the reader.
bool NatsReader::resolve_stream() {
  std::string error;
  std::string body = api_request("$JS.API.STREAM.INFO." + config_.stream, "", &error);
  if (body.empty()) {
    backoff("cannot read stream \"" + config_.stream + "\"", error);
    return false;
  }
  uint64_t code = 0;
  std::string api = api_error(body, &code);
  if (code == 10059) {
    fail("JetStream stream \"" + config_.stream + "\" does not exist");
    return false;
  }
  if (!api.empty()) {
    backoff("cannot read stream \"" + config_.stream + "\"", api);
    return false;
  }
  uint64_t last_seq = 0;
  json_uint(body, "last_seq", &last_seq);
  if (next_seq_ == 0) next_seq_ = config_.start_latest ? last_seq + 1 : 1;
  end_seq_ = last_seq;
  std::lock_guard<std::mutex> lock(mutex_);
  resolved_start_ = next_seq_;
  if (config_.stop_at_latest && next_seq_ > end_seq_) at_end_ = true;
  return true;
}

// Creates an ephemeral pull consumer starting at next_seq_, with a fresh inbox for its
// messages (anything an earlier consumer still sends goes nowhere).
bool NatsReader::create_consumer() {
  if (inbox_sub_) {
    natsSubscription_Destroy(inbox_sub_);
    inbox_sub_ = nullptr;
  }
  natsInbox* inbox = nullptr;
  natsStatus s = natsInbox_Create(&inbox);
  if (s != NATS_OK) {
    backoff("cannot create an inbox", error_text(s));
    return false;
  }
  inbox_ = inbox;
  natsInbox_Destroy(inbox);
  s = nats_without_signals([&] {
    return natsConnection_SubscribeSync(&inbox_sub_, connection_.handle(), inbox_.c_str());
  });
  if (s != NATS_OK) {
    backoff("cannot subscribe to an inbox", error_text(s));
    return false;
  }
  natsSubscription_SetPendingLimits(inbox_sub_, -1, -1);  // bounded by the pulls' sizes
  std::string config =
      "{\"deliver_policy\":\"by_start_sequence\",\"opt_start_seq\":" + std::to_string(next_seq_) +
      ",\"ack_policy\":\"all\",\"ack_wait\":600000000000,"
      "\"max_ack_pending\":-1,\"inactive_threshold\":300000000000,"
      "\"replay_policy\":\"instant\"";
  if (!config_.filter_subject.empty())
    config += ",\"filter_subject\":" + json_quote(config_.filter_subject);
  std::string description =
      config_.description.empty() ? "arroyo_stream: " + connection_.label() : config_.description;
  config += ",\"description\":" + json_quote(description) + "}";
  std::string request =
      "{\"stream_name\":" + json_quote(config_.stream) + ",\"config\":" + config + "}";
  std::string error;
  std::string body = api_request("$JS.API.CONSUMER.CREATE." + config_.stream, request, &error);
  if (body.empty()) {
    backoff("cannot create a consumer on stream \"" + config_.stream + "\"", error);
    return false;
  }
  uint64_t code = 0;
  std::string api = api_error(body, &code);
  if (code == 10059) {
    fail("JetStream stream \"" + config_.stream + "\" does not exist");
    return false;
  }
  std::string name;
  if (!api.empty() || !json_string(body, "name", &name)) {
    backoff("cannot create a consumer on stream \"" + config_.stream + "\"",
            api.empty() ? "reply without a consumer name" : api);
    return false;
  }
  consumer_ = name;
  failures_ = 0;
  uint64_t pending = 1;
  if (config_.stop_at_latest && json_uint(body, "num_pending", &pending) && pending == 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    at_end_ = true;
  }
  set_status({});
  return true;
}

// Asks the consumer for up to a batch and queues what arrives; forgets the consumer when the
// server says it is gone (it is created again from the next sequence).
bool NatsReader::pull_batch() {
  int want;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    want = int(std::min<size_t>(kPullBatch, kQueueMaxMessages - queue_.size()));
  }
  // A pull brings at most kQueueMaxBytes, except a pull for one message larger than that.
  if (single_next_) want = 1;
  std::string next = "$JS.API.CONSUMER.MSG.NEXT." + config_.stream + "." + consumer_;
  std::string body = "{\"batch\":" + std::to_string(want) +
                     ",\"expires\":" + std::to_string(kPullExpiresMs * 1000000) +
                     (single_next_ ? "" : ",\"max_bytes\":" + std::to_string(kQueueMaxBytes)) + "}";
  single_next_ = false;
  natsStatus s = natsConnection_PublishRequest(connection_.handle(), next.c_str(), inbox_.c_str(),
                                               body.data(), int(body.size()));
  if (s != NATS_OK) {
    consumer_.clear();
    backoff("cannot read stream \"" + config_.stream + "\"", error_text(s));
    return false;
  }
  std::string last_reply;
  int got = 0;
  int64_t waited_ms = 0;  // since the last message, in slices that let stop() be quick
  while (got < want) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_ || at_end_) break;
    }
    natsMsg* msg = nullptr;
    s = natsSubscription_NextMsg(&msg, inbox_sub_, kPollMs);
    if (s == NATS_TIMEOUT) {
      waited_ms += kPollMs;
      if (waited_ms < kPullReplyWaitMs) continue;
      // The pull was lost (a reconnection, a server restart): start over with a new consumer.
      consumer_.clear();
      break;
    }
    waited_ms = 0;
    if (s != NATS_OK) continue;
    const char* reply = natsMsg_GetReply(msg);
    if (!reply || strncmp(reply, "$JS.ACK.", 8) != 0) {
      // A status: 404 no messages / 408 timeout end the pull; 100 is a heartbeat; anything
      // else (409 consumer deleted, 503 no responders) means the consumer is gone.
      const char* status = nullptr;
      natsMsgHeader_Get(msg, "Status", &status);
      std::string code = status ? status : "";
      if (code == "100") {
        natsMsg_Destroy(msg);
        continue;
      }
      const char* description = nullptr;
      natsMsgHeader_Get(msg, "Description", &description);
      bool too_big = code == "409" && description && strstr(description, "MaxBytes");
      natsMsg_Destroy(msg);
      if (too_big) {
        single_next_ = true;  // the next message alone exceeds max_bytes
        break;
      }
      if (code != "404" && code != "408") consumer_.clear();
      break;
    }
    // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns>.<pending>, or
    // with domain and account hash after ACK (12 tokens or more).
    std::vector<std::string> tokens;
    for (const char *p = reply, *dot; tokens.size() < 16; p = dot + 1) {
      dot = strchr(p, '.');
      tokens.emplace_back(p, dot ? size_t(dot - p) : strlen(p));
      if (!dot) break;
    }
    size_t base = tokens.size() >= 12 ? 4 : 2;
    if (tokens.size() < base + 7) {
      natsMsg_Destroy(msg);
      continue;
    }
    uint64_t seq = strtoull(tokens[base + 3].c_str(), nullptr, 10);
    int64_t ns = strtoll(tokens[base + 5].c_str(), nullptr, 10);
    uint64_t pending = strtoull(tokens[base + 6].c_str(), nullptr, 10);
    last_reply = reply;
    got++;
    if (config_.stop_at_latest && seq > end_seq_) {
      natsMsg_Destroy(msg);
      std::lock_guard<std::mutex> lock(mutex_);
      at_end_ = true;
      break;
    }
    if (seq >= next_seq_) {  // anything older was queued already
      NatsMessage m;
      m.payload.assign(natsMsg_GetData(msg), size_t(natsMsg_GetDataLength(msg)));
      m.subject = natsMsg_GetSubject(msg);
      m.seq = seq;
      m.unix_us = ns / 1000;
      push(std::move(m));
      next_seq_ = seq + 1;
      if (config_.stop_at_latest && (seq >= end_seq_ || pending == 0)) {
        std::lock_guard<std::mutex> lock(mutex_);
        at_end_ = true;
      }
    }
    natsMsg_Destroy(msg);
  }
  // Acknowledges everything up to the last message (ack policy "all").
  if (!last_reply.empty())
    natsConnection_Publish(connection_.handle(), last_reply.c_str(), "+ACK", 4);
  return true;
}

// JetStream: reads the stream through ephemeral pull consumers, each started right after the
// last message queued, so nothing is skipped or queued twice across reconnections.
void NatsReader::run_jetstream() {
  bool resolved = false;
  for (;;) {
    {
      // At the end (source.stop_at 'latest'): nothing more to read until stopped.
      std::unique_lock<std::mutex> lock(mutex_);
      if (at_end_) room_.wait(lock, [&] { return stopping_; });
      if (stopping_) break;
    }
    if (natsConnection_IsClosed(connection_.handle())) break;
    if (!connection_.connected()) {
      std::unique_lock<std::mutex> lock(mutex_);
      room_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_; });
      continue;
    }
    if (!resolved && !(resolved = resolve_stream())) continue;
    if (consumer_.empty() && !create_consumer()) continue;
    if (!wait_for_room()) break;
    pull_batch();
  }
  if (!consumer_.empty()) {
    std::string del = "$JS.API.CONSUMER.DELETE." + config_.stream + "." + consumer_;
    natsConnection_Publish(connection_.handle(), del.c_str(), nullptr, 0);
    natsConnection_FlushTimeout(connection_.handle(), 1000);
  }
  if (inbox_sub_) natsSubscription_Destroy(inbox_sub_);
  inbox_sub_ = nullptr;
}

}  // namespace arroyo
