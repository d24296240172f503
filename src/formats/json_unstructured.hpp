// Schemaless JSON (Arroyo's `json.unstructured`): a table of format json whose only column
// besides metadata and generated columns is of type json or jsonb (or a domain over them) takes
// each whole message as that column's value, whatever its keys; PostgreSQL's JSON operators do
// the rest in the query. A sink of that shape writes the column's value as the message itself.
#pragma once

#include "formats/format.hpp"
#include "formats/json.hpp"

namespace arroyo {

// Whether a json-format table reads and writes whole messages: its option json.unstructured
// ('true' or 'false'), else whether its only payload column is json or jsonb.
bool json_unstructured(const TableSpec& spec);
// Checks json.unstructured 'true' against the table's columns.
void validate_json_unstructured(const TableSpec& spec);

// Each message must be valid JSON (any value: object, array, scalar) nested at most
// json.max_depth deep; it is converted from UTF-8 and goes through the column type's input
// function (so a domain's checks apply). A message without a value gives NULL.
class UnstructuredJsonDecoder : public RowDecoder {
 public:
  explicit UnstructuredJsonDecoder(const TableSpec& spec);
  void decode(const char* data, size_t len, Batch& out, TimestampTz time) override;

 private:
  OwnedMemoryContext context_;  // owns input_'s cache
  DebeziumScanner scanner_;     // checks syntax and depth without recursing
  std::string column_;
  int index_;
  int32 typmod_;
  Oid ioparam_;
  FmgrInfo input_;
};

// The message is the column's JSON text in UTF-8; NULL gives the JSON text null.
class UnstructuredJsonEncoder : public PerRowEncoder {
 public:
  explicit UnstructuredJsonEncoder(const TableSpec& spec);

 protected:
  std::string_view encode_row(const Datum* values, const bool* nulls) override;
  const char* format_name() const override { return "json"; }

 private:
  OwnedMemoryContext context_;  // owns output_'s cache
  int index_;
  bool to_utf8_;
  FmgrInfo output_;
  std::string payload_;
};

}  // namespace arroyo
