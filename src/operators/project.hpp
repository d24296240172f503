// Filter + projection: evaluates WHERE and the select list with PostgreSQL's ExprState.
#pragma once

#include "core/operator.hpp"
#include "pg/postgres.hpp"

#include <vector>

namespace arroyo {

class ProjectOperator : public Operator {
 public:
  // quals: implicit-AND list of Expr; targets: TargetEntry list; both over rows of `input`.
  // Expressions allocate their results in `row_memory`, which the engine resets per round.
  ProjectOperator(TupleDesc input, TupleDesc output, List* quals, List* targets,
                  MemoryContext row_memory);
  void push(int port, Batch& rows) override;

 private:
  int in_cols_, out_cols_;
  ExprContext* econtext_;
  TupleTableSlot* in_slot_;
  TupleTableSlot* out_slot_;
  ExprState* qual_ = nullptr;
  ProjectionInfo* projection_;
  Batch out_;
  std::vector<int16> out_len_;
  std::vector<bool> out_byval_;
  // Drops a delete directly followed by an insert of an identical row (an update that, after
  // this projection, changes nothing).
  void cancel_unchanged_update();
};

}  // namespace arroyo
