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
  // Integers, timestamps, dates, oids, booleans: equal exactly when their bits are, so they are
  // hashed and compared inline, without calling their functions.
  bool bitwise;
};

struct Group {
  Datum* keys;
  bool* key_nulls;
  AggValue* states;
};

class GroupTable {
 public:
  GroupTable(const std::vector<KeyType>* types, int num_aggs, MemoryContext memory)
      : types_(types), num_aggs_(num_aggs), memory_(memory) {}

  // The group of these key values; `created` says whether it is new (states uninitialised).
  Group* find_or_create(const Datum* keys, const bool* nulls, bool* created);
  template <typename F>
  void for_each(F&& f) {
    for (const Slot& s : slots_)
      if (s.group) f(s.group);
  }
  // Forgets a group (its memory is reclaimed with the table's context).
  void erase(Group* g);
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  // Makes room for `groups` groups at once.
  void reserve(size_t groups) {
    while (slots_.size() < 2 * groups) grow();
  }
  MemoryContext memory() const { return memory_; }

 private:
  // Open addressing with linear probing; group == nullptr marks a free slot.
  struct Slot {
    uint32 hash;
    Group* group;
  };

  uint32 hash(const Datum* keys, const bool* nulls) const;
  bool same(const Group* g, const Datum* keys, const bool* nulls) const;
  void grow();

  const std::vector<KeyType>* types_;
  int num_aggs_;
  MemoryContext memory_;
  std::vector<Slot> slots_;  // a power of two in size, at most half full
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
