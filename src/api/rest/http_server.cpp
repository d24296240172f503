#include "api/rest/http_server.hpp"

#include <libwebsockets.h>
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace arroyo {

namespace {

constexpr const char* kProtocolName = "http";
constexpr size_t kWriteChunk = 16384;  // body bytes written per writeable callback

int protocol_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  return HttpServer::dispatch(wsi, int(reason), user, in, len);
}

const lws_protocols kProtocols[] = {
    {kProtocolName, protocol_callback, 0, 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

// A header's value, or "" when the request has none.
std::string header(lws* wsi, lws_token_indexes token) {
  int len = lws_hdr_total_length(wsi, token);
  if (len <= 0) return {};
  std::string out(size_t(len) + 1, '\0');
  int n = lws_hdr_copy(wsi, &out[0], len + 1, token);
  out.resize(n > 0 ? size_t(n) : 0);
  return out;
}

// The request's method, from the header token libwebsockets filled in for its URI.
std::string request_method(lws* wsi) {
  static const std::pair<lws_token_indexes, const char*> kMethods[] = {
      {WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
      {WSI_TOKEN_PATCH_URI, "PATCH"},   {WSI_TOKEN_PUT_URI, "PUT"},
      {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
      {WSI_TOKEN_HEAD_URI, "HEAD"},
  };
  for (const auto& m : kMethods)
    if (lws_hdr_total_length(wsi, m.first) > 0) return m.second;
  return {};
}

// A one-line JSON error body (messages here are plain ASCII without quotes).
std::string error_body(const std::string& message, const char* sqlstate) {
  return "{\"error\": \"" + message + "\", \"sqlstate\": \"" + sqlstate + "\"}\n";
}

}  // namespace

// One HTTP connection's current request and its answer (keep-alive connections carry several
// requests, one after the other).
struct HttpServer::Conn {
  HttpRequest request;
  size_t expected_body = 0;
  bool waiting_for_body = false;
  uint64_t pending_id = 0;  // queued to the worker, not answered yet
  bool has_response = false;
  HttpResponse response;
  bool headers_sent = false;
  size_t sent = 0;
  uint64_t stream_id = 0;     // a streamed answer's request id
  bool stream_ended = false;  // its last part has arrived
  bool close_after = false;   // the request's body was not read: the connection cannot go on

  void reset() { *this = Conn(); }
};

HttpServer::HttpServer(HttpServerConfig config, std::function<void()> wake)
    : config_(std::move(config)), wake_(std::move(wake)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  lws_set_log_level(LLL_ERR, nullptr);
  lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  if (!config_.tls_cert_file.empty()) info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.user = this;
  info.gid = -1;
  info.uid = -1;
  // A small fd table searched linearly, so the backend's high fd numbers are fine.
  info.fd_limit_per_thread = unsigned(config_.max_connections + config_.addresses.size() + 4);
  context_ = lws_create_context(&info);
  if (!context_) throw std::runtime_error("could not create a libwebsockets context");

  for (const std::string& address : config_.addresses) {
    lws_context_creation_info vh;
    memset(&vh, 0, sizeof vh);
    vh.port = config_.port;
    vh.iface = address == "*" ? nullptr : address.c_str();
    vh.protocols = kProtocols;
    vh.vhost_name = address.c_str();
    vh.keepalive_timeout = 30;
    vh.timeout_secs = 30;
    vh.alpn = "http/1.1";
    if (!config_.tls_cert_file.empty()) {
      vh.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
      vh.ssl_cert_filepath = config_.tls_cert_file.c_str();
      vh.ssl_private_key_filepath = config_.tls_key_file.c_str();
    }
    if (!lws_create_vhost(context_, &vh)) {
      lws_context_destroy(context_);
      context_ = nullptr;
      throw std::runtime_error(
          "could not listen on " + address + " port " + std::to_string(config_.port) +
          (config_.tls_cert_file.empty() ? std::string()
                                         : " with certificate " + config_.tls_cert_file +
                                               " and key " + config_.tls_key_file));
    }
  }

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
    throw std::runtime_error("could not start the HTTP server thread");
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void HttpServer::stop() {
  stopping_ = true;
  if (context_) lws_cancel_service(context_);
  if (thread_.joinable()) thread_.join();
  // Destroying the context closes every connection; the callbacks see stopping_.
  if (context_) lws_context_destroy(context_);
  context_ = nullptr;
  conns_.clear();
}

std::vector<HttpRequest> HttpServer::take(size_t max) {
  std::vector<HttpRequest> out;
  std::lock_guard<std::mutex> lock(mutex_);
  while (out.size() < max && !requests_.empty()) {
    out.push_back(std::move(requests_.front()));
    requests_.pop_front();
  }
  return out;
}

void HttpServer::respond(uint64_t id, HttpResponse response) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    responses_.push_back(Answer{id, std::move(response)});
    if (in_flight_ > 0) in_flight_--;
  }
  if (context_) lws_cancel_service(context_);
}

void HttpServer::stream(uint64_t id, std::string more, bool last) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    HttpResponse part;
    part.body = std::move(more);
    responses_.push_back(Answer{id, std::move(part), true, last});
  }
  if (context_) lws_cancel_service(context_);
}

bool HttpServer::gone(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return gone_.count(id) > 0;
}

// Drops a closed connection, noting it if it was streaming an answer.
void HttpServer::forget(lws* wsi) {
  auto it = conns_.find(wsi);
  if (it == conns_.end()) return;
  if (it->second->stream_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    gone_.insert(it->second->stream_id);
  }
  conns_.erase(it);
}

bool HttpServer::failed(std::string* why) const {
  if (!failed_) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  *why = error_;
  return true;
}

int HttpServer::dispatch(lws* wsi, int reason, void* user, void* in, size_t len) {
  lws_context* context = lws_get_context(wsi);
  auto* self = context ? static_cast<HttpServer*>(lws_context_user(context)) : nullptr;
  if (!self) return lws_callback_http_dummy(wsi, lws_callback_reasons(reason), user, in, len);
  // No exception may unwind through libwebsockets' C frames: a failing request (say,
  // std::bad_alloc) closes its connection.
  try {
    return self->callback(wsi, reason, in, len);
  } catch (...) {
  }
  try {
    self->forget(wsi);
  } catch (...) {
  }
  return -1;
}

int HttpServer::callback(lws* wsi, int reason_code, void* in, size_t len) {
  auto reason = lws_callback_reasons(reason_code);
  if (stopping_ && reason != LWS_CALLBACK_EVENT_WAIT_CANCELLED)
    return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
  switch (reason) {
    case LWS_CALLBACK_HTTP: return on_http(wsi, static_cast<const char*>(in), len);
    case LWS_CALLBACK_HTTP_BODY: {
      auto it = conns_.find(wsi);
      if (it == conns_.end()) return -1;
      Conn& conn = *it->second;
      if (conn.close_after) return 0;  // refused already: the body is read and dropped
      if (!conn.waiting_for_body || conn.request.body.size() + len > conn.expected_body) return -1;
      conn.request.body.append(static_cast<const char*>(in), len);
      return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
      auto it = conns_.find(wsi);
      if (it == conns_.end()) return -1;
      if (it->second->close_after) return 0;
      if (!it->second->waiting_for_body) return -1;
      it->second->waiting_for_body = false;
      queue_request(wsi, *it->second);
      return 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE: return on_writeable(wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_WSI_DESTROY:
      forget(wsi);
      return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: on_wakeup(); return 0;
    default: return lws_callback_http_dummy(wsi, reason, nullptr, in, len);
  }
}

// A request's headers have arrived: note them, then wait for its body or queue it.
int HttpServer::on_http(lws* wsi, const char* uri, size_t len) {
  auto& slot = conns_[wsi];
  if (!slot) slot.reset(new Conn());
  Conn& conn = *slot;
  conn.reset();
  conn.request.method = request_method(wsi);
  conn.request.path.assign(uri ? uri : "", uri ? len : 0);
  conn.request.authorization = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  std::string length_text = header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  size_t length = 0;
  if (!length_text.empty()) {
    char* end = nullptr;
    unsigned long long n = strtoull(length_text.c_str(), &end, 10);
    if (*end != '\0') {
      answer_now(wsi, conn, 400, "invalid Content-Length", true);
      return 0;
    }
    if (n > config_.max_body_bytes) {
      answer_now(wsi, conn, 413,
                 "the request body is larger than " + std::to_string(config_.max_body_bytes) +
                     " bytes",
                 true);
      return 0;
    }
    length = size_t(n);
  }
  if (length_text.empty() && !header(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING).empty()) {
    answer_now(wsi, conn, 411, "a request body needs a Content-Length (no chunked bodies)", true);
    return 0;
  }
  // The worker may take a while (stream_stop waits for the pipeline's worker): no timeout
  // while the request is in our hands.
  lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
  if (length > 0) {
    conn.expected_body = length;
    conn.waiting_for_body = true;
    conn.request.body.reserve(length);
    return 0;
  }
  queue_request(wsi, conn);
  return 0;
}

void HttpServer::queue_request(lws* wsi, Conn& conn) {
  bool full = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (in_flight_ >= config_.max_pending) {
      full = true;
    } else {
      conn.request.id = next_id_++;
      conn.pending_id = conn.request.id;
      requests_.push_back(conn.request);
      in_flight_++;
    }
  }
  if (full) {
    answer_now(wsi, conn, 503,
               "too many requests in progress (" + std::to_string(config_.max_pending) + ")",
               false);
    return;
  }
  conn.request.body.clear();
  wake_();
}

// Answers a request from this thread, without the worker (malformed or too much).
void HttpServer::answer_now(lws* wsi, Conn& conn, int status, const std::string& message,
                            bool close_after) {
  conn.response = HttpResponse();
  conn.response.status = status;
  conn.response.body = error_body(message, status == 503 ? "53000" : "54000");
  if (status == 400 || status == 411) conn.response.body = error_body(message, "22023");
  conn.has_response = true;
  conn.close_after = close_after;
  lws_callback_on_writable(wsi);
}

// Writes the answer: the headers first, then the body in chunks, one write per callback.
int HttpServer::on_writeable(lws* wsi) {
  auto it = conns_.find(wsi);
  if (it == conns_.end() || !it->second->has_response) return 0;
  Conn& conn = *it->second;
  HttpResponse& r = conn.response;
  if (!conn.headers_sent) {
    unsigned char buf[LWS_PRE + 2048];
    unsigned char* start = buf + LWS_PRE;
    unsigned char* p = start;
    unsigned char* end = buf + sizeof(buf) - 1;
    lws_filepos_t length = r.streamed ? LWS_ILLEGAL_HTTP_CONTENT_LEN : lws_filepos_t(r.body.size());
    if (lws_add_http_common_headers(wsi, unsigned(r.status), r.content_type.c_str(), length, &p,
                                    end))
      return -1;
    for (const auto& h : r.headers) {
      std::string name = h.first + ":";
      if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name.c_str()),
                                      reinterpret_cast<const unsigned char*>(h.second.data()),
                                      int(h.second.size()), &p, end))
        return -1;
    }
    if (conn.close_after &&
        lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("connection:"),
                                    reinterpret_cast<const unsigned char*>("close"), 5, &p, end))
      return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
    conn.headers_sent = true;
    if (!r.body.empty() || (r.streamed && conn.stream_ended)) lws_callback_on_writable(wsi);
    if (!r.body.empty() || r.streamed) return 0;
  } else {
    size_t n = std::min(kWriteChunk, r.body.size() - conn.sent);
    // A streamed answer ends with its last part; until then it waits for more.
    bool last = conn.sent + n == r.body.size() && (!r.streamed || conn.stream_ended);
    if (n == 0 && !last) return 0;
    if (n > 0) {
      std::vector<unsigned char> buf(LWS_PRE + n);
      memcpy(buf.data() + LWS_PRE, r.body.data() + conn.sent, n);
      if (lws_write(wsi, buf.data() + LWS_PRE, n,
                    last && !r.streamed ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != int(n))
        return -1;
      conn.sent += n;
    }
    if (r.streamed) {  // what was written is not needed again
      r.body.erase(0, conn.sent);
      conn.sent = 0;
    }
    if (!last) {
      if (conn.sent < r.body.size()) lws_callback_on_writable(wsi);
      return 0;
    }
  }
  bool close = conn.close_after;
  conn.reset();
  if (close) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

// The worker has answered: hand each answer to its connection, if it is still open.
void HttpServer::on_wakeup() {
  std::deque<Answer> answers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    answers.swap(responses_);
  }
  for (Answer& answer : answers)
    for (auto& entry : conns_) {
      Conn& conn = *entry.second;
      if (answer.chunk) {
        if (conn.stream_id != answer.id) continue;
        conn.response.body += answer.response.body;
        conn.stream_ended = conn.stream_ended || answer.last;
      } else {
        if (conn.pending_id != answer.id) continue;
        conn.pending_id = 0;
        conn.response = std::move(answer.response);
        conn.has_response = true;
        if (conn.response.streamed) {
          conn.stream_id = answer.id;
          conn.close_after = true;  // no length: the end of the answer is the end of the connection
        }
      }
      if (conn.headers_sent || !answer.chunk) lws_callback_on_writable(entry.first);
      break;
    }
}

// The thread's body. An exception escaping a thread would abort the whole backend, so none
// does: the server records it and stops, and the worker exits with it.
void HttpServer::run() {
  try {
    while (!stopping_ && !failed_)
      if (lws_service(context_, 0) < 0) fail("the libwebsockets service loop failed");
  } catch (const std::exception& e) {
    fail(e.what());
  } catch (...) {
    fail("unknown error");
  }
}

void HttpServer::fail(const std::string& why) noexcept {
  try {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = why;
  } catch (...) {
  }
  failed_ = true;
  wake_();
}

}  // namespace arroyo
