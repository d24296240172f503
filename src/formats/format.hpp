// The format layer shared by message-based connectors (kafka, and later others): a table's
// `format` option picks a RowDecoder (message payload -> rows) and a RowEncoder (row ->
// payload). Formats today: json and raw_string. A changelog format such as debezium_json fits
// the same interfaces: a decoder may append a delete and an insert for one message, and an
// encoder receives each row's op.
#pragma once

#include "connectors/connector.hpp"

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

// Encodes one row as a message payload.
class RowEncoder {
 public:
  virtual ~RowEncoder() = default;
  // Replaces `out` with the payload of a row in the table's full layout; returns false for a
  // row whose payload is absent (a message without a value). Throws pg::Error for a row the
  // format cannot express (e.g. a delete in an append-only format).
  virtual bool encode(const Datum* values, const bool* nulls, RowOp op, std::string& out) = 0;
};

// Checks that a table's columns suit `format` (its non-metadata, non-generated columns); throws
// an error naming the format and the column otherwise. Builds the codec to check the types.
void validate_message_format(const std::string& format, const TableSpec& spec, TableRole role);

std::unique_ptr<RowDecoder> make_row_decoder(const std::string& format, const TableSpec& spec);
std::unique_ptr<RowEncoder> make_row_encoder(const std::string& format, const TableSpec& spec);

}  // namespace arroyo
