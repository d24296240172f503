// Window functions (OVER) over event time, evaluated by PostgreSQL's own executor: the rows are
// buffered until the watermark passes them, then a WindowAgg plan (the pipeline's own SELECT
// with window functions, planned by PostgreSQL) runs over them, read as the ephemeral named
// relation "arroyo_window_rows". Every window function PostgreSQL has works, with its exact
// semantics.
//
//  * Closed time windows (PARTITION BY a windowed aggregate's window): every row of a partition
//    arrives before the watermark passes the window's end, so the rows the watermark passes are
//    whole partitions; they are evaluated together and forgotten.
//  * Event-time OVER per key (ORDER BY the event time): each key keeps, besides its rows not yet
//    emitted, the rows its frames read back (the last n rows, the rows within the RANGE
//    interval, the key's first row for first_value). A row is emitted once the watermark has
//    passed it and, with lead(x, n), n later rows of its key (or the end of the input); the
//    output's watermark is held back for the rows still waiting.
//
// Rows behind the watermark (event time before it) are dropped and counted as late.
#pragma once

#include "core/operator.hpp"
#include "core/plan.hpp"
#include "operators/group_checkpoint.hpp"
#include "operators/group_table.hpp"
#include "operators/stored_row.hpp"

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace arroyo {

class WindowFunctionOperator : public Operator {
 public:
  WindowFunctionOperator(const WindowFunctionNode& node, EngineStats& stats,
                         MemoryContext round_memory);
  ~WindowFunctionOperator() override;

  void push(int port, Batch& rows) override;
  void watermark(TimestampTz wm) override;
  void end() override;
  void idle() override {}
  int64 state_bytes() const override;
  // One entry per key changed since the last checkpoint (its kept and pending rows), and the
  // watermark.
  void checkpoint(StateWriter& w) override;
  void restore(const StateEntry& e) override;
  void rescale(int old_parallelism, const KeyGroupFilter& keep) override;

 private:
  struct KeyRows {
    std::vector<StoredRow> history;  // emitted rows still read by frames, by event time
    std::vector<StoredRow> pending;  // rows not emitted yet, by event time
    size_t release = 0;              // while evaluating: pending rows emitted this time
    bool active = false;             // listed in active_
  };
  void release(TimestampTz wm, bool final);
  void evaluate(const std::vector<Group*>& keys);
  void prune(KeyRows& k, TimestampTz wm);
  void forget_if_empty(Group* g);

  int in_cols_, out_cols_;
  bool per_key_;
  int lookback_rows_, lookahead_rows_;
  int64 lookback_us_;
  bool keep_first_;
  std::vector<int> partition_cols_;
  std::vector<KeyType> key_types_;
  RowLayout layout_;
  PlannedStmt* stmt_;
  TupleDesc enr_desc_, result_desc_;
  TupleTableSlot* result_slot_ = nullptr;
  EngineStats& stats_;
  MemoryContext memory_, eval_memory_, round_memory_;
  std::unique_ptr<GroupTable> keys_;
  std::unordered_map<Group*, KeyRows> rows_;
  std::vector<Group*> active_;  // the keys with pending rows
  UnsavedGroups unsaved_;
  std::vector<std::string> removed_;
  TimestampTz watermark_ = DT_NOBEGIN, emitted_watermark_ = DT_NOBEGIN;
  TimestampTz saved_watermark_ = DT_NOBEGIN;
  std::optional<RescaleGroups> rescale_;  // rescaling: the groups kept (see rescale())
  bool meta_restored_ = false;
  Batch out_;
};

}  // namespace arroyo
