#include "operators/stored_row.hpp"

extern "C" {
#include "utils/datum.h"
}

namespace arroyo {

RowLayout::RowLayout(TupleDesc desc) {
  for (int c = 0; c < desc->natts; c++) {
    Form_pg_attribute att = TupleDescAttr(desc, c);
    len_.push_back(att->attlen);
    byval_.push_back(att->attbyval);
  }
}

StoredRow RowLayout::copy(const Datum* values, const bool* nulls, TimestampTz time) const {
  int n = ncols();
  StoredRow row;
  char* block = (char*)palloc(sizeof(Datum) * n + sizeof(bool) * n);
  row.values = (Datum*)block;
  row.nulls = (bool*)(block + sizeof(Datum) * n);
  row.time = time;
  for (int c = 0; c < n; c++) {
    row.nulls[c] = nulls[c];
    row.values[c] =
        nulls[c] || byval_[c] ? (nulls[c] ? 0 : values[c]) : datumCopy(values[c], false, len_[c]);
  }
  return row;
}

void RowLayout::free(StoredRow& row) const {
  if (!row.values) return;
  for (int c = 0; c < ncols(); c++)
    if (!row.nulls[c] && !byval_[c]) pfree(DatumGetPointer(row.values[c]));
  pfree(row.values);
  row.values = nullptr;
  row.nulls = nullptr;
}

int64 RowLayout::bytes(const StoredRow& row) const {
  int64 total = (sizeof(Datum) + sizeof(bool)) * ncols() + sizeof(StoredRow);
  for (int c = 0; c < ncols(); c++)
    if (!row.nulls[c] && !byval_[c]) total += int64(datumGetSize(row.values[c], false, len_[c]));
  return total;
}

bool RowLayout::same(const StoredRow& a, const Datum* values, const bool* nulls) const {
  for (int c = 0; c < ncols(); c++) {
    if (a.nulls[c] != nulls[c]) return false;
    if (!nulls[c] && !datum_image_eq(a.values[c], values[c], byval_[c], len_[c])) return false;
  }
  return true;
}

void RowLayout::encode(const StoredRow& row, StateEncoder& out) const {
  out.put_int(row.time);
  for (int c = 0; c < ncols(); c++) out.put_datum(row.values[c], row.nulls[c], byval_[c], len_[c]);
}

StoredRow RowLayout::decode(StateDecoder& in) const {
  int n = ncols();
  StoredRow row;
  char* block = (char*)palloc(sizeof(Datum) * n + sizeof(bool) * n);
  row.values = (Datum*)block;
  row.nulls = (bool*)(block + sizeof(Datum) * n);
  row.time = in.get_int();
  for (int c = 0; c < n; c++) row.values[c] = in.get_datum(&row.nulls[c], byval_[c], len_[c]);
  return row;
}

}  // namespace arroyo
