// stream_preview's background worker: runs a query as a temporary pipeline (no target, no
// checkpoints, no catalog row; a CDC source on a temporary slot, Kafka without committing
// offsets) and sends each result row, with its operation, to the caller's queue. It stops at
// the end of its sources, after max_rows rows, or when the caller detaches (timeout, cancel).
#include "pg/guard.hpp"
#include "pg/wait.hpp"
#include "planner/planner.hpp"
#include "runtime/dataflow.hpp"
#include "worker/launch.hpp"
#include "worker/transactions.hpp"
#include "worker/preview.hpp"

extern "C" {
#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "utils/fmgrprotos.h"
#include "utils/ps_status.h"
#include "utils/rangetypes.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"
}

#include <cstring>

namespace arroyo {

namespace {

// The caller detached (it has what it wanted, timed out, or was cancelled).
struct CallerGone {};

constexpr int64 kEpochUs = 200 * 1000;  // transactions of at most this long

PreviewShared* shared = nullptr;
shm_mq_handle* queue = nullptr;

bool stop_requested() { return shared->stop; }

// Sends one message; throws CallerGone if the caller has detached.
void send(const std::string& message) {
  shm_mq_result r =
      pg::call([&] { return shm_mq_send(queue, message.size(), message.data(), false, true); });
  if (r != SHM_MQ_SUCCESS) throw CallerGone{};
}

// The sink of a preview: each row as JSON (its first `columns` columns), with its operation and,
// for a windowed result, its window's bounds.
class PreviewSink : public Sink {
 public:
  PreviewSink(TupleDesc desc, int columns, int window, int64 max_rows)
      : window_(window), remaining_(max_rows) {
    pg::call([&] {
      json_desc_ = CreateTemplateTupleDesc(columns);
      for (int c = 0; c < columns; c++)
        TupleDescCopyEntry(json_desc_, AttrNumber(c + 1), desc, AttrNumber(c + 1));
      json_desc_ = BlessTupleDesc(json_desc_);
      if (window_ >= 0)
        window_type_ =
            lookup_type_cache(TupleDescAttr(desc, window_)->atttypid, TYPECACHE_RANGE_INFO);
    });
  }

  void write(const Batch& rows) override {
    for (int r = 0; r < rows.size(); r++) {
      if (remaining_ == 0) throw CallerGone{};
      message_.assign(19, '\0');
      message_[0] = kPreviewRow;
      message_[1] = rows.op(r) == RowOp::Delete ? 1 : 0;
      const Datum* values = rows.values(r);
      const bool* nulls = rows.nulls(r);
      if (window_ >= 0 && !nulls[window_]) {
        TimestampTz bounds[2];
        if (window_bounds(values[window_], bounds)) {
          message_[2] = 1;
          memcpy(&message_[3], &bounds[0], sizeof(int64));
          memcpy(&message_[11], &bounds[1], sizeof(int64));
        }
      }
      const char* json = pg::call([&] {
        HeapTuple tuple =
            heap_form_tuple(json_desc_, const_cast<Datum*>(values), const_cast<bool*>(nulls));
        return (const char*)text_to_cstring(
            DatumGetTextPP(DirectFunctionCall1(row_to_json, HeapTupleGetDatum(tuple))));
      });
      message_.append(json);
      send(message_);
      if (remaining_ > 0) remaining_--;
    }
  }

  bool done() const { return remaining_ == 0; }

 private:
  // The bounds of a window value (a range of timestamps); false for an unbounded or empty one.
  bool window_bounds(Datum value, TimestampTz* bounds) {
    return pg::call([&] {
      RangeBound lower, upper;
      bool empty;
      range_deserialize(window_type_, DatumGetRangeTypeP(value), &lower, &upper, &empty);
      if (empty || lower.infinite || upper.infinite) return false;
      bounds[0] = DatumGetTimestampTz(lower.val);
      bounds[1] = DatumGetTimestampTz(upper.val);
      return true;
    });
  }

  TupleDesc json_desc_ = nullptr;
  int window_;
  TypeCacheEntry* window_type_ = nullptr;
  int64 remaining_;
  std::string message_;
};

// Reads a change-data-capture source's snapshot in one REPEATABLE READ transaction.
void read_snapshot(Dataflow& flow) {
  pg::call([&] {
    StartTransactionCommand();
    XactIsoLevel = XACT_REPEATABLE_READ;
  });
  flow.begin_snapshot();
  pg::call([&] { PushActiveSnapshot(GetTransactionSnapshot()); });
  flow.begin_transaction();
  while (!flow.snapshot_done() && !stop_requested()) {
    pg::call([&] { CHECK_FOR_INTERRUPTS(); });
    flow.run_round();
  }
  flow.end_transaction();
  commit_transaction();
  flow.snapshot_committed();
  flow.committed();
}

// Runs the query until its sources end, max_rows rows were sent, or the caller detaches.
void run_preview(const std::string& query, const std::string& search_path) {
  begin_transaction();
  MemoryContext preview_memory = pg::call([&] {
    return AllocSetContextCreate(TopMemoryContext, "arroyo_stream preview", ALLOCSET_DEFAULT_SIZES);
  });
  MemoryContext round_memory = pg::call([&] {
    return AllocSetContextCreate(preview_memory, "arroyo_stream round", ALLOCSET_DEFAULT_SIZES);
  });
  MemoryContext old = MemoryContextSwitchTo(preview_memory);
  LogicalPlan plan = plan_preview(query, search_path.c_str());
  RuntimeInfo info{GetCurrentTimestamp(), "preview", 0, 1, MyDatabaseId, 0};
  info.preview = true;
  int64 ttl = pipeline_ttl_us(plan.settings);
  int64 flush = pipeline_flush_us(plan.settings);
  auto sink = std::make_unique<PreviewSink>(plan.root->desc, plan.sink.preview_columns,
                                            plan.sink.preview_window, shared->max_rows);
  PreviewSink* preview = sink.get();
  Dataflow flow(plan, round_memory, info, ttl, flush, std::move(sink));
  MemoryContextSwitchTo(old);
  commit_transaction();
  if (flow.wants_snapshot()) read_snapshot(flow);
  while (!stop_requested() && !preview->done()) {
    flow.prefetch();
    begin_transaction();
    flow.begin_transaction();
    TimestampTz epoch_start = GetCurrentTimestamp();
    RoundResult r;
    do {
      pg::call([&] { CHECK_FOR_INTERRUPTS(); });
      r = flow.run_round();
    } while (!r.all_ended && !r.idle && !stop_requested() &&
             GetCurrentTimestamp() - epoch_start < kEpochUs);
    flow.end_transaction();
    commit_transaction();
    flow.committed();
    if (r.all_ended) {
      send(std::string(1, kPreviewEnd));
      break;
    }
    if (r.idle) {
      TimestampTz wake = r.wake_at, flush_at = flow.next_flush();
      if (flush_at && (!wake || flush_at < wake)) wake = flush_at;
      long timeout_ms = 1000;
      if (wake) {
        TimestampTz now = GetCurrentTimestamp();
        timeout_ms = std::min(1000L, wake > now ? long((wake - now + 999) / 1000) : 0L);
      }
      pg::wait_latch(timeout_ms);
    }
  }
  flow.close();
}

// Sends the error that ended the preview to the caller (if it still listens).
void send_error(const std::exception& e) {
  int code = ERRCODE_INTERNAL_ERROR;
  std::string message = e.what(), detail, hint;
  if (auto* pe = dynamic_cast<const pg::Error*>(&e)) {
    code = pe->sqlerrcode();
    detail = pe->detail();
    hint = pe->hint();
  }
  std::string m(5, '\0');
  m[0] = kPreviewError;
  memcpy(&m[1], &code, sizeof(code));
  m += message;
  m.push_back('\0');
  m += detail;
  m.push_back('\0');
  m += hint;
  m.push_back('\0');
  try {
    send(m);
  } catch (const CallerGone&) {
  }
}

}  // namespace

}  // namespace arroyo

extern "C" {

PGDLLEXPORT void arroyo_stream_preview_main(Datum);

void arroyo_stream_preview_main(Datum arg) {
  using namespace arroyo;
  pqsignal(SIGTERM, die);
  BackgroundWorkerUnblockSignals();
  dsm_segment* segment = dsm_attach(DatumGetUInt32(arg));
  if (!segment) proc_exit(0);  // the caller is gone already
  shm_toc* toc = shm_toc_attach(kPreviewMagic, dsm_segment_address(segment));
  if (!toc) proc_exit(0);
  shared = (PreviewShared*)shm_toc_lookup(toc, kPreviewKeyShared, false);
  std::string query = (const char*)shm_toc_lookup(toc, kPreviewKeyQuery, false);
  std::string search_path = (const char*)shm_toc_lookup(toc, kPreviewKeySearchPath, false);
  shm_mq* mq = (shm_mq*)shm_toc_lookup(toc, kPreviewKeyQueue, false);
  shm_mq_set_sender(mq, MyProc);
  queue = shm_mq_attach(mq, segment, nullptr);
  BackgroundWorkerInitializeConnectionByOid(shared->dboid, shared->session_user, 0);
  // The caller's privileges: its current role (after SET ROLE), not only its login role.
  SetUserIdAndSecContext(shared->current_user, SECURITY_LOCAL_USERID_CHANGE);
  pgstat_report_appname("arroyo_stream preview");
  set_ps_display("preview");
  try {
    run_preview(query, search_path);
  } catch (const CallerGone&) {
    // Nothing to say to no one: the caller has what it wanted.
  } catch (const std::exception& e) {
    try {
      pg::call([&] { AbortOutOfAnyTransaction(); });
    } catch (const std::exception&) {
    }
    send_error(e);
  }
  // Exit callbacks release what the run held: the temporary slot, the segment.
  proc_exit(0);
}

}  // extern "C"
