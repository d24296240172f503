// Assigns each source row its event time (from event_time_field, else the connector's time)
// and generates the source's watermark: the largest event time seen minus watermark_delay. For
// a source read in splits (Kafka partitions), the least over its active splits of each one's
// largest event time, minus the delay, as Flink does: a backlog read faster from one partition
// than another makes no row of the slower one late.
#pragma once

#include "core/operator.hpp"

#include <map>
#include <memory>
#include <vector>

namespace arroyo {

class WatermarkOperator : public Operator {
 public:
  WatermarkOperator(int time_column, int64 delay_us, int64 idle_timeout_us, EngineStats& stats)
      : time_column_(time_column),
        delay_us_(delay_us),
        idle_timeout_us_(idle_timeout_us),
        stats_(stats) {}

  // Columns declared NOT NULL: a row with NULL in one is dropped and counted as bad.
  void set_not_null_columns(std::vector<int> columns) { not_null_ = std::move(columns); }
  void push(int port, Batch& rows) override;
  // It drops bad rows and sets each row's event time in place.
  bool modifies_input() const override { return true; }
  // The source's splits that may still produce rows (see Source::active_splits); a split
  // that has had no rows for idle_timeout stops holding the watermark back.
  // With remove_missing false it only adds the splits it did not know (before a batch: its
  // rows must be noted under their split); splits that ended are removed after the batch, so
  // that the rows of a split's last batch still hold the watermark back while they pass.
  void set_splits(const std::vector<int32>& active, TimestampTz now, bool remove_missing = true);
  // Called when the source had nothing to give: after idle_timeout, the source goes idle.
  void check_idle(TimestampTz now);
  // The source has nothing to read in this worker (Source::has_share): idle at once.
  void go_idle();
  // Checkpoints: the largest event time seen and the watermark emitted.
  void checkpoint(StateWriter& w) override;
  void restore(const StateEntry& e) override;
  void rescale(int old_parallelism, const KeyGroupFilter& keep) override;

 private:
  void advance(TimestampTz wm);
  // The watermark the rows seen so far allow (before any delay), or DT_NOBEGIN.
  TimestampTz allowed() const;
  void note_time(int32 split, TimestampTz t, TimestampTz now);
  struct Split {
    TimestampTz max_time = DT_NOBEGIN;
    TimestampTz last_data;  // wall clock
    bool idle = false;
  };
  bool split_mode_ = false;
  std::map<int32, Split> splits_;        // the active ones
  TimestampTz splits_min_ = DT_NOBEGIN;  // least max_time over active splits that are not idle
  void recompute_splits_min();

  int time_column_;
  std::vector<int> not_null_;
  int64 delay_us_, idle_timeout_us_;
  EngineStats& stats_;
  TimestampTz max_time_ = DT_NOBEGIN;
  TimestampTz emitted_ = DT_NOBEGIN;
  TimestampTz last_data_ = 0;
  bool idle_ = false;
  std::unique_ptr<Batch> split_;  // for the rare batch split before a late row
  TimestampTz saved_max_time_ = DT_NOBEGIN;
  bool rescaling_ = false, restored_any_ = false;  // see rescale()
};

}  // namespace arroyo
