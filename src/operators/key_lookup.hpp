// Finding a materialized group's row in a table sink's target by its key.
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "access/genam.h"
#include "utils/snapshot.h"
}

extern "C" {
#include "executor/tuptable.h"
#include "utils/rel.h"
}

namespace arroyo {

// Finds the row of `rel` whose columns in unique index `index` equal those of `search` and
// locks it (exclusively) into `found`, as logical replication's RelationFindReplTupleByIndex
// does, except that a NULL key value finds the row holding NULL there: the NULL group of a
// GROUP BY is one group, with one row. Waits for concurrent writers of the row. Plain C frames
// only: call inside pg::call.
bool find_row_by_key(Relation rel, Oid index, TupleTableSlot* search, TupleTableSlot* found);

// The same for many rows of one transaction: the index stays open, its scan is reused and
// each key column's equality function is looked up once. open() before the first find(),
// close() before the transaction ends (an abort releases them with the transaction). Plain C
// frames only: call inside pg::call.
class KeyLookup {
 public:
  void open(Relation rel, Oid index);
  bool is_open() const { return idx_ != nullptr; }
  bool find(TupleTableSlot* search, TupleTableSlot* found);
  void close();
  // After an abort: forgets what the transaction released.
  void forget() { idx_ = nullptr; }

 private:
  Relation rel_ = nullptr, idx_ = nullptr;
  IndexScanDesc scan_ = nullptr;
  SnapshotData snap_;
  int nkeys_ = 0;
  FmgrInfo eq_[INDEX_MAX_KEYS];  // each key column's equality function
};

}  // namespace arroyo
