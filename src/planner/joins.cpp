// FROM with several items or JOINs: a tree of JoinNodes whose rows are the leaves' columns side
// by side. Every Var of the query is then renumbered to its column in that wide row, so the
// rest of the planner sees one input, as with a single FROM item.
#include "planner/plan_util.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "utils/typcache.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
}

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

namespace arroyo {

namespace {

// Where each FROM leaf's columns start in a plan's rows: range table index -> offset.
using Offsets = std::map<int, int>;

struct Planned {
  PlanNodePtr node;
  Offsets offsets;
};

// The range table indexes of the Vars (of this query level) an expression uses (inside
// pg::call).
bool varnos_walker(Node* node, void* context) {
  if (!node) return false;
  if (IsA(node, Var)) {
    Var* v = (Var*)node;
    if (v->varlevelsup == 0)
      *(Bitmapset**)context = bms_add_member(*(Bitmapset**)context, v->varno);
    return false;
  }
  return expression_tree_walker(node, pg_walker<bool>(varnos_walker), context);
}

Bitmapset* varnos_of(Node* e) {
  return pg::call([&] {
    Bitmapset* out = nullptr;
    varnos_walker(e, &out);
    return out;
  });
}

Bitmapset* members_of(const Offsets& offsets) {
  return pg::call([&] {
    Bitmapset* out = nullptr;
    for (auto& [rtindex, offset] : offsets) out = bms_add_member(out, rtindex);
    return out;
  });
}

// Renumbers Vars to their column in the rows of a plan with these offsets (inside pg::call).
Node* renumber_mutator(Node* node, void* context) {
  if (!node) return nullptr;
  if (IsA(node, Var) && ((Var*)node)->varlevelsup == 0) {
    Var* v = (Var*)copyObjectImpl(node);
    const Offsets& offsets = *(const Offsets*)context;
    auto it = offsets.find(v->varno);
    if (it == offsets.end())
      elog(ERROR, "join planning: Var of range table entry %d not found", v->varno);
    if (v->varattno == 0)
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("a whole-row reference to a joined table is not supported in a "
                             "pipeline"),
                      errhint("Name the columns.")));
    v->varno = 1;
    v->varnosyn = 0;
    v->varattno = AttrNumber(it->second + v->varattno);
    v->varattnosyn = 0;
    return (Node*)v;
  }
  return expression_tree_mutator(node, pg_walker<Node*>(renumber_mutator), context);
}

Node* renumber(Node* e, const Offsets& offsets) {
  return pg::call([&] { return renumber_mutator(e, const_cast<Offsets*>(&offsets)); });
}

// An ON or WHERE condition as a join key: `left expr = right expr` with the type's equality,
// each side using only its own input's columns. Fills the key expressions (renumbered for
// each side's rows, cast to a common type) and returns true, or returns false.
bool as_join_key(Node* cond, const Planned& left, const Planned& right, Expr** left_key,
                 Expr** right_key) {
  if (!IsA(cond, OpExpr) || list_length(((OpExpr*)cond)->args) != 2) return false;
  OpExpr* op = (OpExpr*)cond;
  Node* a = (Node*)linitial(op->args);
  Node* b = (Node*)lsecond(op->args);
  Bitmapset* l = members_of(left.offsets);
  Bitmapset* r = members_of(right.offsets);
  Bitmapset* va = varnos_of(a);
  Bitmapset* vb = varnos_of(b);
  bool a_left = !bms_is_empty(va) && bms_is_subset(va, l),
       a_right = !bms_is_empty(va) && bms_is_subset(va, r);
  bool b_left = !bms_is_empty(vb) && bms_is_subset(vb, l),
       b_right = !bms_is_empty(vb) && bms_is_subset(vb, r);
  if (a_right && b_left)
    std::swap(a, b);
  else if (!(a_left && b_right))
    return false;
  return pg::call([&] {
    if (contain_volatile_functions(a) || contain_volatile_functions(b)) return false;
    Oid ta = exprType(a), tb = exprType(b);
    Oid common = ta;
    if (ta != tb) {
      // A cross-type equality of a hash operator family (int4 = int8): compare in the common
      // type, to which both sides cast without changing which values are equal.
      if (!op_hashjoinable(op->opno, ta)) return false;
      common = select_common_type(nullptr, list_make2(a, b), "JOIN", nullptr);
      a = coerce_to_common_type(nullptr, a, common, "JOIN");
      b = coerce_to_common_type(nullptr, b, common, "JOIN");
    } else {
      TypeCacheEntry* tc = lookup_type_cache(common, TYPECACHE_EQ_OPR | TYPECACHE_HASH_PROC);
      if (op->opno != tc->eq_opr || !OidIsValid(tc->hash_proc)) return false;
    }
    *left_key = (Expr*)renumber(a, left.offsets);
    *right_key = (Expr*)renumber(b, right.offsets);
    return true;
  });
}

// The joined rows' layout: the left input's columns, then the right input's.
TupleDesc joined_desc(TupleDesc left, TupleDesc right) {
  return pg::call([&] {
    TupleDesc d = CreateTemplateTupleDesc(left->natts + right->natts);
    for (int i = 0; i < left->natts; i++) TupleDescCopyEntry(d, i + 1, left, i + 1);
    for (int i = 0; i < right->natts; i++) TupleDescCopyEntry(d, left->natts + i + 1, right, i + 1);
    for (int i = 0; i < d->natts; i++) TupleDescAttr(d, i)->attnotnull = false;
    return d;
  });
}

// Follows column `attno` (1-based) of `node`'s rows down plain column references, through
// projections and, with `through_joins`, into the join input it comes from: the node that
// computes the column, and its number there; nullptr if an expression computes it on the way.
std::pair<const PlanNode*, int> column_origin(const PlanNode* node, int attno, bool through_joins) {
  for (;;) {
    if (node->kind == PlanNode::Kind::Project) {
      auto* p = static_cast<const ProjectNode*>(node);
      Node* e = (Node*)((TargetEntry*)list_nth(p->targets, attno - 1))->expr;
      if (!IsA(e, Var)) return {nullptr, 0};
      attno = ((Var*)e)->varattno;
      node = p->input.get();
    } else if (node->kind == PlanNode::Kind::Join && through_joins) {
      auto* j = static_cast<const JoinNode*>(node);
      int left_cols = j->left->desc->natts;
      node = attno <= left_cols ? j->left.get() : j->right.get();
      if (attno > left_cols) attno -= left_cols;
    } else {
      return {node, attno};
    }
  }
}

// The windowed aggregate whose window column reaches column `attno` (1-based) of `node`'s
// rows through plain column references, or nullptr.
const WindowAggregateNode* window_column_source(const PlanNode* node, int attno) {
  auto [origin, column] = column_origin(node, attno, true);
  if (origin && origin->kind == PlanNode::Kind::WindowAggregate && column == 1)
    return static_cast<const WindowAggregateNode*>(origin);
  return nullptr;
}

bool same_window(const WindowSpec& a, const WindowSpec& b) {
  return a.kind == b.kind && a.width_us == b.width_us && a.slide_us == b.slide_us &&
         a.gap_us == b.gap_us;
}

// Makes a join of two windowed aggregates on their windows a windowed join.
void find_window_key(JoinNode& join) {
  for (int k = 0; k < list_length(join.left_keys); k++) {
    Node* lk = (Node*)list_nth(join.left_keys, k);
    Node* rk = (Node*)list_nth(join.right_keys, k);
    if (!IsA(lk, Var) || !IsA(rk, Var)) continue;
    const WindowAggregateNode* lw = window_column_source(join.left.get(), ((Var*)lk)->varattno);
    const WindowAggregateNode* rw = window_column_source(join.right.get(), ((Var*)rk)->varattno);
    if (!lw || !rw) continue;
    if (!same_window(lw->window, rw->window))
      unsupported("a join of two windowed aggregates with different windows",
                  "Both sides must group by the same tumble(), hop() or session() for their "
                  "windows to be joined.");
    join.window_key = k;
    return;
  }
}

// Whether column `attno` (1-based) of `node`'s rows is the event time of the source it comes
// from (through plain column references; not through a join, whose rows come when their later
// row does).
bool is_event_time(const PlanNode* node, int attno) {
  auto [origin, column] = column_origin(node, attno, false);
  if (!origin || origin->kind != PlanNode::Kind::Source) return false;
  auto* src = static_cast<const SourceNode*>(origin);
  return (src->time_column == column - 1 || src->natural_time_column == column - 1) &&
         TupleDescAttr(src->desc, column - 1)->atttypid == TIMESTAMPTZOID;
}

// Which time a side's column gives an interval join: the column itself (an event time), or
// the upper or lower bound of a time window (tstzrange) column.
enum class TimeOf { Column, WindowEnd, WindowStart };

// A timestamptz expression `t [± constant interval]`, where t is a column, or upper() or
// lower() of a column: the column (1-based, of the joined rows), which of those t is, and the
// offset in microseconds. Inside pg::call.
bool time_plus_offset(Node* e, int* attno, TimeOf* of, int64* offset_us) {
  *offset_us = 0;
  *of = TimeOf::Column;
  if (IsA(e, OpExpr) && list_length(((OpExpr*)e)->args) == 2) {
    OpExpr* op = (OpExpr*)e;
    Node* c = (Node*)lsecond(op->args);
    char* name = get_opname(op->opno);
    bool plus = name && strcmp(name, "+") == 0, minus = name && strcmp(name, "-") == 0;
    if (!(plus || minus) || !IsA(c, Const) || ((Const*)c)->consttype != INTERVALOID ||
        ((Const*)c)->constisnull)
      return false;
    Interval* iv = DatumGetIntervalP(((Const*)c)->constvalue);
    if (iv->month != 0) return false;
    *offset_us = (iv->time + int64(iv->day) * USECS_PER_DAY) * (plus ? 1 : -1);
    e = (Node*)linitial(op->args);
  }
  if (IsA(e, FuncExpr) && list_length(((FuncExpr*)e)->args) == 1 && exprType(e) == TIMESTAMPTZOID) {
    Oid fn = ((FuncExpr*)e)->funcid;
    if (fn != F_UPPER_ANYRANGE && fn != F_LOWER_ANYRANGE) return false;
    *of = fn == F_UPPER_ANYRANGE ? TimeOf::WindowEnd : TimeOf::WindowStart;
    e = (Node*)linitial(((FuncExpr*)e)->args);
    if (!IsA(e, Var)) return false;
    *attno = ((Var*)e)->varattno;
    return true;
  }
  if (!IsA(e, Var) || exprType(e) != TIMESTAMPTZOID) return false;
  *attno = ((Var*)e)->varattno;
  return true;
}

// The time a side's row has for an interval join, as `time_plus_offset` read it: column `attno`
// (1-based, of `node`'s rows) if it is its source's event time, or a window's end or start if
// it is a tumble or hop window (a windowed aggregate emits a window once the watermark reaches
// its end, so its rows come in the order of their ends, like event times). Moves `offset_us` to
// the window's end (start = end - width) and sets `window`; false if neither.
bool side_time(const PlanNode* node, int attno, TimeOf of, int64* offset_us, bool* window) {
  *window = of != TimeOf::Column;
  if (of == TimeOf::Column) return is_event_time(node, attno);
  const WindowAggregateNode* w = window_column_source(node, attno);
  if (!w || w->window.kind == WindowSpec::Kind::Session) return false;
  if (of == TimeOf::WindowStart) *offset_us -= w->window.width_us;
  return true;
}

// A timestamptz value of a side's rows that bounds the other side's event time from above
// (`other.ts <= this.col + offset`): column `col` (1-based), read as a time window's end with
// `window`.
struct ExpiryBound {
  int col = -1;
  bool window = false;
  int64 offset_us = 0;
};

// Column `attno` (1-based) of `node`'s rows read as `of` says, as a bound value: a timestamptz
// column, or a tumble or hop window's end or start (moving `offset_us` to the window's end).
bool bound_value(const PlanNode* node, int attno, TimeOf of, int64* offset_us, bool* window) {
  *window = of != TimeOf::Column;
  if (of == TimeOf::Column) return TupleDescAttr(node->desc, attno - 1)->atttypid == TIMESTAMPTZOID;
  const WindowAggregateNode* w = window_column_source(node, attno);
  if (!w || w->window.kind == WindowSpec::Kind::Session) return false;
  if (of == TimeOf::WindowStart) *offset_us -= w->window.width_us;
  return true;
}

// Makes a join over append-only inputs an interval join when its conditions bound each side's
// event time by a value of the other side's rows: `a.ts <= b.ts + x` (b.ts BETWEEN a.ts - y AND
// a.ts + x), `b.ts <= a.expires` (Nexmark q4), `b.ts < upper(m.w)` (q7). A row then expires
// once the other side's watermark passes its bound: no later row of that side can match it.
void find_interval(JoinNode& join) {
  if (join.left->updating || join.right->updating || join.window_key >= 0) return;
  const PlanNode* sides[2] = {join.left.get(), join.right.get()};
  int left_cols = join.left->desc->natts;
  int time_col[2] = {-1, -1};  // each side's event time (1-based), seen in some condition
  bool time_window[2] = {false, false};
  ExpiryBound bound[2];
  ListCell* lc;
  foreach (lc, join.residual) {
    Node* c = (Node*)lfirst(lc);
    if (!IsA(c, OpExpr) || list_length(((OpExpr*)c)->args) != 2) continue;
    OpExpr* op = (OpExpr*)c;
    int xa, ya;
    int64 xo, yo;
    TimeOf xt, yt;
    const char* name = nullptr;
    bool ok = pg::call([&] {
      name = get_opname(op->opno);
      return name && time_plus_offset((Node*)linitial(op->args), &xa, &xt, &xo) &&
             time_plus_offset((Node*)lsecond(op->args), &ya, &yt, &yo);
    });
    if (!ok) continue;
    bool less = strcmp(name, "<") == 0 || strcmp(name, "<=") == 0;
    bool greater = strcmp(name, ">") == 0 || strcmp(name, ">=") == 0;
    if (!less && !greater) continue;
    if (greater) std::swap(xa, ya), std::swap(xt, yt), std::swap(xo, yo);
    // x + xo <= y + yo (or <), one of x, y on each side.
    int xs = xa > left_cols, ys = ya > left_cols;
    if (xs == ys) continue;
    int xc = xa - (xs ? left_cols : 0), yc = ya - (ys ? left_cols : 0);
    bool xw, yw;
    // x must be its side's event time; then y's side expires its rows by y's value.
    if (!side_time(sides[xs], xc, xt, &xo, &xw) || !bound_value(sides[ys], yc, yt, &yo, &yw))
      continue;
    if (time_col[xs] >= 0 && (time_col[xs] != xc || time_window[xs] != xw)) continue;
    time_col[xs] = xc, time_window[xs] = xw;
    ExpiryBound& b = bound[ys];
    if (b.col < 0 || (b.col == yc && b.window == yw && yo - xo < b.offset_us))
      b = {yc, yw, yo - xo};
  }
  for (int s = 0; s < 2; s++) {
    if (bound[s].col < 0) return;
    // A side that is only ever bounded: its event time column is needed for its rows' times.
    if (time_col[s] < 0) {
      bool w;
      int64 o = 0;
      if (bound[s].window || !side_time(sides[s], bound[s].col, TimeOf::Column, &o, &w)) return;
      time_col[s] = bound[s].col;
    }
  }
  join.left_time_col = time_col[0] - 1;
  join.right_time_col = time_col[1] - 1;
  join.left_time_is_window = time_window[0];
  join.right_time_is_window = time_window[1];
  join.left_expiry_col = bound[0].col - 1;
  join.right_expiry_col = bound[1].col - 1;
  join.left_expiry_is_window = bound[0].window;
  join.right_expiry_is_window = bound[1].window;
  join.left_expiry_offset_us = bound[0].offset_us;
  join.right_expiry_offset_us = bound[1].offset_us;
}

// Joins two planned inputs on the conditions in `conds` (implicitly ANDed, Vars of the query).
Planned join_inputs(JoinNode::Type type, Planned left, Planned right, List* conds) {
  auto join = std::make_unique<JoinNode>();
  join->type = type;
  Offsets offsets = left.offsets;
  for (auto& [rtindex, offset] : right.offsets) offsets[rtindex] = offset + left.node->desc->natts;
  ListCell* lc;
  foreach (lc, conds) {
    Node* cond = (Node*)lfirst(lc);
    Expr *lk, *rk;
    if (as_join_key(cond, left, right, &lk, &rk)) {
      join->left_keys = pg::call([&] { return lappend(join->left_keys, plan_expr(lk)); });
      join->right_keys = pg::call([&] { return lappend(join->right_keys, plan_expr(rk)); });
    } else {
      Expr* e = plan_expr((Expr*)renumber(cond, offsets));
      join->residual = pg::call([&] { return lappend(join->residual, e); });
    }
  }
  if (!join->left_keys)
    unsupported("a join without an equality condition between its two sides",
                "A join without a time window keeps both inputs by their join key: add ON "
                "<left column> = <right column>.");
  join->desc = joined_desc(left.node->desc, right.node->desc);
  join->updating = type != JoinNode::Type::Inner || left.node->updating || right.node->updating;
  join->left = std::move(left.node);
  join->right = std::move(right.node);
  find_window_key(*join);
  find_interval(*join);
  if (join->window_key >= 0 || join->interval()) join->updating = false;
  return {std::move(join), std::move(offsets)};
}

// Appends the conjuncts of `e` (nested ANDs, e.g. from BETWEEN, taken apart) to `out`.
List* append_conjuncts(List* out, Node* e) {
  if (IsA(e, BoolExpr) && ((BoolExpr*)e)->boolop == AND_EXPR) {
    ListCell* lc;
    foreach (lc, ((BoolExpr*)e)->args) out = append_conjuncts(out, (Node*)lfirst(lc));
    return out;
  }
  return lappend(out, e);
}

// The conditions of an ON or WHERE clause, as a list of conjuncts.
List* conjuncts(Query* q, Node* quals) {
  if (!quals) return NIL;
  return pg::call([&] { return append_conjuncts(NIL, flatten_join_alias_vars(q, quals)); });
}

// Rows of `input` that pass `quals` (over its columns): a projection that keeps every column.
PlanNodePtr filtered(PlanNodePtr input, List* quals) {
  auto proj = std::make_shared<ProjectNode>();
  TupleDesc in = input->desc;
  List* targets = pg::call([&] {
    List* out = NIL;
    for (int i = 0; i < in->natts; i++) {
      Form_pg_attribute att = TupleDescAttr(in, i);
      Expr* e = att->attisdropped
                    ? (Expr*)makeNullConst(INT4OID, -1, InvalidOid)
                    : (Expr*)makeVar(1, i + 1, att->atttypid, att->atttypmod, att->attcollation, 0);
      out = lappend(out, makeTargetEntry(e, i + 1, pstrdup(NameStr(att->attname)), false));
    }
    return out;
  });
  proj->targets = targets;
  proj->quals = quals;
  proj->desc = in;
  proj->updating = input->updating;
  proj->input = std::move(input);
  return proj;
}

// Whether a FROM item is a LATERAL subquery: a lookup, planned by plan_lookup_join.
RangeTblEntry* lateral_subquery(Query* q, Node* item) {
  if (!IsA(item, RangeTblRef)) return nullptr;
  RangeTblEntry* rte = rt_fetch(((RangeTblRef*)item)->rtindex, q->rtable);
  return rte->rtekind == RTE_SUBQUERY && rte->lateral ? rte : nullptr;
}

// `left` joined with the LATERAL subquery `rte` (FROM item `rtindex`) as a lookup join, then
// filtered by `conds` (ON conditions of an inner join; a LEFT join's must be constant true).
Planned lookup_inputs(Query* q, JoinNode::Type type, Planned left, RangeTblEntry* rte, int rtindex,
                      List* conds) {
  if (type != JoinNode::Type::Inner && type != JoinNode::Type::Left)
    unsupported("RIGHT or FULL JOIN LATERAL",
                "A lookup (JOIN LATERAL) matches each event with the rows its subquery returns; "
                "write [LEFT] JOIN LATERAL (SELECT …) alias ON true.");
  Offsets offsets = left.offsets;
  offsets[rtindex] = left.node->desc->natts;
  PlanNodePtr node =
      plan_lookup_join(q, type == JoinNode::Type::Left, std::move(left.node), left.offsets, rte);
  List* quals = NIL;
  ListCell* lc;
  foreach (lc, conds) {
    Node* c = (Node*)lfirst(lc);
    if (IsA(c, Const) && !((Const*)c)->constisnull && DatumGetBool(((Const*)c)->constvalue))
      continue;  // ON true
    if (type == JoinNode::Type::Left)
      unsupported("a condition in the ON clause of LEFT JOIN LATERAL",
                  "Write the condition in the subquery's WHERE clause, and ON true.");
    Expr* e = plan_expr((Expr*)renumber(c, offsets));
    quals = pg::call([&] { return lappend(quals, e); });
  }
  if (quals) node = filtered(std::move(node), quals);
  return {std::move(node), std::move(offsets)};
}

// Whether a FROM list item is a chain of lookups: a LATERAL subquery, or JOINs whose every
// right side is one and whose leftmost item is one (`FROM a, LATERAL (…) s LEFT JOIN LATERAL
// (…) s2 ON true`).
bool lookup_chain(Query* q, Node* item) {
  while (IsA(item, JoinExpr)) {
    if (!lateral_subquery(q, ((JoinExpr*)item)->rarg)) return false;
    item = ((JoinExpr*)item)->larg;
  }
  return lateral_subquery(q, item) != nullptr;
}

// `cur`, a comma, then a lookup chain: the comma joins the rows so far with the first lookup
// (an inner join), then each JOIN adds its lookup.
Planned chain_lookups(Query* q, Planned cur, Node* item) {
  if (RangeTblEntry* lateral = lateral_subquery(q, item))
    return lookup_inputs(q, JoinNode::Type::Inner, std::move(cur), lateral,
                         ((RangeTblRef*)item)->rtindex, NIL);
  JoinExpr* j = (JoinExpr*)item;
  Planned left = chain_lookups(q, std::move(cur), j->larg);
  JoinNode::Type type = j->jointype == JOIN_INNER  ? JoinNode::Type::Inner
                        : j->jointype == JOIN_LEFT ? JoinNode::Type::Left
                                                   : JoinNode::Type::Full;
  return lookup_inputs(q, type, std::move(left), lateral_subquery(q, j->rarg),
                       ((RangeTblRef*)j->rarg)->rtindex, conjuncts(q, j->quals));
}

// Takes out of `*pending` the conditions that use only range table entry `rtindex` (and
// nothing volatile), renumbered for its rows and planned.
List* take_conditions_of(List** pending, int rtindex) {
  List *mine = NIL, *rest = NIL;
  ListCell* lc;
  foreach (lc, *pending) {
    Node* c = (Node*)lfirst(lc);
    Bitmapset* used = varnos_of(c);
    bool only_here = pg::call([&] {
      return bms_membership(used) == BMS_SINGLETON && bms_is_member(rtindex, used) &&
             !contain_volatile_functions(c);
    });
    if (only_here) {
      Offsets here{{rtindex, 0}};
      Expr* e = plan_expr((Expr*)renumber(c, here));
      mine = pg::call([&] { return lappend(mine, e); });
    } else {
      rest = pg::call([&] { return lappend(rest, c); });
    }
  }
  *pending = rest;
  return mine;
}

// Plans a FROM item. `pending`: WHERE conditions that may be applied below the joins (not
// under the NULL-padded side of an outer join); a leaf takes those that use only its columns,
// so a join keeps only the rows that can reach the result.
Planned plan_from_item(Query* q, Node* item, List** pending) {
  if (IsA(item, RangeTblRef)) {
    int rtindex = ((RangeTblRef*)item)->rtindex;
    Planned p{plan_rte(rt_fetch(rtindex, q->rtable)), {}};
    p.offsets[rtindex] = 0;
    if (List* quals = take_conditions_of(pending, rtindex)) p.node = filtered(p.node, quals);
    return p;
  }
  if (!IsA(item, JoinExpr)) unsupported("this kind of FROM item");
  JoinExpr* j = (JoinExpr*)item;
  JoinNode::Type type;
  switch (j->jointype) {
    case JOIN_INNER: type = JoinNode::Type::Inner; break;
    case JOIN_LEFT: type = JoinNode::Type::Left; break;
    case JOIN_RIGHT: type = JoinNode::Type::Right; break;
    case JOIN_FULL: type = JoinNode::Type::Full; break;
    default: unsupported("this kind of join");
  }
  List* none = NIL;
  if (RangeTblEntry* lateral = lateral_subquery(q, j->rarg)) {
    bool into = type == JoinNode::Type::Inner || type == JoinNode::Type::Left;
    Planned left = plan_from_item(q, j->larg, into ? pending : &none);
    return lookup_inputs(q, type, std::move(left), lateral, ((RangeTblRef*)j->rarg)->rtindex,
                         conjuncts(q, j->quals));
  }
  bool into_left = type == JoinNode::Type::Inner || type == JoinNode::Type::Left;
  bool into_right = type == JoinNode::Type::Inner || type == JoinNode::Type::Right;
  Planned left = plan_from_item(q, j->larg, into_left ? pending : &none);
  Planned right = plan_from_item(q, j->rarg, into_right ? pending : &none);
  return join_inputs(type, std::move(left), std::move(right), conjuncts(q, j->quals));
}

}  // namespace

PlanNodePtr plan_from(Query* q, List** quals) {
  List* from = q->jointree->fromlist;
  List* where = conjuncts(q, q->jointree->quals);
  Planned cur = plan_from_item(q, (Node*)linitial(from), &where);
  for (int i = 1; i < list_length(from); i++) {
    Node* item = (Node*)list_nth(from, i);
    if (lookup_chain(q, item)) {
      // FROM stream, LATERAL (…): the WHERE conditions stay filters of the joined rows.
      cur = chain_lookups(q, std::move(cur), item);
      continue;
    }
    Planned next = plan_from_item(q, item, &where);
    // WHERE conditions over both sides (and nothing else) join them; the others stay filters.
    Bitmapset* both =
        pg::call([&] { return bms_union(members_of(cur.offsets), members_of(next.offsets)); });
    List *conds = NIL, *rest = NIL;
    ListCell* lc;
    foreach (lc, where) {
      Node* c = (Node*)lfirst(lc);
      Bitmapset* used = varnos_of(c);
      bool here = bms_is_subset(used, both) && bms_overlap(used, members_of(cur.offsets)) &&
                  bms_overlap(used, members_of(next.offsets));
      pg::call([&] {
        if (here)
          conds = lappend(conds, c);
        else
          rest = lappend(rest, c);
      });
    }
    where = rest;
    cur = join_inputs(JoinNode::Type::Inner, std::move(cur), std::move(next), conds);
  }
  // The rest of the query reads the joined rows.
  pg::call([&] {
    q->targetList = (List*)flatten_join_alias_vars(q, (Node*)q->targetList);
    if (q->havingQual) q->havingQual = flatten_join_alias_vars(q, q->havingQual);
  });
  q->targetList = (List*)renumber((Node*)q->targetList, cur.offsets);
  if (q->havingQual) q->havingQual = renumber(q->havingQual, cur.offsets);
  *quals = NIL;
  ListCell* lc;
  foreach (lc, where) {
    Expr* e = plan_expr((Expr*)renumber((Node*)lfirst(lc), cur.offsets));
    *quals = pg::call([&] { return lappend(*quals, e); });
  }
  return std::move(cur.node);
}

}  // namespace arroyo
