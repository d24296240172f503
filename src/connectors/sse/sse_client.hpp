// SseClient: one Server-Sent Events stream, read by libcurl on a thread of its own (no
// PostgreSQL here). It sends Last-Event-ID (the checkpointed id at first, then the last id it
// saw), parses the stream, queues the events for the worker, and when the stream ends or
// fails reconnects after the server's retry: time or an exponential backoff.
#pragma once

#include "connectors/http_common/http_client.hpp"
#include "connectors/sse/sse_parser.hpp"

namespace arroyo {

struct SseClientConfig {
  HttpRequest request;        // the GET of the stream, with the table's headers
  std::string last_event_id;  // sent with the first request when not empty
  size_t max_event_bytes = 0;
  size_t queue_max_messages = 0, queue_max_bytes = 0;
};

class SseClient : public HttpThread {
 public:
  SseClient(SseClientConfig config, std::function<void()> wake);
  ~SseClient() override;

  // Backoff between attempts without a retry: from the server: 0.5 s, doubling, at most 30 s;
  // it starts again at 0.5 s after a connection that delivered an event.
  static constexpr int64_t kFirstRetryUs = 500000;
  static constexpr int64_t kMaxRetryUs = 30000000;

 private:
  void run() override;

  SseClientConfig config_;
  SseParser parser_;
};

}  // namespace arroyo
