#include "operators/window_partial.hpp"

#include "operators/sorted_aggregate.hpp"
#include "operators/window_time.hpp"
#include "pg/guard.hpp"
#include "state/codec.hpp"

#include <algorithm>

extern "C" {
#include "access/tupdesc.h"
#include "catalog/pg_type.h"
}

namespace arroyo {

bool WindowPartialOperator::applies(const WindowAggregateNode& node) {
  if (node.window.kind != WindowSpec::Kind::Tumble && node.window.kind != WindowSpec::Kind::Hop)
    return false;
  for (const AggregateSpec& spec : node.aggregates) {
    if (spec.distinct || SortedAggregate::needed(spec.aggref)) return false;
    AggregateFunction f(spec.aggref, false);
    if (!f.has_combine() || !f.serializable()) return false;
  }
  return true;
}

TupleDesc WindowPartialOperator::partial_desc(const WindowAggregateNode& node) {
  TupleDesc in = node.input->desc;
  int n = 2 + node.num_keys + int(node.aggregates.size());
  return pg::call([&] {
    TupleDesc d = CreateTemplateTupleDesc(n);
    AttrNumber col = 1;
    TupleDescInitEntry(d, col++, "pane", TIMESTAMPTZOID, -1, 0);
    for (int k = 0; k < node.num_keys; k++) {
      Form_pg_attribute a = TupleDescAttr(in, k);
      TupleDescInitEntry(d, col, NameStr(a->attname), a->atttypid, a->atttypmod, 0);
      TupleDescInitEntryCollation(d, col++, a->attcollation);
    }
    TupleDescInitEntry(d, col++, "rows", INT8OID, -1, 0);
    for (size_t j = 0; j < node.aggregates.size(); j++)
      TupleDescInitEntry(d, col++, "state", BYTEAOID, -1, 0);
    return d;
  });
}

WindowPartialOperator::WindowPartialOperator(const WindowAggregateNode& node, TupleDesc out_desc,
                                             MemoryContext round_memory)
    : window_(node.window),
      pane_us_(node.window.kind == WindowSpec::Kind::Tumble ? node.window.width_us
                                                            : node.window.slide_us),
      num_keys_(node.num_keys),
      specs_(node.aggregates),
      round_memory_(round_memory),
      out_(out_desc->natts) {
  TupleDesc in = node.input->desc;
  for (int i = 0; i < num_keys_; i++)
    key_types_.emplace_back(TupleDescAttr(in, i)->atttypid, TupleDescAttr(in, i)->attcollation);
  for (const AggregateSpec& spec : specs_)
    aggs_.push_back(std::make_unique<AggregateFunction>(spec.aggref, false));
  memory_ = pg::call([&] {
    return AllocSetContextCreate(CurrentMemoryContext, "arroyo_stream window partials",
                                 ALLOCSET_DEFAULT_SIZES);
  });
  scratch_ = pg::call([&] {
    return AllocSetContextCreate(memory_, "arroyo_stream window partial scratch",
                                 ALLOCSET_DEFAULT_SIZES);
  });
}

WindowPartialOperator::~WindowPartialOperator() = default;

int64 WindowPartialOperator::state_bytes() const {
  return pg::call([&] { return int64(MemoryContextMemAllocated(memory_, true)); });
}

WindowPartialOperator::Pane& WindowPartialOperator::pane(TimestampTz start) {
  auto it = panes_.find(start);
  if (it != panes_.end()) return it->second;
  Pane& p = panes_[start];
  p.memory = pg::call([&] {
    return AllocSetContextCreate(memory_, "arroyo_stream window partial pane",
                                 ALLOCSET_DEFAULT_SIZES);
  });
  // One state more than the aggregates: its `inputs` counts the rows folded in.
  p.groups = std::make_unique<GroupTable>(&key_types_, int(aggs_.size()) + 1, p.memory);
  p.groups->reserve(last_pane_groups_);
  return p;
}

void WindowPartialOperator::push(int, Batch& rows) {
  const int n = rows.size();
  const size_t count_slot = aggs_.size();
  bool behind = false;  // a row fell into a pane this worker's watermark has passed
  TimestampTz current = 0;
  Pane* p = nullptr;
  pg::call([&] {
    for (int i = 0; i < n; i++) {
      TimestampTz start = window_align(rows.time(i), pane_us_);
      if (!p || start != current) {
        p = &pane(start);
        current = start;
        if (window_end(start, pane_us_) <= watermark_) behind = true;
      }
      const Datum* values = rows.values(i);
      const bool* nulls = rows.nulls(i);
      bool created;
      Group* g = p->groups->find_or_create(values, nulls, &created);
      if (created) {
        for (size_t j = 0; j < aggs_.size(); j++) aggs_[j]->init(g->states[j], p->memory);
        g->states[count_slot] = AggValue{};
        g->states[count_slot].inputs = 0;
      }
      for (size_t j = 0; j < aggs_.size(); j++) {
        const AggregateSpec& spec = specs_[j];
        if (spec.filter_col >= 0 &&
            (nulls[spec.filter_col] || !DatumGetBool(values[spec.filter_col])))
          continue;
        aggs_[j]->advance(g->states[j], values + spec.first_arg, nulls + spec.first_arg, p->memory);
      }
      g->states[count_slot].inputs++;
    }
  });
  if (behind) emit_panes(watermark_);
}

void WindowPartialOperator::watermark(TimestampTz wm) {
  if (wm > watermark_) {
    watermark_ = wm;
    emit_panes(wm);
  }
  emit_watermark(wm);
}

void WindowPartialOperator::idle() {
  drain();
  emit_idle();
}

void WindowPartialOperator::end() {
  watermark_ = DT_NOEND;
  drain();
  emit_end();
}

void WindowPartialOperator::drain() { emit_panes(DT_NOEND); }

// Appends group g of the pane starting at `start` to out_ as a partial row; its keys point into
// the pane's memory, which must outlive the row's emission. Runs inside pg::call.
void WindowPartialOperator::append_partial(TimestampTz start, Group* g, MemoryContext memory,
                                           StateEncoder& enc) {
  const int state_col = 2 + num_keys_;
  int row = out_.append(start);
  Datum* values = out_.values(row);
  bool* nulls = out_.nulls(row);
  values[0] = TimestampTzGetDatum(start);
  nulls[0] = false;
  for (int k = 0; k < num_keys_; k++) {
    values[1 + k] = g->keys[k];
    nulls[1 + k] = g->key_nulls[k];
  }
  values[1 + num_keys_] = Int64GetDatum(g->states[aggs_.size()].inputs);
  nulls[1 + num_keys_] = false;
  for (size_t j = 0; j < aggs_.size(); j++) {
    enc.clear();
    // What a serialization function allocates (int8_avg_serialize: a 1 KiB buffer) goes into
    // scratch memory, reset at once, so that its first block is reused instead of new pages.
    MemoryContext old = MemoryContextSwitchTo(scratch_);
    aggs_[j]->serialize(g->states[j], enc, memory);
    MemoryContextSwitchTo(old);
    MemoryContextReset(scratch_);
    bytea* b = static_cast<bytea*>(MemoryContextAlloc(round_memory_, VARHDRSZ + enc.size()));
    SET_VARSIZE(b, VARHDRSZ + enc.size());
    memcpy(VARDATA(b), enc.bytes().data(), enc.size());
    values[state_col + int(j)] = PointerGetDatum(b);
    nulls[state_col + int(j)] = false;
  }
}

void WindowPartialOperator::emit_panes(TimestampTz until) {
  StateEncoder enc;
  while (!panes_.empty()) {
    auto it = panes_.begin();
    TimestampTz start = it->first;
    if (window_end(start, pane_us_) > until) break;
    Pane& p = it->second;
    std::vector<Group*> groups;
    groups.reserve(p.groups->size());
    p.groups->for_each([&](Group* g) { groups.push_back(g); });
    for (size_t first = 0; first < groups.size(); first += size_t(out_.capacity())) {
      size_t last = std::min(groups.size(), first + size_t(out_.capacity()));
      pg::call([&] {
        for (size_t i = first; i < last; i++) append_partial(start, groups[i], p.memory, enc);
      });
      emit(out_);
      out_.clear();
    }
    last_pane_groups_ = p.groups->size();
    MemoryContext m = p.memory;
    panes_.erase(it);
    pg::call([&] { MemoryContextDelete(m); });
  }
}

}  // namespace arroyo
