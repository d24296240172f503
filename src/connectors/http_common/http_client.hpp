// The HTTP client shared by the sse, polling_http and webhook connectors: one request at a time
// through libcurl's easy interface, on whatever thread calls it. No PostgreSQL here (no
// PostgreSQL headers): the sources run it on a thread of their own (HttpThread), the webhook
// sink in its worker, which passes a keep_going() that notices a pending interrupt.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace arroyo {

struct HttpHeader {
  std::string name, value;
};

// Parses 'Name: value, Other-Name: value' (Arroyo's form); on failure returns false with the
// reason in *why. Names are tokens; values may not hold a comma, CR, LF or NUL.
bool parse_http_headers(const std::string& text, std::vector<HttpHeader>* out, std::string* why);

// Whether `url` is an absolute http:// or https:// URL with a host; if not, why.
bool check_http_endpoint(const std::string& url, std::string* why);

// Initializes libcurl once per process (thread-safe); throws std::runtime_error on failure.
void http_global_init();

struct HttpRequest {
  std::string url;
  std::string method = "GET";
  std::string body;  // sent when not empty (or when the method is POST, PUT or PATCH)
  std::vector<HttpHeader> headers;
  long connect_timeout_ms = 10000;
  long timeout_ms = 0;         // the whole transfer; 0: none (a stream)
  bool fail_on_error = false;  // an HTTP status >= 400 is a transport error ("HTTP 404")
};

struct HttpResult {
  bool ok = false;       // the transfer completed (whatever the status, unless fail_on_error)
  bool aborted = false;  // on_data or keep_going returned false
  long status = 0;       // the HTTP status, 0 if none was received
  std::string error;     // why not ok
};

// Performs one request. `on_headers(status)` runs once the response's headers are in;
// `on_data` gets the body in chunks; `keep_going` is asked at least once a second. Either
// returning false aborts the transfer.
HttpResult http_perform(const HttpRequest& request, const std::function<void(long)>& on_headers,
                        const std::function<bool(const char*, size_t)>& on_data,
                        const std::function<bool()>& keep_going);

// Exponential backoff between attempts: first, doubling, at most max.
class Backoff {
 public:
  Backoff(int64_t first_us, int64_t max_us) : first_us_(first_us), max_us_(max_us) {}
  // The delay before the next attempt (and doubles the one after).
  int64_t next() {
    int64_t d = current_ ? current_ : first_us_;
    current_ = d >= max_us_ / 2 ? max_us_ : d * 2;
    return d;
  }
  void reset() { current_ = 0; }

 private:
  int64_t first_us_, max_us_, current_ = 0;
};

// One message a source's thread hands to its worker: an SSE event or a polled body.
struct HttpMessage {
  std::string type;        // an SSE event's type ("message" by default)
  std::string data;        // empty when oversized
  std::string id;          // an SSE event's last event id
  bool oversized = false;  // larger than the limit: its data was dropped as it arrived
  size_t size = 0;         // the data's length in bytes
  int64_t received_unix_us = 0;
};

// A source's client thread: runs run() until stop(), handing messages to the worker through a
// bounded queue (push() waits while it is full, so the server is pushed back) and keeping a
// one-line status. Derived classes call stop() in their destructor.
class HttpThread {
 public:
  HttpThread(size_t queue_max_messages, size_t queue_max_bytes, std::function<void()> wake);
  virtual ~HttpThread();
  HttpThread(const HttpThread&) = delete;
  HttpThread& operator=(const HttpThread&) = delete;

  void start();  // throws std::runtime_error
  void stop();   // idempotent; queued messages are discarded
  // Moves up to `max` queued messages into `out` (appending); returns how many.
  size_t take(std::vector<HttpMessage>& out, size_t max);
  std::string status() const;

 protected:
  virtual void run() = 0;
  bool stopping() const;
  // Sleeps `us` microseconds or until stop(); false if stopping.
  bool sleep_us(int64_t us);
  // Queues a message, waiting for room; false if stopping (the message is dropped).
  bool push(HttpMessage&& m);
  void set_status(std::string status);

 private:
  void body() noexcept;

  const size_t max_messages_, max_bytes_;
  const std::function<void()> wake_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  std::deque<HttpMessage> queue_;
  size_t queued_bytes_ = 0;
  std::string status_;
};

// Microseconds since the Unix epoch, now.
int64_t http_now_unix_us();

// "1.5 s" for a delay in microseconds.
std::string http_seconds_text(int64_t us);

}  // namespace arroyo
