#include "operators/watermark.hpp"

#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

namespace arroyo {

void WatermarkOperator::push(int, Batch& rows) {
  if (time_column_ >= 0 || !not_null_.empty()) {
    // Rows without an event time cannot be placed in time, and rows with NULL in a column
    // declared NOT NULL break the declaration: they are dropped as bad data.
    int kept = 0;
    for (int i = 0; i < rows.size(); i++) {
      bool bad = time_column_ >= 0 && rows.nulls(i)[time_column_];
      for (int c : not_null_) bad = bad || rows.nulls(i)[c];
      if (bad) {
        stats_.bad_rows_engine++;
        continue;
      }
      if (kept != i) {
        memcpy(rows.values(kept), rows.values(i), sizeof(Datum) * rows.ncols());
        memcpy(rows.nulls(kept), rows.nulls(i), sizeof(bool) * rows.ncols());
        rows.op(kept) = rows.op(i);
      }
      rows.time(kept) = time_column_ >= 0 ? DatumGetTimestampTz(rows.values(i)[time_column_])
                                          : rows.time(i);
      kept++;
    }
    rows.truncate(kept);
  }
  last_data_ = GetCurrentTimestamp();
  idle_ = false;
  // The watermark goes downstream once per batch; but where a row would be late under the
  // watermark reached by the rows before it, that watermark goes first, so lateness does not
  // depend on how rows happen to be batched. In-order data never splits a batch.
  int from = 0;
  for (int i = 0; i < rows.size(); i++) {
    TimestampTz t = rows.time(i);
    if (max_time_ != DT_NOBEGIN && t < max_time_ - delay_us_ && max_time_ - delay_us_ > emitted_) {
      if (!split_) split_ = std::make_unique<Batch>(rows.ncols(), rows.capacity());
      split_->clear();
      split_->append_rows(rows, from, i);
      emit(*split_);
      advance(max_time_ - delay_us_);
      from = i;
    }
    max_time_ = std::max(max_time_, t);
  }
  if (from == 0) {
    emit(rows);
  } else {
    split_->clear();
    split_->append_rows(rows, from, rows.size());
    emit(*split_);
  }
  if (max_time_ != DT_NOBEGIN) advance(max_time_ - delay_us_);
}

void WatermarkOperator::advance(TimestampTz wm) {
  if (wm <= emitted_) return;
  emitted_ = wm;
  emit_watermark(wm);
}

void WatermarkOperator::checkpoint(StateWriter& w) {
  if (max_time_ == saved_max_time_) return;
  w.put(0, "m", encode_ints({max_time_, emitted_}));
  saved_max_time_ = max_time_;
}

void WatermarkOperator::restore(const StateEntry& entry) {
  std::vector<int64> v = decode_ints(entry.value, 2, "a source's watermark");
  max_time_ = saved_max_time_ = v[0];
  emitted_ = v[1];
}

void WatermarkOperator::check_idle(TimestampTz now) {
  if (last_data_ == 0) last_data_ = now;  // a source that never sent data idles from its start
  if (idle_ || now - last_data_ < idle_timeout_us_) return;
  idle_ = true;
  emit_idle();
}

}  // namespace arroyo
