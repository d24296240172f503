#include "operators/group_table.hpp"

#include "pg/guard.hpp"

#include <algorithm>

extern "C" {
#include "common/hashfn.h"
}

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
    case INT2OID: case INT4OID: case INT8OID: case OIDOID: case BOOLOID: case CHAROID:
    case DATEOID: case TIMESTAMPOID: case TIMESTAMPTZOID:
      bitwise = true;
      break;
    default:
      bitwise = false;
  }
}

namespace {

// The value bits of a by-value Datum of `len` bytes.
inline uint64 datum_bits(Datum d, int16 len) {
  switch (len) {
    case 1: return uint8(d);
    case 2: return uint16(d);
    case 4: return uint32(d);
    default: return uint64(d);
  }
}

// A 64-bit finalizer (splitmix64's): every input bit affects every output bit.
inline uint32 mix_bits(uint64 x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return uint32(x ^ (x >> 31));
}

}  // namespace

// Called inside pg::call (hash functions are PostgreSQL functions).
uint32 GroupTable::hash(const Datum* keys, const bool* nulls) const {
  uint32 h = 0;
  for (size_t i = 0; i < types_->size(); i++) {
    const KeyType& t = (*types_)[i];
    uint32 k = nulls[i]     ? 0x9e3779b9u
               : t.bitwise ? mix_bits(datum_bits(keys[i], t.len))
                           : DatumGetUInt32(FunctionCall1Coll(t.hash, t.collation, keys[i]));
    h = hash_combine(h, k);
  }
  return h;
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

Group* GroupTable::find_or_create(const Datum* keys, const bool* nulls, bool* created) {
  if (2 * (count_ + 1) > slots_.size()) grow();
  uint32 h = hash(keys, nulls);
  size_t mask = slots_.size() - 1, i = h & mask;
  for (; slots_[i].group; i = (i + 1) & mask)
    if (slots_[i].hash == h && same(slots_[i].group, keys, nulls)) {
      *created = false;
      return slots_[i].group;
    }
  size_t n = types_->size();
  MemoryContext old = MemoryContextSwitchTo(memory_);
  Group* g = (Group*)palloc(sizeof(Group));
  g->keys = (Datum*)palloc(sizeof(Datum) * (n ? n : 1));
  g->key_nulls = (bool*)palloc(sizeof(bool) * (n ? n : 1));
  g->states = (AggValue*)palloc0(sizeof(AggValue) * (num_aggs_ ? num_aggs_ : 1));
  for (size_t k = 0; k < n; k++) {
    g->key_nulls[k] = nulls[k];
    g->keys[k] = nulls[k] ? 0 : datumCopy(keys[k], (*types_)[k].byval, (*types_)[k].len);
  }
  MemoryContextSwitchTo(old);
  slots_[i] = {h, g};
  count_++;
  *created = true;
  return g;
}

// Doubles the slots (16 at first) and re-places every group.
void GroupTable::grow() {
  std::vector<Slot> old(std::max<size_t>(16, slots_.size() * 2), Slot{0, nullptr});
  old.swap(slots_);
  size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (!s.group) continue;
    size_t i = s.hash & mask;
    while (slots_[i].group) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void GroupTable::erase(Group* g) {
  if (slots_.empty()) return;
  size_t mask = slots_.size() - 1, i = hash(g->keys, g->key_nulls) & mask;
  while (slots_[i].group && slots_[i].group != g) i = (i + 1) & mask;
  if (!slots_[i].group) return;
  // Backward-shift deletion: move later groups of the probe run into the hole.
  size_t hole = i;
  for (size_t j = (i + 1) & mask; slots_[j].group; j = (j + 1) & mask) {
    size_t home = slots_[j].hash & mask;
    // Movable unless its home lies cyclically in (hole, j].
    bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots_[hole] = slots_[j];
    hole = j;
  }
  slots_[hole] = {0, nullptr};
  count_--;
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
