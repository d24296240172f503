#include "operators/updating_aggregate_native.hpp"

#include "core/plan.hpp"
#include "operators/updating_aggregate.hpp"
#include "operators/sorted_aggregate.hpp"
#include "pg/guard.hpp"
#include "state/codec.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/numeric.h"
}

#include <memory>

namespace arroyo {

bool NativeAggregate::of(const AggregateSpec& spec, NativeAggregate* out) {
  const Aggref* a = spec.aggref;
  if (a->aggdistinct != NIL || a->aggorder != NIL || a->aggdirectargs != NIL ||
      a->aggkind != AGGKIND_NORMAL || SortedAggregate::needed(const_cast<Aggref*>(a)))
    return false;
  out->filter_col = spec.filter_col;
  out->arg = spec.first_arg;
  out->word = 0;
  switch (a->aggfnoid) {
    case F_COUNT_:
      out->kind = NativeKind::Count;
      out->arg = -1;
      return true;
    case F_COUNT_ANY: out->kind = NativeKind::Count; return true;
    case F_SUM_INT2: out->kind = NativeKind::SumInt2; return true;
    case F_SUM_INT4: out->kind = NativeKind::SumInt4; return true;
    case F_SUM_INT8: out->kind = NativeKind::SumInt8; return true;
    default: return false;
  }
}

NativeGroupTable::NativeGroupTable(const std::vector<KeyType>* types, int state_words,
                                   MemoryContext memory)
    : types_(types),
      words_(state_words),
      record_(sizeof(NativeGroup) + sizeof(int64) * 2 * state_words +
              sizeof(Datum) * types->size()),
      memory_(memory),
      slots_(16, nullptr) {}

// A zeroed record: from the free list, else carved from the current block (blocks of 64 KiB
// from the memory context, never returned before the context goes).
NativeGroup* NativeGroupTable::allocate() {
  NativeGroup* g;
  if (free_) {
    g = free_;
    free_ = reinterpret_cast<NativeGroup*>(g->rows);
  } else {
    if (size_t(block_end_ - block_) < record_) {
      const size_t block = Max(size_t(64 * 1024) / record_, size_t(1)) * record_;
      block_ = (char*)MemoryContextAlloc(memory_, block);
      block_end_ = block_ + block;
    }
    g = reinterpret_cast<NativeGroup*>(block_);
    block_ += record_;
  }
  memset(g, 0, record_);
  return g;
}

bool NativeGroupTable::same(const NativeGroup* g, const Datum* keys, const bool* nulls) const {
  const Datum* mine = this->keys(g);
  for (size_t i = 0; i < types_->size(); i++) {
    if (g->key_null(int(i)) != nulls[i]) return false;
    if (!nulls[i] && !key_equal((*types_)[i], mine[i], keys[i])) return false;
  }
  return true;
}

void NativeGroupTable::rehash(size_t capacity) {
  std::vector<NativeGroup*> old;
  old.swap(slots_);
  slots_.assign(capacity, nullptr);
  size_t mask = capacity - 1;
  for (NativeGroup* g : old) {
    if (!live(g)) continue;
    size_t i = home_slot(g->hash, mask);
    while (slots_[i]) i = (i + 1) & mask;
    slots_[i] = g;
  }
  used_ = count_;
}

NativeGroup* NativeGroupTable::find_or_create(uint32 h, const Datum* keys, const bool* nulls,
                                              bool* created) {
  size_t mask = slots_.size() - 1;
  size_t i = home_slot(h, mask), free_slot = SIZE_MAX;
  for (;; i = (i + 1) & mask) {
    NativeGroup* g = slots_[i];
    if (!g) break;
    if (g == tombstone()) {
      if (free_slot == SIZE_MAX) free_slot = i;
    } else if (g->hash == h && same(g, keys, nulls)) {
      *created = false;
      return g;
    }
  }
  NativeGroup* g = allocate();
  g->hash = h;
  Datum* mine = this->keys(g);
  MemoryContext old = MemoryContextSwitchTo(memory_);
  for (size_t k = 0; k < types_->size(); k++) {
    if (nulls[k]) {
      g->bits |= uint32(1) << (8 + k);
      continue;
    }
    const KeyType& t = (*types_)[k];
    mine[k] = datumCopy(keys[k], t.byval, t.len);
  }
  MemoryContextSwitchTo(old);
  if (free_slot != SIZE_MAX) {
    slots_[free_slot] = g;
  } else {
    slots_[i] = g;
    used_++;
  }
  count_++;
  if (used_ * 2 > slots_.size()) {
    size_t capacity = slots_.size();
    if (count_ * 2 >= capacity / 2) capacity *= 2;
    rehash(capacity);
  }
  *created = true;
  return g;
}

void NativeGroupTable::erase(NativeGroup* g) {
  size_t mask = slots_.size() - 1;
  for (size_t i = home_slot(g->hash, mask); slots_[i]; i = (i + 1) & mask) {
    if (slots_[i] != g) continue;
    slots_[i] = tombstone();
    count_--;
    break;
  }
  const Datum* mine = keys(g);
  for (size_t k = 0; k < types_->size(); k++)
    if (!g->key_null(int(k)) && !(*types_)[k].byval) pfree(DatumGetPointer(mine[k]));
  g->rows = reinterpret_cast<int64>(free_);
  free_ = g;
}

void NativeGroupTable::encode_keys(const NativeGroup* g, StateEncoder& out) const {
  const Datum* mine = keys(g);
  for (size_t k = 0; k < types_->size(); k++)
    out.put_datum(mine[k], g->key_null(int(k)), (*types_)[k].byval, (*types_)[k].len);
}

void NativeGroupTable::decode_keys(StateDecoder& in, Datum* keys, bool* nulls) const {
  for (size_t k = 0; k < types_->size(); k++)
    keys[k] = in.get_datum(&nulls[k], (*types_)[k].byval, (*types_)[k].len);
}

// ---- The operator's steps on the compact state ----

namespace {

using i128 = __int128;

i128 load128(const int64* w) {
  return i128((unsigned __int128)(uint64(w[1])) << 64 | (unsigned __int128)uint64(w[0]));
}

void store128(int64* w, i128 v) {
  w[0] = int64(uint64((unsigned __int128)v));
  w[1] = int64(uint64((unsigned __int128)v >> 64));
}

// sum(bigint)'s result: the numeric PostgreSQL's numeric_poly_sum makes of the same 128-bit
// sum (scale 0). In CurrentMemoryContext; inside pg::call.
Datum numeric_of(i128 v) {
  if (v >= i128(PG_INT64_MIN) && v <= i128(PG_INT64_MAX))
    return NumericGetDatum(int64_to_numeric(int64(v)));
  char buf[48], *p = buf + sizeof buf;
  *--p = '\0';
  bool negative = v < 0;
  unsigned __int128 u = negative ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
  do {
    *--p = char('0' + int(u % 10));
    u /= 10;
  } while (u != 0);
  if (negative) *--p = '-';
  return DirectFunctionCall3(numeric_in, CStringGetDatum(p), ObjectIdGetDatum(InvalidOid),
                             Int32GetDatum(-1));
}

// The 128-bit integer an integral numeric holds (a sum(bigint) result a generic checkpoint
// stored). Inside pg::call.
i128 int128_of(Datum numeric, StateDecoder& in) {
  char* text = DatumGetCString(DirectFunctionCall1(numeric_out, numeric));
  const char* p = text;
  bool negative = *p == '-';
  if (negative) p++;
  unsigned __int128 u = 0;
  if (!*p) in.corrupt("a sum is not an integer");
  for (; *p; p++) {
    if (*p < '0' || *p > '9' || u > (~(unsigned __int128)0) / 10 - 1)
      in.corrupt("a sum is not an integer");
    u = u * 10 + unsigned(*p - '0');
  }
  pfree(text);
  return negative ? -i128(u) : i128(u);
}

}  // namespace

// Folds one row (or its retraction) into a group. Inside pg::call.
void UpdatingAggregateOperator::native_apply(NativeGroup* g, bool created, const Datum* values,
                                             const bool* nulls, RowOp op, TimestampTz t) {
  const int64 d = op == RowOp::Insert ? 1 : -1;
  if (created) g->last_seen = t;
  g->rows += d;
  if (t > g->last_seen) g->last_seen = t;
  int64* s = ntable_->states(g);
  for (const NativeAggregate& a : native_) {
    if (a.filter_col >= 0 && (nulls[a.filter_col] || !DatumGetBool(values[a.filter_col]))) continue;
    if (a.arg >= 0 && nulls[a.arg]) continue;
    int64* w = s + a.word;
    w[0] += d;
    switch (a.kind) {
      case NativeKind::Count: break;
      case NativeKind::SumInt2: w[1] += d * int64(DatumGetInt16(values[a.arg])); break;
      case NativeKind::SumInt4: w[1] += d * int64(DatumGetInt32(values[a.arg])); break;
      case NativeKind::SumInt8:
        store128(w + 1, load128(w + 1) + i128(d) * i128(DatumGetInt64(values[a.arg])));
        break;
    }
  }
  if (!g->dirty()) {
    g->set(NativeGroup::kDirty, true);
    ndirty_.push_back(g);
  }
  buckets_.touch(g);
}

// Whether two sets of states give the same output row.
bool UpdatingAggregateOperator::native_same(const int64* a, const int64* b) const {
  for (const NativeAggregate& n : native_) {
    const int64 *x = a + n.word, *y = b + n.word;
    if (n.kind == NativeKind::Count) {
      if (x[0] != y[0]) return false;
      continue;
    }
    if ((x[0] == 0) != (y[0] == 0)) return false;  // NULL without a non-null input
    if (x[0] == 0) continue;
    if (x[1] != y[1] || (n.kind == NativeKind::SumInt8 && x[2] != y[2])) return false;
  }
  return true;
}

// The group's output row for `states` (its current ones, or those last emitted): keys, then
// the aggregates' results, by-reference ones in round memory.
void UpdatingAggregateOperator::native_row(NativeGroup* g, const int64* states, Datum* values,
                                           bool* nulls) {
  const Datum* keys = ntable_->keys(g);
  for (int k = 0; k < num_keys_; k++) {
    nulls[k] = g->key_null(k);
    values[k] = nulls[k] ? 0 : keys[k];
  }
  for (size_t j = 0; j < native_.size(); j++) {
    const NativeAggregate& a = native_[j];
    const int64* w = states + a.word;
    const int c = num_keys_ + int(j);
    nulls[c] = a.kind != NativeKind::Count && w[0] == 0;
    values[c] = 0;
    if (nulls[c]) continue;
    switch (a.kind) {
      case NativeKind::Count: values[c] = Int64GetDatum(w[0]); break;
      case NativeKind::SumInt2:
      case NativeKind::SumInt4: values[c] = Int64GetDatum(w[1]); break;
      case NativeKind::SumInt8:
        values[c] = pg::call([&] {
          MemoryContext old = MemoryContextSwitchTo(round_memory_);
          Datum v = numeric_of(load128(w + 1));
          MemoryContextSwitchTo(old);
          return v;
        });
        break;
    }
  }
}

// emit_changes() on the compact state: the old row is computed again from the states as they
// were when it was emitted.
void UpdatingAggregateOperator::native_emit_changes() {
  std::vector<NativeGroup*> dirty;
  dirty.swap(ndirty_);
  std::vector<Datum> values(out_cols_);
  std::unique_ptr<bool[]> nulls(new bool[out_cols_]);
  std::vector<NativeGroup*> dead;
  const size_t words = size_t(ntable_->words());
  for (size_t i = 0; i < dirty.size(); i++) {
    NativeGroup* g = dirty[i];
    if (i + 8 < dirty.size()) __builtin_prefetch(dirty[i + 8]);  // overlaps the cache misses
    g->set(NativeGroup::kDirty, false);
    buckets_.touch(g);
    bool alive = g->rows > 0 || num_keys_ == 0;
    int64 *now = ntable_->states(g), *then = ntable_->emitted(g);
    if (alive && g->emitted() && native_same(now, then)) continue;
    if (g->emitted()) {
      native_row(g, then, values.data(), nulls.get());
      append_row(values.data(), nulls.get(), RowOp::Delete, g->last_seen);
    }
    if (alive) {
      native_row(g, now, values.data(), nulls.get());
      append_row(values.data(), nulls.get(), RowOp::Insert, g->last_seen);
      memcpy(then, now, words * sizeof(int64));
      g->set(NativeGroup::kEmitted, true);
    } else {
      g->set(NativeGroup::kEmitted, false);
      dead.push_back(g);
    }
  }
  send();
  for (NativeGroup* g : dead) native_forget(g);
}

void UpdatingAggregateOperator::native_forget(NativeGroup* g) {
  buckets_.touch(g);  // its bucket is written again without it
  pg::call([&] { ntable_->erase(g); });
}

void UpdatingAggregateOperator::native_evict_expired() {
  if (ttl_us_ <= 0 || watermark_ == DT_NOBEGIN || watermark_ == DT_NOEND || num_keys_ == 0) return;
  if (last_sweep_ != DT_NOBEGIN && watermark_ - last_sweep_ < ttl_us_ / 10) return;
  last_sweep_ = watermark_;
  std::vector<NativeGroup*> expired;
  ntable_->for_each([&](NativeGroup* g) {
    if (!g->dirty() && g->last_seen < watermark_ - ttl_us_) expired.push_back(g);
  });
  for (NativeGroup* g : expired) native_forget(g);
}

// A group's entry in format 1, in variable-length integers: rows, last event time, flags, the
// states' words, and the words of the states last emitted if a row was and they differ from
// the current ones (kSame otherwise: a group flushed and unchanged since). Inside pg::call.
namespace {
constexpr int64 kSame = 4;
}

void UpdatingAggregateOperator::native_encode(NativeGroup* g, StateEncoder& out) {
  const int words = ntable_->words();
  const int64 *now = ntable_->states(g), *then = ntable_->emitted(g);
  int64 flags = g->bits & (NativeGroup::kDirty | NativeGroup::kEmitted);
  bool same = g->emitted() && memcmp(now, then, sizeof(int64) * words) == 0;
  if (same) flags |= kSame;
  out.put_zigzag(g->rows);
  out.put_zigzag(g->last_seen);
  out.put_varint(uint64(flags));
  for (int i = 0; i < words; i++) out.put_zigzag(now[i]);
  if (g->emitted() && !same)
    for (int i = 0; i < words; i++) out.put_zigzag(then[i]);
}

void UpdatingAggregateOperator::native_decode(NativeGroup* g, StateDecoder& in, int64 format) {
  if (format == 0) {
    native_from_generic(g, in);
    return;
  }
  if (format != kNativeFormatNumber)
    in.corrupt("its groups are in a format this operator does not read");
  g->rows = in.get_zigzag();
  g->last_seen = in.get_zigzag();
  uint64 flags = in.get_varint();
  if (flags & ~uint64(NativeGroup::kDirty | NativeGroup::kEmitted | kSame) ||
      ((flags & kSame) && !(flags & NativeGroup::kEmitted)))
    in.corrupt("unknown flags");
  g->bits |= uint32(flags & (NativeGroup::kDirty | NativeGroup::kEmitted));
  const int words = ntable_->words();
  int64 *now = ntable_->states(g), *then = ntable_->emitted(g);
  for (int i = 0; i < words; i++) now[i] = in.get_zigzag();
  if (flags & kSame)
    memcpy(then, now, sizeof(int64) * words);
  else if (g->emitted())
    for (int i = 0; i < words; i++) then[i] = in.get_zigzag();
}

// Reads a group the generic state wrote (encode_group(), before the compact state existed)
// into the compact one. Inside pg::call, temporaries in CurrentMemoryContext.
void UpdatingAggregateOperator::native_from_generic(NativeGroup* g, StateDecoder& in) {
  Group tmp{};
  AggValue* states = (AggValue*)palloc0(sizeof(AggValue) * aggs_.size());
  for (size_t j = 0; j < aggs_.size(); j++) states[j] = AggValue();
  tmp.states = states;
  decode_group(&tmp, in, CurrentMemoryContext);
  g->rows = tmp.rows;
  g->last_seen = tmp.last_seen;
  g->set(NativeGroup::kDirty, tmp.dirty);
  int64* s = ntable_->states(g);
  for (size_t j = 0; j < native_.size(); j++) {
    const NativeAggregate& a = native_[j];
    int64* w = s + a.word;
    AggValue& v = states[j];
    switch (a.kind) {
      case NativeKind::Count: w[0] = v.isnull ? 0 : DatumGetInt64(v.value); break;
      case NativeKind::SumInt2:
      case NativeKind::SumInt4:
        if (v.isnull) break;
        if (aggs_[j]->moving()) {  // int8[] {count, sum}
          ArrayType* arr = DatumGetArrayTypeP(v.value);
          if (ARR_NDIM(arr) != 1 || ARR_DIMS(arr)[0] != 2 || ARR_HASNULL(arr))
            in.corrupt("a sum's state is malformed");
          const int64* d = (const int64*)ARR_DATA_PTR(arr);
          w[0] = d[0];
          w[1] = d[1];
        } else {
          w[0] = 1;
          w[1] = DatumGetInt64(v.value);
        }
        break;
      case NativeKind::SumInt8: {
        bool isnull;
        Datum sum = aggs_[j]->finish(v, CurrentMemoryContext, &isnull);
        if (isnull) break;
        store128(w + 1, int128_of(sum, in));
        // The non-null inputs: counted from the kept rows when the input updates (retractions
        // must know when the last one goes); otherwise only whether there is one matters.
        w[0] = 1;
        if (backed_[j] && tmp.multisets) {
          int64 n = 0;
          tmp.multisets[j].for_each([&](const ValueMultiset::Entry& e) {
            if (!e.nulls[0]) n += e.count;
          });
          w[0] = n;
        }
        break;
      }
    }
  }
  if (tmp.emitted) {
    g->set(NativeGroup::kEmitted, true);
    int64* e = ntable_->emitted(g);
    for (size_t j = 0; j < native_.size(); j++) {
      const NativeAggregate& a = native_[j];
      const int c = num_keys_ + int(j);
      int64* w = e + a.word;
      if (a.kind == NativeKind::Count) {
        w[0] = DatumGetInt64(tmp.emitted[c]);
      } else if (!tmp.emitted_nulls[c]) {
        w[0] = 1;
        if (a.kind == NativeKind::SumInt8)
          store128(w + 1, int128_of(tmp.emitted[c], in));
        else
          w[1] = DatumGetInt64(tmp.emitted[c]);
      }
    }
  }
  delete[] tmp.multisets;
}

}  // namespace arroyo
