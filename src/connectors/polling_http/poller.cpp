#include "connectors/polling_http/poller.hpp"

#include <algorithm>

namespace arroyo {

Poller::Poller(PollerConfig config, std::function<void()> wake)
    : HttpThread(config.queue_max_messages, config.queue_max_bytes, std::move(wake)),
      config_(std::move(config)) {}

Poller::~Poller() { stop(); }

void Poller::run() {
  Backoff backoff(config_.interval_us, std::max(config_.interval_us, kMaxRetryUs));
  HttpRequest req = config_.request;
  req.timeout_ms = kRequestTimeoutMs;
  int64_t responses = 0, attempt = 0;
  set_status("polling");
  while (!stopping()) {
    attempt++;
    HttpMessage m;
    HttpResult r = http_perform(
        req, {},
        [&](const char* data, size_t len) {
          m.size += len;
          if (m.oversized) return true;
          if (m.size > config_.max_body_bytes) {
            m.oversized = true;
            m.data.clear();
            m.data.shrink_to_fit();
          } else {
            m.data.append(data, len);
          }
          return true;
        },
        [&] { return !stopping(); });
    if (stopping()) break;
    int64_t delay = config_.interval_us;
    if (r.ok && r.status >= 200 && r.status < 300) {
      m.received_unix_us = http_now_unix_us();
      if (!push(std::move(m))) break;
      responses++;
      attempt = 0;
      backoff.reset();
      set_status("polling (" + std::to_string(responses) + " responses)");
    } else {
      std::string why = r.ok ? "HTTP " + std::to_string(r.status) : r.error;
      delay = backoff.next();
      set_status("retrying (attempt " + std::to_string(attempt + 1) + " in " +
                 http_seconds_text(delay) + "): " + why);
    }
    if (!sleep_us(delay)) break;
  }
}

}  // namespace arroyo
