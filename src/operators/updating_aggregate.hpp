// Updating aggregation (Arroyo's updating semantics): GROUP BY without a time window. Each
// group's aggregates change with every row (and every retraction, when the input itself
// updates); every flush interval, each changed group emits its old output row as a delete and
// its new one as an insert, so a group that changed a thousand times between flushes costs one
// pair. Groups untouched for the TTL (in event time, against the watermark) are forgotten.
#pragma once

#include "core/operator.hpp"
#include "operators/group_buckets.hpp"
#include "operators/group_table.hpp"
#include "operators/sorted_aggregate.hpp"
#include "operators/updating_aggregate_native.hpp"
#include "operators/value_multiset.hpp"
#include "core/plan.hpp"

#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

#include <memory>
#include <string>
#include <vector>

namespace arroyo {

class UpdatingAggregateOperator : public Operator {
 public:
  UpdatingAggregateOperator(const UpdatingAggregateNode& node, int64 ttl_us,
                            MemoryContext round_memory);
  ~UpdatingAggregateOperator() override;

  void push(int port, Batch& rows) override;
  void watermark(TimestampTz wm) override;
  void flush() override;
  void end() override;
  // Its output's watermark follows its input's; idleness does not pass through.
  void idle() override {}

  int64 state_bytes() const override;
  int64 state_keys() const override { return int64(ntable_ ? ntable_->size() : table_->size()); }
  void checkpoint(StateWriter& w) override;
  void restore(const StateEntry& e) override;
  void rescale(int old_parallelism, const KeyGroupFilter& keep) override;

 private:
  void init_group(Group* g, TimestampTz t);
  void ensure_global_group();
  void apply(Group* g, bool created, const Datum* values, const bool* nulls, RowOp op,
             TimestampTz t);
  void emit_changes();
  void compute_row(Group* g, Datum* values, bool* nulls);
  void remember_row(Group* g, const Datum* values, const bool* nulls);
  void evict_expired();
  void forget(Group* g);
  void append_row(const Datum* values, const bool* nulls, RowOp op, TimestampTz t);
  void send();
  void free_row(Datum* row);
  void encode_group(Group* g, StateEncoder& out);
  // (`memory`: where the group's states and emitted row go.)
  void decode_group(Group* g, StateDecoder& in, MemoryContext memory);

  // The compact state (updating_aggregate_native.hpp), used when every aggregate has a native
  // form: the same steps on NativeGroup records.
  void native_apply(NativeGroup* g, bool created, const Datum* values, const bool* nulls, RowOp op,
                    TimestampTz t);
  void native_emit_changes();
  void native_row(NativeGroup* g, const int64* states, Datum* values, bool* nulls);
  bool native_same(const int64* a, const int64* b) const;
  void native_forget(NativeGroup* g);
  void native_evict_expired();
  void native_encode(NativeGroup* g, StateEncoder& out);
  void native_decode(NativeGroup* g, StateDecoder& in, int64 format);
  void native_from_generic(NativeGroup* g, StateDecoder& in);

  int num_keys_, out_cols_;
  std::vector<AggregateSpec> specs_;
  std::vector<std::unique_ptr<AggregateFunction>> aggs_;
  std::vector<bool> recomputed_;  // per aggregate: no inverse, input updates
  std::vector<bool> backed_;      // per aggregate: moving, its rows kept in case the inverse fails
  std::vector<std::unique_ptr<SortedAggregate>> sorted_;  // per aggregate: DISTINCT, ORDER BY
  std::vector<std::vector<ValueType>> arg_types_;         // per aggregate, for its multiset
  std::vector<KeyType> key_types_;
  std::vector<int16> out_len_;
  std::vector<bool> out_byval_;
  bool input_updating_;
  bool any_recomputed_ = false;
  int64 ttl_us_;
  MemoryContext memory_, round_memory_;
  int64 multiset_bytes_ = 0;  // the kept rows' C++ containers (their values are in memory_)
  MemoryContext scratch_;     // transition states of sorted aggregates while they are computed
  std::unique_ptr<GroupTable> table_;
  std::vector<Group*> dirty_;
  std::vector<Datum*> retired_;  // old output rows still referenced by the pending batch
  TimestampTz watermark_ = DT_NOBEGIN, last_sweep_ = DT_NOBEGIN;
  Batch out_;
  // Checkpoints: the groups in buckets (those with a group changed or forgotten since the
  // last one are written again), and the watermark last checkpointed.
  GroupBuckets buckets_;
  bool rescaling_ = false, meta_restored_ = false;  // see rescale()
  // Compact state: set when every aggregate has a native form (table_ then stays empty).
  std::vector<NativeAggregate> native_;
  std::unique_ptr<NativeGroupTable> ntable_;
  std::vector<NativeGroup*> ndirty_;
  std::vector<uint32> hashes_;  // of the batch being pushed
  TimestampTz saved_watermark_ = DT_NOBEGIN;
};

}  // namespace arroyo
