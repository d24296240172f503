// UNION ALL: forwards every input's rows; the watermark is the minimum over the inputs, and the
// output ends when every input has ended.
#pragma once

#include "core/operator.hpp"

#include <vector>

namespace arroyo {

class UnionAllOperator : public Operator {
 public:
  explicit UnionAllOperator(int inputs)
      : watermarks_(inputs, DT_NOBEGIN), ended_(inputs, false), idle_(inputs, false) {}

  void push(int port, Batch& rows) override {
    idle_[port] = false;
    emit(rows);
  }
  void idle(int port) override;
  void watermark(int port, TimestampTz wm) override;
  void end(int port) override;

 private:
  void emit_min_watermark();
  std::vector<TimestampTz> watermarks_;
  std::vector<bool> ended_;
  std::vector<bool> idle_;
  TimestampTz emitted_ = DT_NOBEGIN;
};

}  // namespace arroyo
