// Semi and anti joins (IN / EXISTS and NOT EXISTS subqueries): the join's state (both sides'
// rows per key, each left row with how many right rows it matches), but only left rows come
// out: a semi join's while its match count is above zero, an anti join's while it is zero.
// Over two append-only inputs a matched left row stays matched, so it is emitted (semi) or
// dropped (anti) and not kept.
#include "operators/join.hpp"

#include "pg/guard.hpp"

#include <vector>

namespace arroyo {

// One row (or retraction) of side `s` of a semi or anti join. Inside pg::call.
void JoinOperator::process_filter(int s, const Datum* values, const bool* nulls, RowOp op,
                                  TimestampTz t) {
  Side& me = sides_[s];
  if (!key_of(me, values, nulls)) {
    // A left row with a NULL key matches nothing; a right row with one is matched by nothing.
    if (s == 0 && anti_) append_joined(0, values, nulls, nullptr, nullptr, op, t, 1);
    return;
  }
  Group* g = group_of(s, op, t);
  if (!g || (op == RowOp::Delete && !g->multisets[s].find(me.types, values, nulls))) return;
  if (t > g->last_seen) g->last_seen = t;
  if (s == 0) {
    int64 matches = 0;
    g->multisets[1].for_each([&](const ValueMultiset::Entry& e) {
      if (residual_holds(0, values, nulls, e.args, e.nulls)) matches += e.count;
    });
    if ((matches > 0) != anti_) append_joined(0, values, nulls, nullptr, nullptr, op, t, 1);
    if (op == RowOp::Delete)
      g->multisets[0].remove(me.types, values, nulls);
    else if (!(forget_matched_ && matches > 0))
      g->multisets[0].add(me.types, values, nulls, memory_)->matches = matches;
  } else {
    // A left row whose match count goes 0 <-> 1 enters or leaves the result.
    struct Matched {
      Datum* args;
      bool* nulls;
      int64 count;
    };
    std::vector<Matched> matched;
    g->multisets[0].for_each_mutable([&](ValueMultiset::Entry& e) {
      if (!residual_holds(1, values, nulls, e.args, e.nulls)) return;
      bool changes = op == RowOp::Insert ? e.matches++ == 0 : --e.matches == 0;
      if (!changes) return;
      bool enters = (op == RowOp::Insert) != anti_;
      append_joined(0, e.args, e.nulls, nullptr, nullptr, enters ? RowOp::Insert : RowOp::Delete, t,
                    e.count);
      if (forget_matched_) matched.push_back({e.args, e.nulls, e.count});
    });
    if (!matched.empty()) {
      send();  // (the rows sent point into the entries freed next)
      for (const Matched& m : matched)
        for (int64 c = 0; c < m.count; c++)
          g->multisets[0].remove(sides_[0].types, m.args, m.nulls);
    }
    if (op == RowOp::Insert)
      g->multisets[1].add(me.types, values, nulls, memory_);
    else
      g->multisets[1].remove(me.types, values, nulls);
  }
  if (g->multisets[0].empty() && g->multisets[1].empty())
    forget(g);
  else
    unsaved_.mark(g);
}

}  // namespace arroyo
