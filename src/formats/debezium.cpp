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
