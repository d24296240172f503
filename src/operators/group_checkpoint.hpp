// Writing the groups of a GroupTable that changed since the last checkpoint, and creating them
// again from a checkpoint's entries: the loops the stateful operators share.
#pragma once

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
// temporaries in `scratch` (reset after). `what` names the operator in errors.
// (`Table`: a GroupTable, or any table with the same find_or_create, key_count and
// decode_keys.)
template <typename Table, typename DecodeValue>
auto* restore_group_bytes(Table& table, const char* key_data, size_t key_len,
                          const char* value_data, size_t value_len, MemoryContext scratch,
                          const std::string& what, DecodeValue&& decode_value) {
  StateDecoder key(key_data, key_len, "a group key of " + what);
  StateDecoder value(value_data, value_len, "a group of " + what);
  std::vector<Datum> keys(table.key_count() + 1);
  std::unique_ptr<bool[]> nulls(new bool[table.key_count() + 1]);
  bool created = false;
  decltype(table.find_or_create(nullptr, nullptr, &created)) g = nullptr;
  pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(scratch);
    table.decode_keys(key, keys.data(), nulls.get());
    MemoryContextSwitchTo(old);
    g = table.find_or_create(keys.data(), nulls.get(), &created);
  });
  key.expect_end();
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

// Creates the group a checkpoint entry's key names and has decode_value(group, decoder) read
// its state from the entry's value (see restore_group_bytes). The group is marked saved, where
// the entry is stored.
template <typename DecodeValue>
Group* restore_group(GroupTable& table, const StateEntry& e, MemoryContext scratch,
                     const std::string& what, DecodeValue&& decode_value) {
  Group* g = restore_group_bytes(table, e.key.data(), e.key.size(), e.value.data(), e.value.size(),
                                 scratch, what, decode_value);
  g->persisted = true;
  g->saved_tid = e.tid;
  return g;
}

}  // namespace arroyo
