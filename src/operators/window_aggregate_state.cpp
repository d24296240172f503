// Checkpoints of the window aggregate: which entries it writes and how it reads them back
// (see window_aggregate.hpp).
#include "operators/window_aggregate.hpp"

#include "operators/group_checkpoint.hpp"
#include "pg/guard.hpp"

namespace arroyo {

namespace {
constexpr int64 kMetaPart = PG_INT64_MIN;         // the operator's watermark
constexpr int64 kSessionPart = PG_INT64_MIN + 1;  // session keys and their rows
}  // namespace

void WindowAggregateOperator::checkpoint(StateWriter& w) {
  for (TimestampTz start : dropped_parts_) w.remove_part(start);
  dropped_parts_.clear();
  for (auto& [start, b] : buckets_) {
    if (b.unsaved.groups().empty()) continue;
    Bucket& bucket = b;
    write_changed_groups(w, start, *b.groups, b.unsaved, round_memory_,
                         [&](Group* g, StateEncoder& out) { encode_group(bucket, g, out); });
    b.persisted = true;
  }
  for (const std::string& k : removed_sessions_) w.remove(kSessionPart, k);
  removed_sessions_.clear();
  if (session_keys_)
    write_changed_groups(w, kSessionPart, *session_keys_, unsaved_sessions_, round_memory_,
                         [&](Group* g, StateEncoder& out) { encode_session(sessions_[g], out); });
  if (watermark_ != saved_watermark_ || fired_until_ != saved_fired_until_) {
    w.put(kMetaPart, "m", encode_ints({watermark_, fired_until_, int64(last_bucket_groups_)}));
    saved_watermark_ = watermark_;
    saved_fired_until_ = fired_until_;
  }
}

// A group's entry: per aggregate its state (or the inputs kept to rebuild it), then the values
// DISTINCT has seen. Runs inside pg::call.
void WindowAggregateOperator::encode_group(Bucket& b, Group* g, StateEncoder& out) {
  auto inputs = b.inputs.find(g);
  auto distinct = b.distinct.find(g);
  for (size_t j = 0; j < aggs_.size(); j++) {
    if (replay_[j]) {
      if (inputs != b.inputs.end())
        inputs->second[j].encode(arg_types_[j], out);
      else
        out.put_int(0);
    } else {
      aggs_[j]->serialize(g->states[j], out, b.memory);
    }
    if (!distinct_types_[j]) continue;
    const KeyType& t = *distinct_types_[j];
    if (distinct == b.distinct.end()) {
      out.put_int(0);
      continue;
    }
    const DistinctSet& set = distinct->second[j];
    out.put_int(int64(set.size()));
    set.for_each([&](Datum v) { out.put_datum(v, false, t.byval, t.len); });
  }
}

// Rebuilds a group from encode_group()'s entry. Runs inside pg::call.
void WindowAggregateOperator::decode_group(Bucket& b, Group* g, StateDecoder& in) {
  for (size_t j = 0; j < aggs_.size(); j++) {
    if (replay_[j]) {
      std::vector<ValueMultiset>& inputs = b.inputs[g];
      if (inputs.empty()) inputs.resize(aggs_.size());
      inputs[j].decode(arg_types_[j], in, b.memory);
      aggs_[j]->init(g->states[j], b.memory);
      if (sorted_[j]) continue;  // computed from its rows when emitted
      inputs[j].for_each([&](const ValueMultiset::Entry& e) {
        for (int64 k = 0; k < e.count; k++)
          aggs_[j]->advance(g->states[j], e.args, e.nulls, b.memory);
      });
    } else {
      aggs_[j]->deserialize(g->states[j], in, b.memory);
    }
    if (!distinct_types_[j]) continue;
    const KeyType& t = *distinct_types_[j];
    int64 n = in.get_int();
    if (n == 0) continue;
    std::vector<DistinctSet>& sets = b.distinct[g];
    if (sets.empty()) sets.resize(aggs_.size());
    for (int64 k = 0; k < n; k++) {
      bool isnull;
      Datum v = in.get_datum(&isnull, t.byval, t.len);
      if (isnull) in.corrupt("a DISTINCT value is NULL");
      sets[j].insert(t, v, b.memory);
    }
  }
}

// A session key's entry: its pending rows (event time and values). Runs inside pg::call.
void WindowAggregateOperator::encode_session(const SessionKey& sk, StateEncoder& out) {
  out.put_int(int64(sk.rows.size()));
  for (const SessionRow& row : sk.rows) {
    out.put_int(row.time);
    for (int c = 0; c < in_cols_; c++)
      out.put_datum(row.values[c], row.nulls[c], in_byval_[c], in_len_[c]);
  }
}

void WindowAggregateOperator::restore_session(const StateEntry& e) {
  if (rescale_keep_ &&
      !group_kept(*session_keys_, e.key, *rescale_keep_, round_memory_, "a window aggregate"))
    return;
  StateDecoder in(e.value.data(), e.value.size(), "a session of a window aggregate");
  pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(round_memory_);
    int64 n = in.get_int();
    Datum* values = (Datum*)palloc(sizeof(Datum) * in_cols_);
    bool* nulls = (bool*)palloc(sizeof(bool) * in_cols_);
    for (int64 r = 0; r < n; r++) {
      TimestampTz t = in.get_int();
      for (int c = 0; c < in_cols_; c++)
        values[c] = in.get_datum(&nulls[c], in_byval_[c], in_len_[c]);
      accumulate_session(values, nulls, t);
    }
    MemoryContextSwitchTo(old);
  });
  in.expect_end();
  // accumulate_session() marked the key changed; it is exactly as checkpointed (rescaling:
  // it is written afresh).
  if (rescale_keep_) return pg::call([&] { MemoryContextReset(round_memory_); });
  for (Group* g : std::vector<Group*>(unsaved_sessions_.groups())) g->persisted = true;
  unsaved_sessions_.clear();
  pg::call([&] { MemoryContextReset(round_memory_); });
}

void WindowAggregateOperator::rescale(int, const KeyGroupFilter& keep) { rescale_keep_ = keep; }

void WindowAggregateOperator::restore(const StateEntry& e) {
  if (e.part == kMetaPart) {
    std::vector<int64> v = decode_ints(e.value, 3, "the window aggregate's watermark");
    if (rescale_keep_) {  // several old workers' (the same, at an aligned checkpoint): the least
      merge_least(watermark_, v[0], !meta_restored_);
      merge_least(fired_until_, v[1], !meta_restored_);
      last_bucket_groups_ = std::max(last_bucket_groups_, size_t(v[2]));
      meta_restored_ = true;
      return;
    }
    watermark_ = saved_watermark_ = v[0];
    fired_until_ = saved_fired_until_ = v[1];
    last_bucket_groups_ = size_t(v[2]);
    return;
  }
  if (e.part == kSessionPart) {
    restore_session(e);
    return;
  }
  Bucket& b = bucket(e.part);
  std::optional<RescaleGroups> rescale;
  if (rescale_keep_)
    rescale = RescaleGroups{*rescale_keep_, &b.unsaved};
  else
    b.persisted = true;
  restore_group(
      *b.groups, e, round_memory_, "a window aggregate",
      [&](Group* g, StateDecoder& in) { decode_group(b, g, in); }, rescale ? &*rescale : nullptr);
}

}  // namespace arroyo
