// Finding a materialized group's row in a table sink's target by its key.
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "access/genam.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
}

namespace arroyo {

// Finds the row of a table whose columns in a unique index equal those of a search row and
// locks it (exclusively), as logical replication's RelationFindReplTupleByIndex does, except
// that a NULL key value finds the row holding NULL there: the NULL group of a GROUP BY is one
// group, with one row. Waits for concurrent writers of the row. For the many rows of one
// transaction the index stays open, its scan is reused and each key column's equality
// function is looked up once: open() before the first find(), close() before the transaction
// ends (an abort releases them with the transaction). Plain C frames only: call inside
// pg::call.
class KeyLookup {
 public:
  void open(Relation rel, Oid index);
  bool is_open() const { return idx_ != nullptr; }
  bool find(TupleTableSlot* search, TupleTableSlot* found);
  void close();
  // Whether every key column is a plain column of an integer, oid, date, timestamp or boolean
  // type under its default btree operator class: then two keys are equal exactly when their
  // Datums are (see TableSinkOperator::batch_has_equal_keys). Only while open.
  bool bitwise_keys() const;
  int nkeys() const { return nkeys_; }
  int key_column(int i) const { return idx_->rd_index->indkey.values[i] - 1; }

 private:
  Relation rel_ = nullptr, idx_ = nullptr;
  IndexScanDesc scan_ = nullptr;
  SnapshotData snap_;
  int nkeys_ = 0;
  FmgrInfo eq_[INDEX_MAX_KEYS];  // each key column's equality function
};

}  // namespace arroyo
