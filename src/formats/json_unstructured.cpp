#include "formats/json_unstructured.hpp"

#include "formats/raw_string.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "mb/pg_wchar.h"
}

namespace arroyo {

namespace {

// The columns that may hold the message: not generated, no "metadata" option.
std::vector<const ColumnInfo*> payload_columns(const TableSpec& spec) {
  std::vector<const ColumnInfo*> out;
  for (const ColumnInfo& col : spec.columns)
    if (!col.generated && !col.options.count("metadata")) out.push_back(&col);
  return out;
}

// Whether a column type is json or jsonb, or a domain over them.
bool is_json_type(Oid type) {
  Oid base = pg::call([&] { return getBaseType(type); });
  return base == JSONOID || base == JSONBOID;
}

}  // namespace

bool json_unstructured(const TableSpec& spec) {
  if (auto value = get_option(spec.table_options, "json.unstructured")) return *value == "true";
  std::vector<const ColumnInfo*> cols = payload_columns(spec);
  return cols.size() == 1 && is_json_type(cols[0]->type);
}

void validate_json_unstructured(const TableSpec& spec) {
  if (get_option(spec.table_options, "json.unstructured") != "true") return;
  std::vector<const ColumnInfo*> cols = payload_columns(spec);
  // A restore marks metadata columns after creating the table (see raw_string.hpp).
  if (raw_string_defer_column_count && cols.size() > 1) return;
  if (cols.size() != 1)
    pg::fail(ERRCODE_INVALID_COLUMN_DEFINITION,
             "option \"json.unstructured\" needs exactly one column besides metadata and "
             "generated columns",
             "The table has " + std::to_string(cols.size()) + ".",
             "Declare one json or jsonb column for the message.");
  if (!is_json_type(cols[0]->type))
    pg::fail(ERRCODE_DATATYPE_MISMATCH,
             "option \"json.unstructured\" needs a json or jsonb column for the message",
             "Column \"" + cols[0]->name + "\" has another type.");
}

UnstructuredJsonDecoder::UnstructuredJsonDecoder(const TableSpec& spec)
    : context_("arroyo_stream unstructured json decoder"),
      scanner_(json_max_depth(spec.table_options)) {
  validate_json_unstructured(spec);
  const ColumnInfo* col = payload_columns(spec).at(0);
  column_ = col->name;
  index_ = col->attnum - 1;
  typmod_ = col->typmod;
  pg::call([&] {
    Oid function;
    getTypeInputInfo(col->type, &function, &ioparam_);
    fmgr_info_cxt(function, &input_, context_.get());
  });
}

void UnstructuredJsonDecoder::decode(const char* data, size_t len, Batch& out, TimestampTz time) {
  int row = out.append(time);
  if (!data) return;  // no value: NULL
  try {
    scanner_.scan(data, len);
  } catch (const JsonScanError& e) {
    pg::fail(json_scan_errcode(e), e.what());
  }
  Datum* values = out.values(row);
  bool* nulls = out.nulls(row);
  try {
    pg::call([&] {
      if (len >= MaxAllocSize)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("value too large")));
      // Checks UTF-8 and converts to the database encoding (`data` itself if unchanged).
      char* text = pg_any_to_server(data, int(len), PG_UTF8);
      if (text == data) text = pnstrdup(data, len);  // the input function needs a C string
      values[index_] = InputFunctionCall(&input_, text, ioparam_, typmod_);
      nulls[index_] = false;
    });
  } catch (const pg::Error& e) {
    throw pg::Error(e.sqlerrcode(), "column \"" + column_ + "\": " + e.message(), e.detail(),
                    e.hint());
  }
}

UnstructuredJsonEncoder::UnstructuredJsonEncoder(const TableSpec& spec)
    : context_("arroyo_stream unstructured json encoder") {
  validate_json_unstructured(spec);
  const ColumnInfo* col = payload_columns(spec).at(0);
  index_ = col->attnum - 1;
  pg::call([&] {
    Oid function;
    bool varlena;
    getTypeOutputInfo(col->type, &function, &varlena);
    fmgr_info_cxt(function, &output_, context_.get());
    to_utf8_ = GetDatabaseEncoding() != PG_UTF8;
  });
}

std::string_view UnstructuredJsonEncoder::encode_row(const Datum* values, const bool* nulls) {
  if (nulls[index_]) return "null";
  Datum value = values[index_];
  pg::call([&] {
    char* s = OutputFunctionCall(&output_, value);
    char* utf8 = to_utf8_ ? pg_server_to_any(s, int(strlen(s)), PG_UTF8) : s;
    payload_.assign(utf8);
    if (utf8 != s) pfree(utf8);
    pfree(s);
  });
  return payload_;
}

}  // namespace arroyo
