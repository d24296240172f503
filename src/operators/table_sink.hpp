// Writes rows into a regular table through PostgreSQL's executor paths (the ones logical
// replication's apply uses): constraints, defaults (computed upstream), generated columns,
// indexes and triggers all apply. Each transaction that writes counts as one INSERT (and, for
// updating results, one UPDATE and one DELETE) statement for statement-level triggers.
//
// Append-only results are inserted. Updating results are materialized: an insert upserts the
// row of its key (found through the key's unique index), a delete removes it, and a delete
// followed by an insert of the same key becomes one update (into a target without triggers
// keyed by integer, date, timestamp or boolean columns, a batch's rows whose key has no row go
// in together: upsert_batch). Updating results without keys
// (SinkTarget::whole_rows) are inserted, and a delete removes one stored row equal to it.
#pragma once

#include "core/operator.hpp"
#include "operators/key_lookup.hpp"
#include "core/plan.hpp"
#include "pg/postgres.hpp"

extern "C" {
#include "executor/execPartition.h"
}

#include <string>
#include <vector>

namespace arroyo {

class TableSinkOperator : public Operator {
 public:
  TableSinkOperator(const SinkTarget& target, EngineStats& stats, const std::string& pipeline);
  void begin_transaction() override;
  void push(int port, Batch& rows) override;
  void watermark(TimestampTz wm) override { stats_.watermark = wm; }
  void end_transaction() override;

 private:
  enum Statement { Insert = 0, Update = 1, Delete = 2 };
  void open_statement(Statement kind);
  void insert_row();
  void upsert_row();
  void delete_row();
  void see_own_writes();
  bool find_existing();
  bool existing_is_slot() const;
  bool same_key(const Batch& rows, int a, int b) const;

  void insert_foreign();

  Oid relid_;
  std::string pipeline_;  // for messages
  bool updating_;
  bool unseen_writes_ = false;  // rows written since the last CommandCounterIncrement
  // A foreign table of another wrapper (postgres_fdw, …): rows go through its
  // ExecForeignInsert, as COPY FROM does, in the wrapper's own transaction with the remote
  // server, which the wrapper commits just before ours.
  bool foreign_ = false;
  ModifyTableState* mtstate_ = nullptr;
  // A partitioned table: each row goes to its partition (append-only results), as COPY FROM
  // routes them.
  PartitionTupleRouting* routing_ = nullptr;
  std::vector<int> key_columns_;
  Oid key_index_;
  bool whole_rows_;
  EngineStats& stats_;
  EState* estate_ = nullptr;
  ResultRelInfo* result_rel_ = nullptr;
  EPQState* epq_ = nullptr;
  TupleTableSlot* slot_ = nullptr;      // the row to write
  TupleTableSlot* existing_ = nullptr;  // the row found by key
  KeyLookup lookup_;                    // finds it (open while a transaction writes)
  bool statement_open_[3] = {false, false, false};
  // Append-only results into a target without BEFORE/INSTEAD OF row triggers go in with one
  // table_multi_insert per batch (as COPY does) through these slots; otherwise row by row.
  bool batched_ = false;
  std::vector<TupleTableSlot*> slots_;
  BulkInsertState bulk_ = nullptr;
  // Inserts rows `which[0..n)` of `rows` that way (all of them when `which` is null).
  void insert_batched(const Batch& rows, const int* which, int n);
  // Updating results into a target without triggers, keyed by a unique index whose keys
  // compare bitwise (KeyLookup::bitwise_keys): per batch without two rows of one key, each
  // row's key is looked up and found rows updated or deleted in place, and the rows whose key
  // has no row yet go in together at the end of the batch with insert_batched.
  bool batched_upserts_ = false;
  bool upsert_batch(const Batch& rows);
  bool batch_has_equal_keys(const Batch& rows, const std::vector<int>& which);
  std::vector<int> rows_;     // the batch's rows left after pairing retractions with inserts
  std::vector<int> inserts_;  // those whose key has no row
  std::vector<int> seen_;     // batch_has_equal_keys's hash table (row + 1, or 0)
};

}  // namespace arroyo
