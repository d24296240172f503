// Change data capture of a regular table through logical decoding: the table's current rows
// (as inserts, read in the snapshot exported by the replication slot's creation), then every
// committed change after that snapshot, in commit order — no gap, no overlap. The pipeline's
// worker owns the slot and drives decoding itself, one slot and one pass over the WAL for all
// the tables it reads (decoding_session.hpp); our output plugin (output_plugin.cpp) hands the
// changes over in-process, to each table's change buffer. The position of what was polled is
// checkpointed with the pipeline's results, and the slot is told only what a committed checkpoint
// covers: a restarted pipeline resumes in the same slot, skipping what it had read (no new
// snapshot). A start whose checkpoint has no slot (a restored database) rebuilds instead: the
// worker drops the checkpoint and empties a table target, and the source reads a new snapshot, all
// in one transaction (pipeline_worker.cpp, needs_rebuild). Tables identified by a key only are
// mirrored by key (row_mirror.hpp).
#include "connectors/cdc/cdc.hpp"

#include "connectors/cdc/decoding_session.hpp"
#include "connectors/cdc/row_mirror.hpp"
#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

extern "C" {
#include "replication/slot.h"
}

namespace arroyo {

namespace {

class CdcSource : public Source {
 public:
  explicit CdcSource(const TableSpec& spec) : relid_(spec.relid), natts_(spec.natts) {}

  void open(const RuntimeInfo& info) override {
    pipeline_name_ = info.pipeline_name;
    // Named now, in the pipeline's first transaction: errors may be raised outside one.
    const char* name = pg::call([&] { return (const char*)get_rel_name(relid_); });
    table_name_ = name ? name : "?";
    mirror_.init(relid_, natts_);
    // A preview reads on a temporary slot of its own process.
    std::string slot = info.preview ? "arroyo_preview_" + std::to_string(MyProcPid)
                                    : cdc_slot_name(info.dboid, info.pipeline_id);
    session_ = DecodingSession::attach(slot, pipeline_name_, info.preview);
    buffer_ = session_->add_table(relid_, natts_, table_name_);
  }

  // Without a checkpoint the pipeline starts from the table's current rows; with one, from
  // the position it recorded, in the slot the first run created.
  bool wants_snapshot() const override { return !restored_; }
  bool snapshot_done() const override { return scan_ == nullptr; }

  // Reads the table in the snapshot the slot's changes start after (the first table's source
  // creates the slot, ephemeral until the snapshot is read; the others share its snapshot).
  void begin_snapshot() override {
    by_key_ = !mirror_.identity_full();
    check_key();
    done_ = session_->begin_snapshot();
    pg::call([&] {
      PushActiveSnapshot(GetTransactionSnapshot());
      rel_ = table_open(relid_, AccessShareLock);
      scan_ = table_beginscan(rel_, GetActiveSnapshot(), 0, nullptr);
      slot_ = table_slot_create(rel_, nullptr);
      PopActiveSnapshot();
    });
  }

  void snapshot_committed() override { start_decoding(); }

  // Decodes the WAL written so far into the change buffer. Runs between the pipeline's
  // transactions, as a walsender decodes: the reorder buffer then runs each decoded
  // transaction in a transaction of its own rather than in a subtransaction of ours.
  // (The session decodes once every table's source is ready and has drained its rows.)
  void prefetch() override {
    if (!buffer_->ready && restored_) start_decoding();
    session_->decode();
  }

  PollResult poll(Batch& out) override {
    if (scan_) return poll_snapshot(out);
    if (!buffer_->ready) return PollResult::idle();
    if (buffer_->truncated && buffer_->drained == buffer_->count)
      pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
               "table \"" + table_name_ + "\" was truncated",
               "Change data capture cannot retract the rows a TRUNCATE removes.",
               "Drop the pipeline (stream_drop) and create it again to rebuild its result from "
               "the table's current rows; empty the pipeline's target first if it is a table.");
    while (buffer_->drained < buffer_->count && !out.full()) {
      int row = out.append(buffer_->times[buffer_->drained],
                           buffer_->ops[buffer_->drained] > 0 ? RowOp::Insert : RowOp::Delete);
      memcpy(out.values(row), buffer_->values + size_t(buffer_->drained) * natts_,
             sizeof(Datum) * natts_);
      memcpy(out.nulls(row), buffer_->nulls + size_t(buffer_->drained) * natts_,
             sizeof(bool) * natts_);
      if (by_key_) resolve_by_key(out, row, buffer_->ops[buffer_->drained]);
      advance(buffer_->ends[buffer_->drained]);
      buffer_->drained++;
      uncheckpointed_++;
    }
    // Everything decoded has been polled: so have the transactions without rows of ours (but
    // never a TRUNCATE, which is read again after a restart, and fails again).
    if (buffer_->drained == buffer_->count && !buffer_->truncated &&
        buffer_->last_commit_end > done_) {
      done_ = buffer_->last_commit_end;
      partial_end_ = InvalidXLogRecPtr;
      partial_rows_ = 0;
    }
    if (out.empty()) return PollResult::idle(GetCurrentTimestamp() + 100 * 1000);
    return PollResult::data();
  }

  // Records the position of what has been polled (in the pipeline's checkpoint, committed
  // with the results of those rows), when it moved.
  void checkpoint(StateWriter& w) override {
    uncheckpointed_ = 0;
    if (by_key_) {
      if (!mirror_marked_) w.put(0, kMirrorKey, {});
      mirror_marked_ = true;
      mirror_.checkpoint(w);
      // An update can be cut between its delete and its insert: the insert may need the old row.
      if (last_old_ != written_last_old_) w.put(0, kLastOldKey, last_old_);
      written_last_old_ = last_old_;
    }
    if (done_ == written_done_ && partial_end_ == written_partial_end_ &&
        partial_rows_ == written_partial_rows_)
      return;
    w.put(0, kPositionKey, encode_ints({int64(done_), int64(partial_end_), partial_rows_}));
    written_done_ = done_;
    written_partial_end_ = partial_end_;
    written_partial_rows_ = partial_rows_;
  }

  // Takes back the position: decoding resumes in the existing slot, skipping what was polled.
  void restore(const StateEntry& entry) override {
    StateDecoder d(entry.value.data(), entry.value.size(),
                   "change data capture position of pipeline \"" + pipeline_name_ + "\"");
    if (entry.part == RowMirror::kPart) return mirror_.restore(entry);
    if (entry.part == 0 && entry.key == kMirrorKey) {
      mirror_marked_ = true;
      return;
    }
    if (entry.part == 0 && entry.key == kLastOldKey) {
      last_old_ = written_last_old_ = entry.value;
      return;
    }
    if (entry.part != 0 || entry.key != kPositionKey) d.corrupt("unknown entry");
    done_ = written_done_ = XLogRecPtr(d.get_int());
    partial_end_ = written_partial_end_ = XLogRecPtr(d.get_int());
    partial_rows_ = written_partial_rows_ = d.get_int();
    d.expect_end();
    if (done_ == InvalidXLogRecPtr || partial_rows_ < 0 ||
        (partial_rows_ > 0) != (partial_end_ != InvalidXLogRecPtr) ||
        (partial_rows_ > 0 && partial_end_ <= done_))
      d.corrupt("inconsistent position");
    restored_ = true;
  }

  // The results of the rows polled so far are committed: the transactions fully behind the
  // position checkpointed with them are done with for this table (when nothing was polled
  // since the last checkpoint, transactions without rows of this table are behind it too), and
  // the slot releases the WAL that every table is done with.
  void committed() override {
    XLogRecPtr lsn = uncheckpointed_ > 0 ? written_done_ : done_;
    if (lsn > buffer_->confirmable) buffer_->confirmable = lsn;
    session_->confirm();
  }

  int64 state_bytes() const override { return mirror_.bytes(); }

  void close() override { session_.reset(); }

 private:
  static constexpr const char* kPositionKey = "position";
  static constexpr const char* kMirrorKey = "mirror";     // present: the rows are kept by key
  static constexpr const char* kLastOldKey = "last_old";  // the row last deleted by key

  // Fails unless rows can be kept by key when they must be.
  void check_key() {
    if (by_key_ && !mirror_.has_key())
      pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
               "table \"" + table_name_ +
                   "\" needs a primary key or REPLICA IDENTITY FULL for "
                   "its changes to be read");
  }

  // A row of a table read by key: a delete by key takes the whole old row from the mirror; an
  // insert is kept there, its unchanged TOASTed values taken from the row deleted just before.
  void resolve_by_key(Batch& out, int row, int8 op) {
    if (op == -2) {
      if (!mirror_.take(out.values(row), out.nulls(row), last_old_))
        pg::fail(ERRCODE_DATA_CORRUPTED,
                 "change data capture of table \"" + table_name_ +
                     "\" got a change of a row it does not know",
                 "The rows it keeps by key do not match the table (was the replica identity "
                 "changed while the pipeline ran?).",
                 "Drop the pipeline (stream_drop) and create it again.");
      mirror_.decode(last_old_, out.values(row), out.nulls(row));
      return;
    }
    if (op == 2) {
      std::vector<Datum> old_values(natts_);
      std::vector<char> old_nulls(natts_);
      mirror_.decode(last_old_, old_values.data(), (bool*)old_nulls.data());
      const bool* unchanged = buffer_->unchanged + size_t(buffer_->drained) * natts_;
      for (int i = 0; i < natts_; i++)
        if (unchanged[i]) {
          out.values(row)[i] = old_values[i];
          out.nulls(row)[i] = old_nulls[i];
        }
    }
    mirror_.put(out.values(row), out.nulls(row));
  }

  // One more row of the transaction ending at `end` was polled; transactions come whole and in
  // commit order, so the one before it is complete.
  void advance(XLogRecPtr end) {
    if (end == partial_end_) {
      partial_rows_++;
      return;
    }
    if (partial_end_ != InvalidXLogRecPtr && partial_end_ > done_) done_ = partial_end_;
    partial_end_ = end;
    partial_rows_ = 1;
  }

  // Readies the table's buffer for decoding from the slot's confirmed position; after a
  // restore the buffer skips what the checkpoint says was polled. A missing slot fails the
  // pipeline: the changes it held are gone, and starting over would lose or repeat results.
  void start_decoding() {
    if (restored_) {
      if (!mirror_.identity_full() && !mirror_marked_)
        pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                 "the replica identity of table \"" + table_name_ +
                     "\" changed since the last checkpoint of pipeline \"" + pipeline_name_ + "\"",
                 "The pipeline read the table with REPLICA IDENTITY FULL and kept no copy of its "
                 "rows by key.",
                 "Set REPLICA IDENTITY FULL again, or drop the pipeline (stream_drop) and create "
                 "it again.");
      by_key_ = mirror_marked_;
      check_key();
      session_->acquire();
    }
    buffer_->by_key = by_key_;
    buffer_->skip_through = done_;
    buffer_->skip_partial_end = partial_end_;
    buffer_->skip_rows = partial_rows_;
    buffer_->ready = true;
  }

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
    if (by_key_)
      for (int row = 0; row < out.size(); row++) mirror_.put(out.values(row), out.nulls(row));
    uncheckpointed_ += out.size();
    if (!more) {
      pg::call([&] {
        ExecDropSingleTupleTableSlot(slot_);
        table_endscan(scan_);
        table_close(rel_, AccessShareLock);
      });
      // Persistent before the snapshot's transaction commits (with the checkpoint that records
      // the slot's consistent point): a crash after that commit keeps the slot.
      session_->persist();
      scan_ = nullptr;
    }
    return out.empty() ? PollResult::idle() : PollResult::data();
  }

  Oid relid_;
  int natts_;
  std::string pipeline_name_, table_name_;
  std::shared_ptr<DecodingSession> session_;
  Relation rel_ = nullptr;
  TableScanDesc scan_ = nullptr;
  TupleTableSlot* slot_ = nullptr;
  ChangeBuffer* buffer_ = nullptr;  // this table's, in the session
  bool restored_ = false;
  RowMirror mirror_;
  bool by_key_ = false, mirror_marked_ = false;
  std::string last_old_;  // the row the last delete by key took from the mirror
  std::string written_last_old_;
  // The position of what has been polled: every transaction ending at or before done_, and
  // the first partial_rows_ rows of the one ending at partial_end_ (none when 0).
  XLogRecPtr done_ = InvalidXLogRecPtr, partial_end_ = InvalidXLogRecPtr;
  int64 partial_rows_ = 0;
  // The position last written into a checkpoint, and rows polled since.
  XLogRecPtr written_done_ = InvalidXLogRecPtr, written_partial_end_ = InvalidXLogRecPtr;
  int64 written_partial_rows_ = -1;
  int64 uncheckpointed_ = 0;
};

class CdcConnector : public Connector {
 public:
  const char* name() const override { return "cdc"; }
  void validate_table(const TableSpec&) const override {}
  TableRole role(const TableSpec&) const override { return TableRole::Source; }
  std::unique_ptr<Source> make_source(const TableSpec& spec) const override {
    return std::make_unique<CdcSource>(spec);
  }
  void drop_pipeline_resources(Oid dboid, int32 pipeline_id) const override {
    drop_cdc_slot_if_exists(cdc_slot_name(dboid, pipeline_id));
  }
};

}  // namespace

const Connector& cdc_connector() {
  static CdcConnector instance;
  return instance;
}

}  // namespace arroyo
