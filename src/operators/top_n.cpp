#include "operators/top_n.hpp"

#include "operators/group_checkpoint.hpp"
#include "pg/guard.hpp"

#include <algorithm>

extern "C" {
#include "utils/sortsupport.h"
}

namespace arroyo {

namespace {
constexpr int64 kMetaPart = PG_INT64_MIN;  // the watermark
constexpr int64 kPartitionPart = 0;
}  // namespace

TopNOperator::TopNOperator(const TopNNode& node, EngineStats& stats, MemoryContext round_memory)
    : in_cols_(node.input->desc->natts),
      out_cols_(node.desc->natts),
      partition_cols_(node.partition_cols),
      rank_(node.rank),
      limit_(node.limit),
      rank_column_(node.rank_column),
      windowed_(node.windowed),
      prune_(node.windowed || !node.input->updating),
      layout_(node.input->desc),
      out_layout_(node.desc),
      stats_(stats),
      round_memory_(round_memory),
      out_(node.desc->natts) {
  for (int c : partition_cols_)
    key_types_.emplace_back(TupleDescAttr(node.input->desc, c)->atttypid,
                            TupleDescAttr(node.input->desc, c)->attcollation);
  for (const SortKeySpec& k : node.order) sort_cols_.push_back(k.column);
  pg::call([&] {
    memory_ =
        AllocSetContextCreate(CurrentMemoryContext, "arroyo_stream top-N", ALLOCSET_DEFAULT_SIZES);
    scratch_ =
        AllocSetContextCreate(memory_, "arroyo_stream top-N scratch", ALLOCSET_DEFAULT_SIZES);
    sort_ = (SortSupportData*)MemoryContextAllocZero(memory_,
                                                     sizeof(SortSupportData) * node.order.size());
    for (size_t i = 0; i < node.order.size(); i++) {
      SortSupport s = &sort_[i];
      s->ssup_cxt = memory_;
      s->ssup_collation = node.order[i].collation;
      s->ssup_nulls_first = node.order[i].nulls_first;
      s->abbreviate = false;
      PrepareSortSupportFromOrderingOp(node.order[i].sort_op, s);
    }
  });
  keys_ = std::make_unique<GroupTable>(&key_types_, 0, memory_);
}

TopNOperator::~TopNOperator() = default;

int64 TopNOperator::state_bytes() const {
  return pg::call([&] { return int64(MemoryContextMemAllocated(memory_, true)); });
}

int TopNOperator::compare(const Datum* av, const bool* an, const Datum* bv, const bool* bn) const {
  for (size_t i = 0; i < sort_cols_.size(); i++) {
    int c = sort_cols_[i];
    int r = ApplySortComparator(av[c], an[c], bv[c], bn[c], &sort_[i]);
    if (r) return r;
  }
  return 0;
}

void TopNOperator::rank_top(const Partition& p, std::vector<const StoredRow*>& top,
                            std::vector<int64>& ranks) const {
  top.clear();
  ranks.clear();
  int64 rank = 0, i = 0;
  const StoredRow* prev = nullptr;
  for (const StoredRow& r : p.rows) {
    bool peer = prev && compare(prev->values, prev->nulls, r.values, r.nulls) == 0;
    switch (rank_) {
      case TopNNode::Rank::RowNumber: rank = i + 1; break;
      case TopNNode::Rank::Rank: rank = peer ? rank : i + 1; break;
      case TopNNode::Rank::DenseRank: rank = peer ? rank : rank + 1; break;
    }
    if (rank > limit_) break;
    top.push_back(&r);
    ranks.push_back(rank);
    prev = &r;
    i++;
  }
}

// Adds a row to its partition; over append-only rows (windowed or not) the partition then
// drops the rows that can no longer rank at most N. (The multiset's comparisons run inside
// pg::call: an error there fails the pipeline, leaving at most the node being inserted unfreed.)
void TopNOperator::insert(Group* g, Partition& p, const Datum* values, const bool* nulls,
                          TimestampTz t) {
  std::vector<const StoredRow*> top;
  std::vector<int64> ranks;
  pg::call([&] {
    // A full windowed partition ignores a row that sorts after its last kept row (for
    // dense_rank() N rows may hold fewer than N values: the pruning below decides).
    if (prune_ && rank_ != TopNNode::Rank::DenseRank && !p.rows.empty() &&
        int64(p.rows.size()) >= limit_) {
      const StoredRow& last = *p.rows.rbegin();
      int c = compare(values, nulls, last.values, last.nulls);
      if (c > 0 || (c == 0 && rank_ == TopNNode::Rank::RowNumber)) return;
    }
    MemoryContext old = MemoryContextSwitchTo(memory_);
    StoredRow row = layout_.copy(values, nulls, t);
    MemoryContextSwitchTo(old);
    p.rows.insert(row);  // after its peers: rows of equal rank keep their arrival order
    if (prune_) {
      rank_top(p, top, ranks);
      while (p.rows.size() > top.size()) {
        auto last = std::prev(p.rows.end());
        StoredRow dropped = *last;
        p.rows.erase(last);
        layout_.free(dropped);
      }
    }
  });
  p.time = std::max(p.time, t);
  if (!p.dirty) {
    p.dirty = true;
    dirty_.push_back(g);
  }
  unsaved_.mark(g);
}

// Removes one row equal to a retracted one (nothing if the partition has none).
void TopNOperator::retract(Partition& p, const Datum* values, const bool* nulls) {
  StoredRow probe;
  probe.values = const_cast<Datum*>(values);
  probe.nulls = const_cast<bool*>(nulls);
  pg::call([&] {
    auto [it, end] = p.rows.equal_range(probe);
    for (; it != end; ++it) {
      if (!layout_.same(*it, values, nulls)) continue;
      StoredRow gone = *it;
      p.rows.erase(it);
      layout_.free(gone);
      return;
    }
  });
}

void TopNOperator::push(int, Batch& rows) {
  int nk = int(partition_cols_.size());
  std::vector<Datum> key(nk + 1);
  std::unique_ptr<bool[]> key_nulls(new bool[nk + 1]);
  for (int i = 0; i < rows.size(); i++) {
    TimestampTz t = rows.time(i);
    if (windowed_ && t < watermark_) {
      stats_.late_rows++;
      continue;
    }
    for (int k = 0; k < nk; k++) {
      key[k] = rows.values(i)[partition_cols_[k]];
      key_nulls[k] = rows.nulls(i)[partition_cols_[k]];
    }
    Group* g = nullptr;
    pg::call([&] {
      bool created;
      g = keys_->find_or_create(key.data(), key_nulls.get(), &created);
    });
    Partition& p = part(g);
    if (rows.op(i) == RowOp::Insert) {
      insert(g, p, rows.values(i), rows.nulls(i), t);
    } else {
      retract(p, rows.values(i), rows.nulls(i));
      if (!p.dirty) {
        p.dirty = true;
        dirty_.push_back(g);
      }
      unsaved_.mark(g);
    }
  }
}

void TopNOperator::emit_row(const StoredRow& r, int64 rank, RowOp op) {
  if (out_.full()) {
    emit(out_);
    out_.clear();
  }
  int row = out_.append(r.time, op);
  memcpy(out_.values(row), r.values, sizeof(Datum) * in_cols_);
  memcpy(out_.nulls(row), r.nulls, sizeof(bool) * in_cols_);
  if (rank_column_) {
    out_.values(row)[in_cols_] = Int64GetDatum(rank);
    out_.nulls(row)[in_cols_] = false;
  }
}

// Forgets a partition with no rows (and its checkpoint entry).
void TopNOperator::forget(Group* g) {
  if (g->persisted) {
    StateEncoder key;
    pg::call([&] { keys_->encode_keys(g, key); });
    removed_.push_back(key.bytes());
  }
  unsaved_.unmark(g);
  Partition& p = part(g);
  pg::call([&] {
    for (const StoredRow& r : p.rows) {
      StoredRow copy = r;
      layout_.free(copy);
    }
    for (StoredRow& r : p.emitted) out_layout_.free(r);
  });
  parts_.erase(g);
  pg::call([&] { keys_->erase(g); });
}

// Emits, with their ranks, the rows of every partition whose window the watermark has passed.
void TopNOperator::emit_windows(TimestampTz wm) {
  std::vector<Group*> done;
  for (auto& [g, p] : parts_)
    if (p.time < wm || wm == DT_NOEND) done.push_back(g);
  std::sort(done.begin(), done.end(),
            [&](Group* a, Group* b) { return part(a).time < part(b).time; });
  std::vector<const StoredRow*> top;
  std::vector<int64> ranks;
  for (Group* g : done) {
    Partition& p = part(g);
    pg::call([&] { rank_top(p, top, ranks); });
    for (size_t i = 0; i < ranks.size(); i++) emit_row(*top[i], ranks[i], RowOp::Insert);
  }
  // The rows go out before the memory they point into is freed.
  emit(out_);
  out_.clear();
  for (Group* g : done) forget(g);
  dirty_.clear();
  for (auto& [g, p] : parts_) p.dirty = false;
}

void TopNOperator::watermark(TimestampTz wm) {
  if (wm <= watermark_) return;
  watermark_ = wm;
  if (windowed_) emit_windows(wm);
  emit_watermark(wm);
}

// Updating: each changed partition retracts the rows that left its top and inserts the rows
// that entered it.
void TopNOperator::flush() {
  if (windowed_ || dirty_.empty()) return;
  std::vector<const StoredRow*> top;
  std::vector<int64> ranks;
  std::vector<char> kept, fresh;
  std::vector<Group*> empty;
  std::vector<StoredRow> released;
  for (Group* g : dirty_) {
    Partition& p = part(g);
    p.dirty = false;
    unsaved_.mark(g);  // its emitted rows change: the next checkpoint must hold them
    pg::call([&] { rank_top(p, top, ranks); });
    kept.assign(p.emitted.size(), 0);
    fresh.assign(ranks.size(), 1);
    // A new top row equal (values and rank) to one emitted before stays as it is.
    for (size_t i = 0; i < ranks.size(); i++)
      for (size_t j = 0; j < p.emitted.size(); j++) {
        if (kept[j]) continue;
        const StoredRow& e = p.emitted[j];
        bool same = (!rank_column_ || DatumGetInt64(e.values[in_cols_]) == ranks[i]) &&
                    pg::call([&] { return layout_.same(*top[i], e.values, e.nulls); });
        if (same) {
          kept[j] = 1;
          fresh[i] = 0;
          break;
        }
      }
    std::vector<StoredRow> emitted;
    for (size_t j = 0; j < p.emitted.size(); j++) {
      if (kept[j]) {
        emitted.push_back(p.emitted[j]);
        continue;
      }
      emit_row(p.emitted[j], rank_column_ ? DatumGetInt64(p.emitted[j].values[in_cols_]) : 0,
               RowOp::Delete);
      released.push_back(p.emitted[j]);
    }
    for (size_t i = 0; i < ranks.size(); i++) {
      if (!fresh[i]) continue;
      emit_row(*top[i], ranks[i], RowOp::Insert);
      StoredRow copy = pg::call([&] {
        MemoryContext old = MemoryContextSwitchTo(memory_);
        Datum* values = (Datum*)palloc(sizeof(Datum) * out_cols_);
        bool* nulls = (bool*)palloc(sizeof(bool) * out_cols_);
        memcpy(values, top[i]->values, sizeof(Datum) * in_cols_);
        memcpy(nulls, top[i]->nulls, sizeof(bool) * in_cols_);
        if (rank_column_) {
          values[in_cols_] = Int64GetDatum(ranks[i]);
          nulls[in_cols_] = false;
        }
        StoredRow r = out_layout_.copy(values, nulls, top[i]->time);
        pfree(values);
        pfree(nulls);
        MemoryContextSwitchTo(old);
        return r;
      });
      emitted.push_back(copy);
    }
    p.emitted = std::move(emitted);
    if (p.rows.empty() && p.emitted.empty()) empty.push_back(g);
  }
  dirty_.clear();
  emit(out_);
  out_.clear();
  pg::call([&] {
    for (StoredRow& r : released) out_layout_.free(r);
  });
  for (Group* g : empty) forget(g);
}

void TopNOperator::end() {
  watermark_ = DT_NOEND;
  if (windowed_)
    emit_windows(DT_NOEND);
  else
    flush();
  emit_end();
}

void TopNOperator::checkpoint(StateWriter& w) {
  for (const std::string& key : removed_) w.remove(kPartitionPart, key);
  removed_.clear();
  write_changed_groups(w, kPartitionPart, *keys_, unsaved_, scratch_,
                       [&](Group* g, StateEncoder& out) {
                         const Partition& p = part(g);
                         out.put_int(p.time);
                         out.put_bool(p.dirty);
                         out.put_int(int64(p.rows.size()));
                         for (const StoredRow& r : p.rows) layout_.encode(r, out);
                         out.put_int(int64(p.emitted.size()));
                         for (const StoredRow& r : p.emitted) out_layout_.encode(r, out);
                       });
  if (watermark_ != saved_watermark_) {
    w.put(kMetaPart, "m", encode_ints({watermark_}));
    saved_watermark_ = watermark_;
  }
}

void TopNOperator::rescale(int, const KeyGroupFilter& keep) {
  rescale_ = RescaleGroups{keep, &unsaved_};
}

void TopNOperator::restore(const StateEntry& e) {
  if (e.part == kMetaPart) {
    int64 wm = decode_ints(e.value, 1, "the top-N's watermark")[0];
    if (rescale_) {  // several old workers' (the same, at an aligned checkpoint): the least
      merge_least(watermark_, wm, !meta_restored_);
      meta_restored_ = true;
      return;
    }
    watermark_ = saved_watermark_ = wm;
    return;
  }
  const RescaleGroups* rescale = rescale_ ? &*rescale_ : nullptr;
  Group* g = restore_group(
      *keys_, e, scratch_, "a top-N",
      [&](Group* group, StateDecoder& in) {
        Partition& p = part(group);
        MemoryContext old = MemoryContextSwitchTo(memory_);
        p.time = in.get_int();
        p.dirty = in.get_bool();
        for (int list = 0; list < 2; list++) {
          int64 n = in.get_int();
          if (n < 0 || n > int64(e.value.size())) in.corrupt("a row count is damaged");
          for (int64 i = 0; i < n; i++)
            if (list == 0)
              p.rows.insert(p.rows.end(), layout_.decode(in));  // in order: each goes last
            else
              p.emitted.push_back(out_layout_.decode(in));
        }
        MemoryContextSwitchTo(old);
      },
      rescale);
  if (g && part(g).dirty) dirty_.push_back(g);
}

}  // namespace arroyo
