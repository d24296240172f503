#include "formats/json.hpp"

#include "pg/guard.hpp"
#include "pg/time.hpp"

// Encoding conversion (pg_any_to_server, pg_server_to_any) is not in pg/postgres.hpp yet.
extern "C" {
#include "mb/pg_wchar.h"
#include "utils/date.h"
}

#include <charconv>

namespace arroyo {

std::vector<OptionSpec> json_format_option_specs() {
  return {{"json.timestamp_format", OptionKind::Choice, false, {"rfc3339", "unix_millis"}},
          {"json.max_depth", OptionKind::PosInt}};
}

size_t json_max_depth(const Options& options) {
  int64 depth = option_int(options, "json.max_depth", int64(kJsonDefaultMaxDepth));
  if (depth < 1 || depth > kJsonMaxMaxDepth)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "invalid value for option \"json.max_depth\": \"" +
                 get_option(options, "json.max_depth").value_or("") + "\"",
             "Expected an integer from 1 to " + std::to_string(kJsonMaxMaxDepth) + ".");
  return size_t(depth);
}

int json_scan_errcode(const JsonScanError& e) {
  switch (e.reason) {
    case JsonScanError::NulCharacter: return ERRCODE_UNTRANSLATABLE_CHARACTER;
    case JsonScanError::OutOfRange: return ERRCODE_DATETIME_VALUE_OUT_OF_RANGE;
    case JsonScanError::TooDeep: return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
    default: return ERRCODE_INVALID_TEXT_REPRESENTATION;
  }
}

JsonTimestampFormat json_timestamp_format(const Options& options) {
  auto value = get_option(options, "json.timestamp_format");
  if (!value || *value == "rfc3339") return JsonTimestampFormat::Rfc3339;
  if (*value == "unix_millis") return JsonTimestampFormat::UnixMillis;
  pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
           "invalid value for option \"json.timestamp_format\": \"" + *value + "\"",
           "expected one of: rfc3339, unix_millis");
}

// Whether the database encoding is UTF-8, JSON's encoding (else texts need converting).
static bool database_is_utf8() {
  return pg::call([] { return GetDatabaseEncoding() == PG_UTF8; });
}

// Re-throws a PostgreSQL error with the column it concerns in front of its message.
[[noreturn]] static void fail_for_column(const std::string& column, const pg::Error& e) {
  throw pg::Error(e.sqlerrcode(), "column \"" + column + "\": " + e.message(), e.detail(), e.hint(),
                  e.context());
}

// `name` must be a string literal: the context keeps the pointer.
OwnedMemoryContext::OwnedMemoryContext(const char* name)
    : context_(pg::call([&] {
        return AllocSetContextCreateInternal(TopMemoryContext, name, ALLOCSET_SMALL_SIZES);
      })) {}

OwnedMemoryContext::~OwnedMemoryContext() { MemoryContextDelete(context_); }

// ---------------------------------------------------------------------------------------------
// JsonDecoder

// The columns a decoder fills, with their input functions looked up once.
std::vector<JsonDecoder::Column> JsonDecoder::plan_columns(const TableSpec& spec,
                                                           const Options& options,
                                                           MemoryContext context) {
  bool millis = json_timestamp_format(options) == JsonTimestampFormat::UnixMillis;
  // Debezium envelopes carry times as epoch numbers (io.debezium.time.*) as well as strings.
  auto format = options.find("format");
  bool debezium = format != options.end() && format->second == "debezium_json";
  bool utf8 = database_is_utf8();
  std::vector<Column> columns;
  columns.reserve(spec.columns.size());
  for (const ColumnInfo& info : spec.columns) {
    if (info.generated || info.options.count("metadata")) continue;
    Column& col = columns.emplace_back();
    col.name = info.name;
    col.index = info.attnum - 1;
    col.type = info.type;
    col.typmod = info.typmod;
    try {
      const char* json_name = pg::call([&] {
        Oid base = getBaseType(info.type);
        Oid input_function;
        getTypeInputInfo(info.type, &input_function, &col.ioparam);
        fmgr_info_cxt(input_function, &col.input, context);
        col.is_domain = base != info.type;
        col.raw_json = base == JSONOID || base == JSONBOID;
        Oid element = get_element_type(base);
        col.array_literal = OidIsValid(element);
        col.json_elements = element == JSONOID || element == JSONBOID;
        bool timestamp = info.type == TIMESTAMPOID || info.type == TIMESTAMPTZOID;
        col.epoch_millis = millis && timestamp;
        col.epoch_auto = debezium && !millis && timestamp;
        col.epoch_days = debezium && info.type == DATEOID;
        const char* name = info.name.c_str();
        return utf8 ? name : pg_server_to_any(name, int(info.name.size()), PG_UTF8);
      });
      col.json_name = json_name;
    } catch (const pg::Error& e) {
      fail_for_column(info.name, e);
    }
  }
  return columns;
}

std::vector<JsonScanField> JsonDecoder::scan_fields(const std::vector<Column>& columns) {
  std::vector<JsonScanField> fields;
  for (const Column& col : columns)
    fields.push_back({col.json_name, col.raw_json, col.epoch_millis, col.epoch_auto, col.epoch_days,
                      col.array_literal, col.json_elements});
  return fields;
}

JsonDecoder::JsonDecoder(const TableSpec& spec, const Options& options)
    : context_("arroyo_stream json decoder"),
      columns_(plan_columns(spec, options, context_.get())),
      scanner_(scan_fields(columns_), json_max_depth(options)),
      from_utf8_(!database_is_utf8()) {}

JsonDecoder::~JsonDecoder() = default;

void JsonDecoder::decode(const char* data, size_t len, Batch& out, int row) {
  try {
    scanner_.scan(data, len);
  } catch (const JsonScanError& e) {
    int code = json_scan_errcode(e);
    if (e.field < 0) pg::fail(code, e.what());
    pg::fail(code, "column \"" + columns_[e.field].name + "\": " + e.what());
  }
  Datum* values = out.values(row);
  bool* nulls = out.nulls(row);
  try {
    pg::call([&] { convert(values, nulls); });
  } catch (const pg::Error& e) {
    if (failing_column_ < 0) throw;
    fail_for_column(columns_[failing_column_].name, e);
  }
}

void JsonDecoder::convert(Datum* values, bool* nulls) {
  const JsonScanValue* scanned = scanner_.values();
  for (size_t i = 0; i < columns_.size(); i++) {
    Column& col = columns_[i];
    const JsonScanValue& value = scanned[i];
    failing_column_ = int(i);
    if (value.kind == JsonScanValue::Missing) {
      // A NULL still goes through a domain's input, which enforces its NOT NULL constraint.
      if (col.is_domain) InputFunctionCall(&col.input, nullptr, col.ioparam, col.typmod);
      continue;
    }
    if (value.kind == JsonScanValue::UnixMicros && col.type == DATEOID) {
      int64 days = value.unix_micros / USECS_PER_DAY - pg::kUnixToPostgresDays;
      if (days < INT_MIN || days > INT_MAX)
        ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("date out of range")));
      values[col.index] = DateADTGetDatum(DateADT(days));
    } else if (value.kind == JsonScanValue::UnixMicros) {
      Timestamp ts;
      if (__builtin_sub_overflow(value.unix_micros, pg::kUnixToPostgresUs, &ts) ||
          !IS_VALID_TIMESTAMP(ts))
        ereport(ERROR,
                (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
      Datum d = TimestampGetDatum(ts);
      if (col.typmod >= 0)  // timestamp(p): round as the type's input function would
        d = DirectFunctionCall2(col.type == TIMESTAMPOID ? timestamp_scale : timestamptz_scale, d,
                                Int32GetDatum(col.typmod));
      values[col.index] = d;
    } else {
      char* text = const_cast<char*>(value.text);
      if (from_utf8_) text = pg_any_to_server(text, int(value.len), PG_UTF8);
      values[col.index] = InputFunctionCall(&col.input, text, col.ioparam, col.typmod);
    }
    nulls[col.index] = false;
  }
  failing_column_ = -1;
}

// ---------------------------------------------------------------------------------------------
// JsonEncoder

// The columns an encoder writes, each with its rendering decided once, as to_json decides it.
std::vector<JsonEncoder::Field> JsonEncoder::plan_fields(const TableSpec& spec,
                                                         const Options& options,
                                                         MemoryContext context) {
  bool millis = json_timestamp_format(options) == JsonTimestampFormat::UnixMillis;
  // Debezium's encodings (what its PostgreSQL connector writes by default): timestamp as
  // io.debezium.time.MicroTimestamp, date as io.debezium.time.Date (days), numeric as a string.
  auto format = options.find("format");
  bool debezium = format != options.end() && format->second == "debezium_json";
  std::vector<Field> fields;
  fields.reserve(spec.columns.size());
  for (const ColumnInfo& info : spec.columns) {
    if (info.options.count("metadata")) continue;
    Field& f = fields.emplace_back();
    f.index = info.attnum - 1;
    bool first = fields.size() == 1;
    try {
      const char* prefix = pg::call([&] {
        Oid base = getBaseType(info.type);
        Oid function = InvalidOid;
        bool varlena;
        f.base_type = base;
        switch (base) {
          case BOOLOID: f.kind = Kind::Bool; break;
          case INT2OID: f.kind = Kind::Int2; break;
          case INT4OID: f.kind = Kind::Int4; break;
          case INT8OID: f.kind = Kind::Int8; break;
          case FLOAT4OID:
          case FLOAT8OID:
          case NUMERICOID:
            f.kind = debezium && base == NUMERICOID ? Kind::Text : Kind::Number;
            getTypeOutputInfo(base, &function, &varlena);
            break;
          case DATEOID: f.kind = debezium ? Kind::EpochDays : Kind::DateTime; break;
          case TIMESTAMPOID:
            f.kind = millis ? Kind::EpochMillis : debezium ? Kind::EpochMicros : Kind::DateTime;
            break;
          case TIMESTAMPTZOID: f.kind = millis ? Kind::EpochMillis : Kind::DateTime; break;
          case JSONOID:
          case JSONBOID:
            f.kind = Kind::Json;
            getTypeOutputInfo(base, &function, &varlena);
            break;
          default:
            if (OidIsValid(get_element_type(base)) || base == ANYARRAYOID ||
                base == RECORDARRAYOID) {
              f.kind = Kind::Array;
            } else if (type_is_rowtype(base)) {
              f.kind = Kind::Composite;
            } else if (base >= FirstNormalObjectId &&
                       find_coercion_pathway(JSONOID, base, COERCION_EXPLICIT, &function) ==
                           COERCION_PATH_FUNC &&
                       OidIsValid(function)) {
              f.kind = Kind::Cast;  // a user type with its own cast to json, as to_json uses
            } else {
              f.kind = Kind::Text;
              getTypeOutputInfo(base, &function, &varlena);
            }
        }
        if (OidIsValid(function)) fmgr_info_cxt(function, &f.function, context);
        StringInfoData key;
        initStringInfo(&key);
        appendStringInfoChar(&key, first ? '{' : ',');
        escape_json(&key, info.name.c_str());
        appendStringInfoChar(&key, ':');
        return static_cast<const char*>(key.data);
      });
      f.prefix = prefix;
    } catch (const pg::Error& e) {
      fail_for_column(info.name, e);
    }
  }
  return fields;
}

JsonEncoder::JsonEncoder(const TableSpec& spec, const Options& options)
    : context_("arroyo_stream json encoder"),
      fields_(plan_fields(spec, options, context_.get())),
      to_utf8_(!database_is_utf8()) {
  pg::call([&] {
    row_context_ =
        AllocSetContextCreate(context_.get(), "arroyo_stream json row", ALLOCSET_DEFAULT_SIZES);
    MemoryContext old = MemoryContextSwitchTo(context_.get());
    initStringInfo(&buf_);
    MemoryContextSwitchTo(old);
  });
}

JsonEncoder::~JsonEncoder() = default;

void JsonEncoder::encode(const Datum* values, const bool* nulls, std::string& out) {
  out.append(encode(values, nulls));
}

std::string_view JsonEncoder::encode(const Datum* values, const bool* nulls) {
  pg::call([&] {
    MemoryContextReset(row_context_);
    MemoryContext old = MemoryContextSwitchTo(row_context_);
    resetStringInfo(&buf_);
    for (size_t i = 0; i < fields_.size(); i++) {
      Field& f = fields_[i];
      appendBinaryStringInfo(&buf_, f.prefix.data(), int(f.prefix.size()));
      if (nulls[f.index])
        appendBinaryStringInfo(&buf_, "null", 4);
      else
        append_value(f, values[f.index]);
    }
    if (fields_.empty()) appendStringInfoChar(&buf_, '{');
    appendStringInfoChar(&buf_, '}');
    if (to_utf8_) {
      char* converted = pg_server_to_any(buf_.data, buf_.len, PG_UTF8);
      if (converted != buf_.data) {
        resetStringInfo(&buf_);
        appendStringInfoString(&buf_, converted);
      }
    }
    MemoryContextSwitchTo(old);
  });
  return std::string_view(buf_.data, size_t(buf_.len));
}

void JsonEncoder::append_int(int64 value) {
  char digits[24];
  char* end = std::to_chars(digits, digits + sizeof(digits), value).ptr;
  appendBinaryStringInfo(&buf_, digits, int(end - digits));
}

void JsonEncoder::append_value(Field& f, Datum value) {
  switch (f.kind) {
    case Kind::Bool: appendStringInfoString(&buf_, DatumGetBool(value) ? "true" : "false"); return;
    case Kind::Int2: append_int(DatumGetInt16(value)); return;
    case Kind::Int4: append_int(DatumGetInt32(value)); return;
    case Kind::Int8: append_int(DatumGetInt64(value)); return;
    case Kind::Number: {
      char* text = OutputFunctionCall(&f.function, value);
      if (is_json_number(text, strlen(text)))
        appendStringInfoString(&buf_, text);
      else
        escape_json(&buf_, text);  // NaN, Infinity, -Infinity
      return;
    }
    case Kind::EpochMicros: {
      Timestamp ts = DatumGetTimestamp(value);
      if (!TIMESTAMP_NOT_FINITE(ts)) {
        append_int(ts + pg::kUnixToPostgresUs);
        return;
      }
      break;  // infinity/-infinity: rendered as strings, after the switch
    }
    case Kind::EpochDays: {
      DateADT d = DatumGetDateADT(value);
      if (!DATE_NOT_FINITE(d)) {
        append_int(int64(d) + pg::kUnixToPostgresDays);
        return;
      }
      break;
    }
    case Kind::EpochMillis: {
      Timestamp ts = DatumGetTimestamp(value);
      if (!TIMESTAMP_NOT_FINITE(ts)) {
        int64 millis = ts / 1000 - (ts % 1000 < 0 ? 1 : 0);  // floor, also before 1970
        append_int(millis + pg::kUnixToPostgresMs);
        return;
      }
      // infinity/-infinity: rendered as strings, as to_json does
      [[fallthrough]];
    }
    case Kind::DateTime:
      appendStringInfoChar(&buf_, '"');
      appendStringInfoString(&buf_, JsonEncodeDateTime(nullptr, value, f.base_type, nullptr));
      appendStringInfoChar(&buf_, '"');
      return;
    case Kind::Json: appendStringInfoString(&buf_, OutputFunctionCall(&f.function, value)); return;
    case Kind::Array:
    case Kind::Composite:
    case Kind::Cast: {
      Datum json = f.kind == Kind::Array       ? DirectFunctionCall1(array_to_json, value)
                   : f.kind == Kind::Composite ? DirectFunctionCall1(row_to_json, value)
                                               : FunctionCall1(&f.function, value);
      text* t = DatumGetTextPP(json);
      appendBinaryStringInfo(&buf_, VARDATA_ANY(t), int(VARSIZE_ANY_EXHDR(t)));
      return;
    }
    case Kind::Text: escape_json(&buf_, OutputFunctionCall(&f.function, value)); return;
  }
  // Reached by the epoch kinds for infinity/-infinity: rendered as strings, as to_json does.
  appendStringInfoChar(&buf_, '"');
  appendStringInfoString(&buf_, JsonEncodeDateTime(nullptr, value, f.base_type, nullptr));
  appendStringInfoChar(&buf_, '"');
}

}  // namespace arroyo
