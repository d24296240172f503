#include "formats/debezium.hpp"

#include "pg/guard.hpp"

namespace arroyo {

DebeziumEncoder::DebeziumEncoder(const TableSpec& spec, const Options& options)
    : rows_(spec, options), spec_(spec), ncols_(spec.natts), held_nulls_(new bool[spec.natts]) {
  len_.assign(ncols_, -1);
  byval_.assign(ncols_, true);
  for (const ColumnInfo& c : spec.columns) {
    int16 len;
    bool byval;
    pg::call([&] { get_typlenbyval(c.type, &len, &byval); });
    len_[c.attnum - 1] = len;
    byval_[c.attnum - 1] = byval;
  }
  held_memory_ = pg::call([&] {
    return AllocSetContextCreate(TopMemoryContext, "arroyo_stream debezium", ALLOCSET_SMALL_SIZES);
  });
  held_values_.assign(ncols_, 0);
}

DebeziumEncoder::~DebeziumEncoder() {
  try {
    pg::call([&] { MemoryContextDelete(held_memory_); });
  } catch (...) {
  }
}

void DebeziumEncoder::set_key_columns(const std::vector<int>& keys) {
  keys_ = keys;
  TableSpec key_spec = spec_;
  key_spec.columns.clear();
  for (const ColumnInfo& c : spec_.columns)
    for (int k : keys)
      if (c.attnum - 1 == k) key_spec.columns.push_back(c);
  keys_encoder_ = key_spec.columns.empty()
                      ? nullptr
                      : std::make_unique<JsonEncoder>(key_spec, spec_.table_options);
}

const std::string& DebeziumEncoder::key_json(const Datum* values, const bool* nulls) {
  key_.clear();
  if (keys_encoder_) keys_encoder_->encode(values, nulls, key_);
  return key_;
}

bool DebeziumEncoder::same_key(const Datum* values, const bool* nulls) const {
  if (keys_.empty()) return false;
  for (int c : keys_) {
    if (held_nulls_[c] != nulls[c]) return false;
    if (!nulls[c] && !datumIsEqual(held_values_[c], values[c], byval_[c], len_[c])) return false;
  }
  return true;
}

// Sets out_ to {"before": <before_json>, "after": <row or null>, "op": op}.
void DebeziumEncoder::envelope(const std::string& before_json, const Datum* after,
                               const bool* after_nulls, const char* op) {
  out_ = "{\"before\":";
  out_ += before_json;
  out_ += ",\"after\":";
  if (after)
    rows_.encode(after, after_nulls, out_);
  else
    out_ += "null";
  out_ += ",\"op\":\"";
  out_ += op;
  out_ += "\"}";
}

// Keeps a delete (its JSON and a private copy of its values: the batch is freed after each
// round) until we know whether an insert of the same key follows it.
void DebeziumEncoder::hold(const Datum* values, const bool* nulls, TimestampTz time) {
  held_ = true;
  held_time_ = time;
  held_json_.clear();
  rows_.encode(values, nulls, held_json_);
  pg::call([&] {
    MemoryContext old = MemoryContextSwitchTo(held_memory_);
    for (int c = 0; c < ncols_; c++) {
      held_nulls_[c] = nulls[c];
      held_values_[c] = nulls[c] ? 0 : datumCopy(values[c], byval_[c], len_[c]);
    }
    MemoryContextSwitchTo(old);
  });
}

void DebeziumEncoder::release() {
  held_ = false;
  pg::call([&] { MemoryContextReset(held_memory_); });
}

void DebeziumEncoder::finish(const Emit& emit) {
  if (!held_) return;
  envelope(held_json_, nullptr, nullptr, "d");
  emit(out_, held_values_.data(), held_nulls_.get(), held_time_);
  release();
}

void DebeziumEncoder::encode(const Batch& rows, const Emit& emit) {
  for (int r = 0; r < rows.size(); r++) {
    const Datum* values = rows.values(r);
    const bool* nulls = rows.nulls(r);
    if (rows.op(r) == RowOp::Delete) {
      finish(emit);
      hold(values, nulls, rows.time(r));
    } else if (held_ && same_key(values, nulls)) {
      envelope(held_json_, values, nulls, "u");
      emit(out_, values, nulls, rows.time(r));
      release();
    } else {
      finish(emit);
      envelope("null", values, nulls, "c");
      emit(out_, values, nulls, rows.time(r));
    }
  }
}

}  // namespace arroyo

namespace arroyo {

DebeziumDecoder::DebeziumDecoder(const TableSpec& spec, const Options& options)
    : rows_(spec, options), scanner_(json_max_depth(options)) {}

DebeziumDecoder::~DebeziumDecoder() = default;

namespace {

[[noreturn]] void not_an_envelope(const std::string& why) {
  pg::fail(ERRCODE_INVALID_TEXT_REPRESENTATION, "not a Debezium change event: " + why);
}

}  // namespace

void DebeziumDecoder::decode_row(std::string_view json, Batch& out, TimestampTz time, RowOp op) {
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
  const DebeziumEvent* event;
  try {
    event = &scanner_.scan(data, len);
  } catch (const JsonScanError& e) {
    pg::fail(json_scan_errcode(e), e.what());
  }
  if (event->tombstone) return;
  if (event->not_object) not_an_envelope("the message is not a JSON object");
  if (!event->has_op) not_an_envelope("no \"op\" field");
  std::string_view op = event->op;
  bool has_before = event->before.data() != nullptr;
  bool has_after = event->after.data() != nullptr;
  int start = out.size();
  try {
    if (op == "c" || op == "r") {
      if (!has_after) not_an_envelope("op \"" + std::string(op) + "\" without \"after\"");
      decode_row(event->after, out, time, RowOp::Insert);
    } else if (op == "d") {
      if (!has_before)
        not_an_envelope(
            "op \"d\" without \"before\" (the source table needs "
            "REPLICA IDENTITY FULL)");
      decode_row(event->before, out, time, RowOp::Delete);
    } else if (op == "u") {
      if (!has_before || !has_after)
        not_an_envelope(
            "op \"u\" needs \"before\" and \"after\" (the source table needs "
            "REPLICA IDENTITY FULL)");
      decode_row(event->before, out, time, RowOp::Delete);
      decode_row(event->after, out, time, RowOp::Insert);
    } else if (op != "t" && op != "m") {
      not_an_envelope("unknown op \"" + std::string(op) + "\"");
    }
  } catch (...) {
    out.truncate(start);
    throw;
  }
}

}  // namespace arroyo
