// One pipeline's logical decoding (decoding_session.hpp), and its replication slot's life.
#include "connectors/cdc/decoding_session.hpp"

#include "connectors/cdc/cdc.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/xlog.h"
#include "access/xlogutils.h"
#include "replication/decode.h"
#include "replication/slot.h"
#include "replication/snapbuild.h"
#include "storage/proc.h"
#include "storage/procarray.h"
}

namespace arroyo {

std::string cdc_slot_name(Oid dboid, int32 pipeline_id) {
  return "arroyo_" + std::to_string(dboid) + "_" + std::to_string(pipeline_id);
}

bool cdc_slot_exists(const std::string& name) {
  return pg::call([&] {
    LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
    bool exists = SearchNamedReplicationSlot(name.c_str(), false) != nullptr;
    LWLockRelease(ReplicationSlotControlLock);
    return exists;
  });
}

void drop_cdc_slot_if_exists(const std::string& name, bool wait) {
  if (!cdc_slot_exists(name)) return;
  try {
    pg::call([&] { ReplicationSlotDrop(name.c_str(), !wait); });
  } catch (const pg::Error&) {
    // Gone meanwhile (an ephemeral slot whose process exited): what we wanted.
    if (cdc_slot_exists(name)) throw;
  }
}

void drop_cdc_slots_of_database(Oid dboid) {
  std::string prefix = "arroyo_" + std::to_string(dboid) + "_";
  std::vector<std::string> names;
  std::vector<std::string>* namesp = &names;
  pg::call([&] {
    LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
    for (int i = 0; i < max_replication_slots; i++) {
      ReplicationSlot* s = &ReplicationSlotCtl->replication_slots[i];
      if (!s->in_use || s->data.database != dboid) continue;
      const char* name = NameStr(s->data.name);
      if (strncmp(name, prefix.c_str(), prefix.size()) == 0) namesp->emplace_back(name);
    }
    LWLockRelease(ReplicationSlotControlLock);
  });
  for (const std::string& name : names) drop_cdc_slot_if_exists(name);
}

namespace {

// WAL reading callbacks for decoding inside this backend (as pg_logical_slot_get_changes).
XLogReaderRoutine local_wal_reader() {
  XLogReaderRoutine r;
  r.page_read = read_local_xlog_page;
  r.segment_open = wal_segment_open;
  r.segment_close = wal_segment_close;
  return r;
}

// Clears the PROC_IN_LOGICAL_DECODING flag CreateDecodingContext sets when called outside a
// transaction (as a walsender). This process also runs the pipeline's write transactions, and
// other backends leave a flagged process's xid out of their snapshots: they would take its
// running transaction for an aborted one and mark its new rows invisible for good (hint
// bits). Our decoding assigns no xid, so it needs no flag.
void clear_logical_decoding_flag() {
  LWLockAcquire(ProcArrayLock, LW_EXCLUSIVE);
  MyProc->statusFlags &= ~PROC_IN_LOGICAL_DECODING;
  ProcGlobal->statusFlags[MyProc->pgxactoff] = MyProc->statusFlags;
  LWLockRelease(ProcArrayLock);
}

void no_prepare_write(LogicalDecodingContext*, XLogRecPtr, TransactionId, bool) {}
void no_write(LogicalDecodingContext*, XLogRecPtr, TransactionId, bool) {}

// The session of this process (a worker runs one pipeline).
std::weak_ptr<DecodingSession> current_session;

}  // namespace

std::shared_ptr<DecodingSession> DecodingSession::attach(const std::string& slot_name,
                                                         const std::string& pipeline_name,
                                                         bool temporary) {
  std::shared_ptr<DecodingSession> s = current_session.lock();
  if (s && s->slot_name_ == slot_name) return s;
  s.reset(new DecodingSession(slot_name, pipeline_name));
  s->temporary_ = temporary;
  current_session = s;
  return s;
}

DecodingSession::DecodingSession(const std::string& slot_name, const std::string& pipeline_name)
    : slot_name_(slot_name), pipeline_name_(pipeline_name) {
  pg::call([&] {
    memory_ = AllocSetContextCreate(TopMemoryContext, "arroyo_stream cdc", ALLOCSET_DEFAULT_SIZES);
    router_ = (ChangeRouter*)MemoryContextAllocZero(memory_, sizeof(ChangeRouter));
  });
}

// Gives up the slot, which stays for the next run (only stream_drop drops it).
DecodingSession::~DecodingSession() {
  try {
    pg::call([&] {
      if (ctx_) FreeDecodingContext(ctx_);
      if (MyReplicationSlot) ReplicationSlotRelease();
      MemoryContextDelete(memory_);
    });
  } catch (const pg::Error&) {
    // The worker is exiting: its exit callbacks release the slot.
  }
}

ChangeBuffer* DecodingSession::add_table(Oid relid, int natts, const std::string& table_name) {
  table_names_.push_back(table_name);
  return pg::call([&] {
    ChangeBuffer* buf = change_buffer_create(memory_, relid, natts);
    int n = router_->count + 1;
    router_->buffers = router_->buffers
                           ? (ChangeBuffer**)repalloc(router_->buffers, sizeof(ChangeBuffer*) * n)
                           : (ChangeBuffer**)MemoryContextAlloc(memory_, sizeof(ChangeBuffer*));
    router_->buffers[router_->count++] = buf;
    return buf;
  });
}

XLogRecPtr DecodingSession::begin_snapshot() {
  if (snapshot_start_ != InvalidXLogRecPtr) return snapshot_start_;
  // A slot left by a run that never checkpointed: nothing it read was committed downstream.
  drop_cdc_slot_if_exists(slot_name_, true);
  pg::call([&] {
    CheckLogicalDecodingRequirements();
    ReplicationSlotCreate(slot_name_.c_str(), true, temporary_ ? RS_TEMPORARY : RS_EPHEMERAL,
                          false);
    XLogReaderRoutine reader = local_wal_reader();
    LogicalDecodingContext* ctx =
        CreateInitDecodingContext("arroyo_stream", NIL, true, InvalidXLogRecPtr, &reader,
                                  no_prepare_write, no_write, nullptr);
    DecodingContextFindStartpoint(ctx);
    Snapshot snap = SnapBuildInitialSnapshot(ctx->snapshot_builder);
    RestoreTransactionSnapshot(snap, MyProc);
    FreeDecodingContext(ctx);
  });
  // The snapshot holds every transaction that committed before the consistent point, and
  // decoding starts with the first one after it.
  snapshot_start_ = confirmed_ = MyReplicationSlot->data.confirmed_flush;
  return snapshot_start_;
}

void DecodingSession::persist() {
  if (temporary_) return;
  pg::call([&] {
    if (MyReplicationSlot->data.persistency != RS_PERSISTENT) ReplicationSlotPersist();
  });
}

void DecodingSession::acquire() {
  if (MyReplicationSlot) return;
  bool exists =
      pg::call([&] { return SearchNamedReplicationSlot(slot_name_.c_str(), true) != nullptr; });
  if (!exists) {
    std::string tables;
    for (const std::string& t : table_names_) tables += (tables.empty() ? "\"" : ", \"") + t + "\"";
    pg::fail(ERRCODE_UNDEFINED_OBJECT,
             "replication slot \"" + slot_name_ + "\" of pipeline \"" + pipeline_name_ +
                 "\" is missing",
             "The pipeline's last checkpoint is a position in the changes of " +
                 std::string(table_names_.size() == 1 ? "table " : "tables ") + tables +
                 " that this slot held.",
             "Start the pipeline again: a start that finds no slot rebuilds the pipeline's "
             "results from the tables' current rows.");
  }
  pg::call([&] {
    CheckLogicalDecodingRequirements();
    ReplicationSlotAcquire(slot_name_.c_str(), false);
  });
  confirmed_ = MyReplicationSlot->data.confirmed_flush;
}

// Whether every table's source has set its buffer up and drained it, and none was truncated.
bool DecodingSession::decodable() const {
  if (router_->truncated) return false;
  for (int i = 0; i < router_->count; i++) {
    const ChangeBuffer* b = router_->buffers[i];
    if (!b->ready || b->drained < b->count) return false;
  }
  return router_->count > 0;
}

int DecodingSession::buffered_rows() const {
  int n = 0;
  for (int i = 0; i < router_->count; i++) n += router_->buffers[i]->count;
  return n;
}

// Starts decoding from the slot's confirmed position (the buffers skip what checkpoints say
// was polled).
void DecodingSession::start() {
  acquire();
  persist();
  pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(memory_);
    XLogReaderRoutine reader = local_wal_reader();
    ctx_ = CreateDecodingContext(InvalidXLogRecPtr, NIL, false, &reader, no_prepare_write, no_write,
                                 nullptr);
    clear_logical_decoding_flag();
    ctx_->output_writer_private = router_;
    XLogBeginRead(ctx_->reader, MyReplicationSlot->data.restart_lsn);
    MemoryContextSwitchTo(old);
  });
}

void DecodingSession::decode() {
  if (!decodable()) return;
  if (!ctx_) start();
  pg::call([&] {
    for (int i = 0; i < router_->count; i++) change_buffer_reset(router_->buffers[i]);
    XLogRecPtr end = GetFlushRecPtr(nullptr);
    while (buffered_rows() < kPrefetchRows && ctx_->reader->EndRecPtr < end &&
           !router_->truncated) {
      char* errm = nullptr;
      XLogRecord* record = XLogReadRecord(ctx_->reader, &errm);
      if (errm) elog(ERROR, "could not read WAL for change data capture: %s", errm);
      if (record) LogicalDecodingProcessRecord(ctx_, ctx_->reader);
      CHECK_FOR_INTERRUPTS();
    }
  });
}

void DecodingSession::confirm() {
  if (!MyReplicationSlot || router_->count == 0) return;
  XLogRecPtr lsn = router_->buffers[0]->confirmable;
  for (int i = 1; i < router_->count; i++) lsn = std::min(lsn, router_->buffers[i]->confirmable);
  if (lsn <= confirmed_) return;
  pg::call([&] { LogicalConfirmReceivedLocation(lsn); });
  confirmed_ = lsn;
}

}  // namespace arroyo
