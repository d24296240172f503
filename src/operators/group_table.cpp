#include "operators/group_table.hpp"

#include "pg/guard.hpp"

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
}

// Called inside pg::call (hash functions are PostgreSQL functions).
uint32 GroupTable::hash(const Datum* keys, const bool* nulls) const {
  uint32 h = 0;
  for (size_t i = 0; i < types_->size(); i++) {
    const KeyType& t = (*types_)[i];
    uint32 k = nulls[i] ? 0x9e3779b9u
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
    if (!DatumGetBool(FunctionCall2Coll(t.eq, t.collation, g->keys[i], keys[i]))) return false;
  }
  return true;
}

Group* GroupTable::find_or_create(const Datum* keys, const bool* nulls, bool* created) {
  uint32 h = hash(keys, nulls);
  std::vector<Group*>& bucket = groups_[h];
  for (Group* g : bucket)
    if (same(g, keys, nulls)) {
      *created = false;
      return g;
    }
  size_t n = types_->size();
  MemoryContext old = MemoryContextSwitchTo(memory_);
  // One chunk: the group, its states, its keys and their null flags.
  char* chunk = (char*)palloc0(MAXALIGN(sizeof(Group)) + sizeof(AggValue) * num_aggs_ +
                               sizeof(Datum) * n + sizeof(bool) * n);
  Group* g = (Group*)chunk;
  g->states = (AggValue*)(chunk + MAXALIGN(sizeof(Group)));
  g->keys = (Datum*)(g->states + num_aggs_);
  g->key_nulls = (bool*)(g->keys + n);
  for (int j = 0; j < num_aggs_; j++) g->states[j] = AggValue();
  for (size_t i = 0; i < n; i++) {
    g->key_nulls[i] = nulls[i];
    g->keys[i] = nulls[i] ? 0 : datumCopy(keys[i], (*types_)[i].byval, (*types_)[i].len);
  }
  MemoryContextSwitchTo(old);
  bucket.push_back(g);
  count_++;
  *created = true;
  return g;
}

void GroupTable::erase(Group* g) {
  uint32 h = hash(g->keys, g->key_nulls);
  auto it = groups_.find(h);
  if (it == groups_.end()) return;
  auto& v = it->second;
  for (size_t i = 0; i < v.size(); i++)
    if (v[i] == g) {
      v.erase(v.begin() + i);
      count_--;
      break;
    }
  if (v.empty()) groups_.erase(it);
  for (size_t i = 0; i < types_->size(); i++)
    if (!g->key_nulls[i] && !(*types_)[i].byval) pfree(DatumGetPointer(g->keys[i]));
  pfree(g);
}

bool DistinctSet::insert(const KeyType& type, Datum value, MemoryContext memory) {
  uint32 h = DatumGetUInt32(FunctionCall1Coll(type.hash, type.collation, value));
  auto range = seen_.equal_range(h);
  for (auto it = range.first; it != range.second; ++it)
    if (DatumGetBool(FunctionCall2Coll(type.eq, type.collation, it->second, value))) return false;
  MemoryContext old = MemoryContextSwitchTo(memory);
  Datum copy = datumCopy(value, type.byval, type.len);
  MemoryContextSwitchTo(old);
  seen_.emplace(h, copy);
  return true;
}

}  // namespace arroyo
