// Updating equality join (no time window): keeps every row of both inputs by join key and,
// for each arriving row or retraction, emits the joined rows it adds or removes. LEFT, RIGHT
// and FULL joins also emit the NULL-padded row of a preserved row without matches, and retract
// it when its first match arrives (and emit it again when its last match goes). A windowed
// join (JoinNode::window_key) emits its NULL-padded rows when the watermark passes the window's
// end instead, and then frees the window's rows: its output is append-only. So does an interval
// join (JoinNode::interval), when the other side's watermark rules out any later match. Output rows
// are the left row's columns, then the right row's. State: per key, both sides' rows with
// multiplicities (exact images, as an updating input retracts exactly the row it inserted).
// SEMI and ANTI joins (join_filter.cpp) keep the same state and emit only left rows.
#pragma once

#include "core/operator.hpp"
#include "core/plan.hpp"
#include "operators/group_checkpoint.hpp"
#include "operators/group_table.hpp"
#include "operators/value_multiset.hpp"

#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace arroyo {

class JoinOperator : public Operator {
 public:
  // Keys of an updating join untouched for ttl_us (event time, against the watermark; 0:
  // never) are forgotten, without retracting what they produced.
  JoinOperator(const JoinNode& node, int64 ttl_us, MemoryContext round_memory);
  ~JoinOperator() override;

  void push(int port, Batch& rows) override;
  void input_watermark(int port, TimestampTz wm) override;
  void watermark(TimestampTz wm) override;
  void end() override;

  int64 state_bytes() const override;
  // Join keys with rows kept (of either side).
  int64 state_keys() const override { return int64(table_->size()); }
  void checkpoint(StateWriter& w) override;
  void restore(const StateEntry& e) override;
  void rescale(int old_parallelism, const KeyGroupFilter& keep) override;
  void restored() override;

 private:
  // One input: how its rows are kept, how its key is computed, its progress.
  struct Side {
    int ncols = 0;
    int offset = 0;  // where its columns start in the joined row
    bool preserved = false;
    std::vector<ValueType> types;
    ExprContext* econtext = nullptr;
    TupleTableSlot* row_slot = nullptr;
    TupleTableSlot* key_slot = nullptr;
    ProjectionInfo* keys = nullptr;
    TimestampTz watermark = DT_NOBEGIN;  // this input's own (DT_NOEND once it ended)
  };

  void track_window(Group* g);
  void track_expiry(int s, Group* g, const Datum* values, const bool* nulls);
  void expire(int s, TimestampTz other_watermark);
  TimestampTz row_time(int s, const Datum* values) const;
  TimestampTz last_match(int s, const Datum* values, const bool* nulls) const;
  static TimestampTz time_at(Datum value, bool window);
  void close_windows(TimestampTz wm);
  void process(int s, const Datum* values, const bool* nulls, RowOp op, TimestampTz t);
  void process_filter(int s, const Datum* values, const bool* nulls, RowOp op, TimestampTz t);
  Group* group_of(int s, RowOp op, TimestampTz t);
  bool key_of(Side& side, const Datum* values, const bool* nulls);
  bool residual_holds(int s, const Datum* values, const bool* nulls, const Datum* other_values,
                      const bool* other_nulls);
  void append_joined(int s, const Datum* values, const bool* nulls, const Datum* other_values,
                     const bool* other_nulls, RowOp op, TimestampTz t, int64 copies);
  void send();
  void forget(Group* g);
  void emit_held_watermark();
  void evict_expired(TimestampTz wm);
  void encode_group(Group* g, StateEncoder& out);
  void decode_group(Group* g, StateDecoder& in);

  Side sides_[2];
  // A semi or anti join (join_filter.cpp): only left rows come out, per their match counts.
  bool filter_ = false, anti_ = false;
  // Over two append-only inputs a left row, once matched, stays matched: it is not kept.
  bool forget_matched_ = false;
  int out_cols_;
  std::vector<KeyType> key_types_;
  MemoryContext memory_, round_memory_;
  int64 multiset_bytes_ = 0;  // the rows' C++ containers (their values are in memory_)
  std::unique_ptr<GroupTable> table_;
  ExprContext* joined_econtext_ = nullptr;
  TupleTableSlot* joined_slot_ = nullptr;
  ExprState* residual_ = nullptr;
  std::vector<Datum> joined_values_;
  std::unique_ptr<bool[]> joined_nulls_;
  Batch out_;
  TimestampTz node_watermark_ = DT_NOBEGIN;  // the inputs' combined, from the graph
  TimestampTz emitted_watermark_ = DT_NOBEGIN;
  int64 ttl_us_ = 0;
  TimestampTz last_sweep_ = DT_NOBEGIN;
  std::optional<RescaleGroups> rescale_;  // rescaling: the groups kept (see rescale())
  // A windowed join: which key is the window, and the keys kept per window end.
  int window_key_ = -1;
  std::map<TimestampTz, std::vector<Group*>> windows_;
  // An interval join: per side, its rows' event-time column and, per row kept, when it can no
  // longer match (keyed by the other side's watermark); the event times of kept rows of
  // preserved sides, which hold the output watermark back until they are emitted or matched.
  bool interval_ = false;
  int time_col_[2] = {-1, -1};
  int expiry_col_[2] = {-1, -1};
  bool expiry_is_window_[2] = {false, false};
  int64 expiry_offset_us_[2] = {0, 0};
  bool time_is_window_[2] = {false, false};  // the time column is a window: its end is the time
  std::multimap<TimestampTz, Group*> expiries_[2];
  std::multiset<TimestampTz> pending_times_;
  // Checkpoints: keys changed since the last one, and keys of checkpointed groups since gone.
  UnsavedGroups unsaved_;
  std::vector<std::string> removed_;
};

}  // namespace arroyo
