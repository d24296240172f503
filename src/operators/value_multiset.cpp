#include "operators/value_multiset.hpp"

extern "C" {
#include "common/hashfn.h"
}

#include "state/codec.hpp"

namespace arroyo {

void ValueMultiset::encode(const std::vector<KeyType>& types, StateEncoder& out) const {
  int64 n = 0;
  for_each([&](const Entry&) { n++; });
  out.put_int(n);
  for_each([&](const Entry& e) {
    out.put_int(e.count);
    for (size_t i = 0; i < types.size(); i++)
      out.put_datum(e.args[i], e.nulls[i], types[i].byval, types[i].len);
  });
}

void ValueMultiset::decode(const std::vector<KeyType>& types, StateDecoder& in,
                           MemoryContext memory) {
  int64 n = in.get_int();
  size_t width = types.size();
  Datum* args = (Datum*)palloc(sizeof(Datum) * (width ? width : 1));
  bool* nulls = (bool*)palloc(sizeof(bool) * (width ? width : 1));
  for (int64 k = 0; k < n; k++) {
    int64 count = in.get_int();
    if (count <= 0) in.corrupt("a value is counted " + std::to_string(count) + " times");
    for (size_t i = 0; i < width; i++)
      args[i] = in.get_datum(&nulls[i], types[i].byval, types[i].len);
    for (int64 c = 0; c < count; c++) add(types, args, nulls, memory);
  }
}

// Runs inside pg::call: hash and equality are PostgreSQL functions.
uint32 ValueMultiset::hash(const std::vector<KeyType>& types, const Datum* args,
                           const bool* nulls) {
  uint32 h = 0;
  for (size_t i = 0; i < types.size(); i++)
    h = hash_combine(h, nulls[i] ? 0x9e3779b9u
                                 : DatumGetUInt32(FunctionCall1Coll(types[i].hash,
                                                                    types[i].collation, args[i])));
  return h;
}

bool ValueMultiset::same(const std::vector<KeyType>& types, const Entry& e, const Datum* args,
                         const bool* nulls) {
  for (size_t i = 0; i < types.size(); i++) {
    if (e.nulls[i] != nulls[i]) return false;
    if (!nulls[i] &&
        !DatumGetBool(FunctionCall2Coll(types[i].eq, types[i].collation, e.args[i], args[i])))
      return false;
  }
  return true;
}

void ValueMultiset::add(const std::vector<KeyType>& types, const Datum* args, const bool* nulls,
                        MemoryContext memory) {
  std::vector<Entry>& bucket = entries_[hash(types, args, nulls)];
  for (Entry& e : bucket)
    if (same(types, e, args, nulls)) {
      e.count++;
      return;
    }
  size_t n = types.size();
  MemoryContext old = MemoryContextSwitchTo(memory);
  Entry e{(Datum*)palloc(sizeof(Datum) * (n ? n : 1)), (bool*)palloc(sizeof(bool) * (n ? n : 1)), 1};
  for (size_t i = 0; i < n; i++) {
    e.nulls[i] = nulls[i];
    e.args[i] = nulls[i] ? 0 : datumCopy(args[i], types[i].byval, types[i].len);
  }
  MemoryContextSwitchTo(old);
  bucket.push_back(e);
}

bool ValueMultiset::remove(const std::vector<KeyType>& types, const Datum* args,
                           const bool* nulls) {
  auto it = entries_.find(hash(types, args, nulls));
  if (it == entries_.end()) return false;
  auto& bucket = it->second;
  for (size_t k = 0; k < bucket.size(); k++) {
    Entry& e = bucket[k];
    if (!same(types, e, args, nulls)) continue;
    if (--e.count == 0) {
      for (size_t i = 0; i < types.size(); i++)
        if (!e.nulls[i] && !types[i].byval) pfree(DatumGetPointer(e.args[i]));
      pfree(e.args);
      pfree(e.nulls);
      bucket.erase(bucket.begin() + k);
      if (bucket.empty()) entries_.erase(it);
    }
    return true;
  }
  return false;
}

}  // namespace arroyo
