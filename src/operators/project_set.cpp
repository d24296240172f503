#include "operators/project_set.hpp"

#include "pg/guard.hpp"

namespace arroyo {

namespace {

// Whether an expression is a set-returning call (else it gives one row).
bool returns_set(Expr* e) {
  return (IsA(e, FuncExpr) && ((FuncExpr*)e)->funcretset) ||
         (IsA(e, OpExpr) && ((OpExpr*)e)->opretset);
}

}  // namespace

ProjectSetOperator::ProjectSetOperator(const ProjectSetNode& node, MemoryContext consumers_memory)
    : in_cols_(node.input->desc->natts),
      out_cols_(node.desc->natts),
      ordinality_(node.ordinality),
      outer_(node.outer),
      consumers_memory_(consumers_memory),
      out_(node.desc->natts) {
  pg::call([&] {
    MemoryContext memory =
        AllocSetContextCreate(CurrentMemoryContext, "project set", ALLOCSET_DEFAULT_SIZES);
    arg_memory_ = AllocSetContextCreate(memory, "project set arguments", ALLOCSET_DEFAULT_SIZES);
    out_memory_ = AllocSetContextCreate(memory, "project set rows", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(memory);
    econtext_ = CreateStandaloneExprContext();
    econtext_->ecxt_per_tuple_memory = out_memory_;
    in_slot_ = MakeSingleTupleTableSlot(node.input->desc, &TTSOpsVirtual);
    out_slot_ = MakeSingleTupleTableSlot(node.desc, &TTSOpsVirtual);
    if (node.quals) qual_ = ExecInitQual(node.quals, nullptr);
    MemoryContextSwitchTo(old);
  });
  int column = in_cols_;
  for (int k = 0; k < list_length(node.functions); k++) {
    Function f;
    Expr* e = (Expr*)list_nth(node.functions, k);
    f.width = node.widths[k];
    f.desc = f.width > 0 ? node.record_descs[k] : nullptr;
    f.first = column;
    column += f.width > 0 ? f.width : 1;
    pg::call([&] {
      MemoryContext old = MemoryContextSwitchTo(econtext_->ecxt_per_query_memory);
      // Columns of a record (a column definition list) are a row type of this backend, as a
      // FunctionScan registers them.
      if (f.desc && f.desc->tdtypeid == RECORDOID)
        f.desc = BlessTupleDesc(CreateTupleDescCopy(f.desc));
      if (returns_set(e)) {
        f.set = ExecInitFunctionResultSet(e, econtext_, nullptr);
        // A function returning record with a column definition list (jsonb_to_recordset(j)
        // AS r(a int)) is told the columns it must produce.
        if (f.width > 0 && !f.set->funcResultDesc) {
          f.set->funcResultDesc = CreateTupleDescCopy(f.desc);
          f.set->funcReturnsTuple = true;
        }
      } else if (f.width > 0) {
        // As a FunctionScan calls it: with the columns it must produce (jsonb_to_record(j) AS
        // r(a int)), its one row through a tuplestore.
        if (!record_econtext_) {
          record_econtext_ = CreateStandaloneExprContext();
          record_args_ = AllocSetContextCreate(CurrentMemoryContext, "project set record arguments",
                                               ALLOCSET_DEFAULT_SIZES);
        }
        f.record = ExecInitTableFunctionResult(e, record_econtext_, nullptr);
        f.record_slot = MakeSingleTupleTableSlot(f.desc, &TTSOpsMinimalTuple);
      } else {
        f.scalar = ExecInitExpr(e, nullptr);
      }
      MemoryContextSwitchTo(old);
    });
    functions_.push_back(f);
  }
  for (int c = 0; c < out_cols_; c++) {
    len_.push_back(TupleDescAttr(node.desc, c)->attlen);
    byval_.push_back(TupleDescAttr(node.desc, c)->attbyval);
  }
}

// Stores one value of `f` into its columns of a row, copied into the batch's memory (a
// function's result may point into state its next call reuses). Inside pg::call.
void ProjectSetOperator::store(Function& f, Datum value, bool isnull, Datum* values, bool* nulls) {
  if (f.width == 0) {
    nulls[f.first] = isnull;
    if (!isnull) values[f.first] = datumCopy(value, byval_[f.first], len_[f.first]);
    return;
  }
  if (isnull) return;  // a NULL composite: every column NULL (already)
  HeapTupleHeader th = DatumGetHeapTupleHeader(value);
  HeapTupleData tuple;
  tuple.t_len = HeapTupleHeaderGetDatumLength(th);
  ItemPointerSetInvalid(&tuple.t_self);
  tuple.t_tableOid = InvalidOid;
  tuple.t_data = th;
  heap_deform_tuple(&tuple, f.desc, values + f.first, nulls + f.first);
  for (int c = f.first; c < f.first + f.width; c++)
    if (!nulls[c]) values[c] = datumCopy(values[c], byval_[c], len_[c]);
}

// Calls a function returning one composite value and stores its columns into a row (all NULL
// if it gave no row). Inside pg::call.
void ProjectSetOperator::store_record(Function& f, Datum* values, bool* nulls) {
  record_econtext_->ecxt_scantuple = in_slot_;
  Tuplestorestate* rows =
      ExecMakeTableFunctionResult(f.record, record_econtext_, record_args_, f.desc, false);
  if (tuplestore_gettupleslot(rows, true, false, f.record_slot)) {
    slot_getallattrs(f.record_slot);
    for (int c = 0; c < f.width; c++) {
      int col = f.first + c;
      nulls[col] = f.record_slot->tts_isnull[c];
      if (!nulls[col])
        values[col] = datumCopy(f.record_slot->tts_values[c], byval_[col], len_[col]);
    }
  }
  ExecClearTuple(f.record_slot);
  tuplestore_end(rows);
}

// One step of input row i: appends its next row (if it passes the conditions) and returns
// true, or, once every function is exhausted, appends the NULL-padded row of a LEFT JOIN that
// produced none and returns false. Inside pg::call, with CurrentMemoryContext the rows'.
bool ProjectSetOperator::step(Batch& rows, int i) {
  in_slot_->tts_values = rows.values(i);
  in_slot_->tts_isnull = rows.nulls(i);
  econtext_->ecxt_scantuple = in_slot_;
  int row = out_.append(rows.time(i), rows.op(i));
  if (rows.has_splits()) out_.set_split(row, rows.split(i));
  Datum* values = out_.values(row);
  bool* nulls = out_.nulls(row);
  bool any = false;
  for (Function& f : functions_) {
    if (f.done) continue;
    bool isnull = true;
    Datum value = 0;
    if (f.scalar) {
      value = ExecEvalExpr(f.scalar, econtext_, &isnull);
      f.done = true;
    } else if (f.record) {
      store_record(f, values, nulls);
      f.done = true;
      any = true;
      continue;
    } else {
      ExprDoneCond done = ExprSingleResult;
      value = ExecMakeFunctionResultSet(f.set, econtext_, arg_memory_, &isnull, &done);
      if (done == ExprEndResult) {
        f.done = true;
        continue;
      }
      if (done == ExprSingleResult) f.done = true;
    }
    any = true;
    store(f, value, isnull, values, nulls);
  }
  if (!any) {
    out_.drop_last();
    if (outer_ && !passed_) {
      row = out_.append(rows.time(i), rows.op(i));
      if (rows.has_splits()) out_.set_split(row, rows.split(i));
      memcpy(out_.values(row), rows.values(i), sizeof(Datum) * in_cols_);
      memcpy(out_.nulls(row), rows.nulls(i), sizeof(bool) * in_cols_);
    }
    return false;
  }
  memcpy(values, rows.values(i), sizeof(Datum) * in_cols_);
  memcpy(nulls, rows.nulls(i), sizeof(bool) * in_cols_);
  steps_++;
  if (ordinality_) {
    values[out_cols_ - 1] = Int64GetDatum(steps_);
    nulls[out_cols_ - 1] = false;
  }
  if (qual_) {
    out_slot_->tts_values = values;
    out_slot_->tts_isnull = nulls;
    ExecStoreVirtualTuple(out_slot_);
    econtext_->ecxt_scantuple = out_slot_;
    bool pass = ExecQual(qual_, econtext_);
    econtext_->ecxt_scantuple = in_slot_;
    ExecClearTuple(out_slot_);
    if (!pass) {
      out_.drop_last();
      return true;
    }
  }
  passed_ = true;
  return true;
}

void ProjectSetOperator::push(int, Batch& rows) {
  const int n = rows.size();
  int i = 0;
  bool started = false;
  while (i < n) {
    // Expand rows until the input is used up or the output batch is full; a row whose
    // expansion does not fit continues after the batch has been emitted.
    pg::call([&] {
      Datum* in_values = in_slot_->tts_values;
      bool* in_nulls = in_slot_->tts_isnull;
      Datum* out_values = out_slot_->tts_values;
      bool* out_nulls = out_slot_->tts_isnull;
      MemoryContext old = MemoryContextSwitchTo(out_memory_);
      ExecClearTuple(in_slot_);
      in_slot_->tts_values = rows.values(i);
      in_slot_->tts_isnull = rows.nulls(i);
      ExecStoreVirtualTuple(in_slot_);
      while (i < n && !out_.full()) {
        if (!started) {
          for (Function& f : functions_) f.done = false;
          steps_ = 0;
          passed_ = false;
          started = true;
        }
        current_row_time = rows.time(i);
        current_row_time_valid = true;
        if (!step(rows, i)) {
          MemoryContextReset(arg_memory_);
          started = false;
          i++;
        }
      }
      MemoryContextSwitchTo(old);
      ExecClearTuple(in_slot_);
      in_slot_->tts_values = in_values;
      in_slot_->tts_isnull = in_nulls;
      out_slot_->tts_values = out_values;
      out_slot_->tts_isnull = out_nulls;
      current_row_time_valid = false;
    });
    emit(out_);
    out_.clear();
    // The emitted rows' values have been used (consumers copy what they keep), and so have
    // the rows the consumers computed from them.
    pg::call([&] {
      MemoryContextReset(out_memory_);
      MemoryContextReset(consumers_memory_);
      CHECK_FOR_INTERRUPTS();  // one row may expand for a long time: stay responsive to SIGTERM
    });
  }
}

}  // namespace arroyo
