// Change data capture of a regular table through logical decoding: the table's current rows
// (as inserts, read in the snapshot exported by the replication slot's creation), then every
// committed change after that snapshot, in commit order — no gap, no overlap. The pipeline's
// worker owns the slot and drives decoding itself; our output plugin (output_plugin.cpp)
// hands the changes over in-process.
#include "connectors/cdc/cdc.hpp"

#include "connectors/cdc/change_buffer.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "access/xlog.h"
#include "access/xlogutils.h"
#include "replication/decode.h"
#include "replication/logical.h"
#include "replication/slot.h"
#include "replication/snapbuild.h"
}

namespace arroyo {

std::string cdc_slot_name(Oid dboid, int32 pipeline_id) {
  return "arroyo_" + std::to_string(dboid) + "_" + std::to_string(pipeline_id);
}

void drop_cdc_slot_if_exists(const std::string& name) {
  pg::call([&] {
    LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
    bool exists = false;
    for (int i = 0; i < max_replication_slots; i++) {
      ReplicationSlot* s = &ReplicationSlotCtl->replication_slots[i];
      if (s->in_use && strcmp(NameStr(s->data.name), name.c_str()) == 0) exists = true;
    }
    LWLockRelease(ReplicationSlotControlLock);
    if (exists) ReplicationSlotDrop(name.c_str(), true);
  });
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

void no_prepare_write(LogicalDecodingContext*, XLogRecPtr, TransactionId, bool) {}
void no_write(LogicalDecodingContext*, XLogRecPtr, TransactionId, bool) {}

class CdcSource : public Source {
 public:
  static constexpr int kPrefetchRows = 64 * 1024;  // decoding stops past this many rows

  explicit CdcSource(const TableSpec& spec) : relid_(spec.relid), natts_(spec.natts) {}
  ~CdcSource() override { release_slot(); }

  void open(const RuntimeInfo& info) override {
    slot_name_ = cdc_slot_name(info.dboid, info.pipeline_id);
    memory_ = pg::call([&] {
      return AllocSetContextCreate(TopMemoryContext, "arroyo_stream cdc", ALLOCSET_DEFAULT_SIZES);
    });
  }

  bool wants_snapshot() const override { return true; }
  bool snapshot_done() const override { return scan_ == nullptr; }

  // Creates the slot (ephemeral until the snapshot commits), waits for its consistent point,
  // and makes this transaction's snapshot the one the slot's changes start after.
  void begin_snapshot() override {
    // A slot left by an earlier run: this run starts from the table's current rows again.
    drop_cdc_slot_if_exists(slot_name_);
    pg::call([&] {
      CheckLogicalDecodingRequirements();
      ReplicationSlotCreate(slot_name_.c_str(), true, RS_EPHEMERAL, false);
      XLogReaderRoutine reader = local_wal_reader();
      LogicalDecodingContext* ctx = CreateInitDecodingContext(
          "arroyo_stream", NIL, true, InvalidXLogRecPtr, &reader, no_prepare_write, no_write,
          nullptr);
      DecodingContextFindStartpoint(ctx);
      Snapshot snap = SnapBuildInitialSnapshot(ctx->snapshot_builder);
      RestoreTransactionSnapshot(snap, MyProc);
      FreeDecodingContext(ctx);
      PushActiveSnapshot(GetTransactionSnapshot());
      rel_ = table_open(relid_, AccessShareLock);
      scan_ = table_beginscan(rel_, GetActiveSnapshot(), 0, nullptr);
      slot_ = table_slot_create(rel_, nullptr);
      PopActiveSnapshot();
    });
  }

  void snapshot_committed() override {
    pg::call([&] {
      ReplicationSlotPersist();
      MemoryContext old = MemoryContextSwitchTo(memory_);
      XLogReaderRoutine reader = local_wal_reader();
      ctx_ = CreateDecodingContext(InvalidXLogRecPtr, NIL, false, &reader, no_prepare_write,
                                   no_write, nullptr);
      buffer_ = change_buffer_create(memory_, relid_, natts_);
      ctx_->output_writer_private = buffer_;
      XLogBeginRead(ctx_->reader, MyReplicationSlot->data.restart_lsn);
      MemoryContextSwitchTo(old);
    });
  }

  // Decodes the WAL written so far into the change buffer. Runs between the pipeline's
  // transactions, as a walsender decodes: the reorder buffer then runs each decoded
  // transaction in a transaction of its own rather than in a subtransaction of ours.
  void prefetch() override {
    if (!ctx_ || drained_ < buffer_->count || buffer_->truncated) return;
    pg::call([&] {
      change_buffer_reset(buffer_);
      drained_ = 0;
      confirmable_ = buffer_->last_commit_end;
      XLogRecPtr end = GetFlushRecPtr(nullptr);
      while (buffer_->count < kPrefetchRows && ctx_->reader->EndRecPtr < end &&
             !buffer_->truncated) {
        char* errm = nullptr;
        XLogRecord* record = XLogReadRecord(ctx_->reader, &errm);
        if (errm) elog(ERROR, "could not read WAL for change data capture: %s", errm);
        if (record) LogicalDecodingProcessRecord(ctx_, ctx_->reader);
        CHECK_FOR_INTERRUPTS();
      }
      if (buffer_->count == 0) confirmable_ = buffer_->last_commit_end;
    });
  }

  PollResult poll(Batch& out) override {
    if (scan_) return poll_snapshot(out);
    if (!ctx_) return PollResult::idle();
    if (buffer_->truncated && drained_ == buffer_->count)
      pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
               "table \"" + table_name() + "\" was truncated",
               "Change data capture cannot retract the rows a TRUNCATE removes.",
               "Start the pipeline again (stream_start) to rebuild its result from the table's "
               "current rows; empty the pipeline's target first if it is a table.");
    while (drained_ < buffer_->count && !out.full()) {
      int row = out.append(buffer_->times[drained_],
                           buffer_->ops[drained_] > 0 ? RowOp::Insert : RowOp::Delete);
      memcpy(out.values(row), buffer_->values + size_t(drained_) * natts_,
             sizeof(Datum) * natts_);
      memcpy(out.nulls(row), buffer_->nulls + size_t(drained_) * natts_, sizeof(bool) * natts_);
      drained_++;
    }
    if (out.empty()) return PollResult::idle(GetCurrentTimestamp() + 100 * 1000);
    return PollResult::data();
  }

  // The rows polled so far are committed downstream: let the slot release the WAL before the
  // last transaction they completed.
  void committed() override {
    if (!ctx_ || confirmable_ == InvalidXLogRecPtr) return;
    XLogRecPtr lsn = drained_ == buffer_->count ? buffer_->last_commit_end : confirmable_;
    if (lsn == InvalidXLogRecPtr || lsn <= confirmed_) return;
    pg::call([&] { LogicalConfirmReceivedLocation(lsn); });
    confirmed_ = lsn;
  }

  void close() override { release_slot(); }

 private:
  // The table's current rows, in the slot's snapshot (the snapshot transaction is open).
  PollResult poll_snapshot(Batch& out) {
    bool more = pg::call([&] {
      TimestampTz now = GetCurrentTimestamp();
      while (!out.full()) {
        if (!table_scan_getnextslot(scan_, ForwardScanDirection, slot_)) return false;
        slot_getallattrs(slot_);
        int row = out.append(now);
        TupleDesc desc = slot_->tts_tupleDescriptor;
        for (int i = 0; i < natts_; i++) {
          Form_pg_attribute att = TupleDescAttr(desc, i);
          bool isnull = slot_->tts_isnull[i] || att->attisdropped;
          out.nulls(row)[i] = isnull;
          out.values(row)[i] =
              isnull ? 0 : datumCopy(slot_->tts_values[i], att->attbyval, att->attlen);
        }
      }
      return true;
    });
    if (!more) {
      pg::call([&] {
        ExecDropSingleTupleTableSlot(slot_);
        table_endscan(scan_);
        table_close(rel_, AccessShareLock);
      });
      scan_ = nullptr;
    }
    return out.empty() ? PollResult::idle() : PollResult::data();
  }

  std::string table_name() const {
    return pg::call([&] { return (const char*)get_rel_name(relid_); });
  }

  // Gives up the slot and drops it: a later run starts from the table's current rows.
  void release_slot() {
    if (slot_name_.empty()) return;
    try {
      pg::call([&] {
        if (ctx_) FreeDecodingContext(ctx_);
        if (MyReplicationSlot) ReplicationSlotRelease();
        // Flush pending statistics first: they may refer to the slot about to be dropped.
        pgstat_report_stat(true);
      });
      ctx_ = nullptr;
      drop_cdc_slot_if_exists(slot_name_);
    } catch (const pg::Error&) {
      // Left for the supervisor's launcher, which drops the slots of ended pipelines.
    }
    slot_name_.clear();
  }

  Oid relid_;
  int natts_;
  std::string slot_name_;
  MemoryContext memory_ = nullptr;
  Relation rel_ = nullptr;
  TableScanDesc scan_ = nullptr;
  TupleTableSlot* slot_ = nullptr;
  LogicalDecodingContext* ctx_ = nullptr;
  ChangeBuffer* buffer_ = nullptr;
  int drained_ = 0;
  XLogRecPtr confirmable_ = InvalidXLogRecPtr, confirmed_ = InvalidXLogRecPtr;
};

class CdcConnector : public Connector {
 public:
  const char* name() const override { return "cdc"; }
  void validate_table(const TableSpec&) const override {}
  TableRole role(const TableSpec&) const override { return TableRole::Source; }
  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return std::make_unique<CdcSource>(spec);
  }
};

}  // namespace

const Connector& cdc_connector() {
  static CdcConnector instance;
  return instance;
}

}  // namespace arroyo
