#include "operators/value_multiset.hpp"

extern "C" {
#include "common/hashfn.h"
}

#include "pg/guard.hpp"
#include "state/codec.hpp"

#include <cstring>

namespace arroyo {

void ValueMultiset::encode(const std::vector<ValueType>& types, StateEncoder& out) const {
  int64 n = 0;
  for_each([&](const Entry&) { n++; });
  out.put_int(n);
  for_each([&](const Entry& e) {
    out.put_int(e.count);
    for (size_t i = 0; i < types.size(); i++)
      out.put_datum(e.args[i], e.nulls[i], types[i].byval, types[i].len);
  });
}

void ValueMultiset::decode(const std::vector<ValueType>& types, StateDecoder& in,
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

ValueType ValueType::of(Oid type) {
  ValueType t{};
  pg::call([&] { get_typlenbyval(type, &t.len, &t.byval); });
  return t;
}

namespace {

// The bytes a by-reference value is made of: a varlena's detoasted data (in
// `*copy` when detoasting had to allocate, for the caller to free), a cstring's characters.
const char* value_bytes(const ValueType& t, const Datum& d, size_t* size, void** copy) {
  *copy = nullptr;
  if (t.len == -1) {
    struct varlena* v = (struct varlena*)DatumGetPointer(d);
    struct varlena* plain = pg_detoast_datum_packed(v);
    if (plain != v) *copy = plain;
    *size = VARSIZE_ANY_EXHDR(plain);
    return VARDATA_ANY(plain);
  }
  const char* p = (const char*)DatumGetPointer(d);
  *size = t.len == -2 ? strlen(p) : size_t(t.len);
  return p;
}

}  // namespace

// Runs inside pg::call (detoasting may fail).
uint32 ValueMultiset::hash(const std::vector<ValueType>& types, const Datum* args,
                           const bool* nulls) {
  uint32 h = 0;
  for (size_t i = 0; i < types.size(); i++) {
    uint32 k = 0x9e3779b9u;
    if (!nulls[i] && types[i].byval) {
      uint64 bits = datum_bits(args[i], types[i].len);
      k = hash_bytes((const unsigned char*)&bits, sizeof(bits));
    } else if (!nulls[i]) {
      size_t size;
      void* copy;
      const char* bytes = value_bytes(types[i], args[i], &size, &copy);
      k = hash_bytes((const unsigned char*)bytes, int(size));
      if (copy) pfree(copy);
    }
    h = hash_combine(h, k);
  }
  return h;
}

bool ValueMultiset::same(const std::vector<ValueType>& types, const Entry& e, const Datum* args,
                         const bool* nulls) {
  for (size_t i = 0; i < types.size(); i++) {
    if (e.nulls[i] != nulls[i]) return false;
    if (nulls[i]) continue;
    if (types[i].byval) {
      if (datum_bits(e.args[i], types[i].len) != datum_bits(args[i], types[i].len)) return false;
      continue;
    }
    size_t a_size, b_size;
    void *a_copy, *b_copy;
    const char* a = value_bytes(types[i], e.args[i], &a_size, &a_copy);
    const char* b = value_bytes(types[i], args[i], &b_size, &b_copy);
    bool equal = a_size == b_size && memcmp(a, b, a_size) == 0;
    if (a_copy) pfree(a_copy);
    if (b_copy) pfree(b_copy);
    if (!equal) return false;
  }
  return true;
}

ValueMultiset::Entry* ValueMultiset::find(const std::vector<ValueType>& types, const Datum* args,
                                          const bool* nulls) {
  auto it = entries_.find(hash(types, args, nulls));
  if (it == entries_.end()) return nullptr;
  for (Entry& e : it->second)
    if (same(types, e, args, nulls)) return &e;
  return nullptr;
}

ValueMultiset::Entry* ValueMultiset::add(const std::vector<ValueType>& types, const Datum* args,
                                         const bool* nulls, MemoryContext memory) {
  int64 before = account_ ? footprint() : 0;
  std::vector<Entry>& bucket = entries_[hash(types, args, nulls)];
  for (Entry& e : bucket)
    if (same(types, e, args, nulls)) {
      e.count++;
      return &e;
    }
  size_t n = types.size();
  MemoryContext old = MemoryContextSwitchTo(memory);
  Entry e{(Datum*)palloc(sizeof(Datum) * (n ? n : 1)), (bool*)palloc(sizeof(bool) * (n ? n : 1)),
          1};
  for (size_t i = 0; i < n; i++) {
    e.nulls[i] = nulls[i];
    e.args[i] = nulls[i] ? 0 : datumCopy(args[i], types[i].byval, types[i].len);
  }
  MemoryContextSwitchTo(old);
  bucket.push_back(e);
  rows_++;
  if (account_) charge(footprint() - before);
  return &bucket.back();
}

bool ValueMultiset::remove(const std::vector<ValueType>& types, const Datum* args,
                           const bool* nulls) {
  auto it = entries_.find(hash(types, args, nulls));
  if (it == entries_.end()) return false;
  auto& bucket = it->second;
  for (size_t k = 0; k < bucket.size(); k++) {
    Entry& e = bucket[k];
    if (!same(types, e, args, nulls)) continue;
    if (--e.count == 0) {
      int64 before = account_ ? footprint() : 0;
      for (size_t i = 0; i < types.size(); i++)
        if (!e.nulls[i] && !types[i].byval) pfree(DatumGetPointer(e.args[i]));
      pfree(e.args);
      pfree(e.nulls);
      bucket.erase(bucket.begin() + k);
      if (bucket.empty()) entries_.erase(it);
      rows_--;
      if (account_) charge(footprint() - before);
    }
    return true;
  }
  return false;
}

}  // namespace arroyo
