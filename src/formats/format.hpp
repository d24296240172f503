// The format layer shared by message-based connectors (kafka, and later others): a table's
// `format` option picks a RowDecoder (message payload -> rows) and a RowEncoder (rows ->
// messages). Formats today: json and raw_string. A changelog format such as debezium_json fits
// the same interfaces: a decoder may append a delete and an insert for one message (as
// DebeziumDecoder::decode does), and an encoder sees whole batches with each row's op, may
// hold a row back until the next batch (a delete followed by an insert of the same key is one
// update message, as in DebeziumEncoder) and learns the key columns from the sink.
#pragma once

#include "core/batch.hpp"
#include "core/table_spec.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace arroyo {

// The format names a connector accepts in its `format` option, in documentation order.
std::vector<std::string> message_format_names();
// Every format's own table options (e.g. "json.timestamp_format"), for a connector's specs.
std::vector<OptionSpec> message_format_option_specs();

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
  const char* data;   // nullptr: a message without a value
  size_t len;
  const Datum* values;
  const bool* nulls;
  TimestampTz time;   // the row's event time
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
  // Replaces `out` with the payload of a row; returns false for a message without a value.
  virtual bool encode_row(const Datum* values, const bool* nulls, std::string& out) = 0;
  virtual const char* format_name() const = 0;

 private:
  std::string payload_;
};

// Checks that a table's columns suit `format` (its non-metadata, non-generated columns); throws
// an error naming the format and the column otherwise. Builds the codec to check the types.
void validate_message_format(const std::string& format, const TableSpec& spec, TableRole role);

std::unique_ptr<RowDecoder> make_row_decoder(const std::string& format, const TableSpec& spec);
std::unique_ptr<RowEncoder> make_row_encoder(const std::string& format, const TableSpec& spec);

}  // namespace arroyo
