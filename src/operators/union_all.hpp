// UNION ALL: forwards every input's rows. The runtime combines its inputs' watermarks (their
// minimum) and ends it when every input has ended, as for any node.
#pragma once

#include "core/operator.hpp"

namespace arroyo {

class UnionAllOperator : public Operator {
 public:
  void push(int, Batch& rows) override { emit(rows); }
};

}  // namespace arroyo
