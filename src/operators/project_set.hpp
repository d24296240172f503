// Set-returning functions: PostgreSQL's ProjectSet (several functions of the select list in
// lockstep) and a function in FROM lateral to a stream (with ORDINALITY, LEFT JOIN … ON).
#pragma once

#include "core/operator.hpp"
#include "core/plan.hpp"
#include "pg/postgres.hpp"

#include <vector>

namespace arroyo {

class ProjectSetOperator : public Operator {
 public:
  // Expressions allocate in contexts of their own (a function's output is copied there and
  // freed once its batch has been emitted), and so do the consumers (`consumers_memory`, reset
  // after each batch emitted): one input row may produce any number of rows.
  ProjectSetOperator(const ProjectSetNode& node, MemoryContext consumers_memory);
  void push(int port, Batch& rows) override;

 private:
  struct Function {
    SetExprState* set = nullptr;     // a set-returning call
    ExprState* scalar = nullptr;     // else: one row, a scalar
    SetExprState* record = nullptr;  // or one row, a composite (told its columns)
    TupleTableSlot* record_slot = nullptr;
    int width = 0;             // 0: one column as is; n: a composite's n columns
    TupleDesc desc = nullptr;  // (width > 0) the composite's layout
    int first = 0;             // its first output column
    bool done = false;
  };
  bool step(Batch& rows, int i);
  void store(Function& f, Datum value, bool isnull, Datum* values, bool* nulls);
  void store_record(Function& f, Datum* values, bool* nulls);

  int in_cols_, out_cols_;
  bool ordinality_, outer_;
  std::vector<Function> functions_;
  std::vector<int16> len_;
  std::vector<bool> byval_;
  MemoryContext arg_memory_, out_memory_, consumers_memory_;
  ExprContext* econtext_;
  // For functions returning one composite: PostgreSQL resets this context's per-tuple memory
  // and `record_args_` at every call, so they are not the rows' (nor the other functions').
  ExprContext* record_econtext_ = nullptr;
  MemoryContext record_args_ = nullptr;
  TupleTableSlot* in_slot_;
  TupleTableSlot* out_slot_;
  ExprState* qual_ = nullptr;
  Batch out_;
  // The input row being expanded: how many steps it has taken, and whether a row of it
  // passed the conditions.
  int64 steps_ = 0;
  bool passed_ = false;
};

}  // namespace arroyo
