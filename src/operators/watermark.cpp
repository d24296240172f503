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
      rows.time(kept) =
          time_column_ >= 0 ? DatumGetTimestampTz(rows.values(i)[time_column_]) : rows.time(i);
      kept++;
    }
    rows.truncate(kept);
  }
  TimestampTz now = GetCurrentTimestamp();
  last_data_ = now;
  idle_ = false;
  // The watermark goes downstream once per batch; but where a row would be late under the
  // watermark reached by the rows before it, that watermark goes first, so lateness does not
  // depend on how rows happen to be batched. In-order data never splits a batch.
  int from = 0;
  for (int i = 0; i < rows.size(); i++) {
    TimestampTz t = rows.time(i);
    TimestampTz wm = allowed();
    if (wm != DT_NOBEGIN && t < wm - delay_us_ && wm - delay_us_ > emitted_) {
      if (!split_) split_ = std::make_unique<Batch>(rows.ncols(), rows.capacity());
      split_->clear();
      split_->append_rows(rows, from, i);
      emit(*split_);
      advance(wm - delay_us_);
      from = i;
    }
    max_time_ = std::max(max_time_, t);
    if (split_mode_) note_time(rows.split(i), t, now);
  }
  if (from == 0) {
    emit(rows);
  } else {
    split_->clear();
    split_->append_rows(rows, from, rows.size());
    emit(*split_);
  }
  if (allowed() != DT_NOBEGIN) advance(allowed() - delay_us_);
}

TimestampTz WatermarkOperator::allowed() const { return split_mode_ ? splits_min_ : max_time_; }

// Records a row's event time for its split (a split that is no longer active is ignored).
void WatermarkOperator::note_time(int32 split, TimestampTz t, TimestampTz now) {
  auto it = splits_.find(split);
  if (it == splits_.end()) return;
  Split& s = it->second;
  s.last_data = now;
  bool was_min = s.idle || s.max_time == splits_min_;
  s.idle = false;
  if (t > s.max_time) s.max_time = t;
  if (was_min) recompute_splits_min();
}

void WatermarkOperator::recompute_splits_min() {
  TimestampTz least = DT_NOEND;
  bool any = false;
  for (const auto& [id, s] : splits_) {
    if (s.idle) continue;
    any = true;
    least = std::min(least, s.max_time);
  }
  if (!any) {  // every split idle: the largest time any of them reached
    least = DT_NOBEGIN;
    for (const auto& [id, s] : splits_) least = std::max(least, s.max_time);
  }
  splits_min_ = splits_.empty() ? DT_NOBEGIN : least;
}

void WatermarkOperator::set_splits(const std::vector<int32>& active, TimestampTz now,
                                   bool remove_missing) {
  split_mode_ = true;
  bool changed = remove_missing && active.size() != splits_.size();
  for (int32 id : active) {
    auto [it, added] = splits_.try_emplace(id);
    if (added) it->second.last_data = now;
    changed = changed || added;
  }
  if (changed && remove_missing)
    for (auto it = splits_.begin(); it != splits_.end();) {
      bool listed = false;
      for (int32 id : active) listed = listed || id == it->first;
      it = listed ? std::next(it) : splits_.erase(it);
    }
  for (auto& [id, s] : splits_) {
    bool idle = now - s.last_data >= idle_timeout_us_;
    changed = changed || idle != s.idle;
    s.idle = idle;
  }
  if (!changed) return;
  recompute_splits_min();
  if (splits_min_ != DT_NOBEGIN) advance(splits_min_ - delay_us_);
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

void WatermarkOperator::rescale(int, const KeyGroupFilter&) { rescaling_ = true; }

void WatermarkOperator::restore(const StateEntry& entry) {
  std::vector<int64> v = decode_ints(entry.value, 2, "a source's watermark");
  if (rescaling_) {  // the old workers' shares of the source now read by others: the least
    merge_least(max_time_, v[0], !restored_any_);
    merge_least(emitted_, v[1], !restored_any_);
    restored_any_ = true;
    return;
  }
  max_time_ = saved_max_time_ = v[0];
  emitted_ = v[1];
}

void WatermarkOperator::check_idle(TimestampTz now) {
  if (last_data_ == 0) last_data_ = now;  // a source that never sent data idles from its start
  if (idle_ || now - last_data_ < idle_timeout_us_) return;
  idle_ = true;
  emit_idle();
}

void WatermarkOperator::go_idle() {
  if (idle_) return;
  idle_ = true;
  emit_idle();
}

}  // namespace arroyo
