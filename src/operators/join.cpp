#include "operators/join.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "utils/rangetypes.h"
}
#include "state/codec.hpp"

#include <algorithm>
#include <cstring>

namespace arroyo {

JoinOperator::JoinOperator(const JoinNode& node, int64 ttl_us, MemoryContext round_memory)
    : out_cols_(node.desc->natts),
      round_memory_(round_memory),
      out_(node.desc->natts),
      window_key_(node.window_key) {
  memory_ = pg::call([&] {
    return AllocSetContextCreate(CurrentMemoryContext, "arroyo_stream join state",
                                 ALLOCSET_DEFAULT_SIZES);
  });
  const PlanNode* inputs[2] = {node.left.get(), node.right.get()};
  List* keys[2] = {node.left_keys, node.right_keys};
  for (int s = 0; s < 2; s++) {
    Side& side = sides_[s];
    TupleDesc in = inputs[s]->desc;
    side.ncols = in->natts;
    side.offset = s == 0 ? 0 : sides_[0].ncols;
    side.preserved = s == 0 ? node.preserves_left() : node.preserves_right();
    for (int c = 0; c < in->natts; c++) {
      Form_pg_attribute att = TupleDescAttr(in, c);
      side.types.push_back(att->attisdropped ? ValueType{4, true} : ValueType::of(att->atttypid));
    }
    pg::call([&] {
      side.econtext = CreateStandaloneExprContext();
      side.econtext->ecxt_per_tuple_memory = round_memory;
      side.row_slot = MakeSingleTupleTableSlot(in, &TTSOpsVirtual);
      List* targets = NIL;
      int resno = 1;
      ListCell* lc;
      foreach (lc, keys[s])
        targets = lappend(targets, makeTargetEntry((Expr*)lfirst(lc), resno++, nullptr, false));
      TupleDesc key_desc = ExecTypeFromTL(targets);
      side.key_slot = MakeSingleTupleTableSlot(key_desc, &TTSOpsVirtual);
      side.econtext->ecxt_scantuple = side.row_slot;
      side.keys = ExecBuildProjectionInfo(targets, side.econtext, side.key_slot, nullptr, in);
    });
  }
  pg::call([&] {
    ListCell* lc;
    foreach (lc, node.left_keys) {
      Node* k = (Node*)lfirst(lc);
      key_types_.emplace_back(exprType(k), exprCollation(k));
    }
    joined_econtext_ = CreateStandaloneExprContext();
    joined_econtext_->ecxt_per_tuple_memory = round_memory;
    joined_slot_ = MakeSingleTupleTableSlot(node.desc, &TTSOpsVirtual);  // left, then right
    joined_econtext_->ecxt_scantuple = joined_slot_;
    if (node.residual) residual_ = ExecInitQual(node.residual, nullptr);
  });
  interval_ = node.interval();
  ttl_us_ = window_key_ < 0 && !interval_ ? ttl_us : 0;  // (those free their rows themselves)
  time_col_[0] = node.left_time_col;
  time_col_[1] = node.right_time_col;
  time_is_window_[0] = node.left_time_is_window;
  time_is_window_[1] = node.right_time_is_window;
  expiry_col_[0] = node.left_expiry_col;
  expiry_col_[1] = node.right_expiry_col;
  expiry_is_window_[0] = node.left_expiry_is_window;
  expiry_is_window_[1] = node.right_expiry_is_window;
  expiry_offset_us_[0] = node.left_expiry_offset_us;
  expiry_offset_us_[1] = node.right_expiry_offset_us;
  joined_values_.resize(out_cols_ ? out_cols_ : 1);
  joined_nulls_.reset(new bool[out_cols_ ? out_cols_ : 1]);
  table_ = std::make_unique<GroupTable>(&key_types_, 0, memory_);
}

JoinOperator::~JoinOperator() {
  table_->for_each([](Group* g) { delete[] g->multisets; });
}

int64 JoinOperator::state_bytes() const {
  return multiset_bytes_ +
         pg::call([&] { return int64(MemoryContextMemAllocated(memory_, true)); });
}

// Computes a row's join key into the side's key slot; false if a key is NULL (the row joins
// with nothing). Inside pg::call.
bool JoinOperator::key_of(Side& side, const Datum* values, const bool* nulls) {
  Datum* saved_values = side.row_slot->tts_values;
  bool* saved_nulls = side.row_slot->tts_isnull;
  ExecClearTuple(side.row_slot);
  side.row_slot->tts_values = const_cast<Datum*>(values);
  side.row_slot->tts_isnull = const_cast<bool*>(nulls);
  ExecStoreVirtualTuple(side.row_slot);
  ExecProject(side.keys);
  side.row_slot->tts_values = saved_values;
  side.row_slot->tts_isnull = saved_nulls;
  for (size_t k = 0; k < key_types_.size(); k++)
    if (side.key_slot->tts_isnull[k]) return false;
  return true;
}

// Whether the ON conditions beyond the keys hold for a row of side `s` and one of the other
// side. Inside pg::call.
bool JoinOperator::residual_holds(int s, const Datum* values, const bool* nulls,
                                  const Datum* other_values, const bool* other_nulls) {
  if (!residual_) return true;
  const Side& me = sides_[s];
  const Side& other = sides_[1 - s];
  memcpy(&joined_values_[me.offset], values, sizeof(Datum) * me.ncols);
  memcpy(&joined_nulls_[me.offset], nulls, sizeof(bool) * me.ncols);
  memcpy(&joined_values_[other.offset], other_values, sizeof(Datum) * other.ncols);
  memcpy(&joined_nulls_[other.offset], other_nulls, sizeof(bool) * other.ncols);
  Datum* saved_values = joined_slot_->tts_values;
  bool* saved_nulls = joined_slot_->tts_isnull;
  ExecClearTuple(joined_slot_);
  joined_slot_->tts_values = joined_values_.data();
  joined_slot_->tts_isnull = joined_nulls_.get();
  ExecStoreVirtualTuple(joined_slot_);
  bool holds = ExecQual(residual_, joined_econtext_);
  joined_slot_->tts_values = saved_values;
  joined_slot_->tts_isnull = saved_nulls;
  return holds;
}

// Appends `copies` joined rows: a row of side `s` with one of the other side, or, when
// `other_values` is null, padded with NULLs.
void JoinOperator::append_joined(int s, const Datum* values, const bool* nulls,
                                 const Datum* other_values, const bool* other_nulls, RowOp op,
                                 TimestampTz t, int64 copies) {
  const Side& me = sides_[s];
  const Side& other = sides_[1 - s];
  for (int64 c = 0; c < copies; c++) {
    if (out_.full()) send();
    int row = out_.append(t, op);
    memcpy(out_.values(row) + me.offset, values, sizeof(Datum) * me.ncols);
    memcpy(out_.nulls(row) + me.offset, nulls, sizeof(bool) * me.ncols);
    if (other_values) {
      memcpy(out_.values(row) + other.offset, other_values, sizeof(Datum) * other.ncols);
      memcpy(out_.nulls(row) + other.offset, other_nulls, sizeof(bool) * other.ncols);
    }  // (append() left the other side's columns NULL)
  }
}

void JoinOperator::send() {
  emit(out_);
  out_.clear();
}

// One row (or retraction) of side `s`. Joined rows point into the arriving row and into the
// other side's kept rows, which nothing changes before the output is sent at the end of the
// batch: rows of one batch all come from one side. Inside pg::call.
void JoinOperator::process(int s, const Datum* values, const bool* nulls, RowOp op, TimestampTz t) {
  Side& me = sides_[s];
  Side& other = sides_[1 - s];
  if (!key_of(me, values, nulls)) {
    if (me.preserved) append_joined(s, values, nulls, nullptr, nullptr, op, t, 1);
    return;
  }
  bool created = false;
  Group* g = op == RowOp::Insert ? table_->find_or_create(me.key_slot->tts_values,
                                                          me.key_slot->tts_isnull, &created)
                                 : table_->find(me.key_slot->tts_values, me.key_slot->tts_isnull);
  if (created) {
    g->multisets = new_value_multisets(2, &multiset_bytes_);
    g->rows = 0;  // (interval joins: records in expiries_ naming the group)
    g->last_seen = t;
    track_window(g);
  }
  // A retraction of a row never inserted (its insert came before a restart that lost nothing,
  // so this cannot happen unless the input misbehaves): nothing to take back.
  if (!g || (op == RowOp::Delete && !g->multisets[s].find(me.types, values, nulls))) return;
  if (t > g->last_seen) g->last_seen = t;
  int64 matches = 0;
  g->multisets[1 - s].for_each_mutable([&](ValueMultiset::Entry& e) {
    if (!residual_holds(s, values, nulls, e.args, e.nulls)) return;
    matches += e.count;
    // The other row's NULL-padded row (outer joins) exists exactly while it has no match; a
    // windowed join emits it only when the window closes.
    // Retractions go first, so that a target keyed on the preserved row's columns never holds
    // two rows of one key.
    bool padded_changes = op == RowOp::Insert ? e.matches++ == 0 : --e.matches == 0;
    padded_changes = padded_changes && other.preserved && window_key_ < 0 && !interval_;
    // (An interval join's row happens when the later of its two rows does.)
    TimestampTz pair_time = interval_ ? std::max(t, row_time(1 - s, e.args)) : t;
    if (op == RowOp::Delete)
      append_joined(s, values, nulls, e.args, e.nulls, op, pair_time, e.count);
    if (padded_changes)
      append_joined(1 - s, e.args, e.nulls, nullptr, nullptr,
                    op == RowOp::Insert ? RowOp::Delete : RowOp::Insert, t, e.count);
    if (op == RowOp::Insert)
      append_joined(s, values, nulls, e.args, e.nulls, op, pair_time, e.count);
  });
  if (op == RowOp::Insert) {
    ValueMultiset::Entry* e = g->multisets[s].add(me.types, values, nulls, memory_);
    e->matches = matches;
    if (me.preserved && matches == 0 && window_key_ < 0 && !interval_)
      append_joined(s, values, nulls, nullptr, nullptr, op, t, 1);
    if (interval_) track_expiry(s, g, values, nulls);
  } else {
    if (me.preserved && matches == 0) append_joined(s, values, nulls, nullptr, nullptr, op, t, 1);
    g->multisets[s].remove(me.types, values, nulls);
  }
  if (g->multisets[0].empty() && g->multisets[1].empty() && g->rows == 0)
    forget(g);
  else
    unsaved_.mark(g);
}

void JoinOperator::push(int port, Batch& rows) {
  const int n = rows.size();
  pg::call([&] {
    for (int i = 0; i < n; i++)
      process(port, rows.values(i), rows.nulls(i), rows.op(i), rows.time(i));
  });
  send();
  // Rows the other side can no longer match (it may have ended) are done at once.
  if (interval_) {
    expire(port, sides_[1 - port].watermark);
    emit_held_watermark();
  }
}

// Drops a key whose rows are all gone (inside pg::call).
void JoinOperator::forget(Group* g) {
  unsaved_.unmark(g);
  if (g->persisted) {
    StateEncoder key;
    table_->encode_keys(g, key);
    removed_.push_back(key.bytes());
  }
  delete[] g->multisets;
  g->multisets = nullptr;
  table_->erase(g);
}

void JoinOperator::input_watermark(int port, TimestampTz wm) {
  sides_[port].watermark = std::max(sides_[port].watermark, wm);
  if (interval_) {
    expire(1 - port, sides_[port].watermark);
    emit_held_watermark();
  }
}

void JoinOperator::watermark(TimestampTz wm) {
  node_watermark_ = wm;
  close_windows(wm);
  evict_expired(wm);
  emit_held_watermark();
}

void JoinOperator::end() {
  close_windows(DT_NOEND);
  emit_end();
}

// Passes the inputs' watermark on, held back (interval joins) below the event time of every
// kept row whose NULL-padded row may still be owed.
void JoinOperator::emit_held_watermark() {
  TimestampTz wm = node_watermark_;
  if (!pending_times_.empty()) wm = std::min(wm, *pending_times_.begin() - 1);
  if (wm == DT_NOEND || wm <= emitted_watermark_) return;
  emitted_watermark_ = wm;
  emit_watermark(wm);
}

// The event time of a row of side `s` of an interval join: its time column (never NULL, as
// the source drops rows without event time), or the end of its window column. Inside pg::call.
TimestampTz JoinOperator::row_time(int s, const Datum* values) const {
  return time_at(values[time_col_[s]], time_is_window_[s]);
}

// When a row of side `s` can no longer match: the other side's event times are bounded by its
// expiry column plus the offset (NULL: it matches nothing). Inside pg::call.
TimestampTz JoinOperator::last_match(int s, const Datum* values, const bool* nulls) const {
  if (nulls[expiry_col_[s]]) return DT_NOBEGIN;
  TimestampTz t = time_at(values[expiry_col_[s]], expiry_is_window_[s]);
  if (TIMESTAMP_NOT_FINITE(t)) return t;
  TimestampTz sum;
  if (__builtin_add_overflow(t, expiry_offset_us_[s], &sum)) return DT_NOEND;
  return sum;
}

// A timestamptz value, or the end of a time window (a tstzrange). Inside pg::call.
TimestampTz JoinOperator::time_at(Datum value, bool window) {
  if (!window) return DatumGetTimestampTz(value);
  RangeType* range = DatumGetRangeTypeP(value);
  TypeCacheEntry* tc = lookup_type_cache(RangeTypeGetOid(range), TYPECACHE_RANGE_INFO);
  RangeBound lower, upper;
  bool empty;
  range_deserialize(tc, range, &lower, &upper, &empty);
  return empty || upper.infinite ? DT_NOEND : DatumGetTimestampTz(upper.val);
}

// Records when a row just kept on side `s` can no longer match: once the other side's
// watermark reaches its last match (the other side's later rows are all later than its
// watermark). Inside pg::call.
void JoinOperator::track_expiry(int s, Group* g, const Datum* values, const bool* nulls) {
  expiries_[s].emplace(last_match(s, values, nulls), g);
  g->rows++;
  if (sides_[s].preserved) pending_times_.insert(row_time(s, values));
}

// Drops the rows of side `s` that no row of the other side can match any more, now that its
// watermark is `other_watermark`; an outer join emits those that never matched, NULL-padded.
void JoinOperator::expire(int s, TimestampTz other_watermark) {
  std::multimap<TimestampTz, Group*>& due = expiries_[s];
  if (due.empty() || due.begin()->first > other_watermark) return;
  std::vector<Group*> groups;
  while (!due.empty() && due.begin()->first <= other_watermark) {
    groups.push_back(due.begin()->second);
    groups.back()->rows--;
    due.erase(due.begin());
  }
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  Side& side = sides_[s];
  pg::call([&] {
    for (Group* g : groups) {
      g->multisets[s].for_each([&](const ValueMultiset::Entry& e) {
        if (last_match(s, e.args, e.nulls) > other_watermark) return;
        if (side.preserved && e.matches == 0)
          append_joined(s, e.args, e.nulls, nullptr, nullptr, RowOp::Insert, row_time(s, e.args),
                        e.count);
      });
    }
  });
  send();  // before the rows it points into are freed
  pg::call([&] {
    for (Group* g : groups) {
      std::vector<std::pair<Datum*, bool*>> gone;
      g->multisets[s].for_each([&](const ValueMultiset::Entry& e) {
        if (last_match(s, e.args, e.nulls) <= other_watermark) gone.emplace_back(e.args, e.nulls);
      });
      for (auto& [args, nulls] : gone) {
        TimestampTz t = row_time(s, args);
        int64 count = g->multisets[s].find(side.types, args, nulls)->count;
        for (int64 c = 0; c < count; c++) {
          if (side.preserved) pending_times_.erase(pending_times_.find(t));
          g->multisets[s].remove(side.types, args, nulls);
        }
      }
      if (g->multisets[0].empty() && g->multisets[1].empty() && g->rows == 0)
        forget(g);
      else
        unsaved_.mark(g);
    }
  });
}

// Forgets the keys no row has touched for the TTL, measured against the watermark; sweeps when
// the watermark has moved a tenth of the TTL since the last sweep.
void JoinOperator::evict_expired(TimestampTz wm) {
  if (ttl_us_ <= 0 || wm == DT_NOEND) return;
  if (last_sweep_ != DT_NOBEGIN && wm - last_sweep_ < ttl_us_ / 10) return;
  last_sweep_ = wm;
  std::vector<Group*> expired;
  table_->for_each([&](Group* g) {
    if (g->last_seen < wm - ttl_us_) expired.push_back(g);
  });
  pg::call([&] {
    for (Group* g : expired) forget(g);
  });
}

// Indexes a new key of a windowed join by its window's end (inside pg::call).
void JoinOperator::track_window(Group* g) {
  if (window_key_ < 0) return;
  RangeType* range = DatumGetRangeTypeP(g->keys[window_key_]);
  TypeCacheEntry* tc = lookup_type_cache(RangeTypeGetOid(range), TYPECACHE_RANGE_INFO);
  RangeBound lower, upper;
  bool empty;
  range_deserialize(tc, range, &lower, &upper, &empty);
  windows_[empty || upper.infinite ? DT_NOEND : DatumGetTimestampTz(upper.val)].push_back(g);
}

// Windows whose end the watermark has reached have all their rows: emits the NULL-padded rows
// of their unmatched rows (outer joins) and frees them.
void JoinOperator::close_windows(TimestampTz wm) {
  while (!windows_.empty() && windows_.begin()->first <= wm) {
    TimestampTz end = windows_.begin()->first;
    std::vector<Group*> groups = std::move(windows_.begin()->second);
    windows_.erase(windows_.begin());
    pg::call([&] {
      for (Group* g : groups) {
        for (int s = 0; s < 2; s++) {
          if (!sides_[s].preserved) continue;
          g->multisets[s].for_each([&](const ValueMultiset::Entry& e) {
            if (e.matches == 0)
              append_joined(s, e.args, e.nulls, nullptr, nullptr, RowOp::Insert, end - 1, e.count);
          });
        }
      }
    });
    send();  // before the rows it points into are freed
    pg::call([&] {
      for (Group* g : groups) forget(g);
    });
  }
}

}  // namespace arroyo
