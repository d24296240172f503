// A hash table of groups keyed by the key columns of a row, hashed and compared with the key
// types' own hash and equality functions. Groups and their key copies live in one memory
// context, freed with the table's owner.
#pragma once

#include "engine/aggregate.hpp"

#include <memory>
#include <unordered_map>
#include <vector>

namespace arroyo {

// How to hash and compare one column type.
struct KeyType {
  explicit KeyType(Oid type, Oid collation);
  FmgrInfo* hash;
  FmgrInfo* eq;
  Oid collation;
  int16 len;
  bool byval;
};

// One group: its key values and aggregate states, in one allocation.
struct Group {
  Datum* keys;
  bool* key_nulls;
  AggValue* states;
  // Used by updating aggregates only.
  int64 rows;                // input rows inserted minus rows deleted
  TimestampTz last_seen;     // largest event time that touched the group (for the TTL)
  Datum* emitted;            // the output row last emitted, NULL if none
  bool* emitted_nulls;
  struct ValueMultiset* multisets;  // per aggregate without an inverse, if the input updates
  bool dirty;                // changed since the last flush
  bool recompute;            // a retraction hit an aggregate without an inverse
};

class GroupTable {
 public:
  GroupTable(const std::vector<KeyType>* types, int num_aggs, MemoryContext memory)
      : types_(types), num_aggs_(num_aggs), memory_(memory) {}

  // The group of these key values; `created` says whether it is new (states uninitialised).
  Group* find_or_create(const Datum* keys, const bool* nulls, bool* created);
  template <typename F>
  void for_each(F&& f) {
    for (auto& [hash, groups] : groups_)
      for (Group* g : groups) f(g);
  }
  // Forgets a group and frees its key copies and record.
  void erase(Group* g);
  size_t size() const { return count_; }
  bool empty() const { return groups_.empty(); }
  MemoryContext memory() const { return memory_; }

 private:
  uint32 hash(const Datum* keys, const bool* nulls) const;
  bool same(const Group* g, const Datum* keys, const bool* nulls) const;

  const std::vector<KeyType>* types_;
  int num_aggs_;
  MemoryContext memory_;
  std::unordered_map<uint32, std::vector<Group*>> groups_;
  size_t count_ = 0;
};

// The values an aggregate with DISTINCT has already seen in one group.
class DistinctSet {
 public:
  // Whether `value` is new; remembers it (copied into `memory`) if so.
  bool insert(const KeyType& type, Datum value, MemoryContext memory);

 private:
  std::unordered_multimap<uint32, Datum> seen_;
};

}  // namespace arroyo
