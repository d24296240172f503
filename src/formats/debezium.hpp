// Debezium change envelopes for updating results: {"before": …, "after": …, "op": …}. An
// insert is "c", a delete "d", and a delete directly followed by an insert of the same key
// (how updating aggregates emit a changed row) is one "u". Rows are encoded by JsonEncoder.
#pragma once

#include "formats/json.hpp"

#include <string>
#include <vector>

namespace arroyo {

class DebeziumEncoder {
 public:
  DebeziumEncoder(const TableSpec& spec, const Options& options);

  // The columns (0-based) that identify a row's key; without them no delete pairs with an
  // insert, and every change is a "d" or a "c".
  void set_key_columns(const std::vector<int>& keys) { keys_ = keys; }
  // Appends one envelope per change, each followed by a newline. A trailing delete is held
  // back until the next row (or finish()) shows whether an insert of its key follows.
  void encode(const Batch& rows, std::string& out);
  // Writes out a held-back delete.
  void finish(std::string& out);

 private:
  bool same_key(const Datum* a, const bool* an, const Datum* b, const bool* bn) const;
  void envelope(const std::string& before_json, const Datum* after, const bool* after_nulls,
                const char* op, std::string& out);
  void hold(const Datum* values, const bool* nulls);
  void release();

  JsonEncoder rows_;
  std::vector<int> keys_;
  std::vector<int16> len_;
  std::vector<bool> byval_;
  int ncols_;
  // The held-back delete: its encoded row (the values may be gone once the batch is).
  bool held_ = false;
  std::vector<Datum> held_values_;
  std::vector<char> held_nulls_;
  std::string held_json_;
};

}  // namespace arroyo
