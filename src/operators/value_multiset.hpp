// The argument rows an aggregate has seen in one group, with multiplicities, so that it can be
// recomputed when a row is retracted (min, max, string_agg, ... over an updating input) or fed
// its rows sorted (DISTINCT, ORDER BY, WITHIN GROUP). Rows are compared by their values' exact
// images (detoasted bytes), not the types' equality: 1.0 and 1.00 are two rows, as in the batch
// query's input, a retraction takes out exactly the row it names, and types without an
// equality operator (json) can be kept.
#pragma once

#include "operators/group_table.hpp"

#include <unordered_map>
#include <vector>

namespace arroyo {

class StateEncoder;
class StateDecoder;

// How a kept column is stored: its type's length and passing convention.
struct ValueType {
  int16 len;
  bool byval;
  static ValueType of(Oid type);
};

struct ValueMultiset {
  struct Entry {
    Datum* args;
    bool* nulls;
    int64 count;
    int64 matches = 0;  // a join's rows: how many rows of the other side it joins with
  };

  ValueMultiset() = default;
  ValueMultiset(ValueMultiset&& other) noexcept
      : entries_(std::move(other.entries_)), rows_(other.rows_), account_(other.account_) {
    other.account_ = nullptr;
    other.rows_ = 0;
  }
  ValueMultiset& operator=(ValueMultiset&&) = delete;
  ValueMultiset(const ValueMultiset&) = delete;
  ~ValueMultiset() {
    if (account_) charge(-footprint());
  }

  // Adds the memory this multiset's C++ containers take (the rows' values are in the memory
  // context they were copied into) to *counter from now on: an operator's state_bytes.
  void account_to(int64* counter) {
    account_ = counter;
    charge(footprint());
  }

  // Adds one occurrence (copying new values into `memory`); returns its entry, valid until the
  // next change.
  Entry* add(const std::vector<ValueType>& types, const Datum* args, const bool* nulls,
             MemoryContext memory);
  // The entry of a row, or nullptr (valid until the next change).
  Entry* find(const std::vector<ValueType>& types, const Datum* args, const bool* nulls);
  bool empty() const { return entries_.empty(); }
  // The number of distinct rows (entries).
  int64 distinct_rows() const { return rows_; }
  // Removes one occurrence; false if the row was never added.
  bool remove(const std::vector<ValueType>& types, const Datum* args, const bool* nulls);
  // Writes the entries into a checkpoint / adds those a checkpoint holds (inside pg::call).
  void encode(const std::vector<ValueType>& types, StateEncoder& out) const;
  void decode(const std::vector<ValueType>& types, StateDecoder& in, MemoryContext memory);
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [hash, entries] : entries_)
      for (const Entry& e : entries) f(e);
  }
  template <typename F>
  void for_each_mutable(F&& f) {
    for (auto& [hash, entries] : entries_)
      for (Entry& e : entries) f(e);
  }

 private:
  static uint32 hash(const std::vector<ValueType>& types, const Datum* args, const bool* nulls);
  static bool same(const std::vector<ValueType>& types, const Entry& e, const Datum* args,
                   const bool* nulls);
  // Bytes of the hash table's nodes and the entries' vectors, estimated: a node holds its key,
  // a vector and the list link and cached hash, and malloc adds its header.
  int64 footprint() const {
    constexpr int64 kNode = sizeof(std::pair<const uint32, std::vector<Entry>>) + 32;
    return int64(sizeof(*this) + entries_.bucket_count() * sizeof(void*) + entries_.size() * kNode +
                 rows_ * sizeof(Entry));
  }
  void charge(int64 bytes) {
    if (account_) *account_ += bytes;
  }
  std::unordered_map<uint32, std::vector<Entry>> entries_;
  int64 rows_ = 0;  // distinct rows (entries)
  int64* account_ = nullptr;
};

// n empty multisets (delete[] them), each accounting its containers' memory to *account.
inline ValueMultiset* new_value_multisets(size_t n, int64* account) {
  ValueMultiset* sets = new ValueMultiset[n];
  for (size_t i = 0; i < n; i++) sets[i].account_to(account);
  return sets;
}

}  // namespace arroyo
