// Writing the groups of a GroupTable that changed since the last checkpoint: the one loop the
// stateful operators share.
#pragma once

#include "operators/group_table.hpp"
#include "pg/guard.hpp"
#include "state/checkpoint_store.hpp"
#include "state/codec.hpp"

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

}  // namespace arroyo
