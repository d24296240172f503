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
  return src->time_column == column - 1 &&
         TupleDescAttr(src->desc, column - 1)->atttypid == TIMESTAMPTZOID;
}

// A timestamptz expression `column [± constant interval]`: the column (1-based, of the joined
// rows) and the offset in microseconds. Inside pg::call.
bool time_plus_offset(Node* e, int* attno, int64* offset_us) {
  *offset_us = 0;
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
  if (!IsA(e, Var) || exprType(e) != TIMESTAMPTZOID) return false;
  *attno = ((Var*)e)->varattno;
  return true;
}

// Makes a join over append-only inputs whose conditions bound the difference of the two
// sides' event times (a.ts BETWEEN b.ts - x AND b.ts + y) an interval join.
void find_interval(JoinNode& join) {
  if (join.left->updating || join.right->updating || join.window_key >= 0) return;
  int left_cols = join.left->desc->natts;
  int lcol = -1, rcol = -1;
  bool has_lo = false, has_hi = false;
  int64 lo = 0, hi = 0;
  ListCell* lc;
  foreach (lc, join.residual) {
    Node* c = (Node*)lfirst(lc);
    if (!IsA(c, OpExpr) || list_length(((OpExpr*)c)->args) != 2) continue;
    OpExpr* op = (OpExpr*)c;
    int xa, ya;
    int64 xo, yo;
    const char* name = nullptr;
    bool ok = pg::call([&] {
      name = get_opname(op->opno);
      return name && time_plus_offset((Node*)linitial(op->args), &xa, &xo) &&
             time_plus_offset((Node*)lsecond(op->args), &ya, &yo);
    });
    if (!ok) continue;
    bool less = strcmp(name, "<") == 0 || strcmp(name, "<=") == 0;
    bool greater = strcmp(name, ">") == 0 || strcmp(name, ">=") == 0;
    if (!less && !greater) continue;
    // x + xo OP y + yo, one of x, y on each side: as left - right OP constant.
    if ((xa <= left_cols) == (ya <= left_cols)) continue;
    if (xa > left_cols) {
      std::swap(xa, ya);
      std::swap(xo, yo);
      std::swap(less, greater);
    }
    int l = xa, r = ya - left_cols;
    if ((lcol >= 0 && lcol != l) || (rcol >= 0 && rcol != r)) continue;
    if (!is_event_time(join.left.get(), l) || !is_event_time(join.right.get(), r)) continue;
    lcol = l, rcol = r;
    int64 bound = yo - xo;  // left - right OP bound
    if (less) hi = has_hi ? std::min(hi, bound) : bound, has_hi = true;
    if (greater) lo = has_lo ? std::max(lo, bound) : bound, has_lo = true;
  }
  if (!has_lo || !has_hi) return;
  join.left_time_col = lcol - 1;
  join.right_time_col = rcol - 1;
  join.min_gap_us = lo;
  join.max_gap_us = hi;
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

// The range table index of a FROM item that is a function call, or 0.
int function_item(Query* q, Node* item) {
  if (!IsA(item, RangeTblRef)) return 0;
  int rtindex = ((RangeTblRef*)item)->rtindex;
  return rt_fetch(rtindex, q->rtable)->rtekind == RTE_FUNCTION ? rtindex : 0;
}

// Points the Vars of the only FROM item before a function at its rows, whole-row references
// included (jsonb_each(to_jsonb(s))): the function's input rows are that item's (inside pg::call).
Node* single_input_mutator(Node* node, void* context) {
  if (!node) return nullptr;
  if (IsA(node, Var) && ((Var*)node)->varlevelsup == 0 && ((Var*)node)->varno == *(int*)context) {
    Var* v = (Var*)copyObjectImpl(node);
    v->varno = 1;
    v->varnosyn = 0;
    v->varattnosyn = 0;
    return (Node*)v;
  }
  return expression_tree_mutator(node, pg_walker<Node*>(single_input_mutator), context);
}

// A function in FROM (range table entry `rtindex`) lateral to `left`: each row of `left`
// followed by each row the function gives for it that passes `conds` (with `outer`, once with
// NULLs when none does).
Planned join_function(Query* q, Planned left, int rtindex, bool outer, List* conds) {
  RangeTblEntry* rte = rt_fetch(rtindex, q->rtable);
  Offsets offsets = left.offsets;
  offsets[rtindex] = left.node->desc->natts;
  List* exprs = NIL;
  ListCell* lc;
  foreach (lc, rte->functions) {
    Node* e = pg::call(
        [&] { return flatten_join_alias_vars(q, ((RangeTblFunction*)lfirst(lc))->funcexpr); });
    if (left.offsets.size() == 1 && left.offsets.begin()->second == 0) {
      int only = left.offsets.begin()->first;
      e = pg::call([&] { return single_input_mutator(e, &only); });
    } else {
      e = renumber(e, left.offsets);
    }
    exprs = pg::call([&] { return lappend(exprs, e); });
  }
  List* on = NIL;
  foreach (lc, conds) {
    Node* c = renumber((Node*)lfirst(lc), offsets);
    on = pg::call([&] { return lappend(on, c); });
  }
  return {plan_function_scan(std::move(left.node), rte, exprs, on, outer), std::move(offsets)};
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
  if (int f = function_item(q, j->rarg)) {
    if (type != JoinNode::Type::Inner && type != JoinNode::Type::Left)
      unsupported("a RIGHT or FULL JOIN with a function in FROM");
    Planned left = plan_from_item(q, j->larg, pending);
    return join_function(q, std::move(left), f, type == JoinNode::Type::Left,
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
    if (int f = function_item(q, (Node*)list_nth(from, i))) {
      cur = join_function(q, std::move(cur), f, false, NIL);
      continue;
    }
    Planned next = plan_from_item(q, (Node*)list_nth(from, i), &where);
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
