// Rows an operator keeps across rounds (window functions, top-N): the values of one row copied
// into the operator's memory, and their checkpoint encoding.
#pragma once

#include "pg/postgres.hpp"
#include "state/codec.hpp"

#include <vector>

namespace arroyo {

// One kept row: `values`/`nulls` (and copies of its by-reference values) in one memory context.
struct StoredRow {
  Datum* values = nullptr;
  bool* nulls = nullptr;
  TimestampTz time = 0;
};

// How the columns of kept rows are stored.
class RowLayout {
 public:
  explicit RowLayout(TupleDesc desc);
  int ncols() const { return int(len_.size()); }
  // Copies a row into CurrentMemoryContext (inside pg::call).
  StoredRow copy(const Datum* values, const bool* nulls, TimestampTz time) const;
  // Frees a row copy() made (inside pg::call).
  void free(StoredRow& row) const;
  // Bytes a row holds (for state_bytes).
  int64 bytes(const StoredRow& row) const;
  // Whether two rows have the same values (the same image: a retraction repeats its row).
  bool same(const StoredRow& a, const Datum* values, const bool* nulls) const;
  // Checkpoint encoding (inside pg::call); decode allocates in CurrentMemoryContext.
  void encode(const StoredRow& row, StateEncoder& out) const;
  StoredRow decode(StateDecoder& in) const;

 private:
  std::vector<int16> len_;
  std::vector<bool> byval_;
};

}  // namespace arroyo
