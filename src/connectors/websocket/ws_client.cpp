// The libwebsockets side of the websocket connector. Everything here runs without PostgreSQL:
// the client thread only talks to libwebsockets, the queue and the wake callback.
#include "connectors/websocket/ws_client.hpp"

#include "core/url_authority.hpp"

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <netdb.h>
#include <unistd.h>

namespace arroyo {

namespace {

constexpr const char* kProtocolName = "arroyo-websocket";
// How much libwebsockets hands us per receive callback (a message may take several).
constexpr size_t kRxChunkBytes = 64 * 1024;
// Room for the handshake, including our headers.
constexpr unsigned kHandshakeBufferBytes = 32 * 1024;
// Connecting and the HTTP upgrade must each finish within this.
constexpr unsigned kConnectTimeoutSecs = 10;
// TCP keepalive: a peer that vanished is noticed after about 30 + 3 * 10 seconds of silence.
constexpr int kKeepaliveIdleSecs = 30, kKeepaliveIntervalSecs = 10, kKeepaliveProbes = 3;
// Debian's bundle of trusted CA certificates (ca-certificates); OpenSSL's default paths are
// loaded as well.
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

int64_t clock_us(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// libwebsockets' own error log lines go to stderr, which is the server log.
void log_line(int, const char* line) {
  std::string text = std::string("arroyo_stream websocket: libwebsockets: ") + line;
  if (text.empty() || text.back() != '\n') text += '\n';
  ssize_t ignored = write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(tolower((unsigned char)c));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// RFC 7230 "tchar": the characters of a header name.
bool is_token_char(char c) {
  return isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// Bytes that cannot appear unencoded in a URL.
bool is_url_char(char c) {
  return (unsigned char)c > 0x20 && (unsigned char)c < 0x7f && !strchr("<>\"{}|\\^`", c);
}

std::string describe_delay(int64_t us) {
  char buf[32];
  if (us % 1000000 == 0)
    snprintf(buf, sizeof buf, "%lld s", (long long)(us / 1000000));
  else
    snprintf(buf, sizeof buf, "%.1f s", double(us) / 1e6);
  return buf;
}

int protocol_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  return WsClient::dispatch(wsi, int(reason), user, in, len);
}

lws_protocols kProtocols[] = {
    {kProtocolName, protocol_callback, 0, kRxChunkBytes, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

bool parse_ws_endpoint(const std::string& url, WsEndpoint* out, std::string* why) {
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : lower(url.substr(0, scheme_end));
  if (scheme != "ws" && scheme != "wss") {
    *why = "The endpoint must start with ws:// or wss://.";
    return false;
  }
  WsEndpoint e;
  e.url = url;
  e.tls = scheme == "wss";
  std::string rest = url.substr(scheme_end + 3);
  size_t authority_end = rest.find_first_of("/?#");
  std::string authority = rest.substr(0, authority_end);
  e.path = authority_end == std::string::npos ? "/" : rest.substr(authority_end);
  if (e.path[0] == '?') e.path = "/" + e.path;
  if (e.path.find('#') != std::string::npos) {
    *why = "The endpoint cannot have a fragment (#...).";
    return false;
  }
  if (!std::all_of(e.path.begin(), e.path.end(), is_url_char)) {
    *why = "The endpoint's path contains a space or another character that must be %-encoded.";
    return false;
  }
  if (authority.find('@') != std::string::npos) {
    *why =
        "User information (user@host) is not supported in the endpoint; send credentials "
        "with the headers option.";
    return false;
  }
  std::string port_text;
  bool has_port = false;
  if (!split_url_authority(authority, "endpoint", &e.host, &port_text, &has_port, why))
    return false;
  if (!std::all_of(e.host.begin(), e.host.end(), is_url_char) ||
      e.host.find_first_of("/?#[]") != std::string::npos) {
    *why = "The endpoint's host contains characters a host name cannot have.";
    return false;
  }
  if (has_port) {
    if (!parse_url_port(port_text, "endpoint", &e.port, why)) return false;
  } else {
    e.port = e.tls ? 443 : 80;
  }
  *out = std::move(e);
  return true;
}

bool parse_ws_headers(const std::string& text, std::vector<WsHeader>* out, std::string* why) {
  static const char* const kReserved[] = {"host",
                                          "upgrade",
                                          "connection",
                                          "sec-websocket-key",
                                          "sec-websocket-version",
                                          "sec-websocket-extensions"};
  std::vector<WsHeader> headers;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) {
      *why = "Expected 'Name: value' pairs separated by commas; found an empty one.";
      return false;
    }
    size_t colon = item.find(':');
    if (colon == std::string::npos) {
      *why = "Header \"" + item + "\" has no ':'; expected 'Name: value'.";
      return false;
    }
    WsHeader h{trim(item.substr(0, colon)), trim(item.substr(colon + 1))};
    if (h.name.empty() || !std::all_of(h.name.begin(), h.name.end(), is_token_char)) {
      *why = "\"" + h.name + "\" is not a valid header name.";
      return false;
    }
    if (h.value.empty()) {
      *why = "Header \"" + h.name + "\" has an empty value.";
      return false;
    }
    for (char c : h.value)
      if (((unsigned char)c < 0x20 && c != '\t') || c == 0x7f) {
        *why = "Header \"" + h.name + "\" contains a control character.";
        return false;
      }
    for (const char* reserved : kReserved)
      if (lower(h.name) == reserved) {
        *why = "Header \"" + h.name + "\" is set by the websocket handshake itself.";
        return false;
      }
    headers.push_back(std::move(h));
  }
  *out = std::move(headers);
  return true;
}

// The reconnect timer, as libwebsockets schedules it.
struct WsClient::Timer {
  lws_sorted_usec_list_t sul;
  WsClient* owner;
};

WsClient::WsClient(WsClientConfig config, std::function<void()> wake)
    : config_(std::move(config)),
      wake_(std::move(wake)),
      timer_(new Timer{}),
      assembler_(config_.max_message_bytes) {
  timer_->owner = this;
}

WsClient::~WsClient() { stop(); }

void WsClient::start() {
  lws_set_log_level(LLL_ERR, log_line);

  lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = kProtocols;
  info.user = this;
  info.gid = -1;
  info.uid = -1;
  info.options = config_.endpoint.tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
  info.timeout_secs = kConnectTimeoutSecs;
  info.connect_timeout_secs = kConnectTimeoutSecs;
  // A small fd table searched linearly, so the backend's high fd numbers are fine.
  info.fd_limit_per_thread = 8;
  info.pt_serv_buf_size = kHandshakeBufferBytes;
  info.ka_time = kKeepaliveIdleSecs;
  info.ka_probes = kKeepaliveProbes;
  info.ka_interval = kKeepaliveIntervalSecs;
  if (!config_.ca_file.empty())
    info.client_ssl_ca_filepath = config_.ca_file.c_str();
  else if (config_.endpoint.tls && access(kSystemCaBundle, R_OK) == 0)
    info.client_ssl_ca_filepath = kSystemCaBundle;
  context_ = lws_create_context(&info);
  if (!context_) throw std::runtime_error("could not create a libwebsockets context");

  // The thread must not take the backend's signals: block them all while creating it.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    lws_context_destroy(context_);
    context_ = nullptr;
    throw std::runtime_error("could not start the websocket client thread");
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void WsClient::stop() {
  stopping_ = true;
  if (context_) lws_cancel_service(context_);
  if (thread_.joinable()) thread_.join();
  // Destroying the context closes the connection; its callbacks see stopping_ and do nothing.
  if (context_) lws_context_destroy(context_);
  context_ = nullptr;
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.clear();
  queued_bytes_ = 0;
}

size_t WsClient::take(std::vector<WsMessage>& out, size_t max) {
  size_t n = 0;
  bool resume = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    while (n < max && !queue_.empty()) {
      queued_bytes_ -= queue_.front().payload.size();
      out.push_back(std::move(queue_.front()));
      queue_.pop_front();
      n++;
    }
    if (paused_ && !resume_requested_ && queue_.size() <= config_.queue_max_messages / 2 &&
        queued_bytes_ <= config_.queue_max_bytes / 2) {
      resume_requested_ = true;
      resume = true;
    }
  }
  // The client thread resumes reading when it sees resume_requested_ (on_wakeup).
  if (resume && context_) lws_cancel_service(context_);
  return n;
}

std::string WsClient::status() const {
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

int WsClient::dispatch(lws* wsi, int reason, void* user, void* in, size_t len) {
  lws_context* context = lws_get_context(wsi);
  auto* self = context ? static_cast<WsClient*>(lws_context_user(context)) : nullptr;
  if (!self) return lws_callback_http_dummy(wsi, lws_callback_reasons(reason), user, in, len);
  // No exception may unwind through libwebsockets' C frames.
  std::string failure;
  try {
    return self->callback(wsi, reason, user, in, len);
  } catch (const std::exception& e) {
    failure = e.what();  // e.g. std::bad_alloc: drop the connection, try again later
  } catch (...) {
  }
  try {
    self->on_connection_ended("internal error in the websocket client: " + failure);
  } catch (...) {
  }
  return -1;
}

int WsClient::callback(lws* wsi, int reason_code, void* user, void* in, size_t len) {
  auto reason = lws_callback_reasons(reason_code);
  if (stopping_ && reason != LWS_CALLBACK_EVENT_WAIT_CANCELLED)
    return lws_callback_http_dummy(wsi, reason, user, in, len);
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: return append_headers(wsi, in, len);
    case LWS_CALLBACK_CLIENT_ESTABLISHED: on_established(wsi); return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: return on_writeable(wsi);
    case LWS_CALLBACK_CLIENT_RECEIVE: on_receive(wsi, static_cast<const char*>(in), len); return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      on_peer_close(static_cast<const unsigned char*>(in), len);
      return 0;
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
      // Only remembers why OpenSSL rejected the certificate; returning 0 keeps its verdict.
      if (!len && user) {
        int error = X509_STORE_CTX_get_error(static_cast<X509_STORE_CTX*>(user));
        tls_error_ =
            std::string("certificate verify failed: ") + X509_verify_cert_error_string(error);
      }
      return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      on_connection_ended(connection_error(in, len));
      return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
      on_connection_ended(closing_reason_.empty() ? "connection closed" : closing_reason_);
      return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:  // closed before the upgrade, e.g. by a timeout
      on_connection_ended(
          "the connection closed before the websocket handshake completed "
          "(the limit is " +
          std::to_string(kConnectTimeoutSecs) + " s)");
      return 0;
    case LWS_CALLBACK_WSI_DESTROY:  // a last resort: every connection ends here
      if (connection_live_ && wsi == wsi_) on_connection_ended("connection closed");
      return lws_callback_http_dummy(wsi, reason, user, in, len);
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: on_wakeup(); return 0;
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

void WsClient::connect_timer(lws_sorted_usec_list_t* sul) {
  WsClient* self = lws_container_of(sul, Timer, sul)->owner;
  // No exception may unwind through libwebsockets' C frames.
  try {
    self->connect();
  } catch (const std::exception& e) {
    self->fail(e.what());
  } catch (...) {
    self->fail("unknown error");
  }
}

// The thread's body. An exception escaping a thread would abort the whole backend, so none
// does: the client records it and stops, and the source fails the pipeline.
void WsClient::run() {
  try {
    connect();
    while (!stopping_ && !failed_) {
      if (lws_service(context_, 0) < 0) fail("the libwebsockets service loop failed");
    }
  } catch (const std::exception& e) {
    fail(e.what());
  } catch (...) {
    fail("unknown error");
  }
}

void WsClient::fail(const char* why) noexcept {
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = State::Failed;
    status_error_ = why;
  } catch (...) {
  }
  failed_ = true;
  wake_();
}

bool WsClient::failed(std::string* why) const {
  if (!failed_) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  *why = status_error_;
  return true;
}

// Starts a connection attempt (on the client thread).
void WsClient::connect() {
  if (stopping_ || connection_live_) return;
  attempts_++;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = State::Connecting;
    status_attempt_ = attempts_;
  }
  wake_();
  const WsEndpoint& e = config_.endpoint;
  bool default_port = e.port == (e.tls ? 443 : 80);
  std::string host = e.host.find(':') != std::string::npos ? "[" + e.host + "]" : e.host;
  std::string host_header = default_port ? host : host + ":" + std::to_string(e.port);

  lws_client_connect_info info;
  memset(&info, 0, sizeof info);
  info.context = context_;
  info.address = e.host.c_str();
  info.port = e.port;
  info.path = e.path.c_str();
  info.host = host_header.c_str();
  info.ssl_connection = e.tls ? LCCSCF_USE_SSL : 0;
  info.local_protocol_name = kProtocolName;
  info.alpn = "http/1.1";
  connection_live_ = true;
  closing_reason_.clear();
  tls_error_.clear();
  assembler_.reset();
  lws* wsi = lws_client_connect_via_info(&info);
  // A failure may or may not have been reported through CONNECTION_ERROR already.
  if (!wsi)
    on_connection_ended(start_failure());
  else if (connection_live_)
    wsi_ = wsi;
}

// Describes a failed attempt from libwebsockets' message and, for TLS, OpenSSL's own reason
// (libwebsockets reports TLS failures as an unhelpful "connect SSL err 1: ...").
std::string WsClient::connection_error(const void* in, size_t len) {
  std::string lws_text = !in   ? "connection failed"
                         : len ? std::string(static_cast<const char*>(in), len)
                               : std::string(static_cast<const char*>(in));
  while (!lws_text.empty() && (lws_text.back() == '\0' || lws_text.back() == '\n'))
    lws_text.pop_back();
  std::string where = config_.endpoint.host + ":" + std::to_string(config_.endpoint.port);
  if (config_.endpoint.tls && lws_text.find("SSL") != std::string::npos) {
    std::string reason = tls_error_;
    unsigned long e = ERR_peek_last_error();
    if (reason.empty() && e && ERR_reason_error_string(e)) reason = ERR_reason_error_string(e);
    ERR_clear_error();
    if (reason.empty()) reason = "the server did not complete a TLS handshake";
    return "TLS handshake with " + where + " failed: " + reason;
  }
  return "could not connect to " + where + ": " + lws_text;
}

// Why libwebsockets gave up on an attempt without saying (it does so when the host name does
// not resolve): looks the name up again to tell.
std::string WsClient::start_failure() {
  const WsEndpoint& e = config_.endpoint;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(e.host.c_str(), nullptr, &hints, &found);
  if (rc != 0) return "could not resolve host \"" + e.host + "\": " + gai_strerror(rc);
  freeaddrinfo(found);
  return "could not connect to " + e.host + ":" + std::to_string(e.port) +
         ": libwebsockets could not start the connection";
}

// Adds the configured headers to the upgrade request.
int WsClient::append_headers(lws* wsi, void* in, size_t len) {
  auto** p = static_cast<unsigned char**>(in);
  unsigned char* end = *p + len;
  for (const WsHeader& h : config_.headers) {
    std::string name = h.name + ":";
    if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name.c_str()),
                                    reinterpret_cast<const unsigned char*>(h.value.data()),
                                    int(h.value.size()), p, end))
      return 1;  // does not fit: the attempt fails
  }
  return 0;
}

void WsClient::on_established(lws* wsi) {
  wsi_ = wsi;
  connections_++;
  connected_at_us_ = clock_us(CLOCK_MONOTONIC);
  next_subscription_ = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    state_ = State::Connected;
    status_connection_ = connections_;
    status_error_.clear();
  }
  wake_();
  if (!config_.subscriptions.empty()) lws_callback_on_writable(wsi);
}

// Sends the next subscription message, one per writeable callback.
int WsClient::on_writeable(lws* wsi) {
  if (next_subscription_ >= config_.subscriptions.size()) return 0;
  const std::string& text = config_.subscriptions[next_subscription_++];
  std::vector<unsigned char> buf(LWS_PRE + text.size());
  memcpy(buf.data() + LWS_PRE, text.data(), text.size());
  int written = lws_write(wsi, buf.data() + LWS_PRE, text.size(), LWS_WRITE_TEXT);
  if (written < int(text.size())) {
    closing_reason_ =
        "could not send subscription message " + std::to_string(next_subscription_ - 1);
    return -1;
  }
  if (next_subscription_ < config_.subscriptions.size()) lws_callback_on_writable(wsi);
  return 0;
}

bool WsAssembler::add(const char* data, size_t len, bool binary, bool final, WsMessage* done) {
  if (!in_message_) {
    partial_ = WsMessage{};
    partial_.binary = binary;
    in_message_ = true;
  }
  partial_.size += len;
  if (!partial_.oversized) {
    if (partial_.size > max_bytes_) {
      partial_.oversized = true;
      std::string().swap(partial_.payload);
    } else {
      partial_.payload.append(data, len);
    }
  }
  if (!final) return false;
  in_message_ = false;
  *done = std::move(partial_);
  partial_ = WsMessage{};
  return true;
}

void WsAssembler::reset() {
  in_message_ = false;
  partial_ = WsMessage{};
}

// Collects one message from its fragments; a message over max_message_bytes is dropped as it
// arrives and queued as an empty "oversized" message.
void WsClient::on_receive(lws* wsi, const char* data, size_t len) {
  WsMessage message;
  if (!assembler_.add(data, len, lws_frame_is_binary(wsi), lws_is_final_fragment(wsi), &message))
    return;
  message.received_unix_us = clock_us(CLOCK_REALTIME);
  push(std::move(message));
}

void WsClient::push(WsMessage&& message) {
  bool was_empty, pause;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    was_empty = queue_.empty();
    queued_bytes_ += message.payload.size();
    queue_.push_back(std::move(message));
    pause = !paused_ && (queue_.size() >= config_.queue_max_messages ||
                         queued_bytes_ >= config_.queue_max_bytes);
    if (pause) {
      paused_ = true;
      resume_requested_ = false;
    }
  }
  // Stop reading: unread data stays in the socket and TCP flow control slows the server.
  if (pause && wsi_) lws_rx_flow_control(wsi_, 0);
  if (was_empty || pause) wake_();
}

void WsClient::on_wakeup() {
  bool resume = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (resume_requested_) {
      resume_requested_ = false;
      resume = paused_;
      paused_ = false;
    }
  }
  if (resume && wsi_ && connected_at_us_)
    lws_rx_flow_control(wsi_, 1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW);
}

std::string ws_close_reason(const unsigned char* data, size_t len) {
  std::string reason = "the server closed the connection";
  if (len >= 2) {
    reason += " (code " + std::to_string((data[0] << 8) | data[1]);
    if (len > 2) reason += ": " + std::string(reinterpret_cast<const char*>(data + 2), len - 2);
    reason += ")";
  }
  return reason;
}

// Remembers the server's close code and reason for the status line.
void WsClient::on_peer_close(const unsigned char* data, size_t len) {
  closing_reason_ = ws_close_reason(data, len);
}

// After a failed attempt or a closed connection: schedule the next attempt with backoff.
void WsClient::on_connection_ended(const std::string& error) {
  if (!connection_live_ || stopping_) return;
  connection_live_ = false;
  wsi_ = nullptr;
  assembler_.reset();
  int64_t now = clock_us(CLOCK_MONOTONIC);
  if (connected_at_us_ && now - connected_at_us_ >= kStableConnectionUs) consecutive_failures_ = 0;
  connected_at_us_ = 0;
  consecutive_failures_++;
  int64_t delay = kFirstRetryUs << std::min(consecutive_failures_ - 1, 16);
  delay = std::min(delay, kMaxRetryUs);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = false;
    resume_requested_ = false;
    state_ = State::Reconnecting;
    status_attempt_ = attempts_ + 1;
    status_retry_us_ = delay;
    status_error_ = error;
  }
  wake_();
  lws_sul_schedule(context_, 0, &timer_->sul, &WsClient::connect_timer, delay);
}

}  // namespace arroyo
