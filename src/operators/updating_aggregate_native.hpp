// The updating aggregate's compact state, for queries whose aggregates are all count(*),
// count(x) or sum of a smallint, integer or bigint: their transition states are fixed-size
// integers kept inline in the group's record (sum(bigint)'s 128-bit sum as PostgreSQL's own
// Int128AggState keeps it, without the palloc'd state), and the row last emitted is kept as
// those integers too (the states as they were at the last emission), from which its values
// are computed again when it is retracted. No per-group allocation: records are carved from
// large blocks; by-reference keys alone are copied (palloc) as in GroupTable.
//
// Results are the functions' own: count's int8, sum(int2/int4)'s int8, sum(int8)'s numeric
// (NULL without a non-null input), retractions exact. Everything else uses GroupTable and
// AggregateFunction (pg_aggregate's functions).
#pragma once

#include "operators/group_table.hpp"

#include <vector>

namespace arroyo {

struct AggregateSpec;

// The number of the compact state's format in checkpoint buckets (GroupBuckets::write()).
constexpr int64 kNativeFormatNumber = 1;
// The size of the compact state's checkpoint buckets (GroupBuckets::configure()): about 20
// groups of count/sum. Measured with checkpoint_cost (1M keys; all of them, and 1% changed):
// 1024 bytes 230 / 80 ms, 512 bytes 290 / 60 ms, 256 bytes 410 / 55 ms.
constexpr double kNativeBucketBytes = 512;

enum class NativeKind : uint8 { Count, SumInt2, SumInt4, SumInt8 };

struct NativeAggregate {
  NativeKind kind;
  int arg;         // input column of the argument; -1: count(*)
  int filter_col;  // -1: none
  int word;        // first word of its state within a group's states
  int words() const { return kind == NativeKind::Count ? 1 : kind == NativeKind::SumInt8 ? 3 : 2; }
  // The native form of an aggregate call, if it has one (false: it has not).
  static bool of(const AggregateSpec& spec, NativeAggregate* out);
};

// A group's record: this header, then the key Datums, then the aggregate states (words), then
// the states as they were when the group's row was last emitted (words): what a row touches
// (header, keys, states) first, together.
struct NativeGroup {
  static constexpr uint32 kDirty = 1, kEmitted = 2;
  uint32 hash;
  uint32 bits;  // flags (low 8 bits), the key columns' null flags (bit 8 + k)
  int64 rows;   // input rows inserted minus rows deleted
  TimestampTz last_seen;
  bool dirty() const { return bits & kDirty; }
  bool emitted() const { return bits & kEmitted; }
  void set(uint32 flag, bool on) { bits = on ? (bits | flag) : (bits & ~flag); }
  bool key_null(int k) const { return bits & (uint32(1) << (8 + k)); }
};

class NativeGroupTable {
 public:
  static constexpr int kMaxKeys = 24;

  NativeGroupTable(const std::vector<KeyType>* types, int state_words, MemoryContext memory);

  // As GroupTable's (inside pg::call); a new group's states, rows and flags are zero.
  NativeGroup* find_or_create(const Datum* keys, const bool* nulls, bool* created) {
    return find_or_create(hash(keys, nulls), keys, nulls, created);
  }
  // The same with the keys' hash already computed.
  NativeGroup* find_or_create(uint32 hash, const Datum* keys, const bool* nulls, bool* created);
  uint32 hash(const Datum* keys, const bool* nulls) const {
    return hash_keys(*types_, keys, nulls);
  }
  // Hints that the group of this hash will be looked up soon: first its slot, then (once the
  // slot is likely in cache) the group the slot points to. For a batch of rows, calling
  // prefetch_slot for each, then prefetch_group for each, before looking them up overlaps
  // their cache misses instead of taking them one after the other.
  void prefetch_slot(uint32 hash) const {
    __builtin_prefetch(&slots_[home_slot(hash, slots_.size() - 1)]);
  }
  void prefetch_group(uint32 hash) const {
    const NativeGroup* g = slots_[home_slot(hash, slots_.size() - 1)];
    if (live(g)) __builtin_prefetch(g);
  }
  template <typename F>
  void for_each(F&& f) {
    for (NativeGroup* g : slots_)
      if (live(g)) f(g);
  }
  void erase(NativeGroup* g);  // inside pg::call
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  size_t key_count() const { return types_->size(); }
  // Bytes held: the records' blocks (in the memory context) and the slot array.
  int64 slot_bytes() const { return int64(slots_.capacity() * sizeof(NativeGroup*)); }

  Datum* keys(NativeGroup* g) const { return reinterpret_cast<Datum*>(g + 1); }
  const Datum* keys(const NativeGroup* g) const { return reinterpret_cast<const Datum*>(g + 1); }
  int64* states(NativeGroup* g) const { return reinterpret_cast<int64*>(keys(g) + types_->size()); }
  int64* emitted(NativeGroup* g) const { return states(g) + words_; }
  int words() const { return words_; }

  void encode_keys(const NativeGroup* g, StateEncoder& out) const;
  void decode_keys(StateDecoder& in, Datum* keys, bool* nulls) const;

 private:
  static NativeGroup* tombstone() { return reinterpret_cast<NativeGroup*>(uintptr_t(1)); }
  static bool live(const NativeGroup* g) { return g != nullptr && g != tombstone(); }
  bool same(const NativeGroup* g, const Datum* keys, const bool* nulls) const;
  void rehash(size_t capacity);
  NativeGroup* allocate();

  const std::vector<KeyType>* types_;
  int words_;
  size_t record_;  // bytes per group
  MemoryContext memory_;
  std::vector<NativeGroup*> slots_;
  size_t count_ = 0, used_ = 0;
  char *block_ = nullptr, *block_end_ = nullptr;  // where new records are carved from
  NativeGroup* free_ = nullptr;                   // erased records (linked through `rows`)
};

}  // namespace arroyo
