// The argument rows an aggregate without an inverse transition function has seen in one group,
// with multiplicities, so the aggregate can be recomputed when a row is retracted (min, max,
// string_agg, ... over an updating input).
#pragma once

#include "operators/group_table.hpp"

#include <unordered_map>
#include <vector>

namespace arroyo {

class StateEncoder;
class StateDecoder;

struct ValueMultiset {
  struct Entry {
    Datum* args;
    bool* nulls;
    int64 count;
  };

  // Adds one occurrence (copying new values into `memory`).
  void add(const std::vector<KeyType>& types, const Datum* args, const bool* nulls,
           MemoryContext memory);
  // Removes one occurrence; false if the row was never added.
  bool remove(const std::vector<KeyType>& types, const Datum* args, const bool* nulls);
  // Writes the entries into a checkpoint / adds those a checkpoint holds (inside pg::call).
  void encode(const std::vector<KeyType>& types, StateEncoder& out) const;
  void decode(const std::vector<KeyType>& types, StateDecoder& in, MemoryContext memory);
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& [hash, entries] : entries_)
      for (const Entry& e : entries) f(e);
  }

 private:
  static uint32 hash(const std::vector<KeyType>& types, const Datum* args, const bool* nulls);
  static bool same(const std::vector<KeyType>& types, const Entry& e, const Datum* args,
                   const bool* nulls);
  std::unordered_map<uint32, std::vector<Entry>> entries_;
};

}  // namespace arroyo
