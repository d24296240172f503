// Shared-memory status of running pipelines: one slot per pipeline worker. The catalog table
// holds what persists; a slot holds what is live (pid, counters, stop requests, errors).
#pragma once

#include "pg/postgres.hpp"

namespace arroyo {

enum class SlotState : int {
  Free = 0,
  Starting,   // registered, worker not yet running the pipeline
  Running,
  Finished,   // terminal states: the worker has written them to the catalog
  Stopped,
  Failed,
  Died,       // the worker exited without recording its end; the supervisor records it
};

constexpr int kSlotErrorLen = 1024;
constexpr int kSlotSourceStatusLen = 512;

struct PipelineSlot {
  slock_t mutex;
  SlotState state;
  Oid dboid;
  int32 pipeline_id;
  pid_t pid;
  Latch* latch;              // the worker's latch, to wake it
  bool stop_requested;
  TimestampTz started_at;
  int64 rows_in, rows_out, bad_rows, late_rows;
  int64 state_bytes;
  TimestampTz watermark;     // DT_NOBEGIN until known
  char last_error[kSlotErrorLen];
  char source_status[kSlotSourceStatusLen];  // Source::status() of the sources, while running
};

struct SharedState {
  Latch* supervisor_latch;
  int nslots;
  PipelineSlot slots[FLEXIBLE_ARRAY_MEMBER];
};

extern int max_pipelines_guc;

void request_shared_memory();
SharedState* shared();
// Lock protecting slot allocation (taken shared for scans, exclusive to allocate/free).
LWLock* slots_lock();

// Claims a free slot for (db, pipeline); errors if that pipeline already has one.
int claim_slot(Oid dboid, int32 pipeline_id, const char* name);
// Returns the slot index of a live pipeline in this database, or -1.
int find_slot(Oid dboid, int32 pipeline_id);
void release_slot(int index);
bool is_terminal(SlotState s);
// Asks every pipeline worker of a database to stop (as stream_stop does: a final checkpoint,
// 'stopped' recorded) and waits until each has recorded its end (or died). For DROP EXTENSION
// and DROP DATABASE, which must not pull the catalog, or the database, from under a worker.
void stop_database_workers(Oid dboid);
const char* slot_state_name(SlotState s);

}  // namespace arroyo
