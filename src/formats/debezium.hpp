// Debezium change envelopes for updating results: {"before": …, "after": …, "op": …}. An
// insert is "c", a delete "d", and a delete directly followed by an insert of the same key
// (how updating aggregates emit a changed row) is one "u". Rows are encoded by JsonEncoder.
#pragma once

#include "formats/json.hpp"

#include <memory>
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

namespace simdjson::dom {
class parser;
}

namespace arroyo {

// Reads Debezium change envelopes — {"before","after","op"}, or the {"schema","payload"} form
// of Debezium's JsonConverter with schemas enabled — as an updating stream: "c" and "r" are an
// insert of "after", "d" a delete of "before", "u" a delete of "before" then an insert of
// "after". A tombstone (an empty or null value, or a null payload) gives no row. Values may be
// in Debezium's encodings (epoch times, days for dates, decimals as strings or numbers).
class DebeziumDecoder {
 public:
  DebeziumDecoder(const TableSpec& spec, const Options& options);
  ~DebeziumDecoder();
  // Appends the message's rows (0, 1 or 2) to `out` with event time `time`; a malformed
  // message throws pg::Error and leaves `out` as it was.
  void decode(const char* data, size_t len, Batch& out, TimestampTz time);

 private:
  void decode_row(const std::string& json, Batch& out, TimestampTz time, RowOp op);
  JsonDecoder rows_;
  std::unique_ptr<simdjson::dom::parser> parser_;
};

}  // namespace arroyo
