#include "formats/raw_string.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "mb/pg_wchar.h"
}

namespace arroyo {

bool raw_string_defer_column_count = false;

namespace {

// The columns that may hold the payload: not generated, no "metadata" option.
int payload_candidates(const TableSpec& spec, const ColumnInfo** found) {
  int count = 0;
  for (const ColumnInfo& col : spec.columns) {
    if (col.generated || col.options.count("metadata")) continue;
    *found = &col;
    count++;
  }
  return count;
}

// The one column that holds the payload.
const ColumnInfo* payload_column(const TableSpec& spec) {
  const ColumnInfo* found = nullptr;
  int count = payload_candidates(spec, &found);
  if (count != 1)
    pg::fail(ERRCODE_INVALID_COLUMN_DEFINITION,
             "format \"raw_string\" needs exactly one column besides metadata and generated "
             "columns",
             "The table has " + std::to_string(count) + ".",
             "Declare one text column for the payload; any other column must be generated (or, "
             "where the connector has them, a metadata column).");
  return found;
}

}  // namespace

bool raw_string_columns_deferred(const TableSpec& spec) {
  const ColumnInfo* found = nullptr;
  return raw_string_defer_column_count && payload_candidates(spec, &found) > 1;
}

void validate_raw_string_columns(const TableSpec& spec) {
  if (raw_string_columns_deferred(spec)) return;
  const ColumnInfo* col = payload_column(spec);
  Oid base = pg::call([&] { return getBaseType(col->type); });
  if (base != TEXTOID && base != VARCHAROID)
    pg::fail(ERRCODE_DATATYPE_MISMATCH, "format \"raw_string\" needs a text column for the payload",
             "Column \"" + col->name + "\" has another type.");
}

RawStringDecoder::RawStringDecoder(const TableSpec& spec)
    : context_("arroyo_stream raw_string decoder") {
  validate_raw_string_columns(spec);
  const ColumnInfo* col = payload_column(spec);
  column_ = col->name;
  index_ = col->attnum - 1;
  typmod_ = col->typmod;
  is_text_ = col->type == TEXTOID;
  pg::call([&] {
    Oid function;
    getTypeInputInfo(col->type, &function, &ioparam_);
    fmgr_info_cxt(function, &input_, context_.get());
  });
}

void RawStringDecoder::decode(const char* data, size_t len, Batch& out, TimestampTz time) {
  int row = out.append(time);
  if (!data) return;  // no value: NULL
  Datum* values = out.values(row);
  bool* nulls = out.nulls(row);
  try {
    pg::call([&] {
      if (len >= MaxAllocSize)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED), errmsg("value too large")));
      // Checks UTF-8 (a NUL byte is invalid too) and converts to the database encoding; the
      // result is `data` itself when nothing needed converting.
      char* text = len > 0 ? pg_any_to_server(data, int(len), PG_UTF8) : const_cast<char*>(data);
      size_t text_len = text == data ? len : strlen(text);
      if (is_text_) {
        values[index_] = PointerGetDatum(cstring_to_text_with_len(text, int(text_len)));
      } else {
        if (text == data) text = pnstrdup(data, len);  // the input function needs a C string
        values[index_] = InputFunctionCall(&input_, text, ioparam_, typmod_);
      }
      nulls[index_] = false;
    });
  } catch (const pg::Error& e) {
    throw pg::Error(e.sqlerrcode(), "column \"" + column_ + "\": " + e.message(), e.detail(),
                    e.hint());
  }
}

RawStringEncoder::RawStringEncoder(const TableSpec& spec)
    : context_("arroyo_stream raw_string encoder") {
  validate_raw_string_columns(spec);
  const ColumnInfo* col = payload_column(spec);
  index_ = col->attnum - 1;
  pg::call([&] {
    Oid function;
    bool varlena;
    getTypeOutputInfo(col->type, &function, &varlena);
    fmgr_info_cxt(function, &output_, context_.get());
    to_utf8_ = GetDatabaseEncoding() != PG_UTF8;
  });
}

std::string_view RawStringEncoder::encode_row(const Datum* values, const bool* nulls) {
  if (nulls[index_]) return {};  // no value
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
