// HttpServer: the REST API's HTTP(S) listener, run by libwebsockets on a thread of its own.
// This half of the API never touches PostgreSQL (no PostgreSQL headers here): it accepts
// connections, reads each request with its body, and hands complete requests to the API
// worker's main thread through a bounded queue; the worker answers each by its id, and this
// thread writes the answer back. Requests are answered in the order the worker takes them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

struct lws;
struct lws_context;

namespace arroyo {

struct HttpRequest {
  uint64_t id = 0;
  std::string method;  // GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD
  std::string path;    // URL-decoded by libwebsockets, without the query string
  std::string authorization;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers ("name", "value")
  // A streamed answer (Server-Sent Events): sent without a length, its body continued by
  // HttpServer::stream(); the connection closes after its last part.
  bool streamed = false;
};

struct HttpServerConfig {
  int port = 0;
  std::vector<std::string> addresses;       // IP literals; "*" for every address
  std::string tls_cert_file, tls_key_file;  // both or neither
  size_t max_body_bytes = 1 << 20;
  size_t max_pending = 64;  // requests queued or being answered; more get 503
  size_t max_connections = 128;
};

class HttpServer {
 public:
  // `wake` is called from the server thread when a request is queued (it must be thread-safe).
  HttpServer(HttpServerConfig config, std::function<void()> wake);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds every address and starts the thread; throws std::runtime_error saying why not.
  void start();
  void stop();
  // Takes up to `max` queued requests.
  std::vector<HttpRequest> take(size_t max);
  // Answers request `id` (a request whose connection has closed is forgotten).
  void respond(uint64_t id, HttpResponse response);
  // Continues the streamed answer to request `id` with `more` (`last`: and ends it).
  void stream(uint64_t id, std::string more, bool last);
  // Whether the client of streamed answer `id` has closed its connection.
  bool gone(uint64_t id) const;
  // Whether the thread has stopped on an error, and why.
  bool failed(std::string* why) const;

  // libwebsockets' callback (public for the protocol table only).
  static int dispatch(lws* wsi, int reason, void* user, void* in, size_t len);

 private:
  struct Conn;
  int callback(lws* wsi, int reason, void* in, size_t len);
  int on_http(lws* wsi, const char* uri, size_t len);
  void queue_request(lws* wsi, Conn& conn);
  void answer_now(lws* wsi, Conn& conn, int status, const std::string& message, bool close_after);
  int on_writeable(lws* wsi);
  void forget(lws* wsi);
  void on_wakeup();
  void run();
  void fail(const std::string& why) noexcept;

  HttpServerConfig config_;
  std::function<void()> wake_;
  lws_context* context_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> failed_{false};

  // Shared with the worker, under mutex_.
  mutable std::mutex mutex_;
  std::deque<HttpRequest> requests_;
  // Answers, and (chunk) continuations of streamed answers, to hand to their connections.
  struct Answer {
    uint64_t id;
    HttpResponse response;
    bool chunk = false, last = false;
  };
  std::deque<Answer> responses_;
  std::set<uint64_t> gone_;  // streamed answers whose connection has closed
  size_t in_flight_ = 0;     // queued or taken, not yet answered
  std::string error_;

  // The server thread's own.
  std::map<lws*, std::unique_ptr<Conn>> conns_;
  uint64_t next_id_ = 1;
};

}  // namespace arroyo
