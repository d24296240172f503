// Windowed aggregation (Dataflow semantics): groups rows by time window and key, and emits each
// window's rows exactly once, when the watermark passes the window's end. Rows later than the
// watermark are dropped and counted.
//
//  * tumble and hop keep one pane per `slide` of event time. A tumble window is one pane; a hop
//    window combines width/slide panes with the aggregates' combine functions, so each event is
//    aggregated once. Aggregates without a combine function (or with DISTINCT) make a hop keep
//    one bucket per window instead, each event going into width/slide of them.
//  * session windows keep each key's rows until the gap after its last row has passed, then
//    aggregate the session's rows.
#pragma once

#include "core/operator.hpp"
#include "operators/group_table.hpp"
#include "operators/sorted_aggregate.hpp"
#include "operators/value_multiset.hpp"
#include "core/plan.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

#include <map>
#include <optional>
#include <memory>
#include <unordered_map>
#include <vector>

namespace arroyo {

class WindowAggregateOperator : public Operator {
 public:
  WindowAggregateOperator(const WindowAggregateNode& node, EngineStats& stats,
                          MemoryContext round_memory);
  ~WindowAggregateOperator() override;

  // Two-phase aggregation (window_partial.hpp): input rows are the partial states of the
  // workers' panes, which it combines, instead of input rows. Set before anything flows.
  void take_partials() { partials_ = true; }

  void push(int port, Batch& rows) override;
  void watermark(TimestampTz wm) override;
  void end() override;
  // Its output's watermark follows its input's; idleness does not pass through.
  void idle() override {}
  int64 state_bytes() const override;
  // Groups kept: those of every open pane (or window), plus session keys with pending rows.
  int64 state_keys() const override;
  // Checkpoints: one entry per group of each pane (part = the pane's start) changed since the
  // last checkpoint, one per session key, and the operator's watermark; a pane's entries go
  // when it fires.
  void checkpoint(StateWriter& w) override;
  void restore(const StateEntry& e) override;
  bool rescale(int old_parallelism, const KeyGroupFilter& keep) override;

 private:
  // The groups of one pane or window, with their memory.
  struct Bucket {
    MemoryContext memory;
    std::unique_ptr<GroupTable> groups;
    std::unordered_map<Group*, std::vector<DistinctSet>> distinct;
    // Per group, the inputs of aggregates whose state cannot be checkpointed (see replay_).
    std::unordered_map<Group*, std::vector<ValueMultiset>> inputs;
    UnsavedGroups unsaved;
    bool persisted = false;  // a checkpoint holds entries of this bucket
  };
  // One pending row of a session key, copied into the key's memory.
  struct SessionRow {
    TimestampTz time;
    Datum* values;
    bool* nulls;
  };
  struct SessionKey {
    MemoryContext memory = nullptr;
    std::vector<SessionRow> rows;
    bool sorted = true;          // rows are in time order
    TimestampTz due = DT_NOEND;  // no session of the key ends before this (in session_due_)
  };

  Bucket& bucket(TimestampTz start);
  void drop_bucket(std::map<TimestampTz, Bucket>::iterator it);
  bool is_late(TimestampTz t, const Datum* values, const bool* nulls);
  void accumulate(Bucket& b, const Datum* values, const bool* nulls);
  void advance_group(Bucket& b, Group* g, bool created, const Datum* values, const bool* nulls);
  void accumulate_session(const Datum* values, const bool* nulls, TimestampTz t);
  void combine_partials(Batch& rows);
  void fire(TimestampTz wm);
  void fire_panes(TimestampTz wm);
  void fire_direct(TimestampTz wm);
  void fire_sessions(TimestampTz wm);
  void emit_group(TimestampTz start, TimestampTz end, const Datum* keys, const bool* key_nulls,
                  AggValue* states, MemoryContext state_memory,
                  const std::vector<ValueMultiset>* inputs);
  // The rows a bucket's group keeps for its aggregates (nullptr if none).
  static const std::vector<ValueMultiset>* inputs_of(Bucket& b, Group* g);
  void flush_output();
  void encode_group(Bucket& b, Group* g, StateEncoder& out);
  void decode_group(Bucket& b, Group* g, StateDecoder& in);
  void encode_session(const SessionKey& sk, StateEncoder& out);
  void restore_session(const StateEntry& e);

  WindowSpec window_;
  int num_keys_, in_cols_;
  std::vector<AggregateSpec> specs_;
  std::vector<std::unique_ptr<AggregateFunction>> aggs_;
  std::vector<KeyType> key_types_;
  std::vector<int16> in_len_;
  std::vector<bool> in_byval_;
  // Per aggregate, null unless its DISTINCT is streamed (see the constructor).
  std::vector<std::unique_ptr<KeyType>> distinct_types_;
  // Per aggregate, set for DISTINCT / ORDER BY / WITHIN GROUP ones computed from kept rows.
  std::vector<std::unique_ptr<SortedAggregate>> sorted_;
  MemoryContext scratch_;  // their transition states while they are computed
  bool combine_panes_;
  bool partials_ = false;  // see take_partials()
  EngineStats& stats_;
  MemoryContext memory_, round_memory_;
  std::map<TimestampTz, Bucket> buckets_;     // by pane (or window) start
  size_t last_bucket_groups_ = 0;             // groups of the last bucket dropped
  std::unique_ptr<GroupTable> session_keys_;  // the keys with pending session rows
  std::unordered_map<Group*, SessionKey> sessions_;
  // Keys by the time before which none of their sessions can end, so that a watermark visits
  // only the keys it may close; an entry whose time is no longer its key's `due` is stale.
  std::multimap<TimestampTz, Group*> session_due_;
  TimestampTz watermark_ = DT_NOBEGIN;
  TimestampTz fired_until_ = DT_NOBEGIN;  // hop with panes: windows ending <= this are out
  TypeCacheEntry* range_type_;
  Datum range_ = 0;  // the tstzrange of the window being emitted, while fire() runs
  TimestampTz range_start_ = 0, range_end_ = 0;
  Batch out_;
  // Checkpoints.
  std::vector<bool> replay_;  // per aggregate: its state is not serializable; keep its inputs
  std::vector<std::vector<ValueType>> arg_types_;  // per aggregate, for those inputs
  std::vector<TimestampTz> dropped_parts_;         // checkpointed buckets dropped since
  UnsavedGroups unsaved_sessions_;
  std::vector<std::string> removed_sessions_;
  TimestampTz saved_watermark_ = DT_NOBEGIN, saved_fired_until_ = DT_NOBEGIN;
  // Rescaling (see rescale()): the groups kept; whether a meta entry was merged yet.
  std::optional<KeyGroupFilter> rescale_keep_;
  bool meta_restored_ = false;
};

}  // namespace arroyo
