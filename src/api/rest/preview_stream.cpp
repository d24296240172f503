// The REST API's preview stream: rows as Server-Sent Events ("row", then one "end" or "error").
#include "api/rest/preview_stream.hpp"

#include "api/rest/rest_api.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "utils/builtins.h"
#include "utils/timestamp.h"
}

namespace arroyo {

namespace {

std::unique_ptr<RestPreview> started;
constexpr int kRowsPerPump = 1000;  // then other requests get their turn

// An event of the stream: "event: NAME", "data: JSON" (one line: JSON here has no newline).
std::string sse_event(const char* name, const std::string& data) {
  return std::string("event: ") + name + "\ndata: " + data + "\n\n";
}

std::string timestamp_json(TimestampTz t) {
  return json_quote(pg::call([&] { return (const char*)timestamptz_to_str(t); }));
}

std::string row_event(const PreviewRow& row) {
  std::string data = std::string("{\"op\": \"") + (row.deleted ? "delete" : "insert") + "\"";
  if (row.has_window)
    data += ", \"window_start\": " + timestamp_json(row.window_start) +
            ", \"window_end\": " + timestamp_json(row.window_end);
  data += ", \"row\": " + row.json + "}";
  return sse_event("row", data);
}

}  // namespace

RestPreview::RestPreview(const std::string& query, int64 max_rows, int64 timeout_us)
    : remaining_(max_rows), deadline_(timeout_us > 0 ? GetCurrentTimestamp() + timeout_us : 0) {
  std::string search_path =
      pg::call([&] { return (const char*)GetConfigOption("search_path", false, false); });
  session_ = std::make_unique<PreviewSession>(query, search_path, max_rows);
}

bool RestPreview::pump(HttpServer& server) {
  if (server.gone(id_)) return false;  // the session's destructor stops the worker
  std::string events;
  const char* end = nullptr;
  std::string error;
  for (int n = 0; n < kRowsPerPump && !end; n++) {
    if (remaining_ == 0) {
      end = "max_rows";
      break;
    }
    if (deadline_ && GetCurrentTimestamp() >= deadline_) {
      end = "timeout";
      break;
    }
    PreviewRow row;
    PreviewSession::Next next;
    try {
      next = session_->next(row, 1);  // a deadline long past: only what has arrived
    } catch (const pg::Error& e) {
      error = "{\"error\": " + json_quote(e.full_message()) + ", \"sqlstate\": \"" +
              std::string(unpack_sql_state(e.sqlerrcode())) + "\"}";
      break;
    }
    if (next == PreviewSession::Next::Timeout) break;
    if (next == PreviewSession::Next::Ended) {
      end = "ended";
      break;
    }
    events += row_event(row);
    if (remaining_ > 0) remaining_--;
  }
  bool finished = end || !error.empty();
  if (end) events += sse_event("end", std::string("{\"reason\": \"") + end + "\"}");
  if (!error.empty()) events += sse_event("error", error);
  if (!events.empty() || finished) server.stream(id_, std::move(events), finished);
  return !finished;
}

std::unique_ptr<RestPreview> take_started_preview() { return std::move(started); }

void set_started_preview(std::unique_ptr<RestPreview> preview) { started = std::move(preview); }

}  // namespace arroyo
