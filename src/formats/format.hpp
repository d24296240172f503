// The format layer: how a message (a Kafka message, a websocket message, a line of a file)
// becomes rows and rows become messages, for every connector that moves payloads (kafka,
// websocket, single_file). A table's `format` option picks a RowDecoder (payload -> rows) and a
// RowEncoder (rows -> payloads). Formats: json, raw_string, avro (formats/avro.hpp) and
// debezium_json, a changelog format:
// its decoder may append a delete and an insert for one message, and its encoder sees whole
// batches with each row's op, may hold a row back until the next batch (a delete followed by an
// insert of the same key is one update message) and learns the key columns from the sink.
//
// The options that select and configure a format are declared and checked here, once for all
// those connectors: `format`, `bad_data` (sources), `json.timestamp_format`, `json.max_depth`
// debezium_json's `primary_key` (sources), `avro.schema` and `avro.confluent_schema_id`. A
// connector lists the formats it supports, adds format_option_specs() to its own specs, calls
// validate_table_format() from validate_table(), builds its codec with make_row_decoder() /
// make_row_encoder() and decodes under BadData.
#pragma once

#include "core/batch.hpp"
#include "core/table_spec.hpp"
#include "pg/guard.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace arroyo {

// Every format name, in documentation order.
std::vector<std::string> message_format_names();

// The specs of the format options for a connector whose tables may choose among `formats`
// (names from message_format_names(); a table without `format` is json): `format`, `bad_data`,
// the json options when json or debezium_json is among them, `primary_key` with debezium_json.
std::vector<OptionSpec> format_option_specs(const std::vector<std::string>& formats);
// Whether `name` is a format option only sources take (bad_data, primary_key).
bool is_source_only_format_option(const std::string& name);
// The table's format: its `format` option, or json.
std::string table_format(const TableSpec& spec);
// Whether the table's format carries changes (debezium_json): such a source is an updating
// source, such a sink takes updating results (Connector::produces_updates / accepts_updates).
bool format_is_updating(const TableSpec& spec);
// Checks a table's format options together (after validate_options accepted each of them):
// source-only options on a sink, the options of another format, primary_key against the
// columns; then the columns against the format (building the codec looks up every column
// type's input or output function). Errors name the option or the column.
void validate_table_format(const TableSpec& spec, TableRole role);

// Decodes one message payload into rows of a table (its full row layout).
class RowDecoder {
 public:
  virtual ~RowDecoder() = default;
  // The most rows one message can produce (the caller keeps that much room in the batch).
  virtual int max_rows_per_message() const { return 1; }
  // Appends the rows of one message to `out`, each with event time `time`; by-reference values
  // are palloc'd in CurrentMemoryContext. `data` is NULL for a message without a value. Throws
  // pg::Error for a payload that does not fit the table; it may leave a partly filled row
  // behind, which the caller removes (Batch::truncate to the size before the call).
  virtual void decode(const char* data, size_t len, Batch& out, TimestampTz time) = 0;
};

// One encoded message: its payload, and the row it stands for (in the table's full layout),
// from which the connector takes the message's key and timestamp.
struct EncodedMessage {
  const char* data;  // nullptr: a message without a value
  size_t len;
  const Datum* values;
  const bool* nulls;
  TimestampTz time;  // the row's event time
  // The format's own message key (Debezium: the row's key columns as a JSON object), used
  // when the connector has no key of its own; nullptr: none.
  const std::string* key = nullptr;
};
using MessageEmitter = std::function<void(const EncodedMessage&)>;

// Encodes rows as messages.
class RowEncoder {
 public:
  virtual ~RowEncoder() = default;
  // The columns (0-based) that identify a row, for changelog formats (Sink::set_key_columns).
  virtual void set_key_columns(const std::vector<int>&) {}
  // Encodes a batch, calling `emit` once per message, in order. Throws pg::Error for a row the
  // format cannot express (e.g. a delete in an append-only format).
  virtual void encode(const Batch& rows, const MessageEmitter& emit) = 0;
  // Emits whatever encode() held back (called before each commit).
  virtual void finish(const MessageEmitter&) {}
};

// An encoder of append-only formats: one message per inserted row.
class PerRowEncoder : public RowEncoder {
 public:
  void encode(const Batch& rows, const MessageEmitter& emit) override;

 protected:
  // The payload of a row, valid until the next call; data() is nullptr for a message without
  // a value.
  virtual std::string_view encode_row(const Datum* values, const bool* nulls) = 0;
  virtual const char* format_name() const = 0;
};

// The codec of a table's format (table_format(spec)), for a source or a sink.
std::unique_ptr<RowDecoder> make_row_decoder(const TableSpec& spec);
std::unique_ptr<RowEncoder> make_row_encoder(const TableSpec& spec);

// A source's `bad_data` policy around decoding one message (or line), and its count of
// dropped ones (Source::bad_rows).
class BadData {
 public:
  explicit BadData(const TableSpec& spec);
  // Runs `decode()`, which appends the rows of one message to `out`. If it throws pg::Error,
  // the rows it appended are removed; then under bad_data 'fail' the error is thrown again
  // with `where()` and ": " in front of its message (e.g. `bad data in "/f.json" line 2`),
  // and under 'drop' the message is counted. Returns whether the message became rows.
  template <typename Decode, typename Where>
  bool decode(Batch& out, Decode&& decode, Where&& where) {
    int before = out.size();
    try {
      decode();
      return true;
    } catch (const pg::Error& e) {
      out.truncate(before);
      if (!drop_)
        throw pg::Error(e.sqlerrcode(), where() + ": " + e.message(), e.detail(), e.hint());
      bad_rows_++;
      return false;
    }
  }
  int64 bad_rows() const { return bad_rows_; }

 private:
  bool drop_;
  int64 bad_rows_ = 0;
};

}  // namespace arroyo
