// The raw_string format: the whole message payload is one text value, for every connector
// whose tables may choose it (kafka, websocket). The table has exactly one column besides
// metadata and generated columns, of type text or varchar (or a domain over them), which holds it.
#pragma once

#include "formats/format.hpp"
#include "formats/json.hpp"

namespace arroyo {

// Throws unless the table has exactly one payload column of type text or varchar.
void validate_raw_string_columns(const TableSpec& spec);

// Set (by the DDL hook) while validating DDL run with check_function_bodies off, as pg_dump's
// scripts run: a restore creates a table before the ALTER ... ALTER COLUMN ... OPTIONS that
// mark its metadata columns, so "exactly one payload column" is not yet decidable. With more
// than one candidate the check is left to the table's use (stream_create, stream_start and
// the worker validate the table, complete by then); every other check still applies.
extern bool raw_string_defer_column_count;
// Whether that deferral applies to this table now (set, and more than one candidate column).
bool raw_string_columns_deferred(const TableSpec& spec);

// Payload bytes must be valid UTF-8 without NUL bytes; they are converted to the database
// encoding and go through the column type's input function (so varchar(n) limits and domain
// constraints apply; a plain text column takes them directly). A message without a value gives
// NULL. Errors name the column: `column "line": invalid byte sequence for encoding "UTF8": 0xff`.
class RawStringDecoder : public RowDecoder {
 public:
  explicit RawStringDecoder(const TableSpec& spec);
  void decode(const char* data, size_t len, Batch& out, TimestampTz time) override;

 private:
  OwnedMemoryContext context_;  // owns input_'s cache
  std::string column_;          // for messages
  int index_;                   // attnum - 1 of the payload column
  int32 typmod_;
  bool is_text_;  // plain text: no input function needed
  Oid ioparam_;
  FmgrInfo input_;
};

// The payload is the column's text (UTF-8); a NULL value gives a message without a value.
class RawStringEncoder : public PerRowEncoder {
 public:
  explicit RawStringEncoder(const TableSpec& spec);

 protected:
  std::string_view encode_row(const Datum* values, const bool* nulls) override;
  const char* format_name() const override { return "raw_string"; }

 private:
  OwnedMemoryContext context_;  // owns output_'s cache
  int index_;
  bool to_utf8_;
  FmgrInfo output_;
  std::string payload_;
};

}  // namespace arroyo
