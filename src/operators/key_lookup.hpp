// Finding a materialized group's row in a table sink's target by its key.
#pragma once

#include "pg/postgres.hpp"

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

}  // namespace arroyo
