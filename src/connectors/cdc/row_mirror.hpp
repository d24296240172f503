// The rows of a table whose replica identity is a key (a primary key, or REPLICA IDENTITY
// USING INDEX) rather than FULL: the WAL then carries only the key of an updated or deleted
// row, and leaves unchanged TOASTed values out of an updated one, while the pipeline needs the
// whole old row to retract it. The CDC source keeps every row it has produced here, by key,
// updates it as it polls, and checkpoints the keys that changed (with its position, so the
// mirror always matches what was polled).
#pragma once

#include "pg/postgres.hpp"

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace arroyo {

class StateWriter;
struct StateEntry;

class RowMirror {
 public:
  static constexpr int64 kPart = 1;  // checkpoint part holding the rows, by key

  // Reads the table's column layout and its key: the replica identity index, or the primary
  // key of a REPLICA IDENTITY FULL table (inside a transaction).
  void init(Oid relid, int natts);
  bool has_key() const { return !key_cols_.empty(); }
  // Whether the table's WAL carries whole old rows (then the mirror is not needed).
  bool identity_full() const { return identity_full_; }

  // Stores a row (replacing the one with its key).
  void put(const Datum* values, const bool* nulls);
  // Removes the row with the key of `values` and hands over its encoding; false if there is
  // none.
  bool take(const Datum* values, const bool* nulls, std::string& row);
  // Decodes a row `take` handed over (values allocated in CurrentMemoryContext).
  void decode(const std::string& row, Datum* values, bool* nulls) const;

  // Writes the rows that changed since the last checkpoint.
  void checkpoint(StateWriter& w);
  // Takes back one row a checkpoint wrote.
  void restore(const StateEntry& e);
  size_t size() const { return rows_.size(); }
  // Memory the kept rows take (their encodings, keys and the hash table's nodes, estimated).
  int64 bytes() const { return bytes_; }

 private:
  struct Column {
    bool byval, dropped;
    int16 len;
  };
  std::string key_of(const Datum* values, const bool* nulls) const;
  void store(const std::string& key, const std::string& row);
  static constexpr int64 kEntryOverhead = 96;  // a hash node with two std::strings

  std::vector<Column> cols_;
  std::vector<int> key_cols_;  // 0-based
  bool identity_full_ = false;
  std::unordered_map<std::string, std::string> rows_;
  std::unordered_set<std::string> dirty_;
  int64 bytes_ = 0;
};

}  // namespace arroyo
