// The caller's side of a preview: starts the worker, reads its rows from the queue.
#include "worker/preview.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/latch.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "utils/timestamp.h"
}

#include <cstring>

namespace arroyo {

namespace {

// Copies `text` (with its terminating NUL) into the segment under `key`.
void put_text(shm_toc* toc, uint64 key, const std::string& text) {
  char* p = (char*)shm_toc_allocate(toc, text.size() + 1);
  memcpy(p, text.c_str(), text.size() + 1);
  shm_toc_insert(toc, key, p);
}

// Reads the next NUL-terminated string of an error message, advancing `p`.
std::string take_string(const char*& p, const char* end) {
  const char* nul = (const char*)memchr(p, '\0', end - p);
  if (!nul) nul = end;
  std::string s(p, nul);
  p = nul < end ? nul + 1 : end;
  return s;
}

}  // namespace

PreviewSession::PreviewSession(const std::string& query, const std::string& search_path,
                               int64 max_rows) {
  pg::call([&] {
    shm_toc_estimator e;
    shm_toc_initialize_estimator(&e);
    shm_toc_estimate_chunk(&e, sizeof(PreviewShared));
    shm_toc_estimate_chunk(&e, query.size() + 1);
    shm_toc_estimate_chunk(&e, search_path.size() + 1);
    shm_toc_estimate_chunk(&e, kPreviewQueueBytes);
    shm_toc_estimate_keys(&e, 4);
    Size size = shm_toc_estimate(&e);
    // The session may outlive the transaction (the REST API streams a preview across its
    // requests): its segment and handles are the process's, released by the destructor.
    MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
    segment_ = dsm_create(size, 0);
    dsm_pin_mapping(segment_);
    shm_toc* toc = shm_toc_create(kPreviewMagic, dsm_segment_address(segment_), size);
    shared_ = (PreviewShared*)shm_toc_allocate(toc, sizeof(PreviewShared));
    shared_->dboid = MyDatabaseId;
    shared_->session_user = GetSessionUserId();
    shared_->current_user = GetUserId();
    shared_->max_rows = max_rows;
    shared_->stop = false;
    shm_toc_insert(toc, kPreviewKeyShared, shared_);
    put_text(toc, kPreviewKeyQuery, query);
    put_text(toc, kPreviewKeySearchPath, search_path);
    shm_mq* mq = shm_mq_create(shm_toc_allocate(toc, kPreviewQueueBytes), kPreviewQueueBytes);
    shm_toc_insert(toc, kPreviewKeyQueue, mq);
    shm_mq_set_receiver(mq, MyProc);
    queue_ = shm_mq_attach(mq, segment_, nullptr);

    BackgroundWorker w;
    memset(&w, 0, sizeof(w));
    w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w.bgw_start_time = BgWorkerStart_RecoveryFinished;
    w.bgw_restart_time = BGW_NEVER_RESTART;
    strlcpy(w.bgw_library_name, "arroyo_stream", BGW_MAXLEN);
    strlcpy(w.bgw_function_name, "arroyo_stream_preview_main", BGW_MAXLEN);
    strlcpy(w.bgw_type, "arroyo_stream preview", BGW_MAXLEN);
    snprintf(w.bgw_name, BGW_MAXLEN, "arroyo_stream preview for PID %d", MyProcPid);
    w.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(segment_));
    w.bgw_notify_pid = MyProcPid;
    bool started = RegisterDynamicBackgroundWorker(&w, &worker_);
    MemoryContextSwitchTo(old);
    if (!started) {
      dsm_detach(segment_);
      segment_ = nullptr;
      ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                      errmsg("could not start a background worker for the preview"),
                      errhint("Raise max_worker_processes (needs a restart) or stop other "
                              "pipelines.")));
    }
    // A worker that fails before attaching detaches the queue for us.
    shm_mq_set_handle(queue_, worker_);
  });
}

PreviewSession::~PreviewSession() {
  try {
    pg::call([&] {
      if (!segment_) return;
      shared_->stop = true;
      shm_mq_detach(queue_);  // wakes the worker, which sees the queue detached
      queue_ = nullptr;
      dsm_detach(segment_);
      segment_ = nullptr;
      if (worker_) pfree(worker_);
      worker_ = nullptr;
    });
  } catch (const std::exception&) {
    // Exiting or aborting: the resource owner releases the segment.
  }
}

PreviewSession::Next PreviewSession::next(PreviewRow& row, TimestampTz deadline) {
  while (true) {
    Size len = 0;
    void* data = nullptr;
    shm_mq_result r = pg::call([&] { return shm_mq_receive(queue_, &len, &data, true); });
    if (r == SHM_MQ_SUCCESS && len >= 1) {
      const char* p = (const char*)data;
      const char* end = p + len;
      if (*p == kPreviewEnd) return Next::Ended;
      if (*p == kPreviewError && len >= 5) {
        int32 code;
        memcpy(&code, p + 1, sizeof(code));
        p += 5;
        std::string message = take_string(p, end), detail = take_string(p, end),
                    hint = take_string(p, end);
        throw pg::Error(code, message, detail, hint);
      }
      if (*p == kPreviewRow && len >= 19) {
        row.deleted = p[1] != 0;
        row.has_window = p[2] != 0;
        memcpy(&row.window_start, p + 3, sizeof(int64));
        memcpy(&row.window_end, p + 11, sizeof(int64));
        row.json.assign(p + 19, end);
        return Next::Row;
      }
      pg::fail(ERRCODE_INTERNAL_ERROR, "malformed message from the preview worker");
    }
    if (r == SHM_MQ_DETACHED)
      pg::fail(ERRCODE_INTERNAL_ERROR, "the preview's worker exited before its query ended",
               "The server log says why.");
    long timeout_ms = -1;
    if (deadline) {
      TimestampTz now = GetCurrentTimestamp();
      if (now >= deadline) return Next::Timeout;
      timeout_ms = long((deadline - now + 999) / 1000);
    }
    pg::call([&] {
      int events = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (timeout_ms >= 0 ? WL_TIMEOUT : 0);
      (void)WaitLatch(MyLatch, events, timeout_ms, PG_WAIT_EXTENSION);
      ResetLatch(MyLatch);
      CHECK_FOR_INTERRUPTS();
    });
  }
}

}  // namespace arroyo
