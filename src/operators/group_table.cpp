#include "operators/group_table.hpp"

#include "pg/guard.hpp"
#include "state/codec.hpp"

extern "C" {
#include "common/hashfn.h"
#include "utils/memutils.h"
}

#include <cstdint>

namespace arroyo {

KeyType::KeyType(Oid type, Oid coll) : collation(coll) {
  pg::call([&] {
    TypeCacheEntry* tc =
        lookup_type_cache(type, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
    if (!OidIsValid(tc->hash_proc) || !OidIsValid(tc->eq_opr))
      ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                      errmsg("could not identify a hash function and equality operator for "
                             "type %s",
                             format_type_be(type)),
                      errdetail("Grouping keys and DISTINCT arguments must be hashable.")));
    hash = &tc->hash_proc_finfo;
    eq = &tc->eq_opr_finfo;
    get_typlenbyval(type, &len, &byval);
  });
  switch (type) {
    case INT2OID:
    case INT4OID:
    case INT8OID:
    case OIDOID:
    case BOOLOID:
    case CHAROID:
    case DATEOID:
    case TIMESTAMPOID:
    case TIMESTAMPTZOID: bitwise = true; break;
    default: bitwise = false;
  }
}

namespace {}  // namespace

GroupTable::GroupTable(const std::vector<KeyType>* types, int num_aggs, MemoryContext memory)
    : types_(types), num_aggs_(num_aggs), memory_(memory), slots_(16, nullptr) {
  size_t n = types->size();
  // One fixed-size chunk per group: the record, its states, its keys and their null flags.
  Size chunk =
      MAXALIGN(sizeof(Group)) + sizeof(AggValue) * num_aggs + sizeof(Datum) * n + sizeof(bool) * n;
  chunks_ = pg::call([&] {
    return SlabContextCreate(memory, "arroyo_stream groups", Max(Size(32 * 1024), chunk * 16),
                             MAXALIGN(chunk));
  });
}

// Called inside pg::call (hash functions are PostgreSQL functions).
uint32 hash_keys(const std::vector<KeyType>& types, const Datum* keys, const bool* nulls) {
  uint32 h = 0;
  for (size_t i = 0; i < types.size(); i++) {
    const KeyType& t = types[i];
    uint32 k = nulls[i]    ? 0x9e3779b9u
               : t.bitwise ? mix_bits(datum_bits(keys[i], t.len))
                           : DatumGetUInt32(FunctionCall1Coll(t.hash, t.collation, keys[i]));
    h = hash_combine(h, k);
  }
  return murmurhash32(h);
}

bool key_equal(const KeyType& t, Datum a, Datum b) {
  if (t.bitwise) return datum_bits(a, t.len) == datum_bits(b, t.len);
  return DatumGetBool(FunctionCall2Coll(t.eq, t.collation, a, b));
}

uint32 GroupTable::hash(const Datum* keys, const bool* nulls) const {
  return hash_keys(*types_, keys, nulls);
}

bool GroupTable::same(const Group* g, const Datum* keys, const bool* nulls) const {
  for (size_t i = 0; i < types_->size(); i++) {
    if (g->key_nulls[i] != nulls[i]) return false;
    if (nulls[i]) continue;
    const KeyType& t = (*types_)[i];
    if (t.bitwise) {
      if (datum_bits(g->keys[i], t.len) != datum_bits(keys[i], t.len)) return false;
    } else if (!DatumGetBool(FunctionCall2Coll(t.eq, t.collation, g->keys[i], keys[i]))) {
      return false;
    }
  }
  return true;
}

// Doubles the slot array (dropping tombstones) and reinserts every group by its stored hash.
void GroupTable::grow() {
  size_t capacity = slots_.size();
  if (count_ * 2 >= capacity / 2) capacity *= 2;
  rehash(capacity);
}

void GroupTable::reserve(size_t groups) {
  size_t capacity = slots_.size();
  while (capacity < 2 * groups) capacity *= 2;
  if (capacity > slots_.size()) rehash(capacity);
}

// Reinserts every group into `capacity` slots (a power of two), dropping tombstones.
void GroupTable::rehash(size_t capacity) {
  std::vector<Group*> old;
  old.swap(slots_);
  slots_.assign(capacity, nullptr);
  size_t mask = capacity - 1;
  for (Group* g : old) {
    if (!live(g)) continue;
    size_t i = home_slot(g->hash, mask);
    while (slots_[i]) i = (i + 1) & mask;
    slots_[i] = g;
  }
  used_ = count_;
}

Group* GroupTable::find(const Datum* keys, const bool* nulls) const {
  uint32 h = hash(keys, nulls);
  size_t mask = slots_.size() - 1;
  for (size_t i = home_slot(h, mask);; i = (i + 1) & mask) {
    Group* g = slots_[i];
    if (!g) return nullptr;
    if (g != tombstone() && g->hash == h && same(g, keys, nulls)) return g;
  }
}

Group* GroupTable::find_or_create(const Datum* keys, const bool* nulls, bool* created) {
  uint32 h = hash(keys, nulls);
  size_t mask = slots_.size() - 1;
  size_t i = home_slot(h, mask);
  size_t free_slot = SIZE_MAX;
  for (;; i = (i + 1) & mask) {
    Group* g = slots_[i];
    if (!g) break;
    if (g == tombstone()) {
      if (free_slot == SIZE_MAX) free_slot = i;
    } else if (g->hash == h && same(g, keys, nulls)) {
      *created = false;
      return g;
    }
  }
  size_t n = types_->size();
  char* chunk = (char*)MemoryContextAllocZero(
      chunks_, MAXALIGN(MAXALIGN(sizeof(Group)) + sizeof(AggValue) * num_aggs_ + sizeof(Datum) * n +
                        sizeof(bool) * n));
  Group* g = (Group*)chunk;
  g->states = (AggValue*)(chunk + MAXALIGN(sizeof(Group)));
  g->keys = (Datum*)(g->states + num_aggs_);
  g->key_nulls = (bool*)(g->keys + n);
  g->hash = h;
  for (int j = 0; j < num_aggs_; j++) g->states[j] = AggValue();
  MemoryContext old = MemoryContextSwitchTo(memory_);
  for (size_t k = 0; k < n; k++) {
    g->key_nulls[k] = nulls[k];
    g->keys[k] = nulls[k] ? 0 : datumCopy(keys[k], (*types_)[k].byval, (*types_)[k].len);
  }
  MemoryContextSwitchTo(old);
  if (free_slot != SIZE_MAX) {
    slots_[free_slot] = g;
  } else {
    slots_[i] = g;
    used_++;
  }
  count_++;
  if (used_ * 2 > slots_.size()) grow();
  *created = true;
  return g;
}

void GroupTable::erase(Group* g) {
  size_t mask = slots_.size() - 1;
  for (size_t i = home_slot(g->hash, mask); slots_[i]; i = (i + 1) & mask) {
    if (slots_[i] != g) continue;
    slots_[i] = tombstone();
    count_--;
    break;
  }
  for (size_t k = 0; k < types_->size(); k++)
    if (!g->key_nulls[k] && !(*types_)[k].byval) pfree(DatumGetPointer(g->keys[k]));
  pfree(g);
}

void GroupTable::encode_keys(const Group* g, StateEncoder& out) const {
  for (size_t k = 0; k < types_->size(); k++)
    out.put_datum(g->keys[k], g->key_nulls[k], (*types_)[k].byval, (*types_)[k].len);
}

void GroupTable::decode_keys(StateDecoder& in, Datum* keys, bool* nulls) const {
  for (size_t k = 0; k < types_->size(); k++)
    keys[k] = in.get_datum(&nulls[k], (*types_)[k].byval, (*types_)[k].len);
}

bool DistinctSet::insert(const KeyType& type, Datum value, MemoryContext memory) {
  uint32 h = type.bitwise ? mix_bits(datum_bits(value, type.len))
                          : DatumGetUInt32(FunctionCall1Coll(type.hash, type.collation, value));
  auto range = seen_.equal_range(h);
  for (auto it = range.first; it != range.second; ++it)
    if (type.bitwise ? datum_bits(it->second, type.len) == datum_bits(value, type.len)
                     : DatumGetBool(FunctionCall2Coll(type.eq, type.collation, it->second, value)))
      return false;
  MemoryContext old = MemoryContextSwitchTo(memory);
  Datum copy = datumCopy(value, type.byval, type.len);
  MemoryContextSwitchTo(old);
  seen_.emplace(h, copy);
  return true;
}

}  // namespace arroyo
