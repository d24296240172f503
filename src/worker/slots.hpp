// Shared-memory status of running pipelines: one slot per pipeline worker. The catalog table
// holds what persists; a slot holds what is live (pid, counters, stop requests, errors).
//
// This module is the only code that touches the slots: their struct, spinlocks and allocation
// lock stay in slots.cpp. Everything else (the SQL functions in api/, the pipeline worker, the
// supervisor and launchers) goes through the functions below, each of which reads or writes a
// slot under its lock, or hands back a copy.
#pragma once

#include "core/operator.hpp"
#include "pg/postgres.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace arroyo {

enum class SlotState : int {
  Free = 0,
  Starting,  // registered, worker not yet running the pipeline
  Running,
  Finished,  // terminal states: the worker has written them to the catalog
  Stopped,
  Failed,
  Died,  // the worker exited without recording its end; the supervisor records it
};

bool is_terminal(SlotState s);
// The state as stream_pipelines shows it: "running", "finished", "stopped" or "failed".
const char* slot_state_name(SlotState s);

// The slots' capacity, the GUC arroyo_stream.max_pipelines.
extern int max_pipelines_guc;
// Asks for the slots' shared memory and lock; from _PG_init, at preload.
void request_shared_memory();

constexpr int kSlotErrorLen = 1024;
constexpr int kSlotSourceStatusLen = 512;
// Plan nodes whose counters a slot holds (stream_operators); a plan's nodes past this many
// are not shown while it runs.
constexpr int kSlotMaxNodes = 64;

// One worker of a pipeline running as several (SET parallelism), for stream_workers.
constexpr int kSlotMaxWorkers = 32;
struct WorkerStatus {
  int32 worker;  // 0: the leader
  pid_t pid;
  int64 rows_in, rows_out, state_bytes, busy_us;
  TimestampTz watermark;  // DT_NOBEGIN until known
};

// A copy of one slot, for the stream_pipelines view (plain data: it is filled without
// allocating, in a function that is no pg::entry).
struct SlotStatus {
  SlotState state;
  int32 pipeline_id;
  pid_t pid;  // 0 until the worker has attached
  TimestampTz started_at;
  int64 rows_in, rows_out, bad_rows, late_rows, state_bytes;
  TimestampTz watermark;                     // DT_NOBEGIN until known
  char last_error[kSlotErrorLen];            // empty if none
  char source_status[kSlotSourceStatusLen];  // Source::status() of the sources, while running
};

namespace slots {

// --- whoever starts and stops pipelines (api/, launchers) ---

// Claims a free slot for (db, pipeline), in state Starting; errors if that pipeline already has
// one ("is already running") or none is free ("too many running pipelines").
int claim(Oid dboid, int32 pipeline_id, const char* name);
// Gives a slot back.
void release(int index);
// The state of the pipeline's slot, if it has one.
std::optional<SlotState> find_state(Oid dboid, int32 pipeline_id);
// Asks the pipeline's worker, if it has one, to stop, and waits until the slot is given back
// (or the worker died).
void stop_and_wait(Oid dboid, int32 pipeline_id);
// Asks the pipeline's worker, if it has one, to stop, without waiting (from a commit callback:
// the pipeline was dropped with something its query used).
void request_stop(Oid dboid, int32 pipeline_id);
// The number of slots (0 if the library was not preloaded), and a copy of slot `index` if a
// pipeline of database `dboid` holds it.
int count();
bool read(int index, Oid dboid, SlotStatus* out);
// The per-node counters of slot `index` if a pipeline of database `dboid` holds it: copies at
// most kSlotMaxNodes into `out` (plain data, no allocation) and returns how many, or -1.
int read_nodes(int index, Oid dboid, int32* pipeline_id, NodeStats* out);

// --- the pipeline worker, on its own slot ---

// Records the worker's pid and latch in its slot.
void attach_worker(int index);
bool stop_requested(int index);
// Publishes the counters, watermark and source status.
void publish(int index, const EngineStats& stats);
// Publishes the counters of each of the pipeline's workers (several workers).
void publish_workers(int index, const std::vector<WorkerStatus>& workers);
// The workers of slot `index` if a pipeline of database `dboid` holds it: copies at most
// kSlotMaxWorkers into `out` and returns how many (0: it runs as one worker), or -1.
int read_workers(int index, Oid dboid, int32* pipeline_id, WorkerStatus* out);
// Sets only the slot's source_status (a sink reporting while it waits inside a commit).
void publish_status(int index, const std::string& status);
void set_state(int index, SlotState state, const std::string& error = {});
// At exit: unless the worker recorded its end, marks the slot Died with `why` and wakes the
// supervisor.
void mark_died(int index, const char* why);

// --- the supervisor and its launchers ---

void set_supervisor_latch(Latch* latch);
// Databases that have a slot whose worker died.
std::set<Oid> databases_with_died_workers();
// A slot whose worker died, as the launcher of its database finds it.
struct DiedSlot {
  int index;
  int32 pipeline_id;
  std::string error;  // why it died
};
std::vector<DiedSlot> died_workers(Oid dboid);
// True if the pipeline has a slot (is running, starting, or not yet released).
bool has_slot(Oid dboid, int32 pipeline_id);
// Frees the slots of a database's workers that died, where nothing is left to resume (the
// database or the extension is gone).
void release_died(Oid dboid);

// --- DROP EXTENSION and DROP DATABASE ---

// Asks every pipeline worker of a database to stop (as stream_stop does: a final checkpoint,
// 'stopped' recorded) and waits until each has recorded its end (or died): the catalog, or the
// database, must not be pulled from under a worker.
void stop_database_workers(Oid dboid);

}  // namespace slots

}  // namespace arroyo
