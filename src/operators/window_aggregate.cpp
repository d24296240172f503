#include "operators/window_aggregate.hpp"

#include "pg/guard.hpp"
#include "operators/window_time.hpp"

extern "C" {
#include "utils/rangetypes.h"
}

#include <algorithm>

namespace arroyo {

namespace {

MemoryContext new_context(MemoryContext parent, const char* name) {
  // `name` is always a string literal (AllocSetContextCreate insists on seeing one).
  return pg::call(
      [&] { return AllocSetContextCreateInternal(parent, name, ALLOCSET_DEFAULT_SIZES); });
}

}  // namespace

WindowAggregateOperator::WindowAggregateOperator(const WindowAggregateNode& node,
                                                 EngineStats& stats, MemoryContext round_memory)
    : window_(node.window),
      num_keys_(node.num_keys),
      in_cols_(node.input->desc->natts),
      specs_(node.aggregates),
      stats_(stats),
      round_memory_(round_memory),
      out_(node.desc->natts) {
  memory_ = new_context(CurrentMemoryContext, "arroyo_stream window state");
  scratch_ = new_context(memory_, "arroyo_stream sorted aggregate");
  TupleDesc in = node.input->desc;
  for (int i = 0; i < num_keys_; i++)
    key_types_.emplace_back(TupleDescAttr(in, i)->atttypid, TupleDescAttr(in, i)->attcollation);
  for (int i = 0; i < in_cols_; i++) {
    in_len_.push_back(TupleDescAttr(in, i)->attlen);
    in_byval_.push_back(TupleDescAttr(in, i)->attbyval);
  }
  combine_panes_ = window_.kind == WindowSpec::Kind::Hop;
  for (const AggregateSpec& spec : specs_) {
    aggs_.push_back(std::make_unique<AggregateFunction>(spec.aggref, false));
    combine_panes_ = combine_panes_ && aggs_.back()->has_combine() &&
                     !SortedAggregate::needed(spec.aggref);  // (DISTINCT included)
    // DISTINCT over one argument of a strict aggregate is streamed: each new value is
    // aggregated as it comes (NULLs are skipped anyway). Other DISTINCT, ORDER BY and WITHIN
    // GROUP aggregates keep their rows and are computed, sorted, when the window is emitted.
    bool streamed_distinct = spec.distinct && spec.aggref->aggorder == NIL &&
                             spec.aggref->aggkind == AGGKIND_NORMAL &&
                             aggs_.back()->num_args() == 1 && list_length(spec.aggref->args) == 1 &&
                             aggs_.back()->strict_transition();
    distinct_types_.push_back(
        streamed_distinct ? std::make_unique<KeyType>(TupleDescAttr(in, spec.first_arg)->atttypid,
                                                      spec.aggref->inputcollid)
                          : nullptr);
    if (SortedAggregate::needed(spec.aggref) && !streamed_distinct) {
      sorted_.push_back(std::make_unique<SortedAggregate>(spec.aggref));
      replay_.push_back(true);
      arg_types_.push_back(sorted_.back()->row_types());
      continue;
    }
    sorted_.push_back(nullptr);
    replay_.push_back(!aggs_.back()->serializable());
    std::vector<ValueType> types;
    if (replay_.back())
      for (int a = 0; a < aggs_.back()->num_args(); a++)
        types.push_back(ValueType::of(TupleDescAttr(in, spec.first_arg + a)->atttypid));
    arg_types_.push_back(std::move(types));
  }
  range_type_ = pg::call([&] { return lookup_type_cache(TSTZRANGEOID, TYPECACHE_RANGE_INFO); });
  if (window_.kind == WindowSpec::Kind::Session)
    session_keys_ = std::make_unique<GroupTable>(&key_types_, 0, memory_);
}

WindowAggregateOperator::~WindowAggregateOperator() = default;

int64 WindowAggregateOperator::state_bytes() const {
  return pg::call([&] { return int64(MemoryContextMemAllocated(memory_, true)); });
}

int64 WindowAggregateOperator::state_keys() const {
  int64 keys = session_keys_ ? int64(session_keys_->size()) : 0;
  for (const auto& [start, b] : buckets_) keys += int64(b.groups->size());
  return keys;
}

WindowAggregateOperator::Bucket& WindowAggregateOperator::bucket(TimestampTz start) {
  auto it = buckets_.find(start);
  if (it != buckets_.end()) return it->second;
  Bucket& b = buckets_[start];
  b.memory = new_context(memory_, "arroyo_stream window pane");
  b.groups = std::make_unique<GroupTable>(&key_types_, int(aggs_.size()), b.memory);
  b.groups->reserve(last_bucket_groups_);  // panes tend to be alike: no regrowing
  return b;
}

void WindowAggregateOperator::drop_bucket(std::map<TimestampTz, Bucket>::iterator it) {
  MemoryContext m = it->second.memory;
  if (it->second.persisted) dropped_parts_.push_back(it->first);
  last_bucket_groups_ = it->second.groups->size();
  buckets_.erase(it);
  pg::call([&] { MemoryContextDelete(m); });
}

// Folds one input row into its group of bucket `b` (runs inside pg::call).
void WindowAggregateOperator::accumulate(Bucket& b, const Datum* values, const bool* nulls) {
  bool created;
  Group* g = b.groups->find_or_create(values, nulls, &created);
  advance_group(b, g, created, values, nulls);
}

void WindowAggregateOperator::advance_group(Bucket& b, Group* g, bool created, const Datum* values,
                                            const bool* nulls) {
  if (created)
    for (size_t j = 0; j < aggs_.size(); j++) aggs_[j]->init(g->states[j], b.memory);
  for (size_t j = 0; j < aggs_.size(); j++) {
    const AggregateSpec& spec = specs_[j];
    if (spec.filter_col >= 0 && (nulls[spec.filter_col] || !DatumGetBool(values[spec.filter_col])))
      continue;
    if (distinct_types_[j] && !nulls[spec.first_arg]) {
      std::vector<DistinctSet>& sets = b.distinct[g];
      if (sets.empty()) sets.resize(aggs_.size());
      if (!sets[j].insert(*distinct_types_[j], values[spec.first_arg], b.memory)) continue;
    }
    if (!sorted_[j])
      aggs_[j]->advance(g->states[j], values + spec.first_arg, nulls + spec.first_arg, b.memory);
    if (replay_[j]) {
      std::vector<ValueMultiset>& inputs = b.inputs[g];
      if (inputs.empty()) inputs.resize(aggs_.size());
      inputs[j].add(arg_types_[j], values + spec.first_arg, nulls + spec.first_arg, b.memory);
    }
  }
  b.unsaved.mark(g);
}

// Keeps a copy of a row for its session key (runs inside pg::call).
void WindowAggregateOperator::accumulate_session(const Datum* values, const bool* nulls,
                                                 TimestampTz t) {
  bool created;
  Group* g = session_keys_->find_or_create(values, nulls, &created);
  SessionKey& sk = sessions_[g];
  if (!sk.memory)
    sk.memory = AllocSetContextCreate(memory_, "arroyo_stream session", ALLOCSET_SMALL_SIZES);
  MemoryContext old = MemoryContextSwitchTo(sk.memory);
  SessionRow row{t, (Datum*)palloc(sizeof(Datum) * in_cols_),
                 (bool*)palloc(sizeof(bool) * in_cols_)};
  for (int c = 0; c < in_cols_; c++) {
    row.nulls[c] = nulls[c];
    row.values[c] = nulls[c] ? 0 : datumCopy(values[c], in_byval_[c], in_len_[c]);
  }
  MemoryContextSwitchTo(old);
  if (!sk.rows.empty() && t < sk.rows.back().time) sk.sorted = false;
  sk.rows.push_back(row);
  // A session holding this row ends at window_end(t) or later.
  TimestampTz bound = window_end(t, window_.gap_us);
  if (sk.rows.size() == 1 || bound < sk.due) {
    sk.due = bound;
    session_due_.emplace(bound, g);
  }
  unsaved_sessions_.mark(g);
}

void WindowAggregateOperator::push(int, Batch& rows) {
  if (partials_) return combine_partials(rows);
  const int n = rows.size();
  pg::call([&] {
    for (int i = 0; i < n; i++) {
      TimestampTz t = rows.time(i);
      const Datum* values = rows.values(i);
      const bool* nulls = rows.nulls(i);
      if (is_late(t, values, nulls)) {
        stats_.late_rows++;
        continue;
      }
      switch (window_.kind) {
        case WindowSpec::Kind::Session: accumulate_session(values, nulls, t); break;
        case WindowSpec::Kind::Tumble:
          accumulate(bucket(window_align(t, window_.width_us)), values, nulls);
          break;
        case WindowSpec::Kind::Hop:
          if (combine_panes_) {
            accumulate(bucket(window_align(t, window_.slide_us)), values, nulls);
          } else {
            // Every window holding t that has not been emitted yet.
            TimestampTz last = window_align(t, window_.slide_us);
            for (TimestampTz s = last; s > t - window_.width_us; s -= window_.slide_us) {
              if (window_end(s, window_.width_us) <= watermark_) break;
              accumulate(bucket(s), values, nulls);
            }
          }
          break;
      }
    }
  });
}

// Rows of WindowPartialOperator: (pane start, keys..., rows, serialized states...). A partial is
// late exactly when its rows would be (they share their pane, and so their windows).
void WindowAggregateOperator::combine_partials(Batch& rows) {
  const int n = rows.size();
  const int state_col = 2 + num_keys_;
  for (int i = 0; i < n; i++) {
    const Datum* values = rows.values(i);
    const bool* nulls = rows.nulls(i);
    TimestampTz start = DatumGetTimestampTz(values[0]);
    Bucket* b = nullptr;
    Group* g = pg::call([&] {
      if (is_late(start, values + 1, nulls + 1)) return (Group*)nullptr;
      b = &bucket(start);
      bool created;
      Group* found = b->groups->find_or_create(values + 1, nulls + 1, &created);
      if (created)
        for (size_t j = 0; j < aggs_.size(); j++) aggs_[j]->init(found->states[j], b->memory);
      return found;
    });
    if (!g) {
      stats_.late_rows += DatumGetInt64(values[1 + num_keys_]);
      continue;
    }
    for (size_t j = 0; j < aggs_.size(); j++) {
      // Partial states come from this pipeline's own workers, uncompressed.
      const auto* state =
          reinterpret_cast<const bytea*>(DatumGetPointer(values[state_col + int(j)]));
      StateDecoder in(VARDATA_ANY(state), VARSIZE_ANY_EXHDR(state), "partial state");
      // The partial state lives in scratch memory, reset at once (its first block reused).
      pg::call([&] {
        MemoryContext old = MemoryContextSwitchTo(scratch_);
        AggValue partial;
        aggs_[j]->deserialize(partial, in, scratch_);
        aggs_[j]->combine(g->states[j], partial, b->memory);
        MemoryContextSwitchTo(old);
        MemoryContextReset(scratch_);
      });
    }
    b->unsaved.mark(g);
  }
}

// Flink's rule: a row is late only when every window it would belong to has been emitted
// (its end is at or behind the watermark). For a session, the row's own window [t, t + gap)
// counts, unless the row joins a session of its key that is still open.
bool WindowAggregateOperator::is_late(TimestampTz t, const Datum* values, const bool* nulls) {
  if (t >= watermark_) return false;
  switch (window_.kind) {
    case WindowSpec::Kind::Tumble:
      return window_end(window_align(t, window_.width_us), window_.width_us) <= watermark_;
    case WindowSpec::Kind::Hop:
      return window_end(window_align(t, window_.slide_us), window_.width_us) <= watermark_;
    case WindowSpec::Kind::Session: {
      if (window_end(t, window_.gap_us) > watermark_) return false;
      Group* g = session_keys_->find(values, nulls);
      if (!g) return true;
      auto it = sessions_.find(g);
      if (it == sessions_.end()) return true;
      for (const SessionRow& r : it->second.rows)
        if (r.time > t - window_.gap_us && r.time < window_end(t, window_.gap_us)) return false;
      return true;
    }
  }
  return true;
}

void WindowAggregateOperator::watermark(TimestampTz wm) {
  if (wm <= watermark_) return;
  watermark_ = wm;
  fire(wm);
  emit_watermark(wm);
}

void WindowAggregateOperator::end() {
  watermark_ = DT_NOEND;
  fire(DT_NOEND);
  emit_end();
}

void WindowAggregateOperator::fire(TimestampTz wm) {
  range_ = 0;  // round memory may have been reset since the last window was built
  if (window_.kind == WindowSpec::Kind::Session)
    fire_sessions(wm);
  else if (combine_panes_)
    fire_panes(wm);
  else
    fire_direct(wm);
}

// Tumble windows, and hop windows kept per window: every bucket is a whole window.
void WindowAggregateOperator::fire_direct(TimestampTz wm) {
  while (!buckets_.empty()) {
    auto it = buckets_.begin();
    TimestampTz start = it->first, end = window_end(start, window_.width_us);
    if (end > wm) break;
    Bucket& b = it->second;
    b.groups->for_each([&](Group* g) {
      emit_group(start, end, g->keys, g->key_nulls, g->states, b.memory, inputs_of(b, g));
    });
    flush_output();
    drop_bucket(it);
  }
}

// Hop windows over panes: each window combines the panes it covers.
void WindowAggregateOperator::fire_panes(TimestampTz wm) {
  if (buckets_.empty()) {
    // No pane, no window to emit; but windows ending by now are over for rows still to come.
    if (wm > fired_until_) fired_until_ = wm;
    return;
  }
  const int64 width = window_.width_us, slide = window_.slide_us;
  TimestampTz first = buckets_.begin()->first - width + slide;
  TimestampTz last = buckets_.rbegin()->first;
  for (TimestampTz ws = first; ws <= last && ws + width <= wm; ws += slide) {
    if (ws + width <= fired_until_) continue;
    auto next_pane = buckets_.lower_bound(ws);
    if (next_pane == buckets_.end()) break;
    if (next_pane->first >= ws + width) {
      // No pane in this window: skip to the first window holding the next pane.
      ws = next_pane->first - width;
      continue;
    }
    MemoryContext scratch = new_context(memory_, "arroyo_stream hop window");
    {
      GroupTable combined(&key_types_, int(aggs_.size()), scratch);
      combined.reserve(next_pane->second.groups->size());
      pg::call([&] {
        for (auto it = buckets_.lower_bound(ws); it != buckets_.end() && it->first < ws + width;
             ++it)
          it->second.groups->for_each([&](Group* g) {
            bool created;
            Group* c = combined.find_or_create(g->keys, g->key_nulls, &created);
            for (size_t j = 0; j < aggs_.size(); j++) {
              if (created) aggs_[j]->init(c->states[j], scratch);
              aggs_[j]->combine(c->states[j], g->states[j], scratch);
            }
          });
      });
      combined.for_each([&](Group* g) {
        emit_group(ws, ws + width, g->keys, g->key_nulls, g->states, scratch, nullptr);
      });
      flush_output();
    }
    pg::call([&] { MemoryContextDelete(scratch); });
  }
  if (wm > fired_until_) fired_until_ = wm;
  while (!buckets_.empty() && buckets_.begin()->first + width <= wm) drop_bucket(buckets_.begin());
}

// Session windows: a key's rows split where the gap between two rows exceeds `gap`; a session
// [first, last + gap) is complete once the watermark reaches its end.
void WindowAggregateOperator::fire_sessions(TimestampTz wm) {
  const int64 gap = window_.gap_us;
  std::vector<Group*> finished_keys;
  // Only the keys whose earliest possible session end the watermark has reached.
  while (!session_due_.empty() && session_due_.begin()->first <= wm) {
    auto [due, key] = *session_due_.begin();
    session_due_.erase(session_due_.begin());
    auto found = sessions_.find(key);
    if (found == sessions_.end() || found->second.due != due) continue;  // stale
    SessionKey& sk = found->second;
    // Taken: any other entry of the key at this time is stale now (two entries may share a
    // time, one left stale and one added again; both valid would fire, and free, the key twice).
    sk.due = DT_NOEND;
    if (!sk.sorted)
      std::sort(sk.rows.begin(), sk.rows.end(),
                [](const SessionRow& a, const SessionRow& b) { return a.time < b.time; });
    sk.sorted = true;
    size_t begin = 0;
    while (begin < sk.rows.size()) {
      size_t end = begin + 1;
      while (end < sk.rows.size() && sk.rows[end].time < window_end(sk.rows[end - 1].time, gap))
        end++;
      TimestampTz start = sk.rows[begin].time, stop = window_end(sk.rows[end - 1].time, gap);
      if (stop > wm) {
        sk.due = stop;  // the first open session ends there at the earliest
        session_due_.emplace(stop, key);
        break;
      }
      MemoryContext scratch = new_context(memory_, "arroyo_stream session window");
      {
        Bucket b;
        b.memory = scratch;
        b.groups = std::make_unique<GroupTable>(&key_types_, int(aggs_.size()), scratch);
        pg::call([&] {
          for (size_t r = begin; r < end; r++) accumulate(b, sk.rows[r].values, sk.rows[r].nulls);
        });
        b.groups->for_each([&](Group* g) {
          emit_group(start, stop, g->keys, g->key_nulls, g->states, scratch, inputs_of(b, g));
        });
        flush_output();
      }
      pg::call([&] { MemoryContextDelete(scratch); });
      begin = end;
    }
    sk.rows.erase(sk.rows.begin(), sk.rows.begin() + begin);
    if (sk.rows.empty())
      finished_keys.push_back(key);
    else if (begin > 0)
      unsaved_sessions_.mark(key);
  }
  for (Group* g : finished_keys) {
    unsaved_sessions_.unmark(g);
    if (g->persisted) {
      StateEncoder key;
      pg::call([&] { session_keys_->encode_keys(g, key); });
      removed_sessions_.push_back(key.bytes());
    }
    MemoryContext m = sessions_[g].memory;
    sessions_.erase(g);
    pg::call([&] {
      session_keys_->erase(g);
      MemoryContextDelete(m);
    });
  }
}

// Appends one output row: the window as a tstzrange, the keys, the aggregates' results.
const std::vector<ValueMultiset>* WindowAggregateOperator::inputs_of(Bucket& b, Group* g) {
  auto it = b.inputs.find(g);
  return it == b.inputs.end() ? nullptr : &it->second;
}

void WindowAggregateOperator::emit_group(TimestampTz start, TimestampTz end, const Datum* keys,
                                         const bool* key_nulls, AggValue* states,
                                         MemoryContext state_memory,
                                         const std::vector<ValueMultiset>* inputs) {
  if (out_.full()) flush_output();
  int row = out_.append(end - 1);
  Datum* values = out_.values(row);
  bool* nulls = out_.nulls(row);
  MemoryContext old = pg::call([&] { return MemoryContextSwitchTo(round_memory_); });
  for (size_t j = 0; j < aggs_.size(); j++) {
    if (!sorted_[j]) continue;
    static const ValueMultiset none;
    const ValueMultiset& rows = inputs && !inputs->empty() ? (*inputs)[j] : none;
    values[1 + num_keys_ + j] = sorted_[j]->compute(rows, scratch_, &nulls[1 + num_keys_ + j]);
  }
  pg::call([&] {
    if (!range_ || range_start_ != start || range_end_ != end) {
      // Built once per window: every group of the window shares it (in round memory).
      RangeBound lower{TimestampTzGetDatum(start), false, /*inclusive*/ true, /*lower*/ true};
      RangeBound upper{TimestampTzGetDatum(end), end == DT_NOEND, false, false};
      range_ = RangeTypePGetDatum(make_range(range_type_, &lower, &upper, false));
      range_start_ = start;
      range_end_ = end;
    }
    values[0] = range_;
    nulls[0] = false;
    for (int k = 0; k < num_keys_; k++) {
      values[1 + k] = keys[k];
      nulls[1 + k] = key_nulls[k];
    }
    for (size_t j = 0; j < aggs_.size(); j++) {
      if (sorted_[j]) continue;
      bool isnull;
      values[1 + num_keys_ + j] = aggs_[j]->finish(states[j], state_memory, &isnull);
      nulls[1 + num_keys_ + j] = isnull;
    }
    MemoryContextSwitchTo(old);
  });
}

// Sends the emitted rows downstream (before the state they point into is freed).
void WindowAggregateOperator::flush_output() {
  emit(out_);
  out_.clear();
}

}  // namespace arroyo
