// The json format, shared by every connector: JsonDecoder turns one JSON object into one row,
// JsonEncoder turns one row into one JSON object. Both convert values with PostgreSQL's own
// type semantics (input/output functions, to_json's rendering), decided per column up front.
#pragma once

#include "core/batch.hpp"
#include "core/table_spec.hpp"
#include "formats/json_scan.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace arroyo {

// The format's table options (today "json.timestamp_format"), for a connector's option specs.
std::vector<OptionSpec> json_format_option_specs();

enum class JsonTimestampFormat { Rfc3339, UnixMillis };
// Reads "json.timestamp_format" (default rfc3339).
JsonTimestampFormat json_timestamp_format(const Options& options);
// Reads "json.max_depth" (default kJsonDefaultMaxDepth); throws for a value above
// kJsonMaxMaxDepth, naming the option.
size_t json_max_depth(const Options& options);
constexpr int64 kJsonMaxMaxDepth = 1000000;
// The SQLSTATE for a rejected document.
int json_scan_errcode(const JsonScanError& e);

// Owns a PostgreSQL memory context (a child of TopMemoryContext) for a C++ object's lifetime.
class OwnedMemoryContext {
 public:
  explicit OwnedMemoryContext(const char* name);
  ~OwnedMemoryContext();
  OwnedMemoryContext(const OwnedMemoryContext&) = delete;
  OwnedMemoryContext& operator=(const OwnedMemoryContext&) = delete;
  MemoryContext get() const { return context_; }

 private:
  MemoryContext context_;
};

// Decodes JSON objects into rows of one table. Fills the table's non-generated columns that
// have no "metadata" column option; a column takes the field of the same name (exact match),
// a missing field or JSON null gives NULL, other fields are ignored. Values go through the
// column type's input function: strings unescaped, numbers as their exact source text,
// booleans as true/false, objects and arrays as their JSON text. A json/jsonb column receives
// every value as JSON text (so "abc" stays the JSON string "abc"); an array column receives a
// JSON array as the equivalent array literal ([1,null] -> {1,NULL}). Objects and arrays may
// nest json.max_depth deep (counting the row's object); a deeper document is bad data, wherever
// its deep part is. With json.timestamp_format
// 'unix_millis', a number going into a timestamp or timestamptz column is epoch milliseconds
// (for timestamp: the UTC wall-clock time).
class JsonDecoder {
 public:
  // Looks up the columns' input functions (throws pg::Error for unusable column types).
  JsonDecoder(const TableSpec& spec, const Options& options);
  ~JsonDecoder();
  JsonDecoder(const JsonDecoder&) = delete;
  JsonDecoder& operator=(const JsonDecoder&) = delete;

  // Fills row `row` of `out` (already appended, all NULL; full table row layout) from one JSON
  // object. By-reference values are palloc'd in CurrentMemoryContext. Throws pg::Error when the
  // text is not a JSON object or a value does not fit its column (the message names the column).
  void decode(const char* data, size_t len, Batch& out, int row);

 private:
  struct Column {
    std::string name;       // in the database encoding, for messages
    std::string json_name;  // the key it matches, in UTF-8
    int index;              // attnum - 1
    Oid type;
    int32 typmod;
    Oid ioparam;
    bool is_domain;      // NULLs must still pass the domain's input (NOT NULL constraints)
    bool raw_json;       // json/jsonb (or a domain over them)
    bool epoch_millis;   // timestamp/timestamptz under json.timestamp_format 'unix_millis'
    bool epoch_auto;     // timestamp/timestamptz in Debezium's encodings (format debezium_json)
    bool epoch_days;     // date in Debezium's encoding
    bool array_literal;  // an array type: JSON arrays become array literals
    bool json_elements;  // ... of json or jsonb
    FmgrInfo input;
  };
  static std::vector<Column> plan_columns(const TableSpec& spec, const Options& options,
                                          MemoryContext context);
  static std::vector<JsonScanField> scan_fields(const std::vector<Column>& columns);
  // Converts the scanned values of one row; runs inside one pg::call (plain C only).
  void convert(Datum* values, bool* nulls);

  OwnedMemoryContext context_;   // owns the FmgrInfo caches
  std::vector<Column> columns_;  // parallel to the scanner's fields; never resized after setup
  JsonScanner scanner_;
  bool from_utf8_;           // the database encoding is not UTF-8: convert texts
  int failing_column_ = -1;  // the column being converted when an error struck
};

// Encodes rows of one table as JSON objects: one key per column of the TableSpec (in order,
// except columns with a "metadata" option), values rendered as PostgreSQL's to_json does
// (numbers unquoted unless NaN/Infinity, booleans, json/jsonb embedded, arrays and composites
// as JSON arrays/objects, date/timestamp/timestamptz in ISO 8601, NULL as null). With
// json.timestamp_format 'unix_millis', finite timestamps and timestamptzs are epoch
// milliseconds numbers. Output is UTF-8 whatever the database encoding.
class JsonEncoder {
 public:
  JsonEncoder(const TableSpec& spec, const Options& options);
  ~JsonEncoder();
  JsonEncoder(const JsonEncoder&) = delete;
  JsonEncoder& operator=(const JsonEncoder&) = delete;

  // Appends one JSON object (no newline) for a row in the table's full row layout.
  void encode(const Datum* values, const bool* nulls, std::string& out);
  // The same object, valid until the next call.
  std::string_view encode(const Datum* values, const bool* nulls);

 private:
  enum class Kind : uint8 {
    Bool,
    Int2,
    Int4,
    Int8,
    Number,
    DateTime,
    EpochMillis,
    EpochMicros,
    EpochDays,
    Json,
    Array,
    Composite,
    Cast,
    Text
  };
  struct Field {
    std::string prefix;  // `{"name":` or `,"name":`, in the database encoding
    int index;           // attnum - 1
    Kind kind;
    Oid base_type;
    FmgrInfo function;  // output function, or the cast to json for Kind::Cast
  };
  static std::vector<Field> plan_fields(const TableSpec& spec, const Options& options,
                                        MemoryContext context);
  // Appends one non-NULL value to buf_; runs inside pg::call (plain C only).
  void append_value(Field& field, Datum value);
  void append_int(int64 value);

  OwnedMemoryContext context_;  // owns buf_, row_context_ and the FmgrInfo caches
  std::vector<Field> fields_;   // never resized after setup
  MemoryContext row_context_;   // scratch for one row, reset per row
  StringInfoData buf_;
  bool to_utf8_;
};

}  // namespace arroyo
