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
// Groups no checkpoint holds yet are inserted, the others replaced.
template <typename EncodeValue>
void write_changed_groups(StateWriter& w, int64 part, const GroupTable& table,
                          UnsavedGroups& unsaved, EncodeValue&& encode_value) {
  StateEncoder key, value;
  for (Group* g : unsaved.groups()) {
    key.clear();
    value.clear();
    pg::call([&] {
      table.encode_keys(g, key);
      encode_value(g, value);
    });
    if (g->persisted)
      w.put(part, key.bytes(), value.bytes());
    else
      w.insert(part, key.bytes(), value.bytes());
    g->persisted = true;
  }
  unsaved.clear();
}

}  // namespace arroyo
