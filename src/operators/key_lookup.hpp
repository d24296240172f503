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

 private:
  Relation rel_ = nullptr, idx_ = nullptr;
  IndexScanDesc scan_ = nullptr;
  SnapshotData snap_;
  int nkeys_ = 0;
  FmgrInfo eq_[INDEX_MAX_KEYS];  // each key column's equality function
};

}  // namespace arroyo
