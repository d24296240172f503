// POST /api/v1/pipelines/preview: a preview (src/worker/preview.hpp) whose rows the REST API
// streams to the client as Server-Sent Events, while it keeps answering other requests.
#pragma once

#include "api/rest/http_server.hpp"
#include "worker/preview.hpp"

#include <memory>

namespace arroyo {

class RestPreview {
 public:
  // Starts a preview of `query` as the current user (in the request's transaction); the
  // answer's events follow through pump().
  RestPreview(const std::string& query, int64 max_rows, int64 timeout_us);

  // Attaches it to the streamed answer of request `id`.
  void attach(uint64_t id) { id_ = id; }
  // Sends the rows that have arrived as events; false once it has ended (its last event sent)
  // or its client has gone.
  bool pump(HttpServer& server);
  // When it must end (0: no deadline).
  TimestampTz deadline() const { return deadline_; }

 private:
  std::unique_ptr<PreviewSession> session_;
  uint64_t id_ = 0;
  int64 remaining_;  // -1: no limit
  TimestampTz deadline_;
};

// The preview a request just started (the REST worker takes it after answering the request).
std::unique_ptr<RestPreview> take_started_preview();
// Records the preview the request being answered started.
void set_started_preview(std::unique_ptr<RestPreview> preview);

}  // namespace arroyo
