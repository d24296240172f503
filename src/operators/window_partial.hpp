// Two-phase window aggregation, its first phase. In a pipeline of several workers, each worker
// aggregates its own rows of a tumble or hop window per pane and key before the exchange, so
// that one partial state per pane, key and worker crosses to the key's owner instead of every
// row; the owner's WindowAggregateOperator combines them (take_partials()) and decides, as with
// rows, what is late and when a window is emitted.
//
// It keeps no state across an epoch: the Dataflow drains it before the epoch's barrier goes
// through its exchange, so checkpoints, their node numbers and rescaling are those of the
// pipeline without it. It drops nothing either: a row behind its own watermark goes out at
// once, and the owner, which sees every worker's watermark, judges it as it would the row.
#pragma once

#include "core/operator.hpp"
#include "core/plan.hpp"
#include "operators/group_table.hpp"

#include <map>
#include <memory>
#include <vector>

namespace arroyo {

class StateEncoder;

class WindowPartialOperator : public Operator {
 public:
  // Whether `node` can run in two phases: a tumble or hop window whose aggregates all have a
  // combine function and states that serialize, without DISTINCT, ORDER BY or WITHIN GROUP.
  static bool applies(const WindowAggregateNode& node);
  // The rows it emits: (pane start, keys..., rows folded in, one serialized state per
  // aggregate as bytea), allocated in CurrentMemoryContext.
  static TupleDesc partial_desc(const WindowAggregateNode& node);

  // `out_desc` is partial_desc(node); emitted states are allocated in `round_memory`.
  WindowPartialOperator(const WindowAggregateNode& node, TupleDesc out_desc,
                        MemoryContext round_memory);
  ~WindowPartialOperator() override;

  void push(int port, Batch& rows) override;
  // Emits the panes that end by `wm`, then passes it on.
  void watermark(TimestampTz wm) override;
  // Emits every pane first: while this worker is idle, the owners' watermarks move on without it.
  void idle() override;
  void end() override;
  // Emits every pane (before an epoch barrier).
  void drain();
  // Its panes' memory (their groups are not counted among the state's keys: the window
  // aggregate's own groups are those).
  int64 state_bytes() const override;

 private:
  struct Pane {
    MemoryContext memory;
    std::unique_ptr<GroupTable> groups;
  };
  Pane& pane(TimestampTz start);
  // Emits the panes whose end is at or before `until`, and frees them.
  void emit_panes(TimestampTz until);
  void append_partial(TimestampTz start, Group* g, MemoryContext memory, StateEncoder& enc);

  WindowSpec window_;
  int64 pane_us_;  // the window's width for a tumble, its slide for a hop
  int num_keys_;
  std::vector<AggregateSpec> specs_;
  std::vector<std::unique_ptr<AggregateFunction>> aggs_;
  std::vector<KeyType> key_types_;
  MemoryContext memory_, round_memory_;
  MemoryContext scratch_;  // what serialization functions allocate, reset after each state
  std::map<TimestampTz, Pane> panes_;  // by start
  size_t last_pane_groups_ = 0;
  TimestampTz watermark_ = DT_NOBEGIN;
  Batch out_;
};

}  // namespace arroyo
