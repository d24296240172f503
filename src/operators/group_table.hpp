// A hash table of groups keyed by the key columns of a row, hashed and compared with the key
// types' own hash and equality functions: open addressing over group pointers, groups
// allocated from a slab of fixed-size chunks in the table's memory context.
#pragma once

#include "operators/aggregate_function.hpp"

#include <memory>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace arroyo {

class StateEncoder;
class StateDecoder;

// The value bits of a by-value Datum of `len` bytes (the rest of the word is not the value's).
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

// The home slot of a key hash in an open-addressing table of mask + 1 slots. The hash is mixed
// first: a pipeline of several workers routes rows by the hash's low bits (core/key_groups.hpp),
// so the keys one worker holds share those bits, and a table indexed by them directly would
// start its probes in a fraction of its slots (at 2 workers, every other run of 64).
inline size_t home_slot(uint32 hash, size_t mask) { return size_t(mix_bits(hash)) & mask; }

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

// The hash of a row's key values (inside pg::call: a type's hash function may run), and
// whether two non-null values of a key type are equal.
uint32 hash_keys(const std::vector<KeyType>& types, const Datum* keys, const bool* nulls);
bool key_equal(const KeyType& t, Datum a, Datum b);

// One group: its key values and aggregate states, in one allocation.
struct Group {
  Datum* keys;
  bool* key_nulls;
  AggValue* states;
  // Used by updating aggregates only.
  int64 rows;             // input rows inserted minus rows deleted
  TimestampTz last_seen;  // largest event time that touched the group (for the TTL)
  Datum* emitted;         // the output row last emitted, NULL if none
  bool* emitted_nulls;
  struct ValueMultiset* multisets;  // per aggregate without an inverse, if the input updates
  uint32 hash;
  bool dirty;      // changed since the last flush
  bool recompute;  // a retraction hit an aggregate without an inverse
  // Checkpoints: position + 1 in the operator's list of groups changed since the last
  // checkpoint (0: unchanged), and whether a checkpoint holds an entry for the group.
  uint32 unsaved_pos;
  bool persisted;
  ItemPointerData saved_tid;  // where its checkpoint entry was last written (a hint)
};

// The groups changed since the last checkpoint, with O(1) insertion and removal.
class UnsavedGroups {
 public:
  void mark(Group* g) {
    if (g->unsaved_pos) return;
    groups_.push_back(g);
    g->unsaved_pos = uint32(groups_.size());
  }
  // Forgets a group about to be freed.
  void unmark(Group* g) {
    if (!g->unsaved_pos) return;
    Group* last = groups_.back();
    groups_[g->unsaved_pos - 1] = last;
    last->unsaved_pos = g->unsaved_pos;
    groups_.pop_back();
    g->unsaved_pos = 0;
  }
  const std::vector<Group*>& groups() const { return groups_; }
  // Marks every listed group saved.
  void clear() {
    for (Group* g : groups_) g->unsaved_pos = 0;
    groups_.clear();
  }

 private:
  std::vector<Group*> groups_;
};

class GroupTable {
 public:
  GroupTable(const std::vector<KeyType>* types, int num_aggs, MemoryContext memory);

  // The group of these key values; `created` says whether it is new (states uninitialised).
  // Runs inside pg::call (hashing and equality are PostgreSQL functions).
  Group* find_or_create(const Datum* keys, const bool* nulls, bool* created);
  // The group of these key values, or nullptr (inside pg::call, like find_or_create).
  Group* find(const Datum* keys, const bool* nulls) const;
  template <typename F>
  void for_each(F&& f) {
    for (Group* g : slots_)
      if (live(g)) f(g);
  }
  // Forgets a group and frees its key copies and record.
  void erase(Group* g);
  size_t size() const { return count_; }
  size_t key_count() const { return types_->size(); }
  // Makes room for `groups` groups at once.
  void reserve(size_t groups);
  bool empty() const { return count_ == 0; }
  MemoryContext memory() const { return memory_; }
  // Writes a group's key values into a checkpoint entry (runs inside pg::call).
  void encode_keys(const Group* g, StateEncoder& out) const;
  // Reads key values encode_keys() wrote, allocated in CurrentMemoryContext (inside pg::call).
  void decode_keys(StateDecoder& in, Datum* keys, bool* nulls) const;
  // The hash of these key values, as a group of them has (inside pg::call).
  uint32 hash(const Datum* keys, const bool* nulls) const;

 private:
  static Group* tombstone() { return reinterpret_cast<Group*>(uintptr_t(1)); }
  static bool live(const Group* g) { return g != nullptr && g != tombstone(); }
  bool same(const Group* g, const Datum* keys, const bool* nulls) const;
  void grow();
  void rehash(size_t capacity);

  const std::vector<KeyType>* types_;
  int num_aggs_;
  MemoryContext memory_;
  MemoryContext chunks_;         // slab of Group records
  std::vector<Group*> slots_;    // power-of-two sized; nullptr = empty
  size_t count_ = 0, used_ = 0;  // live groups; live + tombstones
};

// The values an aggregate with DISTINCT has already seen in one group.
class DistinctSet {
 public:
  // Whether `value` is new; remembers it (copied into `memory`) if so.
  bool insert(const KeyType& type, Datum value, MemoryContext memory);
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [hash, value] : seen_) f(value);
  }
  size_t size() const { return seen_.size(); }

 private:
  std::unordered_multimap<uint32, Datum> seen_;
};

}  // namespace arroyo
