#include "worker/slots.hpp"

#include "pg/guard.hpp"

#include <algorithm>
#include <utility>
#include <vector>
#include "pg/wait.hpp"

namespace arroyo {

namespace {

// One pipeline worker's slot. Its fields are read and written under `mutex`; which slots are
// in use (state Free or not) changes only under the allocation lock as well.
struct PipelineSlot {
  slock_t mutex;
  SlotState state;
  Oid dboid;
  int32 pipeline_id;
  pid_t pid;
  Latch* latch;  // the worker's latch, to wake it
  bool stop_requested;
  TimestampTz started_at;
  int64 rows_in, rows_out, bad_rows, late_rows;
  int64 state_bytes;
  TimestampTz watermark;  // DT_NOBEGIN until known
  char last_error[kSlotErrorLen];
  char source_status[kSlotSourceStatusLen];  // Source::status() of the sources, while running
  int nnodes;                                // per plan node counters (stream_operators)
  NodeStats nodes[kSlotMaxNodes];
  int nworkers;  // several workers: each one's counters (stream_workers)
  WorkerStatus workers[kSlotMaxWorkers];
};

struct SharedState {
  Latch* supervisor_latch;
  int nslots;
  PipelineSlot slots[FLEXIBLE_ARRAY_MEMBER];
};

SharedState* shared_state = nullptr;
LWLockPadded* lock_tranche = nullptr;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

Size shared_size() {
  return add_size(offsetof(SharedState, slots), mul_size(sizeof(PipelineSlot), max_pipelines_guc));
}

// Asks the postmaster for our shared memory and lock (shmem_request_hook).
void on_shmem_request() {
  if (prev_shmem_request_hook) prev_shmem_request_hook();
  RequestAddinShmemSpace(shared_size());
  RequestNamedLWLockTranche("arroyo_stream", 1);
}

// Creates or attaches the shared state (shmem_startup_hook).
void on_shmem_startup() {
  if (prev_shmem_startup_hook) prev_shmem_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found;
  shared_state = (SharedState*)ShmemInitStruct("arroyo_stream", shared_size(), &found);
  if (!found) {
    memset(shared_state, 0, shared_size());
    shared_state->nslots = max_pipelines_guc;
    for (int i = 0; i < max_pipelines_guc; i++) SpinLockInit(&shared_state->slots[i].mutex);
  }
  lock_tranche = GetNamedLWLockTranche("arroyo_stream");
  LWLockRelease(AddinShmemInitLock);
}

// The lock protecting slot allocation (taken shared for scans, exclusive to claim and release).
LWLock* slots_lock() { return &lock_tranche[0].lock; }

PipelineSlot& slot_at(int index) { return shared_state->slots[index]; }

// Runs `f(slot)` with the slot's spinlock held: f only copies fields (no calls, no errors).
template <typename F>
auto locked(PipelineSlot& slot, F&& f) -> decltype(f(slot)) {
  SpinLockAcquire(&slot.mutex);
  if constexpr (std::is_void_v<decltype(f(slot))>) {
    f(slot);
    SpinLockRelease(&slot.mutex);
  } else {
    auto result = f(slot);
    SpinLockRelease(&slot.mutex);
    return result;
  }
}

// The index of the pipeline's slot, or -1; the caller holds the allocation lock.
int find_locked(Oid dboid, int32 pipeline_id) {
  for (int i = 0; i < shared_state->nslots; i++) {
    bool mine = locked(slot_at(i), [&](PipelineSlot& s) {
      return s.state != SlotState::Free && s.dboid == dboid && s.pipeline_id == pipeline_id;
    });
    if (mine) return i;
  }
  return -1;
}

int find(Oid dboid, int32 pipeline_id) {
  return pg::call([&] {
    LWLockAcquire(slots_lock(), LW_SHARED);
    int i = find_locked(dboid, pipeline_id);
    LWLockRelease(slots_lock());
    return i;
  });
}

}  // namespace

int max_pipelines_guc = 32;

void request_shared_memory() {
  prev_shmem_request_hook = shmem_request_hook;
  shmem_request_hook = on_shmem_request;
  prev_shmem_startup_hook = shmem_startup_hook;
  shmem_startup_hook = on_shmem_startup;
}

bool is_terminal(SlotState s) {
  return s == SlotState::Finished || s == SlotState::Stopped || s == SlotState::Failed ||
         s == SlotState::Died;
}

const char* slot_state_name(SlotState s) {
  switch (s) {
    case SlotState::Free: return "free";
    case SlotState::Starting:
    case SlotState::Running: return "running";
    case SlotState::Finished: return "finished";
    case SlotState::Stopped: return "stopped";
    case SlotState::Failed:
    case SlotState::Died: return "failed";
  }
  return "unknown";
}

namespace slots {

int claim(Oid dboid, int32 pipeline_id, const char* name) {
  int found = -1;
  bool busy = false;
  pg::call([&] {
    TimestampTz now = GetCurrentTimestamp();
    LWLockAcquire(slots_lock(), LW_EXCLUSIVE);
    if (find_locked(dboid, pipeline_id) >= 0) {
      busy = true;
    } else {
      for (int i = 0; i < shared_state->nslots && found < 0; i++) {
        locked(slot_at(i), [&](PipelineSlot& s) {
          if (s.state != SlotState::Free) return;
          s.state = SlotState::Starting;
          s.dboid = dboid;
          s.pipeline_id = pipeline_id;
          s.pid = 0;
          s.latch = nullptr;
          s.stop_requested = false;
          s.started_at = now;
          s.rows_in = s.rows_out = s.bad_rows = s.late_rows = s.state_bytes = 0;
          s.watermark = DT_NOBEGIN;
          s.last_error[0] = '\0';
          s.source_status[0] = '\0';
          s.nnodes = 0;
          s.nworkers = 0;
          found = i;
        });
      }
    }
    LWLockRelease(slots_lock());
  });
  if (busy)
    pg::fail(ERRCODE_OBJECT_IN_USE, std::string("pipeline \"") + name + "\" is already running");
  if (found < 0)
    pg::fail(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED, "too many running pipelines",
             "arroyo_stream.max_pipelines is " + std::to_string(max_pipelines_guc),
             "Stop a pipeline or raise arroyo_stream.max_pipelines (needs a restart).");
  return found;
}

void release(int index) {
  pg::call([&] {
    LWLockAcquire(slots_lock(), LW_EXCLUSIVE);
    locked(slot_at(index), [](PipelineSlot& s) {
      s.state = SlotState::Free;
      s.pid = 0;
      s.latch = nullptr;
    });
    LWLockRelease(slots_lock());
  });
}

std::optional<SlotState> find_state(Oid dboid, int32 pipeline_id) {
  int index = find(dboid, pipeline_id);
  if (index < 0) return std::nullopt;
  // The slot may have been given back (and claimed again) since: then it is not the pipeline's.
  SlotState state = locked(slot_at(index), [&](PipelineSlot& s) {
    bool mine = s.dboid == dboid && s.pipeline_id == pipeline_id;
    return mine ? s.state : SlotState::Free;
  });
  if (state == SlotState::Free) return std::nullopt;
  return state;
}

void stop_and_wait(Oid dboid, int32 pipeline_id) {
  int index = find(dboid, pipeline_id);
  if (index < 0) return;
  PipelineSlot& slot = slot_at(index);
  Latch* latch = locked(slot, [](PipelineSlot& s) {
    s.stop_requested = true;
    return s.latch;
  });
  if (latch) SetLatch(latch);
  while (true) {
    bool gone = false;
    latch = locked(slot, [&](PipelineSlot& s) {
      gone = s.state == SlotState::Free || s.dboid != dboid || s.pipeline_id != pipeline_id ||
             s.state == SlotState::Died;
      return s.latch;
    });
    if (gone) return;
    if (latch) SetLatch(latch);  // the worker may not have attached at the first SetLatch
    pg::wait_latch(10);
  }
}

void request_stop(Oid dboid, int32 pipeline_id) {
  int index = find(dboid, pipeline_id);
  if (index < 0) return;
  Latch* latch = locked(slot_at(index), [&](PipelineSlot& s) {
    bool same = s.dboid == dboid && s.pipeline_id == pipeline_id;
    if (same) s.stop_requested = true;
    return same ? s.latch : nullptr;
  });
  if (latch) SetLatch(latch);
}

int count() { return shared_state ? shared_state->nslots : 0; }

bool read(int index, Oid dboid, SlotStatus* out) {
  return locked(slot_at(index), [&](PipelineSlot& s) {
    if (s.state == SlotState::Free || s.dboid != dboid) return false;
    out->state = s.state;
    out->pipeline_id = s.pipeline_id;
    out->pid = s.pid;
    out->started_at = s.started_at;
    out->rows_in = s.rows_in;
    out->rows_out = s.rows_out;
    out->bad_rows = s.bad_rows;
    out->late_rows = s.late_rows;
    out->state_bytes = s.state_bytes;
    out->watermark = s.watermark;
    memcpy(out->last_error, s.last_error, kSlotErrorLen);
    memcpy(out->source_status, s.source_status, kSlotSourceStatusLen);
    return true;
  });
}

void attach_worker(int index) {
  locked(slot_at(index), [](PipelineSlot& s) {
    s.pid = MyProcPid;
    s.latch = MyLatch;
  });
}

bool stop_requested(int index) {
  return locked(slot_at(index), [](PipelineSlot& s) { return s.stop_requested; });
}

void publish(int index, const EngineStats& stats) {
  locked(slot_at(index), [&](PipelineSlot& s) {
    s.rows_in = stats.rows_in;
    s.rows_out = stats.rows_out;
    s.bad_rows = stats.bad_rows;
    s.late_rows = stats.late_rows;
    s.state_bytes = stats.state_bytes;
    s.watermark = stats.watermark;
    strlcpy(s.source_status, stats.source_status.c_str(), kSlotSourceStatusLen);
    s.nnodes = std::min(int(stats.nodes.size()), kSlotMaxNodes);
    if (s.nnodes > 0) memcpy(s.nodes, stats.nodes.data(), sizeof(NodeStats) * s.nnodes);
  });
}

void publish_workers(int index, const std::vector<WorkerStatus>& workers) {
  locked(slot_at(index), [&](PipelineSlot& s) {
    s.nworkers = std::min(int(workers.size()), kSlotMaxWorkers);
    if (s.nworkers > 0) memcpy(s.workers, workers.data(), sizeof(WorkerStatus) * s.nworkers);
  });
}

int read_workers(int index, Oid dboid, int32* pipeline_id, WorkerStatus* out) {
  return locked(slot_at(index), [&](PipelineSlot& s) {
    if (s.state == SlotState::Free || s.dboid != dboid) return -1;
    *pipeline_id = s.pipeline_id;
    memcpy(out, s.workers, sizeof(WorkerStatus) * s.nworkers);
    return s.nworkers;
  });
}

void publish_status(int index, const std::string& status) {
  locked(slot_at(index),
         [&](PipelineSlot& s) { strlcpy(s.source_status, status.c_str(), kSlotSourceStatusLen); });
}

int read_nodes(int index, Oid dboid, int32* pipeline_id, NodeStats* out) {
  return locked(slot_at(index), [&](PipelineSlot& s) {
    if (s.state == SlotState::Free || s.dboid != dboid) return -1;
    *pipeline_id = s.pipeline_id;
    memcpy(out, s.nodes, sizeof(NodeStats) * s.nnodes);
    return s.nnodes;
  });
}

void set_state(int index, SlotState state, const std::string& error) {
  locked(slot_at(index), [&](PipelineSlot& s) {
    s.state = state;
    strlcpy(s.last_error, error.c_str(), kSlotErrorLen);
  });
}

void mark_died(int index, const char* why) {
  locked(slot_at(index), [&](PipelineSlot& s) {
    if (is_terminal(s.state)) return;
    s.state = SlotState::Died;
    strlcpy(s.last_error, why, kSlotErrorLen);
  });
  if (shared_state->supervisor_latch) SetLatch(shared_state->supervisor_latch);
}

void set_supervisor_latch(Latch* latch) { shared_state->supervisor_latch = latch; }

std::set<Oid> databases_with_died_workers() {
  std::set<Oid> out;
  for (int i = 0; i < shared_state->nslots; i++) {
    Oid db = InvalidOid;
    bool died = locked(slot_at(i), [&](PipelineSlot& s) {
      db = s.dboid;
      return s.state == SlotState::Died;
    });
    if (died) out.insert(db);
  }
  return out;
}

std::vector<DiedSlot> died_workers(Oid dboid) {
  std::vector<DiedSlot> out;
  for (int i = 0; i < shared_state->nslots; i++) {
    char error[kSlotErrorLen];
    int32 id = 0;
    bool mine = locked(slot_at(i), [&](PipelineSlot& s) {
      id = s.pipeline_id;
      memcpy(error, s.last_error, kSlotErrorLen);
      return s.state == SlotState::Died && s.dboid == dboid;
    });
    if (mine) out.push_back({i, id, error});
  }
  return out;
}

bool has_slot(Oid dboid, int32 pipeline_id) { return find(dboid, pipeline_id) >= 0; }

void stop_database_workers(Oid dboid) {
  if (!shared_state) return;
  // Slots are matched by database and pipeline id: a slot freed and claimed again by another
  // pipeline meanwhile is not waited for.
  std::vector<std::pair<int, int32>> waiting;
  for (int i = 0; i < shared_state->nslots; i++) {
    int32 id = 0;
    Latch* latch = nullptr;
    bool mine = locked(slot_at(i), [&](PipelineSlot& s) {
      bool ours = s.state != SlotState::Free && s.dboid == dboid;
      if (ours) s.stop_requested = true;
      id = s.pipeline_id;
      latch = s.latch;
      return ours;
    });
    if (!mine) continue;
    if (latch) SetLatch(latch);
    waiting.emplace_back(i, id);
  }
  for (auto [i, id] : waiting) {
    while (true) {
      Latch* latch = nullptr;
      bool gone = locked(slot_at(i), [&](PipelineSlot& s) {
        latch = s.latch;
        return s.state == SlotState::Free || s.dboid != dboid || s.pipeline_id != id ||
               is_terminal(s.state);
      });
      if (gone) break;
      if (latch) SetLatch(latch);  // a worker still starting takes its latch later
      pg::wait_latch(10);
    }
  }
}

void release_died(Oid dboid) {
  if (!shared_state) return;
  for (int i = 0; i < shared_state->nslots; i++) {
    bool mine = locked(slot_at(i), [&](PipelineSlot& s) {
      return s.state == SlotState::Died && s.dboid == dboid;
    });
    if (mine) release(i);
  }
}

}  // namespace slots

}  // namespace arroyo
