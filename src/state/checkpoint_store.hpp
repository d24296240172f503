// Where a pipeline's checkpoints live: the extension's table _arroyo_stream.state holds one row
// per (node, part, key) — operator state, source positions, sink bookkeeping — and
// _arroyo_stream.checkpoints one row per checkpoint taken. A checkpoint writes only the entries
// that changed since the previous one, in the pipeline's own transaction, so they commit
// together with the table-sink writes they belong to.
//
// Nodes: operator i of the dataflow is node i; source i is node -1 - i. A part groups entries
// that are dropped together (a window pane); keys are unique within a part.
#pragma once

#include "core/batch.hpp"
#include "pg/postgres.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace arroyo {

struct StateEntry {
  int32 node;
  int64 part;
  std::string key;
  std::string value;
  ItemPointerData tid;  // where the entry is stored (a hint for StateWriter::put)
  int32 worker = 0;     // the worker of a parallel pipeline that wrote it (0: the only one)
};

class CheckpointStore;

// What one node writes its state through during a checkpoint.
class StateWriter {
 public:
  StateWriter(CheckpointStore& store, int32 node) : store_(store), node_(node) {}
  // Stores (or replaces) one entry. `tid`, if given, holds where the entry was last stored (or
  // an invalid pointer): a valid one spares the index lookup (it is checked, and a stale one
  // falls back to the lookup); it is set to where the entry goes once it is written.
  void put(int64 part, const std::string& key, const std::string& value, ItemPointer tid = nullptr);
  // Stores an entry that no checkpoint holds yet (cheaper than put: no lookup). `tid`, if
  // given, is set to where it goes.
  void insert(int64 part, const std::string& key, const std::string& value,
              ItemPointer tid = nullptr);
  // Deletes one entry (nothing if there is none).
  void remove(int64 part, const std::string& key);
  // Deletes every entry of a part, at once (before any later put into it).
  void remove_part(int64 part);
  // Deletes every entry of the node, at once (before any later put into it).
  void remove_node();

 private:
  CheckpointStore& store_;
  int32 node_;
};

class CheckpointStore {
 public:
  explicit CheckpointStore(int32 pipeline_id);
  ~CheckpointStore();

  // The pipeline's last committed checkpoint: its epoch (0: none yet) and the fingerprint of
  // the dataflow that wrote it. Fails if the catalog records a checkpoint that is missing.
  struct Last {
    int64 epoch = 0;
    std::string fingerprint;
  };
  Last last();
  // Hands every stored entry to `f`, ordered by node, part and key.
  void load(const std::function<void(const StateEntry&)>& f);

  // Starts checkpoint last().epoch + 1 in the current transaction. `next_epoch` false: goes on
  // writing the checkpoint that finish_entries() paused (the leader of several workers).
  void begin(bool next_epoch = true);
  StateWriter writer(int32 node) { return StateWriter(*this, node); }
  // Writes what is pending and records the checkpoint (its row and the catalog's epoch).
  void finish(const std::string& fingerprint, TimestampTz started);
  // A pipeline's worker other than its leader (several workers): writes what is pending, and
  // records nothing (the leader records the checkpoint, in the same two-phase commit).
  void finish_entries();
  int64 epoch() const { return epoch_; }
  int64 last_bytes() const { return bytes_; }

  // The value of the pipeline's entry (node, 0, ""), if it has one. Needs a transaction.
  static std::optional<std::string> read_entry(int32 pipeline_id, int32 node);
  // Deletes, in the checkpoint being written, every entry of the pipeline's workers
  // first_worker .. last_worker - 1 (node numbers shifted by worker * node_stride): the
  // workers a pipeline rescaled to fewer no longer has.
  void remove_workers(int first_worker, int last_worker, int32 node_stride);
  // Removes every entry and checkpoint of a pipeline (stream_drop). Needs a transaction.
  static void remove_all(int32 pipeline_id);

 private:
  friend class StateWriter;
  void record(const std::string& fingerprint, TimestampTz started);
  void add(Batch& batch, int32 node, int64 part, const std::string& key, const std::string* value);
  void delete_part(int32 node, int64 part);
  void delete_node(int32 node);
  void write_pending();
  void apply_pending();
  void insert_new();
  bool entry_at(ItemPointer tid, const Datum* key);

  int32 pipeline_id_;
  int64 epoch_ = 0;  // the last checkpoint committed, or being written
  int64 bytes_ = 0;  // written by the current (or last) checkpoint
  Oid relid_ = InvalidOid, key_index_ = InvalidOid;
  MemoryContext memory_ = nullptr;
  // While a checkpoint is written: the table, its primary key, a slot for lookups.
  Relation rel_ = nullptr, index_ = nullptr;
  struct IndexInfo* index_info_ = nullptr;
  TupleTableSlot* found_ = nullptr;
  std::unique_ptr<Batch> pending_, new_entries_;
  std::vector<ItemPointer> pending_tids_;  // per row of pending_: put()'s tid, or nullptr
  std::vector<ItemPointer> new_tids_;      // per row of new_entries_: insert()'s tid
  std::vector<TupleTableSlot*> insert_slots_;
  BulkInsertStateData* bulk_ = nullptr;
  void* record_plan_ = nullptr;  // SPIPlanPtr of the statement recording a checkpoint
};

}  // namespace arroyo
