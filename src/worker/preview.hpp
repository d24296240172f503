// stream_preview: a query runs as a temporary pipeline in a dynamic background worker (no
// target, no checkpoints, no catalog row, no side effects on its sources) and its rows reach the
// caller through a shm_mq in a DSM segment. The caller (a backend running stream_preview, or the
// REST API's worker) holds a PreviewSession; the worker is src/worker/preview_worker.cpp.
#pragma once

#include "pg/postgres.hpp"

#include <string>

struct dsm_segment;
struct shm_mq_handle;
struct BackgroundWorkerHandle;

namespace arroyo {

// One row of a preview's output.
struct PreviewRow {
  bool deleted = false;  // a retraction of an updating result
  bool has_window = false;
  TimestampTz window_start = 0, window_end = 0;
  std::string json;  // the row's columns as a JSON object, in their order
};

class PreviewSession {
 public:
  enum class Next { Row, Timeout, Ended };

  // Starts a worker that runs `query` with `search_path` as the current user (and the session
  // user it logged in as), stopping itself after `max_rows` rows (-1: no limit).
  PreviewSession(const std::string& query, const std::string& search_path, int64 max_rows);
  // Stops the worker (it sees the queue detached) and releases the segment.
  ~PreviewSession();
  PreviewSession(const PreviewSession&) = delete;
  PreviewSession& operator=(const PreviewSession&) = delete;

  // Waits for the next row until `deadline` (0: no deadline); the worker's error is thrown as
  // the pg::Error it raised. Handles interrupts (a cancel throws).
  Next next(PreviewRow& row, TimestampTz deadline);

 private:
  dsm_segment* segment_ = nullptr;
  shm_mq_handle* queue_ = nullptr;
  BackgroundWorkerHandle* worker_ = nullptr;
  struct PreviewShared* shared_ = nullptr;
};

// What caller and worker share in the segment (shm_toc keys below).
struct PreviewShared {
  Oid dboid;
  Oid session_user;  // the worker logs in as this role,
  Oid current_user;  // and runs as this one, with the caller's privileges
  int64 max_rows;
  volatile bool stop;  // set by the caller before it detaches
};

constexpr uint64 kPreviewMagic = 0x41525059;  // "ARPY"
constexpr uint64 kPreviewKeyShared = 1, kPreviewKeyQuery = 2, kPreviewKeySearchPath = 3,
                 kPreviewKeyQueue = 4;
constexpr Size kPreviewQueueBytes = 256 * 1024;

// Message kinds on the queue: a row, the worker's error, the end of every source.
constexpr char kPreviewRow = 'R', kPreviewError = 'E', kPreviewEnd = 'D';

}  // namespace arroyo
