#include "connectors/sse/sse_client.hpp"

namespace arroyo {

SseClient::SseClient(SseClientConfig config, std::function<void()> wake)
    : HttpThread(config.queue_max_messages, config.queue_max_bytes, std::move(wake)),
      config_(std::move(config)),
      parser_(config_.max_event_bytes) {
  parser_.set_last_id(config_.last_event_id);
}

SseClient::~SseClient() { stop(); }

void SseClient::run() {
  Backoff backoff(kFirstRetryUs, kMaxRetryUs);
  std::vector<HttpMessage> events;
  int64_t attempt = 0, connections = 0;
  while (!stopping()) {
    attempt++;
    set_status("connecting (attempt " + std::to_string(attempt) + ")");
    HttpRequest req = config_.request;
    req.headers.push_back({"Accept", "text/event-stream"});
    req.headers.push_back({"Cache-Control", "no-cache"});
    if (!parser_.last_id().empty()) req.headers.push_back({"Last-Event-ID", parser_.last_id()});
    parser_.reset();
    bool delivered = false;
    HttpResult r = http_perform(
        req,
        [&](long status) {
          if (status >= 200 && status < 300)
            set_status("connected (connection " + std::to_string(++connections) + ")");
        },
        [&](const char* data, size_t len) {
          events.clear();
          parser_.feed(data, len, events);
          for (HttpMessage& e : events) {
            if (!push(std::move(e))) return false;
            delivered = true;
          }
          return true;
        },
        [&] { return !stopping(); });
    if (stopping()) break;
    if (delivered) backoff.reset();
    std::string why =
        r.ok ? (r.status >= 200 && r.status < 300 ? std::string("the server ended the stream")
                                                  : "HTTP " + std::to_string(r.status))
             : r.error;
    int64_t delay = backoff.next();
    // The server's retry: replaces the backoff while the server keeps answering.
    if (parser_.retry_ms() >= 0 && r.ok && r.status >= 200 && r.status < 300)
      delay = parser_.retry_ms() * 1000;
    set_status("reconnecting (attempt " + std::to_string(attempt + 1) + " in " +
               http_seconds_text(delay) + "): " + why);
    if (!sleep_us(delay)) break;
  }
}

}  // namespace arroyo
