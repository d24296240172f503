#include "formats/avro.hpp"

#include "pg/guard.hpp"

#include <avro.h>

#include <cstring>

extern "C" {
#include "mb/pg_wchar.h"
#include "utils/date.h"
}

namespace arroyo {

namespace {

// Unix epoch minus PostgreSQL's (2000-01-01), in microseconds and in days.
constexpr int64 kEpochShiftUs = int64(946684800) * 1000000;
constexpr int32 kEpochShiftDays = 10957;

using Type = AvroCodec::Type;

const char* type_name(Type t) {
  switch (t) {
    case Type::Boolean: return "boolean";
    case Type::Int:
    case Type::Date: return "int";
    case Type::Long:
    case Type::Timestamp: return "long";
    case Type::Float: return "float";
    case Type::Double: return "double";
    case Type::String: return "string";
    case Type::Bytes: return "bytes";
  }
  return "?";
}

// The Avro type of a column type; false if it has none.
bool column_avro_type(Oid type, Type* out) {
  switch (type) {
    case BOOLOID: *out = Type::Boolean; return true;
    case INT2OID:
    case INT4OID: *out = Type::Int; return true;
    case INT8OID: *out = Type::Long; return true;
    case FLOAT4OID: *out = Type::Float; return true;
    case FLOAT8OID: *out = Type::Double; return true;
    case TEXTOID:
    case VARCHAROID:
    case BPCHAROID:
    case NAMEOID:
    case NUMERICOID: *out = Type::String; return true;
    case BYTEAOID: *out = Type::Bytes; return true;
    case TIMESTAMPTZOID:
    case TIMESTAMPOID: *out = Type::Timestamp; return true;
    case DATEOID: *out = Type::Date; return true;
    default: return false;
  }
}

// The Avro primitive type of a libavro schema node, if it is one we map.
bool schema_primitive(avro_schema_t s, Type* out) {
  switch (avro_typeof(s)) {
    case AVRO_BOOLEAN: *out = Type::Boolean; return true;
    case AVRO_INT32: *out = Type::Int; return true;
    case AVRO_INT64: *out = Type::Long; return true;
    case AVRO_FLOAT: *out = Type::Float; return true;
    case AVRO_DOUBLE: *out = Type::Double; return true;
    case AVRO_STRING: *out = Type::String; return true;
    case AVRO_BYTES: *out = Type::Bytes; return true;
    default: return false;
  }
}

bool valid_avro_name(const std::string& name) {
  if (name.empty() || name.size() > 1024) return false;
  for (size_t i = 0; i < name.size(); i++) {
    char c = name[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// The columns a record carries: not generated (sources), no "metadata" option.
bool carried(const ColumnInfo& col, bool sink) {
  return !col.options.count("metadata") && (sink || !col.generated);
}

[[noreturn]] void unsupported_column(const ColumnInfo& col) {
  char* type = pg::call([&] { return format_type_be(col.type); });
  std::string name(type);
  pg::call([&] { pfree(type); });
  pg::fail(
      ERRCODE_FEATURE_NOT_SUPPORTED,
      "column \"" + col.name + "\" has type " + name + ", which format \"avro\" cannot express", {},
      "Avro columns may be boolean, smallint, integer, bigint, real, double precision, text, "
      "varchar, char, name, numeric, bytea, timestamptz, timestamp or date.");
}

[[noreturn]] void bad_record(const std::string& what) {
  pg::fail(ERRCODE_INVALID_BINARY_REPRESENTATION, "invalid Avro record: " + what);
}

// Reads a zig-zag varint long (at most 10 bytes) without passing `end`.
int64 get_long(const char*& p, const char* end) {
  uint64 v = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p >= end) bad_record("truncated");
    uint8 b = uint8(*p++);
    if (shift == 63 && (b & 0x7e)) bad_record("a long needs more than 64 bits");
    v |= uint64(b & 0x7f) << shift;
    if (!(b & 0x80)) return int64(v >> 1) ^ -int64(v & 1);
  }
  bad_record("a long needs more than 10 bytes");
}

void put_le(std::string& out, uint64 v, int bytes) {
  for (int i = 0; i < bytes; i++) out.push_back(char((v >> (8 * i)) & 0xff));
}

uint64 get_le(const char*& p, const char* end, int bytes) {
  if (end - p < bytes) bad_record("truncated");
  uint64 v = 0;
  for (int i = 0; i < bytes; i++) v |= uint64(uint8(p[i])) << (8 * i);
  p += bytes;
  return v;
}

// A JSON string literal (for names, which valid_avro_name keeps plain).
std::string quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

void avro_put_long(std::string& out, int64 v) {
  uint64 z = (uint64(v) << 1) ^ uint64(v >> 63);
  while (z >= 0x80) {
    out.push_back(char((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out.push_back(char(z));
}

std::vector<OptionSpec> avro_format_option_specs() {
  return {{"avro.schema", OptionKind::Text}, {"avro.confluent_schema_id", OptionKind::NonNegInt}};
}

AvroCodec::AvroCodec(const TableSpec& spec, bool sink)
    : context_("arroyo_stream avro codec"), sink_(sink) {
  utf8_db_ = pg::call([] { return GetDatabaseEncoding() == PG_UTF8; });
  if (spec.table_options.count("avro.schema"))
    plan_given(spec, sink);
  else if (sink)
    plan_derived(spec);
  else
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "format \"avro\" needs option \"avro.schema\" on source tables", {},
             "Give the writers' Avro record schema as JSON text.");
  for (Field& f : fields_) {
    if (f.index < 0 || f.type != Type::String) continue;
    pg::call([&] {
      MemoryContext old = MemoryContextSwitchTo(context_.get());
      Oid func;
      bool varlena;
      if (sink)
        getTypeOutputInfo(f.column_type, &func, &varlena);
      else
        getTypeInputInfo(f.column_type, &func, &f.ioparam);
      fmgr_info_cxt(func, &f.io, context_.get());
      MemoryContextSwitchTo(old);
    });
  }
}

AvroCodec::~AvroCodec() = default;

// Derives a record schema from the columns: each a nullable field of the column's Avro type.
void AvroCodec::plan_derived(const TableSpec& spec) {
  std::string record;
  for (char c : spec.name) record.push_back((isalnum(uint8(c)) || c == '_') ? c : '_');
  if (record.empty() || isdigit(uint8(record[0]))) record.insert(0, "_");
  std::string json = "{\"type\":\"record\",\"name\":" + quoted(record) + ",\"fields\":[";
  for (const ColumnInfo& col : spec.columns) {
    if (!carried(col, true)) continue;
    Type t;
    if (!column_avro_type(col.type, &t)) unsupported_column(col);
    if (!valid_avro_name(col.name))
      pg::fail(ERRCODE_INVALID_NAME, "column \"" + col.name + "\" is not a valid Avro field name",
               {}, "Avro names are letters, digits and underscores, not starting with a digit.");
    std::string type = quoted(type_name(t));
    if (col.type == TIMESTAMPTZOID)
      type = "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}";
    else if (col.type == TIMESTAMPOID)
      type = "{\"type\":\"long\",\"logicalType\":\"local-timestamp-micros\"}";
    else if (col.type == DATEOID)
      type = "{\"type\":\"int\",\"logicalType\":\"date\"}";
    if (!fields_.empty()) json += ",";
    json += "{\"name\":" + quoted(col.name) + ",\"type\":[\"null\"," + type + "],\"default\":null}";
    fields_.push_back({col.name, col.attnum - 1, t, 0, col.type, col.typmod, InvalidOid, {}});
  }
  json += "]}";
  schema_json_ = json;
}

// Matches a given record schema's fields with the columns.
void AvroCodec::plan_given(const TableSpec& spec, bool sink) {
  schema_json_ = *get_option(spec.table_options, "avro.schema");
  avro_schema_t schema = nullptr;
  if (avro_schema_from_json_length(schema_json_.data(), schema_json_.size(), &schema) != 0)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "invalid value for option \"avro.schema\": " + std::string(avro_strerror()));
  // Collects what the checks find; fails only once the schema is released.
  std::string error, detail;
  std::vector<bool> covered(spec.columns.size(), false);
  if (!is_avro_record(schema)) {
    error = "invalid value for option \"avro.schema\": not a record schema";
  } else {
    size_t n = avro_schema_record_size(schema);
    for (size_t i = 0; i < n && error.empty(); i++) {
      std::string name = avro_schema_record_field_name(schema, int(i));
      avro_schema_t ft = avro_schema_record_field_get_by_index(schema, int(i));
      int null_branch = -1;
      if (is_avro_union(ft)) {
        avro_schema_t other = nullptr;
        size_t branches = avro_schema_union_size(ft);
        for (size_t b = 0; b < branches; b++) {
          avro_schema_t branch = avro_schema_union_branch(ft, int(b));
          if (is_avro_null(branch) && null_branch < 0)
            null_branch = int(b);
          else if (!other)
            other = branch;
          else
            other = ft;  // more than one non-null branch
        }
        if (branches != 2 || null_branch < 0 || other == ft) {
          error = "field \"" + name +
                  "\" of option \"avro.schema\" is a union other than of "
                  "\"null\" and one type";
          break;
        }
        ft = other;
      }
      Type t;
      if (!schema_primitive(ft, &t)) {
        error = "field \"" + name +
                "\" of option \"avro.schema\" has a type format \"avro\" "
                "does not map (only boolean, int, long, float, double, string, bytes, and "
                "unions of one of them with null)";
        break;
      }
      const ColumnInfo* col = nullptr;
      size_t ci = 0;
      for (; ci < spec.columns.size(); ci++)
        if (spec.columns[ci].name == name && carried(spec.columns[ci], sink)) {
          col = &spec.columns[ci];
          break;
        }
      if (!col) {
        if (sink) {
          error = "field \"" + name + "\" of option \"avro.schema\" is not a column of the table";
          break;
        }
        fields_.push_back({name, -1, t, null_branch, InvalidOid, -1, InvalidOid, {}});
        continue;
      }
      covered[ci] = true;
      Type want;
      if (!column_avro_type(col->type, &want)) {
        fields_.clear();
        break;  // reported below, with the column's type name
      }
      if (strcmp(type_name(want), type_name(t)) != 0) {
        error = "column \"" + col->name + "\" needs Avro type \"" + type_name(want) +
                "\", but option \"avro.schema\" gives its field type \"" + type_name(t) + "\"";
        break;
      }
      fields_.push_back(
          {name, col->attnum - 1, want, null_branch, col->type, col->typmod, InvalidOid, {}});
    }
  }
  avro_schema_decref(schema);
  if (!error.empty()) pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, error, detail);
  for (size_t ci = 0; ci < spec.columns.size(); ci++) {
    const ColumnInfo& col = spec.columns[ci];
    if (!carried(col, sink)) continue;
    Type t;
    if (!column_avro_type(col.type, &t)) unsupported_column(col);
    if (sink && !covered[ci])
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "column \"" + col.name + "\" is not a field of option \"avro.schema\"");
  }
}

void AvroCodec::encode(const Datum* values, const bool* nulls, std::string& out) {
  for (Field& f : fields_) {
    bool null = nulls[f.index];
    if (f.null_branch >= 0) {
      avro_put_long(out, null ? f.null_branch : 1 - f.null_branch);
      if (null) continue;
    } else if (null) {
      pg::fail(ERRCODE_NOT_NULL_VIOLATION,
               "column \"" + f.name +
                   "\" is NULL, but its field in option \"avro.schema\" is "
                   "not nullable");
    }
    encode_value(f, values[f.index], out);
  }
}

void AvroCodec::encode_value(Field& f, Datum value, std::string& out) {
  switch (f.type) {
    case Type::Boolean: out.push_back(DatumGetBool(value) ? 1 : 0); return;
    case Type::Int:
      avro_put_long(out, f.column_type == INT2OID ? DatumGetInt16(value) : DatumGetInt32(value));
      return;
    case Type::Long: avro_put_long(out, DatumGetInt64(value)); return;
    case Type::Float: {
      float4 v = DatumGetFloat4(value);
      uint32 bits;
      memcpy(&bits, &v, 4);
      put_le(out, bits, 4);
      return;
    }
    case Type::Double: {
      float8 v = DatumGetFloat8(value);
      uint64 bits;
      memcpy(&bits, &v, 8);
      put_le(out, bits, 8);
      return;
    }
    case Type::Timestamp: {
      int64 ts = DatumGetInt64(value), unix_us;
      if (TIMESTAMP_NOT_FINITE(ts) || __builtin_add_overflow(ts, kEpochShiftUs, &unix_us))
        pg::fail(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
                 "column \"" + f.name +
                     "\" holds an infinite timestamp, which Avro cannot "
                     "express");
      avro_put_long(out, unix_us);
      return;
    }
    case Type::Date: {
      DateADT d = DatumGetDateADT(value);
      if (DATE_NOT_FINITE(d))
        pg::fail(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
                 "column \"" + f.name + "\" holds an infinite date, which Avro cannot express");
      avro_put_long(out, int64(d) + kEpochShiftDays);
      return;
    }
    case Type::Bytes: {
      const char* data = nullptr;
      size_t len = 0;
      pg::call([&] {
        bytea* b = DatumGetByteaPP(value);
        data = VARDATA_ANY(b);
        len = VARSIZE_ANY_EXHDR(b);
      });
      avro_put_long(out, int64(len));
      out.append(data, len);
      return;
    }
    case Type::String: {
      char* text = nullptr;
      size_t len = 0;
      bool utf8 = utf8_db_;
      pg::call([&] {
        char* s = OutputFunctionCall(&f.io, value);
        len = strlen(s);
        text = utf8 ? s : pg_server_to_any(s, int(len), PG_UTF8);
        if (text != s) len = strlen(text);
      });
      avro_put_long(out, int64(len));
      out.append(text, len);
      return;
    }
  }
}

void AvroCodec::decode(const char* data, size_t len, Batch& out, int row) {
  const char* p = data;
  const char* end = data + len;
  Datum* values = out.values(row);
  bool* nulls = out.nulls(row);
  for (Field& f : fields_) {
    if (f.null_branch >= 0) {
      int64 branch = get_long(p, end);
      if (branch != 0 && branch != 1)
        bad_record("field \"" + f.name + "\" has union branch " + std::to_string(branch));
      if (branch == f.null_branch) continue;  // NULL
    }
    Datum v = decode_value(f, p, end);
    if (f.index < 0) continue;
    values[f.index] = v;
    nulls[f.index] = false;
  }
  if (p != end) bad_record(std::to_string(end - p) + " bytes follow the record");
}

Datum AvroCodec::decode_value(Field& f, const char*& p, const char* end) {
  switch (f.type) {
    case Type::Boolean: {
      if (p >= end) bad_record("truncated");
      uint8 b = uint8(*p++);
      if (b > 1) bad_record("field \"" + f.name + "\" has boolean byte " + std::to_string(b));
      return BoolGetDatum(b == 1);
    }
    case Type::Int:
    case Type::Date: {
      int64 v = get_long(p, end);
      if (v < PG_INT32_MIN || v > PG_INT32_MAX)
        bad_record("field \"" + f.name + "\" has an int out of range");
      if (f.index < 0) return 0;
      if (f.type == Type::Date) {
        DateADT d = DateADT(v - kEpochShiftDays);
        if (v - kEpochShiftDays < PG_INT32_MIN || !IS_VALID_DATE(d))
          pg::fail(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
                   "date out of range for column \"" + f.name + "\"");
        return DateADTGetDatum(d);
      }
      if (f.column_type == INT2OID) {
        if (v < PG_INT16_MIN || v > PG_INT16_MAX)
          pg::fail(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "value " + std::to_string(v) +
                                                           " is out of range for column \"" +
                                                           f.name + "\" (smallint)");
        return Int16GetDatum(int16(v));
      }
      return Int32GetDatum(int32(v));
    }
    case Type::Long:
    case Type::Timestamp: {
      int64 v = get_long(p, end);
      if (f.type == Type::Long || f.index < 0) return Int64GetDatum(v);
      int64 ts;
      if (__builtin_sub_overflow(v, kEpochShiftUs, &ts) || !IS_VALID_TIMESTAMP(ts))
        pg::fail(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
                 "timestamp out of range for column \"" + f.name + "\"");
      return Int64GetDatum(ts);
    }
    case Type::Float: {
      uint32 bits = uint32(get_le(p, end, 4));
      float4 v;
      memcpy(&v, &bits, 4);
      return Float4GetDatum(v);
    }
    case Type::Double: {
      uint64 bits = get_le(p, end, 8);
      float8 v;
      memcpy(&v, &bits, 8);
      return Float8GetDatum(v);
    }
    case Type::Bytes:
    case Type::String: {
      int64 len = get_long(p, end);
      if (len < 0 || len > end - p)
        bad_record("field \"" + f.name + "\" has length " + std::to_string(len) + ", but " +
                   std::to_string(end - p) + " bytes are left");
      const char* s = p;
      p += len;
      if (f.index < 0) return 0;
      if (f.type == Type::Bytes)
        return pg::call([&] {
          bytea* b = static_cast<bytea*>(palloc(VARHDRSZ + size_t(len)));
          SET_VARSIZE(b, VARHDRSZ + len);
          memcpy(VARDATA(b), s, size_t(len));
          return PointerGetDatum(b);
        });
      bool utf8 = utf8_db_;
      bool valid = true;
      Datum result = pg::call([&] {
        char* text;
        if (utf8) {
          if (!pg_verify_mbstr(PG_UTF8, s, int(len), true)) {
            valid = false;
            return Datum(0);
          }
          text = pnstrdup(s, Size(len));
        } else {
          char* conv = pg_any_to_server(s, int(len), PG_UTF8);
          text = conv == s ? pnstrdup(s, Size(len)) : conv;
        }
        return InputFunctionCall(&f.io, text, f.ioparam, f.typmod);
      });
      if (!valid)
        pg::fail(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
                 "field \"" + f.name + "\" is not valid UTF-8");
      return result;
    }
  }
  return 0;
}

std::string avro_container_header(const std::string& schema_json, const std::string& sync) {
  std::string out("Obj\x01", 4);
  avro_put_long(out, 2);  // metadata map: one block of two entries
  auto entry = [&](const std::string& key, const std::string& value) {
    avro_put_long(out, int64(key.size()));
    out += key;
    avro_put_long(out, int64(value.size()));
    out += value;
  };
  entry("avro.schema", schema_json);
  entry("avro.codec", "null");
  avro_put_long(out, 0);
  out += sync;
  return out;
}

void avro_container_block(std::string& out, int64 count, const std::string& records,
                          const std::string& sync) {
  avro_put_long(out, count);
  avro_put_long(out, int64(records.size()));
  out += records;
  out += sync;
}

}  // namespace arroyo
