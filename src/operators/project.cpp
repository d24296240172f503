#include "operators/project.hpp"

#include "pg/guard.hpp"

#include <cstring>

namespace arroyo {

TimestampTz current_row_time = 0;
bool current_row_time_valid = false;

ProjectOperator::ProjectOperator(TupleDesc input, TupleDesc output, List* quals, List* targets,
                                 MemoryContext row_memory)
    : in_cols_(input->natts), out_cols_(output->natts), out_(output->natts) {
  pg::call([&] {
    econtext_ = CreateStandaloneExprContext();
    // Results must live until the batch has gone through the pipeline, not just one row.
    econtext_->ecxt_per_tuple_memory = row_memory;
    in_slot_ = MakeSingleTupleTableSlot(input, &TTSOpsVirtual);
    out_slot_ = MakeSingleTupleTableSlot(output, &TTSOpsVirtual);
    econtext_->ecxt_scantuple = in_slot_;
    if (quals) qual_ = ExecInitQual(quals, nullptr);
    projection_ = ExecBuildProjectionInfo(targets, econtext_, out_slot_, nullptr, input);
  });
  for (int c = 0; c < out_cols_; c++) {
    out_len_.push_back(TupleDescAttr(output, c)->attlen);
    out_byval_.push_back(TupleDescAttr(output, c)->attbyval);
  }
}

void ProjectOperator::cancel_unchanged_update() {
  int n = out_.size();
  if (n < 2 || out_.op(n - 1) != RowOp::Insert || out_.op(n - 2) != RowOp::Delete) return;
  const Datum* a = out_.values(n - 2);
  const Datum* b = out_.values(n - 1);
  const bool* an = out_.nulls(n - 2);
  const bool* bn = out_.nulls(n - 1);
  for (int c = 0; c < out_cols_; c++) {
    if (an[c] != bn[c]) return;
    if (!an[c] && !datumIsEqual(a[c], b[c], out_byval_[c], out_len_[c])) return;
  }
  out_.truncate(n - 2);
}

void ProjectOperator::push(int, Batch& rows) {
  const int n = rows.size();
  int i = 0;
  while (i < n) {
    // Evaluate rows until the input is used up or the output batch is full.
    pg::call([&] {
      // The slots read and write the batches' rows in place (their own arrays are put back
      // after), so no row is copied.
      Datum* in_values = in_slot_->tts_values;
      bool* in_nulls = in_slot_->tts_isnull;
      Datum* out_values = out_slot_->tts_values;
      bool* out_nulls = out_slot_->tts_isnull;
      for (; i < n && !out_.full(); i++) {
        ExecClearTuple(in_slot_);
        in_slot_->tts_values = rows.values(i);
        in_slot_->tts_isnull = rows.nulls(i);
        ExecStoreVirtualTuple(in_slot_);
        current_row_time = rows.time(i);
        current_row_time_valid = true;
        if (qual_ && !ExecQual(qual_, econtext_)) continue;
        int row = out_.append(rows.time(i), rows.op(i));
        if (rows.has_splits()) out_.set_split(row, rows.split(i));
        out_slot_->tts_values = out_.values(row);
        out_slot_->tts_isnull = out_.nulls(row);
        ExecProject(projection_);
        if (rows.op(i) == RowOp::Insert && row > 0) cancel_unchanged_update();
      }
      in_slot_->tts_values = in_values;
      in_slot_->tts_isnull = in_nulls;
      out_slot_->tts_values = out_values;
      out_slot_->tts_isnull = out_nulls;
      current_row_time_valid = false;
    });
    emit(out_);
    out_.clear();
  }
}

}  // namespace arroyo
