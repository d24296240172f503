// Writing the groups of a GroupTable that changed since the last checkpoint, and creating them
// again from a checkpoint's entries: the loops the stateful operators share.
#pragma once

#include "core/key_groups.hpp"
#include "operators/group_table.hpp"
#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

#include <memory>
#include <string>
#include <vector>

namespace arroyo {

// Writes one entry into `part` for every group `unsaved` lists — key: the group's key values;
// value: what encode_value(group, encoder) writes, inside pg::call — then marks them saved.
// Groups no checkpoint holds yet are inserted, the others replaced. What encoding allocates
// (detoasted values, serialized aggregate states) goes into `scratch`, reset after each group.
template <typename EncodeValue>
void write_changed_groups(StateWriter& w, int64 part, const GroupTable& table,
                          UnsavedGroups& unsaved, MemoryContext scratch,
                          EncodeValue&& encode_value) {
  StateEncoder key, value;
  for (Group* g : unsaved.groups()) {
    key.clear();
    value.clear();
    pg::call([&] {
      MemoryContext old = MemoryContextSwitchTo(scratch);
      table.encode_keys(g, key);
      encode_value(g, value);
      MemoryContextSwitchTo(old);
      MemoryContextReset(scratch);
    });
    if (g->persisted)
      w.put(part, key.bytes(), value.bytes(), &g->saved_tid);
    else
      w.insert(part, key.bytes(), value.bytes(), &g->saved_tid);
    g->persisted = true;
  }
  unsaved.clear();
}

// Creates the group whose encoded key values are key[0, key_len) and has
// decode_value(group, decoder) read its state from value[0, value_len), inside pg::call,
// temporaries in `scratch` (reset after). `what` names the operator in errors. With `keep`
// (rescaling), a group whose key hash it does not keep is skipped: nullptr.
// (`Table`: a GroupTable, or any table with the same find_or_create, hash, key_count and
// decode_keys.)
template <typename Table, typename DecodeValue>
auto* restore_group_bytes(Table& table, const char* key_data, size_t key_len,
                          const char* value_data, size_t value_len, MemoryContext scratch,
                          const std::string& what, DecodeValue&& decode_value,
                          const KeyGroupFilter* keep = nullptr) {
  StateDecoder key(key_data, key_len, "a group key of " + what);
  StateDecoder value(value_data, value_len, "a group of " + what);
  std::vector<Datum> keys(table.key_count() + 1);
  std::unique_ptr<bool[]> nulls(new bool[table.key_count() + 1]);
  bool created = false, kept = true;
  decltype(table.find_or_create(nullptr, nullptr, &created)) g = nullptr;
  pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(scratch);
    table.decode_keys(key, keys.data(), nulls.get());
    MemoryContextSwitchTo(old);
    kept = !keep || keep->keeps(table.hash(keys.data(), nulls.get()));
    if (kept) g = table.find_or_create(keys.data(), nulls.get(), &created);
  });
  key.expect_end();
  if (!kept) {
    pg::call([&] { MemoryContextReset(scratch); });
    return g;
  }
  if (!created) key.corrupt("the group appears twice");
  pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(scratch);
    decode_value(g, value);
    MemoryContextSwitchTo(old);
  });
  value.expect_end();
  pg::call([&] { MemoryContextReset(scratch); });
  return g;
}

// Whether `keep` keeps the group whose encoded key values are `key` (rescaling an entry that
// names a group of `table` without creating it). `what` names the operator in errors.
inline bool group_kept(const GroupTable& table, const std::string& key, const KeyGroupFilter& keep,
                       MemoryContext scratch, const std::string& what) {
  StateDecoder in(key.data(), key.size(), "a group key of " + what);
  std::vector<Datum> keys(table.key_count() + 1);
  std::unique_ptr<bool[]> nulls(new bool[table.key_count() + 1]);
  bool kept = pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(scratch);
    table.decode_keys(in, keys.data(), nulls.get());
    bool k = keep.keeps(table.hash(keys.data(), nulls.get()));
    MemoryContextSwitchTo(old);
    MemoryContextReset(scratch);
    return k;
  });
  in.expect_end();
  return kept;
}

// Creates the group a checkpoint entry's key names and has decode_value(group, decoder) read
// its state from the entry's value (see restore_group_bytes). The group is marked saved, where
// the entry is stored. Rescaling (`rescale`): only a group `rescale->keep` keeps (else
// nullptr), marked unsaved in `rescale->unsaved`, to be written afresh.
struct RescaleGroups {
  KeyGroupFilter keep;
  UnsavedGroups* unsaved;
};
template <typename DecodeValue>
Group* restore_group(GroupTable& table, const StateEntry& e, MemoryContext scratch,
                     const std::string& what, DecodeValue&& decode_value,
                     const RescaleGroups* rescale = nullptr) {
  Group* g = restore_group_bytes(table, e.key.data(), e.key.size(), e.value.data(), e.value.size(),
                                 scratch, what, decode_value, rescale ? &rescale->keep : nullptr);
  if (!g) return nullptr;
  if (rescale) {
    g->persisted = false;
    rescale->unsaved->mark(g);
    return g;
  }
  g->persisted = true;
  g->saved_tid = e.tid;
  return g;
}

}  // namespace arroyo
