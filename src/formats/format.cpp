#include "formats/format.hpp"

#include "formats/debezium.hpp"
#include "formats/json.hpp"
#include "formats/raw_string.hpp"
#include "pg/guard.hpp"

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
  bool encode_row(const Datum* values, const bool* nulls, std::string& out) override {
    out.clear();
    encoder_.encode(values, nulls, out);
    return true;
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
    bool has_value = encode_row(rows.values(r), rows.nulls(r), payload_);
    emit({has_value ? payload_.data() : nullptr, has_value ? payload_.size() : 0, rows.values(r),
          rows.nulls(r), rows.time(r)});
  }
}

std::vector<std::string> message_format_names() { return {"json", "raw_string", "debezium_json"}; }

std::vector<OptionSpec> message_format_option_specs() { return json_format_option_specs(); }

void validate_message_format(const std::string& format, const TableSpec& spec, TableRole role) {
  if (format == "raw_string") {
    validate_raw_string_columns(spec);
    for (const char* option : {"json.timestamp_format", "json.max_depth"})
      if (get_option(spec.table_options, option))
        pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
                 std::string("option \"") + option + "\" applies only to format \"json\"");
    if (raw_string_columns_deferred(spec)) return;  // no payload column yet: no codec
  }
  // Building the codec looks up every column type's input or output function.
  if (role == TableRole::Source)
    make_row_decoder(format, spec);
  else
    make_row_encoder(format, spec);
}

std::unique_ptr<RowDecoder> make_row_decoder(const std::string& format, const TableSpec& spec) {
  if (format == "json") return std::make_unique<JsonRowDecoder>(spec);
  if (format == "raw_string") return std::make_unique<RawStringDecoder>(spec);
  if (format == "debezium_json") return std::make_unique<DebeziumRowDecoder>(spec);
  unknown_format(format);
}

std::unique_ptr<RowEncoder> make_row_encoder(const std::string& format, const TableSpec& spec) {
  if (format == "json") return std::make_unique<JsonRowEncoder>(spec);
  if (format == "raw_string") return std::make_unique<RawStringEncoder>(spec);
  if (format == "debezium_json") return std::make_unique<DebeziumRowEncoder>(spec);
  unknown_format(format);
}

}  // namespace arroyo
