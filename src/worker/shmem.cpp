#include "worker/shmem.hpp"

#include "pg/guard.hpp"

#include <vector>

namespace arroyo {

int max_pipelines_guc = 32;

static SharedState* shared_state = nullptr;
static LWLockPadded* lock_tranche = nullptr;
static shmem_request_hook_type prev_shmem_request_hook = nullptr;
static shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

static Size shared_size() {
  return add_size(offsetof(SharedState, slots),
                  mul_size(sizeof(PipelineSlot), max_pipelines_guc));
}

// Asks the postmaster for our shared memory and lock (shmem_request_hook).
static void on_shmem_request() {
  if (prev_shmem_request_hook) prev_shmem_request_hook();
  RequestAddinShmemSpace(shared_size());
  RequestNamedLWLockTranche("arroyo_stream", 1);
}

// Creates or attaches the shared state (shmem_startup_hook).
static void on_shmem_startup() {
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

void request_shared_memory() {
  prev_shmem_request_hook = shmem_request_hook;
  shmem_request_hook = on_shmem_request;
  prev_shmem_startup_hook = shmem_startup_hook;
  shmem_startup_hook = on_shmem_startup;
}

SharedState* shared() { return shared_state; }
LWLock* slots_lock() { return &lock_tranche[0].lock; }

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

int find_slot(Oid dboid, int32 pipeline_id) {
  SharedState* s = shared_state;
  for (int i = 0; i < s->nslots; i++) {
    PipelineSlot& slot = s->slots[i];
    if (slot.state != SlotState::Free && slot.dboid == dboid && slot.pipeline_id == pipeline_id)
      return i;
  }
  return -1;
}

int claim_slot(Oid dboid, int32 pipeline_id, const char* name) {
  int found = -1;
  bool busy = false;
  pg::call([&] {
    LWLockAcquire(slots_lock(), LW_EXCLUSIVE);
    int existing = find_slot(dboid, pipeline_id);
    if (existing >= 0) {
      busy = true;
    } else {
      for (int i = 0; i < shared_state->nslots && found < 0; i++) {
        PipelineSlot& slot = shared_state->slots[i];
        if (slot.state != SlotState::Free) continue;
        SpinLockAcquire(&slot.mutex);
        slot.state = SlotState::Starting;
        slot.dboid = dboid;
        slot.pipeline_id = pipeline_id;
        slot.pid = 0;
        slot.latch = nullptr;
        slot.stop_requested = false;
        slot.started_at = GetCurrentTimestamp();
        slot.rows_in = slot.rows_out = slot.bad_rows = slot.late_rows = slot.state_bytes = 0;
        slot.watermark = DT_NOBEGIN;
        slot.last_error[0] = '\0';
        slot.source_status[0] = '\0';
        SpinLockRelease(&slot.mutex);
        found = i;
      }
    }
    LWLockRelease(slots_lock());
  });
  if (busy) pg::fail(ERRCODE_OBJECT_IN_USE, std::string("pipeline \"") + name + "\" is already running");
  if (found < 0)
    pg::fail(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED, "too many running pipelines",
             "arroyo_stream.max_pipelines is " + std::to_string(max_pipelines_guc),
             "Stop a pipeline or raise arroyo_stream.max_pipelines (needs a restart).");
  return found;
}

void release_slot(int index) {
  pg::call([&] {
    LWLockAcquire(slots_lock(), LW_EXCLUSIVE);
    PipelineSlot& slot = shared_state->slots[index];
    SpinLockAcquire(&slot.mutex);
    slot.state = SlotState::Free;
    slot.pid = 0;
    slot.latch = nullptr;
    SpinLockRelease(&slot.mutex);
    LWLockRelease(slots_lock());
  });
}

void stop_database_workers(Oid dboid) {
  SharedState* s = shared_state;
  if (!s) return;
  // Slots are matched by database and pipeline id: a slot freed and claimed again by another
  // pipeline meanwhile is not waited for.
  std::vector<std::pair<int, int32>> waiting;
  for (int i = 0; i < s->nslots; i++) {
    PipelineSlot& slot = s->slots[i];
    SpinLockAcquire(&slot.mutex);
    bool mine = slot.state != SlotState::Free && slot.dboid == dboid;
    if (mine) slot.stop_requested = true;
    Latch* latch = slot.latch;
    int32 id = slot.pipeline_id;
    SpinLockRelease(&slot.mutex);
    if (!mine) continue;
    if (latch) SetLatch(latch);
    waiting.emplace_back(i, id);
  }
  for (auto [i, id] : waiting) {
    PipelineSlot& slot = s->slots[i];
    while (true) {
      SpinLockAcquire(&slot.mutex);
      bool gone = slot.state == SlotState::Free || slot.dboid != dboid || slot.pipeline_id != id ||
                  is_terminal(slot.state);
      Latch* latch = slot.latch;
      SpinLockRelease(&slot.mutex);
      if (gone) break;
      if (latch) SetLatch(latch);  // a worker still starting takes its latch later
      pg::call([&] {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
      });
    }
  }
}

}  // namespace arroyo
