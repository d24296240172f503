#include "connectors/websocket/raw_payload.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "mb/pg_wchar.h"
}

namespace arroyo {

namespace {

// The one column a raw_string table's connector fills, or nullptr if there is not exactly one.
const ColumnInfo* payload_column(const TableSpec& spec, int* count) {
  const ColumnInfo* found = nullptr;
  *count = 0;
  for (const ColumnInfo& c : spec.columns) {
    if (c.generated) continue;
    found = &c;
    (*count)++;
  }
  return *count == 1 ? found : nullptr;
}

}  // namespace

void validate_raw_payload_table(const TableSpec& spec) {
  int count;
  const ColumnInfo* col = payload_column(spec, &count);
  if (!col)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "format \"raw_string\" needs exactly one column, of type text",
             spec.name + " has " + std::to_string(count) + " columns to fill.",
             "Declare one text column for the message; generated columns may derive more.");
  if (col->type != TEXTOID)
    pg::fail(ERRCODE_DATATYPE_MISMATCH,
             "format \"raw_string\" needs exactly one column, of type text",
             "Column \"" + col->name + "\" has another type.");
}

RawPayloadDecoder::RawPayloadDecoder(const TableSpec& spec) {
  int count;
  if (const ColumnInfo* col = payload_column(spec, &count)) column_ = col->attnum - 1;
}

void RawPayloadDecoder::decode(const char* data, size_t len, Batch& out, int row) {
  Datum value = pg::call([&] {
    // Rejects invalid UTF-8 and NUL bytes, naming the offending bytes.
    pg_verify_mbstr(PG_UTF8, data, int(len), false);
    char* converted = pg_any_to_server(data, int(len), PG_UTF8);
    size_t converted_len = converted == data ? len : strlen(converted);
    return PointerGetDatum(cstring_to_text_with_len(converted, int(converted_len)));
  });
  out.values(row)[column_] = value;
  out.nulls(row)[column_] = false;
}

}  // namespace arroyo
