// The avro format: rows as Avro binary records (Kafka messages, Avro object container files).
//
// A table's record schema is its `avro.schema` option (Avro's JSON schema text, parsed and
// checked with libavro), or, for sinks without one, derived from the columns: a record named
// after the table whose fields are the columns, in order, each a union ["null", T] with
// default null. Columns map to Avro types as follows (other types are refused, naming the
// column): boolean -> boolean; smallint, integer -> int; bigint -> long; real -> float;
// double precision -> double; text, varchar, char, name -> string; numeric -> string (its
// exact text: Avro's decimal needs a fixed scale, which an unconstrained numeric lacks);
// bytea -> bytes; timestamptz -> long (timestamp-micros: microseconds since the Unix epoch);
// timestamp -> long (local-timestamp-micros); date -> int (date: days since the Unix epoch).
// A given schema must be a record; its fields are matched to columns by name and must have the
// column's Avro type, or a union of it with "null". A sink writes every field, so each field
// must be a column and each column a field; a source ignores fields without a column (of the
// types above) and leaves columns without a field NULL.
//
// `avro.confluent_schema_id` (Kafka) selects Confluent's wire format: each message is the magic
// byte 0, the schema id as 4 big-endian bytes, then the record; a source rejects messages with
// another magic byte or id (bad data). Decoding is bounded by the message: every length is
// checked against the bytes left, and trailing bytes are an error.
#pragma once

#include "core/batch.hpp"
#include "core/table_spec.hpp"
#include "formats/json.hpp"

#include <string>
#include <vector>

namespace arroyo {

// The format's table options: avro.schema, avro.confluent_schema_id.
std::vector<OptionSpec> avro_format_option_specs();

// A table's columns matched with the fields of its Avro record schema.
class AvroCodec {
 public:
  // `sink`: a schema may be derived from the columns, and must cover them all. Throws
  // pg::Error naming the option or the column.
  AvroCodec(const TableSpec& spec, bool sink);
  ~AvroCodec();
  AvroCodec(const AvroCodec&) = delete;
  AvroCodec& operator=(const AvroCodec&) = delete;

  // The record schema's JSON text (as given, or derived).
  const std::string& schema_json() const { return schema_json_; }
  // Appends the Avro binary encoding of one row (full table row layout) to `out`.
  void encode(const Datum* values, const bool* nulls, std::string& out);
  // Fills row `row` of `out` (appended, all NULL) from one Avro binary record, which must take
  // exactly `len` bytes. By-reference values are palloc'd in CurrentMemoryContext.
  void decode(const char* data, size_t len, Batch& out, int row);

  enum class Type : uint8 { Boolean, Int, Long, Float, Double, String, Bytes, Timestamp, Date };

 private:
  struct Field {
    std::string name;
    int index;  // attnum - 1, or -1: a field without a column (decoded and skipped)
    Type type;
    int null_branch;  // -1: not nullable; else the union branch of "null" (0 or 1)
    Oid column_type;
    int32 typmod;
    Oid ioparam;
    FmgrInfo io;  // output (sink) or input (source) function, for String fields
  };

  void plan_given(const TableSpec& spec, bool sink);
  void plan_derived(const TableSpec& spec);
  void encode_value(Field& f, Datum value, std::string& out);
  Datum decode_value(Field& f, const char*& p, const char* end);

  OwnedMemoryContext context_;  // owns the FmgrInfo caches
  std::vector<Field> fields_;   // in the record's field order
  std::string schema_json_;
  std::string scratch_;
  bool sink_;
  bool utf8_db_;
};

// Avro object container files (the filesystem sink): the header of a file with the given
// record schema and 16-byte sync marker, no compression.
std::string avro_container_header(const std::string& schema_json, const std::string& sync);
// Appends one data block: `count` records whose encodings are `records`, then the sync marker.
void avro_container_block(std::string& out, int64 count, const std::string& records,
                          const std::string& sync);

// Appends Avro's zig-zag variable-length encoding of a long.
void avro_put_long(std::string& out, int64 v);

}  // namespace arroyo
