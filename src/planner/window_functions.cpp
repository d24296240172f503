// Window functions (OVER), ORDER BY … LIMIT n and the top-N pattern: the planning of the
// WindowFunction and TopN nodes (src/core/plan.hpp). What runs and what is refused:
//
//  * `SELECT … FROM (SELECT …, row_number() | rank() | dense_rank() OVER (PARTITION BY … ORDER BY
//    …) AS rn FROM x) s WHERE rn <= N` (also `rn < N`, `rn = 1`), partitioned and ordered by
//    plain columns: a TopN node (windowed when a partition column is a windowed aggregate's
//    window, else updating);
//  * `ORDER BY … LIMIT n` (or FETCH FIRST n ROWS [WITH TIES]): an updating TopN of one partition;
//  * any other window functions, over append-only rows: a WindowFunction node, evaluated by
//    PostgreSQL's executor — per closed time window when every window's PARTITION BY holds a
//    windowed aggregate's window, else per key in event-time order (lag, lead, first_value and
//    aggregates over ROWS n PRECEDING / RANGE interval PRECEDING frames, ORDER BY the event time).
#include "pg/guard.hpp"
#include "planner/plan_util.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_oper.h"
#include "rewrite/rewriteManip.h"
#include "tcop/tcopprot.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
}

namespace arroyo {

namespace {

constexpr const char* kRelationName = "arroyo_window_rows";

// The plan node and column (1-based) an output column of `node` comes from: down through
// projections that pass it as a plain column reference.
std::pair<PlanNode*, int> column_origin(PlanNode* node, int attno) {
  while (node->kind == PlanNode::Kind::Project) {
    auto* p = static_cast<ProjectNode*>(node);
    if (attno < 1 || attno > list_length(p->targets)) return {node, attno};
    Node* e = (Node*)((TargetEntry*)list_nth(p->targets, attno - 1))->expr;
    if (!e || !IsA(e, Var)) return {node, attno};
    attno = ((Var*)e)->varattno;
    node = p->input.get();
  }
  return {node, attno};
}

// Whether column `attno` of `node` is a windowed aggregate's time window.
bool is_time_window(PlanNode* node, int attno) {
  auto [origin, col] = column_origin(node, attno);
  return origin->kind == PlanNode::Kind::WindowAggregate && col == 1;
}

// Whether column `attno` of `node` is its source's event time.
bool is_event_time(PlanNode* node, int attno) {
  auto [origin, col] = column_origin(node, attno);
  return origin->kind == PlanNode::Kind::Source &&
         static_cast<SourceNode*>(origin)->time_column == col - 1;
}

// The query's one FROM item, which window functions read (a join must move into a subquery).
int single_from_item(Query* q) {
  List* from = q->jointree->fromlist;
  if (list_length(from) != 1 || !IsA(linitial(from), RangeTblRef))
    unsupported("a window function (OVER) over a join",
                "Join in a subquery and apply the window functions to its rows.");
  return ((RangeTblRef*)linitial(from))->rtindex;
}

// Rows of `input` that pass `quals` (implicitly ANDed), in the same layout.
PlanNodePtr filtered(PlanNodePtr input, List* quals, List* extra = NIL) {
  if (!quals && !extra) return input;
  auto proj = std::make_unique<ProjectNode>();
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
  if (extra) {
    // Key expressions appended as columns "arroyo_key<n>".
    List* planned = plan_targets(targets_from_exprs(extra));
    ListCell* lc;
    foreach (lc, planned) {
      TargetEntry* te = (TargetEntry*)lfirst(lc);
      int resno = list_length(targets) + 1;
      std::string name = "arroyo_key" + std::to_string(resno - in->natts);
      targets = pg::call([&] {
        TargetEntry* copy = flatCopyTargetEntry(te);
        copy->resno = resno;
        copy->resname = pstrdup(name.c_str());
        return lappend(targets, copy);
      });
    }
  }
  proj->targets = targets;
  proj->quals = quals;
  proj->desc =
      extra ? desc_from_targets(targets) : pg::call([&] { return CreateTupleDescCopy(in); });
  proj->updating = input->updating;
  proj->input = std::move(input);
  return proj;
}

// The window functions of a target list.
bool collect_window_funcs(Node* node, void* context) {
  if (!node) return false;
  if (IsA(node, WindowFunc)) {
    *(List**)context = lappend(*(List**)context, node);
    return false;
  }
  return expression_tree_walker(node, pg_walker<bool>(collect_window_funcs), context);
}

List* window_funcs_of(Query* q) {
  List* found = NIL;
  pg::call([&] { collect_window_funcs((Node*)q->targetList, &found); });
  return found;
}

WindowClause* clause_of(Query* q, WindowFunc* wf) {
  ListCell* lc;
  foreach (lc, q->windowClause) {
    WindowClause* wc = (WindowClause*)lfirst(lc);
    if (wc->winref == wf->winref) return wc;
  }
  pg::fail(ERRCODE_INTERNAL_ERROR, "window clause of a window function not found");
}

// The 0-based input column a sort/partition item of the query is (a plain column of its FROM
// item), or -1.
int plain_column(Query* q, SortGroupClause* sgc, int rtindex) {
  Node* e = (Node*)pg::call([&] { return get_sortgroupclause_tle(sgc, q->targetList); })->expr;
  if (!IsA(e, Var)) return -1;
  Var* v = (Var*)e;
  if (v->varno != rtindex || v->varlevelsup != 0 || v->varattno < 1) return -1;
  return v->varattno - 1;
}

std::string function_name(Oid fn) {
  return pg::call([&] { return (const char*)get_func_name(fn); });
}

// Replaces one WindowFunc by a Var of the given column (a mutator's context).
struct RankSubstitution {
  WindowFunc* target;
  Var* replacement;
};
Node* substitute_rank(Node* node, void* context) {
  auto* s = (RankSubstitution*)context;
  if (!node) return nullptr;
  if (IsA(node, WindowFunc) && equal(node, s->target)) return (Node*)copyObjectImpl(s->replacement);
  return expression_tree_mutator(node, pg_walker<Node*>(substitute_rank), context);
}

// An integer constant (LIMIT n, rn <= n), or -1 when it is not one.
int64 integer_constant(Node* e) {
  if (e) e = pg::call([&] { return eval_const_expressions(nullptr, e); });
  if (!e || !IsA(e, Const) || ((Const*)e)->constisnull) return -1;
  Const* c = (Const*)e;
  switch (c->consttype) {
    case INT2OID: return DatumGetInt16(c->constvalue);
    case INT4OID: return DatumGetInt32(c->constvalue);
    case INT8OID: return DatumGetInt64(c->constvalue);
    default: return -1;
  }
}

// One ORDER BY item of the query as a sort key over input column `column` (0-based).
SortKeySpec sort_key(Query* q, SortGroupClause* sgc, int column) {
  SortKeySpec k;
  k.column = column;
  k.sort_op = sgc->sortop;
  k.nulls_first = sgc->nulls_first;
  k.collation = pg::call(
      [&] { return exprCollation((Node*)get_sortgroupclause_tle(sgc, q->targetList)->expr); });
  return k;
}

}  // namespace

// `SELECT … FROM (SELECT …, <rank>() OVER (…) AS rn FROM x) s WHERE rn <= N`: the FROM item
// planned as a TopN with the rank substituted, or nullptr when the query is not that pattern
// (then the window functions are planned as any others).
PlanNodePtr plan_top_n_from(Query* q) {
  List* from = q->jointree->fromlist;
  if (list_length(from) != 1 || !IsA(linitial(from), RangeTblRef) || !q->jointree->quals)
    return nullptr;
  int outer_rt = ((RangeTblRef*)linitial(from))->rtindex;
  RangeTblEntry* rte = rt_fetch(outer_rt, q->rtable);
  if (rte->rtekind != RTE_SUBQUERY || rte->lateral || !rte->subquery->hasWindowFuncs)
    return nullptr;
  Query* sub = rte->subquery;
  if (sub->hasAggs || sub->groupClause || sub->havingQual || sub->setOperations ||
      sub->sortClause || sub->limitCount || list_length(sub->jointree->fromlist) == 0)
    return nullptr;
  // Over a join, the joined rows (plan_from renumbers the select list's Vars to them, varno 1).
  bool joined = list_length(sub->jointree->fromlist) != 1 ||
                !IsA(linitial(sub->jointree->fromlist), RangeTblRef);
  List* funcs = window_funcs_of(sub);
  if (list_length(funcs) != 1) return nullptr;
  WindowFunc* wf = (WindowFunc*)linitial(funcs);
  TopNNode::Rank rank;
  if (wf->winfnoid == F_ROW_NUMBER)
    rank = TopNNode::Rank::RowNumber;
  else if (wf->winfnoid == F_RANK_)
    rank = TopNNode::Rank::Rank;
  else if (wf->winfnoid == F_DENSE_RANK_)
    rank = TopNNode::Rank::DenseRank;
  else
    return nullptr;
  // The column of the subquery holding the rank, exactly.
  int rank_attno = 0;
  ListCell* lc;
  foreach (lc, sub->targetList) {
    TargetEntry* te = (TargetEntry*)lfirst(lc);
    if ((Node*)te->expr == (Node*)wf && !te->resjunk) rank_attno = te->resno;
  }
  if (!rank_attno) return nullptr;
  // A conjunct of WHERE bounding it: rn <= N, rn < N, rn = 1 (or flipped).
  List* conjuncts = pg::call([&] { return make_ands_implicit((Expr*)q->jointree->quals); });
  int64 limit = -1;
  foreach (lc, conjuncts) {
    Node* n = (Node*)lfirst(lc);
    if (!IsA(n, OpExpr) || list_length(((OpExpr*)n)->args) != 2) continue;
    OpExpr* op = (OpExpr*)n;
    Node* a = (Node*)linitial(op->args);
    Node* b = (Node*)lsecond(op->args);
    std::string name = pg::call([&] { return (const char*)get_opname(op->opno); });
    bool flipped = false;
    if (!IsA(a, Var)) {
      std::swap(a, b);
      flipped = true;
    }
    if (!IsA(a, Var) || ((Var*)a)->varno != outer_rt || ((Var*)a)->varlevelsup != 0 ||
        ((Var*)a)->varattno != rank_attno)
      continue;
    if (flipped)
      name = name == "<="   ? ">="
             : name == ">=" ? "<="
             : name == "<"  ? ">"
             : name == ">"  ? "<"
                            : name;
    int64 n_value = integer_constant(b);
    if (n_value < 0) continue;
    int64 bound = name == "<="                  ? n_value
                  : name == "<"                 ? n_value - 1
                  : name == "=" && n_value == 1 ? 1
                                                : -1;
    if (bound >= 0 && (limit < 0 || bound < limit)) limit = bound;
  }
  if (limit < 0) return nullptr;
  WindowClause* wc = clause_of(sub, wf);
  // PARTITION BY and ORDER BY plain columns (checked before anything is planned: a query that
  // is not the pattern is planned from scratch).
  List* items = pg::call([&] { return list_concat_copy(wc->partitionClause, wc->orderClause); });
  foreach (lc, items) {
    Node* e = (Node*)pg::call([&] {
                return get_sortgroupclause_tle((SortGroupClause*)lfirst(lc), sub->targetList);
              })->expr;
    if (!IsA(e, Var) || ((Var*)e)->varlevelsup != 0 || ((Var*)e)->varattno < 1) return nullptr;
  }
  // The pattern: plan the subquery's FROM and WHERE, then the top-N, then its select list.
  PlanNodePtr input;
  int sub_rt;
  if (joined) {
    List* quals = nullptr;
    input = filtered(plan_from(sub, &quals), quals);
    sub_rt = 1;
  } else {
    sub_rt = ((RangeTblRef*)linitial(sub->jointree->fromlist))->rtindex;
    input = plan_rte(rt_fetch(sub_rt, sub->rtable));
    if (sub->jointree->quals) {
      Expr* qual = plan_expr((Expr*)sub->jointree->quals);
      input = filtered(std::move(input), pg::call([&] { return make_ands_implicit(qual); }));
    }
  }
  auto node = std::make_unique<TopNNode>();
  foreach (lc, wc->partitionClause) {
    int c = plain_column(sub, (SortGroupClause*)lfirst(lc), sub_rt);
    if (c < 0)
      unsupported("a top-N over a join partitioned by a column the join computes",
                  "Partition by a column of one side.");
    node->partition_cols.push_back(c);
  }
  foreach (lc, wc->orderClause) {
    SortGroupClause* sgc = (SortGroupClause*)lfirst(lc);
    int c = plain_column(sub, sgc, sub_rt);
    if (c < 0)
      unsupported("a top-N over a join ordered by a column the join computes",
                  "Order by a column of one side.");
    node->order.push_back(sort_key(sub, sgc, c));
  }
  check_no_windows(sub);
  for (int c : node->partition_cols)
    node->windowed = node->windowed || (!input->updating && is_time_window(input.get(), c + 1));
  node->rank = rank;
  node->limit = limit;
  node->updating = !node->windowed;
  int ncols = input->desc->natts;
  node->desc = pg::call([&] {
    TupleDesc d = CreateTemplateTupleDesc(ncols + 1);
    for (int c = 0; c < ncols; c++) TupleDescCopyEntry(d, c + 1, input->desc, c + 1);
    TupleDescInitEntry(d, ncols + 1, "rank", INT8OID, -1, 0);
    return d;
  });
  node->input = std::move(input);
  RankSubstitution s{wf, nullptr};
  List* targets = pg::call([&] {
    s.replacement = makeVar(sub_rt, ncols + 1, INT8OID, -1, InvalidOid, 0);
    return (List*)substitute_rank((Node*)copyObjectImpl(sub->targetList), &s);
  });
  auto proj = std::make_unique<ProjectNode>();
  proj->targets = plan_targets(targets);
  proj->desc = desc_from_targets(proj->targets);
  proj->updating = node->updating;
  proj->input = std::move(node);
  return proj;
}

// ORDER BY … LIMIT n (FETCH FIRST n ROWS [WITH TIES]): the query without them, then an updating
// top-n of one partition. Called by plan_select for a query with LIMIT.
PlanNodePtr plan_order_limit(Query* q, PlanNodePtr (*plan_rest)(Query*)) {
  if (q->limitOffset) unsupported("OFFSET");
  if (!q->sortClause)
    unsupported("LIMIT without ORDER BY", "Say which rows to keep: ORDER BY … LIMIT n.");
  int64 limit = integer_constant(q->limitCount);
  if (limit < 0)
    unsupported("LIMIT other than a constant number of rows", "Write LIMIT <integer>.");
  Query* rest = pg::call([&] { return (Query*)copyObjectImpl(q); });
  rest->sortClause = NIL;
  rest->limitCount = nullptr;
  rest->limitOption = LIMIT_OPTION_DEFAULT;
  PlanNodePtr input = plan_rest(rest);
  auto node = std::make_unique<TopNNode>();
  ListCell* lc;
  foreach (lc, q->sortClause) {
    SortGroupClause* sgc = (SortGroupClause*)lfirst(lc);
    int resno = pg::call([&] { return get_sortgroupclause_tle(sgc, q->targetList)->resno; });
    node->order.push_back(sort_key(q, sgc, resno - 1));
  }
  node->rank =
      q->limitOption == LIMIT_OPTION_WITH_TIES ? TopNNode::Rank::Rank : TopNNode::Rank::RowNumber;
  node->limit = limit;
  node->rank_column = false;
  node->updating = true;
  node->desc = input->desc;
  node->input = std::move(input);
  return node;
}

// A query level with window functions, over its planned FROM item (`input`, filtered by
// `quals`): a WindowFunction node evaluating the level's select list with PostgreSQL's executor.
PlanNodePtr plan_window_query(Query* q, PlanNodePtr input, List* quals) {
  if (q->hasAggs || q->groupClause || q->havingQual)
    unsupported("a window function (OVER) in a query with GROUP BY or aggregates",
                "Aggregate in a subquery and apply the window functions to its rows: "
                "SELECT …, rank() OVER (…) FROM (SELECT … GROUP BY …) s.");
  if (q->setOperations) unsupported("a window function (OVER) over UNION ALL");
  int rtindex = single_from_item(q);
  if (input->updating)
    unsupported("a window function (OVER) over updating rows",
                "Over updating rows (a non-windowed aggregate, a join, a table's changes), only "
                "the top-N pattern runs: SELECT * FROM (SELECT …, row_number() OVER (PARTITION "
                "BY … ORDER BY …) AS rn FROM …) s WHERE rn <= N.");
  input = filtered(std::move(input), quals);
  auto node = std::make_unique<WindowFunctionNode>();
  // Closed time windows: every window clause partitions by a windowed aggregate's window.
  bool closed = true;
  ListCell* lc;
  foreach (lc, q->windowClause) {
    WindowClause* wc = (WindowClause*)lfirst(lc);
    bool by_window = false;
    ListCell* pc;
    foreach (pc, wc->partitionClause) {
      int c = plain_column(q, (SortGroupClause*)lfirst(pc), rtindex);
      by_window = by_window || (c >= 0 && is_time_window(input.get(), c + 1));
    }
    closed = closed && by_window;
  }
  node->per_key = !closed;
  node->lookback_us = -1;
  if (!closed) {
    // Event-time OVER per key: one PARTITION BY of plain columns, ORDER BY the event time, and
    // functions whose frames read a bounded number of rows (or the interval) back.
    bool first_clause = true;
    List* partition_exprs = NIL;
    foreach (lc, q->windowClause) {
      WindowClause* wc = (WindowClause*)lfirst(lc);
      List* exprs = NIL;
      ListCell* pc;
      foreach (pc, wc->partitionClause) {
        SortGroupClause* sgc = (SortGroupClause*)lfirst(pc);
        exprs = pg::call(
            [&] { return lappend(exprs, get_sortgroupclause_tle(sgc, q->targetList)->expr); });
      }
      if (!first_clause && !pg::call([&] { return equal(exprs, partition_exprs); }))
        unsupported("window functions over event time with different PARTITION BY lists",
                    "Use one PARTITION BY for every window function of the query.");
      partition_exprs = exprs;
      first_clause = false;
      bool ordered = list_length(wc->orderClause) == 1;
      if (ordered) {
        SortGroupClause* sgc = (SortGroupClause*)linitial(wc->orderClause);
        int c = plain_column(q, sgc, rtindex);
        bool reverse = false;
        pg::call([&] { get_equality_op_for_ordering_op(sgc->sortop, &reverse); });
        ordered = c >= 0 && !reverse && is_event_time(input.get(), c + 1);
      }
      if (!ordered)
        unsupported("OVER without ORDER BY the event time or PARTITION BY a time window",
                    "Over a stream, OVER needs ORDER BY the source's event-time column "
                    "(ascending), or PARTITION BY the window of a windowed aggregate "
                    "(tumble/hop/session) so that it is evaluated when the window closes.");
    }
    foreach (lc, window_funcs_of(q)) {
      WindowFunc* wf = (WindowFunc*)lfirst(lc);
      WindowClause* wc = clause_of(q, wf);
      std::string name = function_name(wf->winfnoid);
      int opts = wc->frameOptions;
      auto frame_back = [&](bool unbounded_ok) {
        if (!(opts & FRAMEOPTION_END_CURRENT_ROW))
          unsupported(name + "() over a frame that does not end at the current row",
                      "Over event time, frames end AND CURRENT ROW.");
        if (opts & FRAMEOPTION_START_UNBOUNDED_PRECEDING) {
          if (!unbounded_ok)
            unsupported("a running aggregate over the whole partition (" + name +
                            "() OVER a frame from UNBOUNDED PRECEDING) over event time",
                        "Bound the frame: ROWS BETWEEN n PRECEDING AND CURRENT ROW or RANGE "
                        "BETWEEN interval '…' PRECEDING AND CURRENT ROW.");
          node->keep_first = true;
        } else if ((opts & FRAMEOPTION_START_OFFSET_PRECEDING) && (opts & FRAMEOPTION_ROWS)) {
          int64 n = integer_constant(wc->startOffset);
          if (n < 0) unsupported("ROWS with a frame offset that is not a constant");
          node->lookback_rows = std::max<int64>(node->lookback_rows, n);
        } else if ((opts & FRAMEOPTION_START_OFFSET_PRECEDING) && (opts & FRAMEOPTION_RANGE)) {
          Node* off = wc->startOffset;
          if (!IsA(off, Const) || ((Const*)off)->consttype != INTERVALOID ||
              ((Const*)off)->constisnull)
            unsupported("RANGE with a frame offset that is not a constant interval");
          Interval* iv = DatumGetIntervalP(((Const*)off)->constvalue);
          if (iv->month != 0)
            unsupported("a RANGE frame offset in months or years",
                        "Write the interval in days or smaller units.");
          node->lookback_us =
              std::max<int64>(node->lookback_us, iv->day * USECS_PER_DAY + iv->time);
        } else if (opts & FRAMEOPTION_START_CURRENT_ROW) {
          if (opts & FRAMEOPTION_RANGE) node->lookback_us = std::max<int64>(node->lookback_us, 0);
        } else {
          unsupported(name + "() over a GROUPS frame or one starting after the current row");
        }
        if (opts & FRAMEOPTION_GROUPS) unsupported("a GROUPS frame over event time");
      };
      if (name == "lag" || name == "lead") {
        int64 offset = 1;
        if (list_length(wf->args) >= 2) offset = integer_constant((Node*)lsecond(wf->args));
        if (offset < 0) unsupported(name + "() with an offset that is not a non-negative constant");
        if (name == "lag")
          node->lookback_rows = std::max<int64>(node->lookback_rows, offset);
        else
          node->lookahead_rows = std::max<int64>(node->lookahead_rows, offset);
      } else if (name == "first_value") {
        frame_back(true);
      } else if (wf->winagg) {
        frame_back(false);
      } else {
        unsupported(name + "() over event time per key",
                    "Over event time per key, OVER supports lag(), lead(), first_value() and "
                    "aggregates over ROWS n PRECEDING or RANGE interval PRECEDING frames; " +
                        name +
                        "() needs the whole partition: PARTITION BY the window of a windowed "
                        "aggregate, so that it is evaluated when the window closes.");
      }
    }
    // The rows are kept per key: PARTITION BY columns, and expressions computed as extra
    // columns of the kept rows (the query itself evaluates its own PARTITION BY again).
    List* extra = NIL;
    ListCell* ec;
    foreach (ec, partition_exprs) {
      Node* e = (Node*)lfirst(ec);
      Var* v = IsA(e, Var) ? (Var*)e : nullptr;
      if (v && v->varno == rtindex && v->varlevelsup == 0 && v->varattno >= 1) {
        node->partition_cols.push_back(v->varattno - 1);
        continue;
      }
      node->partition_cols.push_back(input->desc->natts + list_length(extra));
      extra = pg::call([&] { return lappend(extra, copyObjectImpl(e)); });
    }
    if (extra) {
      PlanNodePtr keyed = filtered(std::move(input), nullptr, extra);
      input = std::move(keyed);
    }
  }
  // The level's SELECT over the ephemeral relation holding the buffered rows.
  TupleDesc in = input->desc;
  int ncols = in->natts;
  node->query = pg::call([&] {
    Query* nq = (Query*)copyObjectImpl(q);
    RangeTblEntry* rte = makeNode(RangeTblEntry);
    rte->rtekind = RTE_NAMEDTUPLESTORE;
    rte->enrname = pstrdup(kRelationName);
    rte->enrtuples = 1000;
    rte->relid = InvalidOid;
    rte->inh = false;
    rte->inFromCl = true;
    List* names = NIL;
    for (int c = 0; c < ncols; c++) {
      Form_pg_attribute att = TupleDescAttr(in, c);
      bool dropped = att->attisdropped;
      names = lappend(names, makeString(pstrdup(dropped ? "" : NameStr(att->attname))));
      rte->coltypes = lappend_oid(rte->coltypes, dropped ? INT4OID : att->atttypid);
      rte->coltypmods = lappend_int(rte->coltypmods, dropped ? -1 : att->atttypmod);
      rte->colcollations =
          lappend_oid(rte->colcollations, dropped ? InvalidOid : att->attcollation);
    }
    names = lappend(names, makeString(pstrdup("arroyo_time")));
    names = lappend(names, makeString(pstrdup("arroyo_emit")));
    rte->coltypes = lappend_oid(lappend_oid(rte->coltypes, TIMESTAMPTZOID), BOOLOID);
    rte->coltypmods = lappend_int(lappend_int(rte->coltypmods, -1), -1);
    rte->colcollations = lappend_oid(lappend_oid(rte->colcollations, InvalidOid), InvalidOid);
    rte->eref = makeAlias(kRelationName, names);
    nq->rtable = list_make1(rte);
    RangeTblRef* ref = makeNode(RangeTblRef);
    ref->rtindex = 1;
    nq->jointree = makeFromExpr(list_make1(ref), nullptr);
    ChangeVarNodes((Node*)nq->targetList, rtindex, 1, 0);
    Index max_ref = 0;
    ListCell* tc;
    foreach (tc, nq->targetList) {
      TargetEntry* te = (TargetEntry*)lfirst(tc);
      te->resjunk = false;  // every column comes out, as the node's layout has them
      max_ref = std::max(max_ref, te->ressortgroupref);
    }
    int n = list_length(nq->targetList);
    TargetEntry* time =
        makeTargetEntry((Expr*)makeVar(1, ncols + 1, TIMESTAMPTZOID, -1, InvalidOid, 0), n + 1,
                        pstrdup("arroyo_time"), false);
    time->ressortgroupref = max_ref + 1;
    TargetEntry* emit = makeTargetEntry((Expr*)makeVar(1, ncols + 2, BOOLOID, -1, InvalidOid, 0),
                                        n + 2, pstrdup("arroyo_emit"), false);
    nq->targetList = lappend(lappend(nq->targetList, time), emit);
    // Output in event-time order.
    SortGroupClause* order = makeNode(SortGroupClause);
    order->tleSortGroupRef = time->ressortgroupref;
    bool hashable;
    get_sort_group_operators(TIMESTAMPTZOID, true, true, false, &order->sortop, &order->eqop,
                             nullptr, &hashable);
    order->hashable = hashable;
    order->nulls_first = false;
    nq->sortClause = list_make1(order);
    // Planned here to report what PostgreSQL refuses at stream_create; the operator plans it
    // again in the pipeline's worker.
    pg_plan_query((Query*)copyObjectImpl(nq), "arroyo_stream window functions", 0, nullptr);
    return nq;
  });
  node->desc = desc_from_targets(q->targetList);
  node->updating = false;
  node->input = std::move(input);
  return node;
}

}  // namespace arroyo
