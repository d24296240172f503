#include "operators/sorted_aggregate.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_clause.h"
#include "utils/fmgroids.h"
#include "utils/sortsupport.h"
}

#include <algorithm>

namespace arroyo {

bool SortedAggregate::needed(const Aggref* a) {
  return a->aggkind != AGGKIND_NORMAL || a->aggorder != NIL || a->aggdistinct != NIL;
}

SortedAggregate::SortedAggregate(Aggref* aggref)
    : fn_(std::make_unique<AggregateFunction>(aggref, false)),
      distinct_(aggref->aggdistinct != NIL),
      count_distinct_(distinct_ && aggref->aggfnoid == F_COUNT_ANY &&
                      list_length(aggref->args) == 1 && aggref->aggorder == NIL) {
  ListCell* lc;
  pg::call([&] {
    foreach (lc, aggref->args) {
      Expr* e = ((TargetEntry*)lfirst(lc))->expr;
      row_types_.push_back(ValueType::of(exprType((Node*)e)));
    }
  });
  // PostgreSQL sorts a DISTINCT aggregate's rows by its DISTINCT list (which starts with the
  // ORDER BY items), else by the ORDER BY (WITHIN GROUP's included).
  List* sortlist = distinct_ ? aggref->aggdistinct : aggref->aggorder;
  pg::call([&] {
    foreach (lc, sortlist) {
      SortGroupClause* sgc = (SortGroupClause*)lfirst(lc);
      TargetEntry* te = get_sortgroupclause_tle(sgc, aggref->args);
      SortColumn col{};
      col.arg = te->resno - 1;
      col.support.ssup_cxt = CurrentMemoryContext;
      col.support.ssup_collation = exprCollation((Node*)te->expr);
      col.support.ssup_nulls_first = sgc->nulls_first;
      PrepareSortSupportFromOrderingOp(sgc->sortop, &col.support);
      col.plain = !col.support.abbreviate && (col.support.comparator == ssup_datum_signed_cmp ||
                                              col.support.comparator == ssup_datum_unsigned_cmp ||
                                              col.support.comparator == ssup_datum_int32_cmp);
      sort_.push_back(col);
    }
    // Direct arguments (percentile_cont(0.9)): constants, evaluated once.
    int i = 0;
    foreach (lc, aggref->aggdirectargs) {
      Expr* e = expression_planner((Expr*)lfirst(lc));
      if (!IsA(e, Const))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("a direct argument of an ordered-set aggregate must be a constant "
                               "in a pipeline")));
      fn_->set_direct_arg(i++, ((Const*)e)->constvalue, ((Const*)e)->constisnull);
    }
  });
}

SortedAggregate::~SortedAggregate() = default;

// Orders two kept rows as the aggregate's sort clauses do (0 when they are equal). Integer
// comparators (bigint, int, timestamps, date, ...) are called directly: they cannot raise an
// error, and a guarded call per comparison (a sigsetjmp) cost more than the sort itself.
int SortedAggregate::compare(const ValueMultiset::Entry* a, const ValueMultiset::Entry* b) const {
  for (const SortColumn& c : sort_) {
    if (c.plain) {
      int r = ApplySortComparator(a->args[c.arg], a->nulls[c.arg], b->args[c.arg], b->nulls[c.arg],
                                  const_cast<SortSupportData*>(&c.support));
      if (r != 0) return r;
      continue;
    }
    int r = pg::call([&] {
      return ApplySortComparator(a->args[c.arg], a->nulls[c.arg], b->args[c.arg], b->nulls[c.arg],
                                 const_cast<SortSupportData*>(&c.support));
    });
    if (r != 0) return r;
  }
  return 0;
}

Datum SortedAggregate::compute(const ValueMultiset& rows, MemoryContext scratch, bool* isnull) {
  // count(DISTINCT x) of an integer-like x: the multiset's entries are distinct by image, which
  // for these types is equality, so the result is the number of entries, less the NULL one if
  // any; no sort. (Sorting every kept value at each flush made Nexmark q15 quadratic.)
  if (count_distinct_ && sort_.size() == 1 && sort_[0].plain) {
    Datum null_value = 0;
    bool null_flag = true;
    bool has_null =
        const_cast<ValueMultiset&>(rows).find(row_types_, &null_value, &null_flag) != nullptr;
    *isnull = false;
    return Int64GetDatum(rows.distinct_rows() - (has_null ? 1 : 0));
  }
  std::vector<const ValueMultiset::Entry*> sorted;
  rows.for_each([&](const ValueMultiset::Entry& e) {
    if (e.count > 0) sorted.push_back(&e);
  });
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](const ValueMultiset::Entry* a, const ValueMultiset::Entry* b) {
                     return compare(a, b) < 0;
                   });
  // Which rows go in, how often: DISTINCT keeps the first of each run of equal rows, once.
  std::vector<int64> times(sorted.size());
  for (size_t i = 0; i < sorted.size(); i++) {
    bool repeated = distinct_ && i > 0 && compare(sorted[i - 1], sorted[i]) == 0;
    times[i] = !distinct_ ? sorted[i]->count : repeated ? 0 : 1;
  }
  AggregateFunction& fn = *fn_;
  const ValueMultiset::Entry* const* entries = sorted.data();
  const int64* counts = times.data();
  size_t n = sorted.size();
  return pg::call([&] {
    AggValue state;
    fn.init(state, scratch);
    for (size_t i = 0; i < n; i++)
      for (int64 k = 0; k < counts[i]; k++)
        fn.advance(state, entries[i]->args, entries[i]->nulls, scratch);
    Datum result = fn.finish(state, scratch, isnull);
    fn.release_callbacks();
    MemoryContextReset(scratch);
    return result;
  });
}

}  // namespace arroyo
