// Aggregates whose input order or uniqueness matters: DISTINCT, ORDER BY inside the call, and
// WITHIN GROUP (ordered-set and hypothetical-set). As PostgreSQL's executor does, they are fed
// their group's rows sorted (by the ORDER BY, or by the DISTINCT arguments), duplicates dropped
// for DISTINCT. The operators keep each group's argument rows in a ValueMultiset (which also
// takes retractions) and compute the result from it when they emit.
#pragma once

#include "operators/aggregate_function.hpp"
#include "operators/value_multiset.hpp"

#include <memory>
#include <vector>

namespace arroyo {

class SortedAggregate {
 public:
  // `aggref` as planned; its direct arguments (if any) must be constants.
  explicit SortedAggregate(Aggref* aggref);
  ~SortedAggregate();

  // Whether an aggregate call needs this (DISTINCT, ORDER BY, WITHIN GROUP).
  static bool needed(const Aggref* aggref);
  // The types of the argument rows kept per group: every argument of the call, the ORDER BY
  // expressions included, in the order the planner lays them out.
  const std::vector<ValueType>& row_types() const { return row_types_; }

  // The aggregate's result over `rows`, allocated in CurrentMemoryContext; transition states
  // live in `scratch`, which is reset afterwards. Call outside pg::call (it sorts in C++).
  Datum compute(const ValueMultiset& rows, MemoryContext scratch, bool* isnull);

 private:
  struct SortColumn {
    int arg;  // 0-based position among the kept columns
    SortSupportData support;
    bool plain;  // its comparator is one of PostgreSQL's integer ones, which cannot fail
  };
  int compare(const ValueMultiset::Entry* a, const ValueMultiset::Entry* b) const;

  std::unique_ptr<AggregateFunction> fn_;
  std::vector<ValueType> row_types_;
  std::vector<SortColumn> sort_;
  bool distinct_;
  bool count_distinct_;  // count(DISTINCT x) of one argument, without ORDER BY
};

}  // namespace arroyo
