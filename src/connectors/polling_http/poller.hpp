// Poller: requests one HTTP endpoint every poll interval on a thread of its own (no PostgreSQL
// here) and queues each successful response's body for the worker, which decides what to emit.
// A failed request (no connection, or a status other than 2xx) is retried after an
// exponential backoff, starting at the poll interval.
#pragma once

#include "connectors/http_common/http_client.hpp"

namespace arroyo {

struct PollerConfig {
  HttpRequest request;
  int64_t interval_us = 0;
  size_t max_body_bytes = 0;  // a larger body is dropped as it arrives and queued oversized
  size_t queue_max_messages = 0, queue_max_bytes = 0;
};

class Poller : public HttpThread {
 public:
  Poller(PollerConfig config, std::function<void()> wake);
  ~Poller() override;

  // Backoff after a failed request: the poll interval, doubling, at most this (or the
  // interval, if longer).
  static constexpr int64_t kMaxRetryUs = 30000000;
  // One request may take this long.
  static constexpr long kRequestTimeoutMs = 30000;

 private:
  void run() override;

  PollerConfig config_;
};

}  // namespace arroyo
