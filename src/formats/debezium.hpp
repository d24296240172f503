// Debezium change envelopes for updating results: {"before": …, "after": …, "op": …}. An
// insert is "c", a delete "d", and a delete directly followed by an insert of the same key
// (how updating aggregates emit a changed row) is one "u". Rows are encoded by JsonEncoder.
#pragma once

#include "formats/json.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace arroyo {

class DebeziumEncoder {
 public:
  DebeziumEncoder(const TableSpec& spec, const Options& options);
  ~DebeziumEncoder();

  // One envelope, with the row it stands for (the "after" row, or the "before" row of a
  // delete) and that row's event time.
  using Emit = std::function<void(const std::string& envelope, const Datum* values,
                                  const bool* nulls, TimestampTz time)>;

  // The columns (0-based) that identify a row's key; without them no delete pairs with an
  // insert, and every change is a "d" or a "c".
  void set_key_columns(const std::vector<int>& keys);
  // The key of a row as Debezium writes message keys: a JSON object of the key columns
  // (empty without key columns).
  const std::string& key_json(const Datum* values, const bool* nulls);
  // Emits one envelope per change. A trailing delete is held back until the next row (or
  // finish()) shows whether an insert of its key follows.
  void encode(const Batch& rows, const Emit& emit);
  // Emits a held-back delete.
  void finish(const Emit& emit);

 private:
  bool same_key(const Datum* values, const bool* nulls) const;
  void envelope(const std::string& before_json, const Datum* after, const bool* after_nulls,
                const char* op);
  void hold(const Datum* values, const bool* nulls, TimestampTz time);
  void release();

  JsonEncoder rows_;
  TableSpec spec_;
  std::unique_ptr<JsonEncoder> keys_encoder_;
  std::string key_;
  std::vector<int> keys_;
  std::vector<int16> len_;
  std::vector<bool> byval_;
  int ncols_;
  std::string out_;
  // The held-back delete: its encoded row and a private copy of its values.
  bool held_ = false;
  MemoryContext held_memory_;
  std::vector<Datum> held_values_;
  std::unique_ptr<bool[]> held_nulls_;
  TimestampTz held_time_ = 0;
  std::string held_json_;
};

}  // namespace arroyo

namespace arroyo {

// Reads Debezium change envelopes — {"before","after","op"}, or the {"schema","payload"} form
// of Debezium's JsonConverter with schemas enabled — as an updating stream: "c" and "r" are an
// insert of "after", "d" a delete of "before", "u" a delete of "before" then an insert of
// "after". A tombstone (an empty or null value, or a null payload) gives no row. Values may be
// in Debezium's encodings (epoch times, days for dates, decimals as strings or numbers); rows
// are decoded from their own JSON text, so a number reaches its column with every digit sent.
class DebeziumDecoder {
 public:
  DebeziumDecoder(const TableSpec& spec, const Options& options);
  ~DebeziumDecoder();
  // Appends the message's rows (0, 1 or 2) to `out` with event time `time`; a malformed
  // message throws pg::Error and leaves `out` as it was.
  void decode(const char* data, size_t len, Batch& out, TimestampTz time);

 private:
  void decode_row(std::string_view json, Batch& out, TimestampTz time, RowOp op);
  JsonDecoder rows_;
  DebeziumScanner scanner_;  // finds the envelope; rows_ decodes its rows from their own text
};

}  // namespace arroyo
