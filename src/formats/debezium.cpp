#include "formats/debezium.hpp"

#include "pg/guard.hpp"

namespace arroyo {

DebeziumEncoder::DebeziumEncoder(const TableSpec& spec, const Options& options)
    : rows_(spec, options), ncols_(spec.natts) {
  len_.assign(ncols_, -1);
  byval_.assign(ncols_, false);
  for (const ColumnInfo& c : spec.columns) {
    int16 len;
    bool byval;
    pg::call([&] { get_typlenbyval(c.type, &len, &byval); });
    len_[c.attnum - 1] = len;
    byval_[c.attnum - 1] = byval;
  }
}

bool DebeziumEncoder::same_key(const Datum* a, const bool* an, const Datum* b,
                               const bool* bn) const {
  if (keys_.empty()) return false;
  for (int c : keys_) {
    if (an[c] != bn[c]) return false;
    if (!an[c] && !datumIsEqual(a[c], b[c], byval_[c], len_[c])) return false;
  }
  return true;
}

// Appends {"before": <before_json>, "after": <row or null>, "op": op} and a newline.
void DebeziumEncoder::envelope(const std::string& before_json, const Datum* after,
                               const bool* after_nulls, const char* op, std::string& out) {
  out += "{\"before\":";
  out += before_json;
  out += ",\"after\":";
  if (after)
    rows_.encode(after, after_nulls, out);
  else
    out += "null";
  out += ",\"op\":\"";
  out += op;
  out += "\"}\n";
}

// Keeps a delete until we know whether an insert of the same key follows it: its JSON, and a
// private copy of its key values (the batch's memory is freed after each round).
void DebeziumEncoder::hold(const Datum* values, const bool* nulls) {
  held_ = true;
  held_json_.clear();
  rows_.encode(values, nulls, held_json_);
  held_values_.assign(values, values + ncols_);
  held_nulls_.assign(nulls, nulls + ncols_);
  pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
    for (int c : keys_)
      if (!held_nulls_[c] && !byval_[c]) held_values_[c] = datumCopy(values[c], false, len_[c]);
    MemoryContextSwitchTo(old);
  });
}

void DebeziumEncoder::release() {
  if (!held_) return;
  held_ = false;
  pg::call([&] {
    for (int c : keys_)
      if (!held_nulls_[c] && !byval_[c]) pfree(DatumGetPointer(held_values_[c]));
  });
}

void DebeziumEncoder::finish(std::string& out) {
  if (!held_) return;
  envelope(held_json_, nullptr, nullptr, "d", out);
  release();
}

void DebeziumEncoder::encode(const Batch& rows, std::string& out) {
  for (int r = 0; r < rows.size(); r++) {
    const Datum* values = rows.values(r);
    const bool* nulls = rows.nulls(r);
    if (rows.op(r) == RowOp::Delete) {
      finish(out);
      hold(values, nulls);
    } else if (held_ && same_key(held_values_.data(), (const bool*)held_nulls_.data(), values,
                                 nulls)) {
      envelope(held_json_, values, nulls, "u", out);
      release();
    } else {
      finish(out);
      envelope("null", values, nulls, "c", out);
    }
  }
}

}  // namespace arroyo

#include <simdjson.h>

namespace arroyo {

DebeziumDecoder::DebeziumDecoder(const TableSpec& spec, const Options& options)
    : rows_(spec, options), parser_(std::make_unique<simdjson::dom::parser>()) {}

DebeziumDecoder::~DebeziumDecoder() = default;

namespace {

[[noreturn]] void not_an_envelope(const std::string& why) {
  pg::fail(ERRCODE_INVALID_TEXT_REPRESENTATION, "not a Debezium change event: " + why);
}

}  // namespace

void DebeziumDecoder::decode_row(const std::string& json, Batch& out, TimestampTz time, RowOp op) {
  int row = out.append(time, op);
  try {
    rows_.decode(json.data(), json.size(), out, row);
  } catch (...) {
    out.drop_last();
    throw;
  }
}

void DebeziumDecoder::decode(const char* data, size_t len, Batch& out, TimestampTz time) {
  if (len == 0) return;  // a tombstone
  simdjson::dom::element doc;
  if (auto err = parser_->parse(data, len).get(doc))
    pg::fail(ERRCODE_INVALID_TEXT_REPRESENTATION,
             std::string("malformed JSON: ") + simdjson::error_message(err));
  if (doc.is_null()) return;
  simdjson::dom::element envelope = doc;
  simdjson::dom::element payload;
  if (doc.is_object() && doc["schema"].error() == simdjson::SUCCESS &&
      doc["payload"].get(payload) == simdjson::SUCCESS)
    envelope = payload;
  if (envelope.is_null()) return;  // JsonConverter's tombstone
  if (!envelope.is_object()) not_an_envelope("the message is not a JSON object");
  std::string_view op;
  if (envelope["op"].get(op) != simdjson::SUCCESS) not_an_envelope("no \"op\" field");
  simdjson::dom::element before, after;
  bool has_before = envelope["before"].get(before) == simdjson::SUCCESS && before.is_object();
  bool has_after = envelope["after"].get(after) == simdjson::SUCCESS && after.is_object();
  int start = out.size();
  try {
    if (op == "c" || op == "r") {
      if (!has_after) not_an_envelope("op \"" + std::string(op) + "\" without \"after\"");
      decode_row(simdjson::minify(after), out, time, RowOp::Insert);
    } else if (op == "d") {
      if (!has_before) not_an_envelope("op \"d\" without \"before\" (the source table needs "
                                       "REPLICA IDENTITY FULL)");
      decode_row(simdjson::minify(before), out, time, RowOp::Delete);
    } else if (op == "u") {
      if (!has_before || !has_after)
        not_an_envelope("op \"u\" needs \"before\" and \"after\" (the source table needs "
                        "REPLICA IDENTITY FULL)");
      decode_row(simdjson::minify(before), out, time, RowOp::Delete);
      decode_row(simdjson::minify(after), out, time, RowOp::Insert);
    } else if (op != "t" && op != "m") {
      not_an_envelope("unknown op \"" + std::string(op) + "\"");
    }
  } catch (...) {
    out.truncate(start);
    throw;
  }
}

}  // namespace arroyo
