// A batch of rows flowing through the dataflow: row-major Datum/null arrays plus, per row,
// its change operation (insert or delete), its event time and, for a source read in splits
// (Kafka partitions), the split it came from.
#pragma once

#include "pg/postgres.hpp"

#include <cstring>
#include <memory>

namespace arroyo {

// The change a row carries. Append-only streams only ever carry Insert.
enum class RowOp : int8_t { Insert = 1, Delete = -1 };

class Batch {
 public:
  static constexpr int kDefaultCapacity = 1024;

  Batch(int ncols, int capacity = kDefaultCapacity)
      : ncols_(ncols),
        capacity_(capacity),
        values_(new Datum[size_t(ncols) * capacity]),
        nulls_(new bool[size_t(ncols) * capacity]),
        ops_(new RowOp[capacity]),
        times_(new TimestampTz[capacity]) {}

  int ncols() const { return ncols_; }
  int capacity() const { return capacity_; }
  int size() const { return count_; }
  bool full() const { return count_ == capacity_; }
  bool empty() const { return count_ == 0; }
  void clear() {
    count_ = 0;
    has_splits_ = false;
  }
  // Removes the last appended row (a row that turned out malformed).
  void drop_last() { count_--; }
  // Appends rows [from, to) of another batch of the same width.
  void append_rows(const Batch& other, int from, int to) {
    for (int i = from; i < to; i++) {
      int row = count_++;
      memcpy(values(row), other.values(i), sizeof(Datum) * ncols_);
      memcpy(nulls(row), other.nulls(i), sizeof(bool) * ncols_);
      ops_[row] = other.op(i);
      times_[row] = other.time(i);
      if (other.has_splits_) set_split(row, other.split(i));
    }
  }
  // Keeps only the first n rows.
  void truncate(int n) { count_ = n; }

  Datum* values(int row) { return &values_[size_t(row) * ncols_]; }
  bool* nulls(int row) { return &nulls_[size_t(row) * ncols_]; }
  const Datum* values(int row) const { return &values_[size_t(row) * ncols_]; }
  const bool* nulls(int row) const { return &nulls_[size_t(row) * ncols_]; }
  RowOp& op(int row) { return ops_[row]; }
  RowOp op(int row) const { return ops_[row]; }
  TimestampTz& time(int row) { return times_[row]; }
  TimestampTz time(int row) const { return times_[row]; }
  // The split a row came from (0 where the source does not say).
  int32 split(int row) const { return has_splits_ ? splits_[row] : 0; }
  bool has_splits() const { return has_splits_; }
  void set_split(int row, int32 split) {
    if (!has_splits_) {
      if (!splits_) splits_.reset(new int32[capacity_]);
      for (int r = 0; r < count_; r++) splits_[r] = 0;
      has_splits_ = true;
    }
    splits_[row] = split;
  }

  // Appends a row slot (all columns NULL) and returns its index; the caller fills it in.
  int append(TimestampTz time, RowOp op = RowOp::Insert) {
    int row = count_++;
    bool* n = nulls(row);
    for (int c = 0; c < ncols_; c++) n[c] = true;
    ops_[row] = op;
    times_[row] = time;
    if (has_splits_) splits_[row] = 0;
    return row;
  }

 private:
  int ncols_, capacity_, count_ = 0;
  std::unique_ptr<Datum[]> values_;
  std::unique_ptr<bool[]> nulls_;
  std::unique_ptr<RowOp[]> ops_;
  std::unique_ptr<TimestampTz[]> times_;
  std::unique_ptr<int32[]> splits_;  // allocated by the first set_split()
  bool has_splits_ = false;
};

}  // namespace arroyo
