// Checkpoints of the updating aggregate: its groups in buckets of about 1 KiB each
// (operators/group_buckets.hpp) and one entry for the watermark.
#include "operators/updating_aggregate.hpp"

#include "operators/group_checkpoint.hpp"
#include "pg/guard.hpp"

namespace arroyo {

namespace {
constexpr int64 kMetaPart = PG_INT64_MIN;  // the operator's own entry (watermark)
}  // namespace

// Entries: the groups in buckets (see group_buckets.hpp) and one for the watermark.
void UpdatingAggregateOperator::checkpoint(StateWriter& w) {
  if (ntable_)
    buckets_.write(
        w, *ntable_, round_memory_,
        [&](NativeGroup* g, StateEncoder& out) { native_encode(g, out); }, kNativeFormatNumber);
  else
    buckets_.write(w, *table_, round_memory_,
                   [&](Group* g, StateEncoder& out) { encode_group(g, out); });
  if (watermark_ != saved_watermark_) {
    w.put(kMetaPart, "m", encode_ints({watermark_, last_sweep_}));
    saved_watermark_ = watermark_;
  }
}

// A group's entry: counters and flags, aggregate states, the row last emitted, the input
// values kept for recomputation. Runs inside pg::call.
void UpdatingAggregateOperator::encode_group(Group* g, StateEncoder& out) {
  out.put_int(g->rows);
  out.put_int(g->last_seen);
  out.put_bool(g->dirty);
  for (size_t j = 0; j < aggs_.size(); j++)
    if (!recomputed_[j]) aggs_[j]->serialize(g->states[j], out, memory_);
  out.put_bool(g->emitted != nullptr);
  if (g->emitted)
    for (int c = 0; c < out_cols_; c++)
      out.put_datum(g->emitted[c], g->emitted_nulls[c], out_byval_[c], out_len_[c]);
  for (size_t j = 0; j < aggs_.size(); j++)
    if (recomputed_[j] || backed_[j]) g->multisets[j].encode(arg_types_[j], out);
}

// Reads encode_group()'s entry into a new group: what the group keeps goes into the operator's
// memory, temporaries into CurrentMemoryContext. Runs inside pg::call.
void UpdatingAggregateOperator::decode_group(Group* g, StateDecoder& in, MemoryContext memory) {
  g->rows = in.get_int();
  g->last_seen = in.get_int();
  g->dirty = in.get_bool();
  g->recompute = any_recomputed_;
  g->multisets = any_recomputed_ ? new_value_multisets(aggs_.size(), &multiset_bytes_) : nullptr;
  for (size_t j = 0; j < aggs_.size(); j++) {
    if (recomputed_[j])
      aggs_[j]->init(g->states[j], memory);
    else
      aggs_[j]->deserialize(g->states[j], in, memory);
  }
  g->emitted = nullptr;
  g->emitted_nulls = nullptr;
  if (in.get_bool()) {
    MemoryContext old = MemoryContextSwitchTo(memory);
    g->emitted = (Datum*)palloc(sizeof(Datum) * out_cols_ + sizeof(bool) * out_cols_);
    g->emitted_nulls = (bool*)(g->emitted + out_cols_);
    for (int c = 0; c < out_cols_; c++)
      g->emitted[c] = in.get_datum(&g->emitted_nulls[c], out_byval_[c], out_len_[c]);
    MemoryContextSwitchTo(old);
  }
  for (size_t j = 0; j < aggs_.size(); j++)
    if (recomputed_[j] || backed_[j]) g->multisets[j].decode(arg_types_[j], in, memory);
}

void UpdatingAggregateOperator::rescale(int, const KeyGroupFilter& keep) {
  buckets_.begin_rescale(keep);
  rescaling_ = true;
}

void UpdatingAggregateOperator::restore(const StateEntry& e) {
  if (e.part == kMetaPart) {
    std::vector<int64> v = decode_ints(e.value, 2, "the updating aggregate's watermark");
    if (rescaling_) {  // several old workers' (the same, at an aligned checkpoint): the least
      merge_least(watermark_, v[0], !meta_restored_);
      merge_least(last_sweep_, v[1], !meta_restored_);
      meta_restored_ = true;
      return;
    }
    watermark_ = saved_watermark_ = v[0];
    last_sweep_ = v[1];
    return;
  }
  if (!GroupBuckets::owns(e.part))
    pg::fail(ERRCODE_DATA_CORRUPTED,
             "checkpoint is corrupt: an updating aggregate has an entry it did not write");
  if (ntable_) {
    buckets_.restore(
        *ntable_, e, round_memory_, "an updating aggregate",
        [&](NativeGroup* group, StateDecoder& in, int64 format) {
          native_decode(group, in, format);
        },
        [&](NativeGroup* g) {
          if (g->dirty()) ndirty_.push_back(g);
        });
    return;
  }
  buckets_.restore(
      *table_, e, round_memory_, "an updating aggregate",
      [&](Group* group, StateDecoder& in, int64 format) {
        if (format != 0) in.corrupt("its groups are in a format this operator does not read");
        decode_group(group, in, memory_);
      },
      [&](Group* g) {
        if (g->dirty) dirty_.push_back(g);
      });
}

}  // namespace arroyo
