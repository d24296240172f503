#include "formats/format.hpp"

#include "formats/avro.hpp"
#include "formats/debezium.hpp"
#include "formats/json.hpp"
#include "formats/json_unstructured.hpp"
#include "formats/raw_string.hpp"
#include "pg/guard.hpp"

#include <algorithm>

namespace arroyo {

namespace {

// json: one JSON object per message (formats/json.hpp).
class JsonRowDecoder : public RowDecoder {
 public:
  explicit JsonRowDecoder(const TableSpec& spec) : decoder_(spec, spec.table_options) {}
  void decode(const char* data, size_t len, Batch& out, TimestampTz time) override {
    if (!data) pg::fail(ERRCODE_INVALID_TEXT_REPRESENTATION, "message has no value");
    int row = out.append(time);
    decoder_.decode(data, len, out, row);
  }

 private:
  JsonDecoder decoder_;
};

class JsonRowEncoder : public PerRowEncoder {
 public:
  explicit JsonRowEncoder(const TableSpec& spec) : encoder_(spec, spec.table_options) {}

 protected:
  std::string_view encode_row(const Datum* values, const bool* nulls) override {
    return encoder_.encode(values, nulls);
  }
  const char* format_name() const override { return "json"; }

 private:
  JsonEncoder encoder_;
};

// debezium_json: Debezium change envelopes (formats/debezium.hpp), an updating stream.
class DebeziumRowDecoder : public RowDecoder {
 public:
  explicit DebeziumRowDecoder(const TableSpec& spec) : decoder_(spec, spec.table_options) {}
  int max_rows_per_message() const override { return 2; }
  void decode(const char* data, size_t len, Batch& out, TimestampTz time) override {
    if (data) decoder_.decode(data, len, out, time);  // no value: a tombstone
  }

 private:
  DebeziumDecoder decoder_;
};

class DebeziumRowEncoder : public RowEncoder {
 public:
  explicit DebeziumRowEncoder(const TableSpec& spec) : encoder_(spec, spec.table_options) {}
  void set_key_columns(const std::vector<int>& keys) override { encoder_.set_key_columns(keys); }
  void encode(const Batch& rows, const MessageEmitter& emit) override {
    encoder_.encode(rows, adapt(emit));
  }
  void finish(const MessageEmitter& emit) override { encoder_.finish(adapt(emit)); }

 private:
  DebeziumEncoder::Emit adapt(const MessageEmitter& emit) {
    return [this, &emit](const std::string& envelope, const Datum* values, const bool* nulls,
                         TimestampTz time) {
      const std::string& key = encoder_.key_json(values, nulls);
      emit({envelope.data(), envelope.size(), values, nulls, time, key.empty() ? nullptr : &key});
    };
  }
  DebeziumEncoder encoder_;
};

// avro: one Avro binary record per message (formats/avro.hpp), optionally in Confluent's wire
// format (magic byte 0, the 4-byte big-endian schema id, the record).
int64 confluent_schema_id(const TableSpec& spec) {
  return option_int(spec.table_options, "avro.confluent_schema_id", -1);
}

class AvroRowDecoder : public RowDecoder {
 public:
  explicit AvroRowDecoder(const TableSpec& spec)
      : codec_(spec, false), schema_id_(confluent_schema_id(spec)) {}
  void decode(const char* data, size_t len, Batch& out, TimestampTz time) override {
    if (!data) pg::fail(ERRCODE_INVALID_TEXT_REPRESENTATION, "message has no value");
    if (schema_id_ >= 0) {
      if (len < 5 || data[0] != 0)
        pg::fail(ERRCODE_INVALID_BINARY_REPRESENTATION,
                 "message is not in Confluent's wire format (magic byte 0 and a schema id)");
      int64 id = 0;
      for (int i = 1; i < 5; i++) id = (id << 8) | uint8(data[i]);
      if (id != schema_id_)
        pg::fail(ERRCODE_INVALID_BINARY_REPRESENTATION,
                 "message has schema id " + std::to_string(id) + ", not " +
                     std::to_string(schema_id_) + " (option \"avro.confluent_schema_id\")");
      data += 5;
      len -= 5;
    }
    int row = out.append(time);
    codec_.decode(data, len, out, row);
  }

 private:
  AvroCodec codec_;
  int64 schema_id_;
};

class AvroRowEncoder : public PerRowEncoder {
 public:
  explicit AvroRowEncoder(const TableSpec& spec) : codec_(spec, true) {
    int64 id = confluent_schema_id(spec);
    if (id >= 0) {
      prefix_.push_back('\0');
      for (int i = 3; i >= 0; i--) prefix_.push_back(char((uint64(id) >> (8 * i)) & 0xff));
    }
  }

 protected:
  std::string_view encode_row(const Datum* values, const bool* nulls) override {
    buf_ = prefix_;
    codec_.encode(values, nulls, buf_);
    return buf_;
  }
  const char* format_name() const override { return "avro"; }

 private:
  AvroCodec codec_;
  std::string prefix_, buf_;
};

[[noreturn]] void unknown_format(const std::string& format) {
  pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "unknown format \"" + format + "\"");
}

}  // namespace

void PerRowEncoder::encode(const Batch& rows, const MessageEmitter& emit) {
  for (int r = 0; r < rows.size(); r++) {
    if (rows.op(r) != RowOp::Insert)
      pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED, std::string("format \"") + format_name() +
                                                  "\" is append-only and cannot express deletes "
                                                  "or updates");
    std::string_view payload = encode_row(rows.values(r), rows.nulls(r));
    emit({payload.data(), payload.size(), rows.values(r), rows.nulls(r), rows.time(r)});
  }
}

std::vector<std::string> message_format_names() {
  return {"json", "raw_string", "debezium_json", "avro"};
}

namespace {

bool contains(const std::vector<std::string>& names, const char* name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The formats that read and write JSON, and so take the json options.
bool json_based(const std::string& format) { return format == "json" || format == "debezium_json"; }

}  // namespace

std::vector<OptionSpec> format_option_specs(const std::vector<std::string>& formats) {
  std::vector<OptionSpec> specs = {
      {"format", OptionKind::Choice, false, formats},
      {"bad_data", OptionKind::Choice, false, {"fail", "drop"}},
  };
  if (contains(formats, "json") || contains(formats, "debezium_json"))
    for (OptionSpec& s : json_format_option_specs()) specs.push_back(s);
  if (contains(formats, "json"))
    specs.push_back({"json.unstructured", OptionKind::Choice, false, {"true", "false"}});
  if (contains(formats, "debezium_json")) specs.push_back({"primary_key", OptionKind::Text});
  if (contains(formats, "avro"))
    for (OptionSpec& s : avro_format_option_specs()) specs.push_back(s);
  return specs;
}

bool is_source_only_format_option(const std::string& name) {
  return name == "bad_data" || name == "primary_key";
}

std::string table_format(const TableSpec& spec) {
  return get_option(spec.table_options, "format").value_or("json");
}

bool format_is_updating(const TableSpec& spec) { return table_format(spec) == "debezium_json"; }

void validate_table_format(const TableSpec& spec, TableRole role) {
  const Options& opts = spec.table_options;
  std::string format = table_format(spec);
  if (role == TableRole::Sink)
    for (const auto& [name, value] : opts)
      if (is_source_only_format_option(name))
        pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "option \"" + name + "\" applies only to source tables");
  if (!json_based(format))
    for (const OptionSpec& option : json_format_option_specs())
      if (opts.count(option.name))
        pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "option \"" + option.name + "\" applies only to format \"json\"");
  if (opts.count("json.unstructured") && format != "json")
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "option \"json.unstructured\" applies only to format \"json\"");
  if (format != "avro")
    for (const OptionSpec& option : avro_format_option_specs())
      if (opts.count(option.name))
        pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 "option \"" + option.name + "\" applies only to format \"avro\"");
  if (opts.count("avro.confluent_schema_id") &&
      option_int(opts, "avro.confluent_schema_id", 0) > PG_INT32_MAX)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             "invalid value for option \"avro.confluent_schema_id\": \"" +
                 *get_option(opts, "avro.confluent_schema_id") + "\"",
             "A schema id fits in 4 bytes: at most 2147483647.");
  if (format == "json") validate_json_unstructured(spec);
  if (opts.count("primary_key")) {
    if (format != "debezium_json")
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
               "option \"primary_key\" applies only to format 'debezium_json'");
    validate_key_columns(spec, "primary_key");
  }
  if (format == "raw_string") {
    validate_raw_string_columns(spec);
    if (raw_string_columns_deferred(spec)) return;  // no payload column yet: no codec
  }
  // Building the codec looks up every column type's input or output function.
  if (role == TableRole::Sink)
    make_row_encoder(spec);
  else
    make_row_decoder(spec);
}

std::unique_ptr<RowDecoder> make_row_decoder(const TableSpec& spec) {
  std::string format = table_format(spec);
  if (format == "json" && json_unstructured(spec))
    return std::make_unique<UnstructuredJsonDecoder>(spec);
  if (format == "json") return std::make_unique<JsonRowDecoder>(spec);
  if (format == "raw_string") return std::make_unique<RawStringDecoder>(spec);
  if (format == "debezium_json") return std::make_unique<DebeziumRowDecoder>(spec);
  if (format == "avro") return std::make_unique<AvroRowDecoder>(spec);
  unknown_format(format);
}

std::unique_ptr<RowEncoder> make_row_encoder(const TableSpec& spec) {
  std::string format = table_format(spec);
  if (format == "json" && json_unstructured(spec))
    return std::make_unique<UnstructuredJsonEncoder>(spec);
  if (format == "json") return std::make_unique<JsonRowEncoder>(spec);
  if (format == "raw_string") return std::make_unique<RawStringEncoder>(spec);
  if (format == "debezium_json") return std::make_unique<DebeziumRowEncoder>(spec);
  if (format == "avro") return std::make_unique<AvroRowEncoder>(spec);
  unknown_format(format);
}

BadData::BadData(const TableSpec& spec)
    : drop_(get_option(spec.table_options, "bad_data") == "drop") {}

}  // namespace arroyo
