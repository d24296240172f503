// Query forms planned by rewriting them into ones the rest of the planner knows:
//  * WITH: each reference to a common table expression becomes a subquery in FROM; all
//    references share one Query, planned once (plan_shared_subquery), so the plan is a DAG.
//  * IN / EXISTS (semi joins), NOT EXISTS (anti joins) and NOT IN (an anti join plus SQL's NULL
//    rules, from a one-row count of the subquery) as WHERE conditions: JoinExprs of JOIN_SEMI /
//    JOIN_ANTI around the FROM item they filter, which joins.cpp plans. A correlated subquery
//    gives its WHERE conditions that use the outer query to the join, with the inner columns
//    they need added to its select list.
//  * Scalar subqueries that are aggregates without GROUP BY (exactly one row): a join with that
//    one-row aggregate (a comma item of FROM), the subquery replaced by its column.
//  * SELECT DISTINCT: a GROUP BY of every column (over a grouped query: of its result).
//  * GROUPING SETS, ROLLUP and CUBE: one copy of the query per grouping set, the columns not in
//    the set NULL and grouping() a constant, the copies' results UNION ALL'ed. The copies share
//    their FROM, so each source and subquery is read once.
#include "planner/plan_util.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_operator.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_agg.h"
#include "parser/parse_oper.h"
#include "rewrite/rewriteManip.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

#include <map>
#include <utility>

namespace arroyo {

namespace {

// Subqueries planned so far (by their Query), for the pipeline being planned.
thread_local std::map<const Query*, PlanNodePtr> planned_subqueries;

// ereport's form of unsupported(), for code that runs inside PostgreSQL's walkers.
[[noreturn]] void refuse(const char* what, const char* hint) {
  ereport(ERROR,
          (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
           errmsg("%s is not supported in a pipeline", what), hint ? errhint("%s", hint) : 0));
  pg_unreachable();
}

// ---- WITH ----

struct CteWalk {
  Query* owner;  // the query whose WITH list is inlined
  int depth;     // of the query being walked, below the owner
};

// Turns each reference to one of the owner's CTEs into a subquery RTE over the CTE's Query.
bool cte_walker(Node* node, void* context) {
  if (!node) return false;
  auto* w = (CteWalk*)context;
  if (IsA(node, Query)) {
    w->depth++;
    bool done = query_tree_walker((Query*)node, pg_walker<bool>(cte_walker), context,
                                  QTW_EXAMINE_RTES_BEFORE);
    w->depth--;
    return done;
  }
  if (IsA(node, RangeTblEntry)) {
    RangeTblEntry* rte = (RangeTblEntry*)node;
    if (rte->rtekind != RTE_CTE || int(rte->ctelevelsup) != w->depth) return false;
    ListCell* lc;
    foreach (lc, w->owner->cteList) {
      CommonTableExpr* cte = (CommonTableExpr*)lfirst(lc);
      if (strcmp(cte->ctename, rte->ctename) != 0) continue;
      rte->rtekind = RTE_SUBQUERY;
      rte->subquery = (Query*)cte->ctequery;
      rte->ctename = nullptr;
      rte->ctelevelsup = 0;
      rte->self_reference = false;
      return false;
    }
    elog(ERROR, "WITH query \"%s\" not found", rte->ctename);
  }
  return expression_tree_walker(node, pg_walker<bool>(cte_walker), context);
}

// ---- subqueries in WHERE and the select list ----

RangeTblRef* makeRangeTblRef(int rtindex) {
  RangeTblRef* ref = makeNode(RangeTblRef);
  ref->rtindex = rtindex;
  return ref;
}

// Appends a subquery to the query's range table; returns its index.
int add_subquery_rte(Query* q, Query* sub) {
  RangeTblEntry* rte = makeNode(RangeTblEntry);
  rte->rtekind = RTE_SUBQUERY;
  rte->subquery = sub;
  List* names = NIL;
  ListCell* lc;
  foreach (lc, sub->targetList) {
    TargetEntry* te = (TargetEntry*)lfirst(lc);
    names = lappend(names, makeString(pstrdup(te->resname ? te->resname : "?column?")));
  }
  rte->eref = makeAlias("subquery", names);
  rte->inFromCl = true;
  q->rtable = lappend(q->rtable, rte);
  return list_length(q->rtable);
}

// The first column a subquery returns, as a Var of its range table entry.
Var* first_column(Query* sub, int rtindex) {
  TargetEntry* te = (TargetEntry*)linitial(sub->targetList);
  Node* e = (Node*)te->expr;
  return makeVar(rtindex, te->resno, exprType(e), exprTypmod(e), exprCollation(e), 0);
}

struct PullUp {
  Query* sub;
  int rtindex;
};

// A correlated condition of a subquery, moved up to the join: the subquery's own columns
// become its output columns (Vars of its range table entry), outer references come down a
// level.
Node* pull_up_mutator(Node* node, void* context) {
  if (!node) return nullptr;
  auto* p = (PullUp*)context;
  if (IsA(node, Var)) {
    Var* v = (Var*)node;
    if (v->varlevelsup > 0) {
      Var* up = (Var*)copyObjectImpl(v);
      up->varlevelsup--;
      return (Node*)up;
    }
    int resno = 0;
    ListCell* lc;
    foreach (lc, p->sub->targetList)
      if (equal(((TargetEntry*)lfirst(lc))->expr, v)) resno = ((TargetEntry*)lfirst(lc))->resno;
    if (!resno) {
      resno = list_length(p->sub->targetList) + 1;
      p->sub->targetList =
          lappend(p->sub->targetList, makeTargetEntry((Expr*)(Node*)copyObjectImpl(v), resno,
                                                      psprintf("correlated_%d", resno), false));
    }
    return (Node*)makeVar(p->rtindex, resno, v->vartype, v->vartypmod, v->varcollid, 0);
  }
  if (IsA(node, SubLink) || IsA(node, Query))
    refuse("a subquery inside a correlated condition of a subquery", nullptr);
  return expression_tree_mutator(node, pg_walker<Node*>(pull_up_mutator), context);
}

// Whether a subquery is a plain SELECT … FROM … WHERE (so that taking WHERE conditions out of
// it and applying them to its rows, in the join, changes nothing).
bool plain_select(Query* sub) {
  return !sub->hasAggs && !sub->groupClause && !sub->groupingSets && !sub->havingQual &&
         !sub->distinctClause && !sub->setOperations && !sub->limitCount && !sub->limitOffset &&
         !sub->hasWindowFuncs && !sub->hasTargetSRFs && !sub->sortClause;
}

// Takes the subquery's WHERE conditions that reference the outer query out of it, as join
// conditions over (outer rows, subquery rows); NIL if it is not correlated.
List* pull_up_correlation(Query* sub, int rtindex) {
  if (!contain_vars_of_level((Node*)sub, 1)) return NIL;
  if (!plain_select(sub))
    refuse("a correlated subquery with aggregates, GROUP BY, DISTINCT, UNION or LIMIT",
           "Correlate a plain SELECT … FROM … WHERE; aggregate it in a subquery of its FROM.");
  List* kept = NIL;
  List* pulled = NIL;
  PullUp p{sub, rtindex};
  ListCell* lc;
  foreach (lc, make_ands_implicit((Expr*)sub->jointree->quals)) {
    Node* c = (Node*)lfirst(lc);
    if (contain_vars_of_level(c, 1))
      pulled = lappend(pulled, pull_up_mutator(c, &p));
    else
      kept = lappend(kept, c);
  }
  sub->jointree->quals = (Node*)make_ands_explicit(kept);
  if (!kept) sub->jointree->quals = nullptr;
  if (contain_vars_of_level((Node*)sub, 1))
    refuse("a correlated subquery that uses the outer query outside its WHERE conditions",
           "Refer to the outer query only in the subquery's WHERE (ANDed conditions).");
  return pulled;
}

// The subquery's PARAM_SUBLINK Params (its output columns, in IN's comparison) as Vars.
Node* params_to_vars(Node* node, void* context) {
  if (!node) return nullptr;
  if (IsA(node, Param) && ((Param*)node)->paramkind == PARAM_SUBLINK) {
    Param* p = (Param*)node;
    return (Node*)makeVar(*(int*)context, p->paramid, p->paramtype, p->paramtypmod, p->paramcollid,
                          0);
  }
  return expression_tree_mutator(node, pg_walker<Node*>(params_to_vars), context);
}

// The range table indexes a FROM item covers (join RTEs included).
Bitmapset* item_rtindexes(Node* item, Bitmapset* out) {
  if (IsA(item, RangeTblRef)) return bms_add_member(out, ((RangeTblRef*)item)->rtindex);
  if (IsA(item, JoinExpr)) {
    JoinExpr* j = (JoinExpr*)item;
    if (j->rtindex) out = bms_add_member(out, j->rtindex);
    return item_rtindexes(j->rarg, item_rtindexes(j->larg, out));
  }
  return out;
}

// Joins the FROM item that holds every outer column `quals` use with range table entry
// `rtindex` (JOIN_SEMI, JOIN_ANTI or JOIN_INNER, on `quals`), in its place. Returns its position.
int join_from_item(Query* q, JoinType type, int rtindex, List* quals, int position = -1) {
  List* from = q->jointree->fromlist;
  if (position < 0) {
    Bitmapset* used = pull_varnos(nullptr, (Node*)quals);
    used = bms_del_member(used, rtindex);
    for (int i = 0; i < list_length(from) && position < 0; i++)
      if (bms_is_subset(used, item_rtindexes((Node*)list_nth(from, i), nullptr))) position = i;
    if (position < 0)
      refuse("a subquery whose condition uses columns of several comma-separated FROM items",
             "Write those FROM items as JOIN … ON.");
  }
  JoinExpr* j = makeNode(JoinExpr);
  j->jointype = type;
  j->larg = (Node*)list_nth(from, position);
  j->rarg = (Node*)makeRangeTblRef(rtindex);
  j->quals = quals ? (Node*)make_ands_explicit(quals) : nullptr;
  lfirst(list_nth_cell(from, position)) = j;
  return position;
}

// An aggregate Aggref of the count family over no argument (count(*)) or one.
Aggref* count_aggref(Var* arg) {
  Aggref* a = makeNode(Aggref);
  a->aggfnoid = arg ? F_COUNT_ANY : F_COUNT_;
  a->aggtype = INT8OID;
  a->aggtranstype = InvalidOid;
  a->aggstar = arg == nullptr;
  if (arg) {
    a->aggargtypes = list_make1_oid(arg->vartype);
    a->args = list_make1(makeTargetEntry((Expr*)arg, 1, nullptr, false));
  }
  a->aggkind = AGGKIND_NORMAL;
  a->aggsplit = AGGSPLIT_SIMPLE;
  a->aggno = a->aggtransno = -1;
  a->location = -1;
  return a;
}

Expr* int8_eq(Expr* a, Expr* b) {
  return make_opclause(lookup_type_cache(INT8OID, TYPECACHE_EQ_OPR)->eq_opr, BOOLOID, false, a, b,
                       InvalidOid, InvalidOid);
}

// Joins a one-row aggregate over the subquery to the FROM item at `position` (or the one the
// condition needs), keeping the rows for which `condition(flags)` holds. The flags are boolean
// columns, true when the subquery has no rows (`empty`) and when its first column holds no NULL
// (`no_nulls`): their row changes only when a flag does (a projection drops an update that
// changes nothing), so the kept rows are not re-emitted at every change of the subquery. The
// subquery is planned once for this and any other reader.
int join_flags(Query* q, Query* sub, int position, Expr* (*condition)(Var*, Var*, void*),
               void* arg) {
  Query* flags = makeNode(Query);
  flags->commandType = CMD_SELECT;
  flags->querySource = QSRC_ORIGINAL;
  flags->canSetTag = true;
  add_subquery_rte(flags, sub);
  flags->jointree = makeFromExpr(list_make1(makeRangeTblRef(1)), nullptr);
  Expr* zero =
      (Expr*)makeConst(INT8OID, -1, InvalidOid, 8, Int64GetDatum(0), false, FLOAT8PASSBYVAL);
  flags->targetList = list_make2(
      makeTargetEntry(int8_eq((Expr*)count_aggref(nullptr), zero), 1, pstrdup("empty"), false),
      makeTargetEntry(
          int8_eq((Expr*)count_aggref(nullptr), (Expr*)count_aggref(first_column(sub, 1))), 2,
          pstrdup("no_nulls"), false));
  flags->hasAggs = true;
  int rt = add_subquery_rte(q, flags);
  Var* empty = makeVar(rt, 1, BOOLOID, -1, InvalidOid, 0);
  Var* no_nulls = makeVar(rt, 2, BOOLOID, -1, InvalidOid, 0);
  return join_from_item(q, JOIN_INNER, rt, list_make1(condition(empty, no_nulls, arg)), position);
}

Expr* exists_rule(Var* empty, Var*, void* negated) {
  return *(bool*)negated ? (Expr*)empty : make_notclause((Expr*)empty);
}

// WHERE [NOT] EXISTS (subquery), WHERE x IN (subquery): a semi (anti) join with the subquery;
// an uncorrelated [NOT] EXISTS: a join with whether the subquery is empty.
void add_semi_join(Query* q, SubLink* link, bool anti) {
  Query* sub = (Query*)link->subselect;
  // EXISTS reads no column: its rows need only the columns correlated conditions use.
  if (link->subLinkType == EXISTS_SUBLINK && plain_select(sub))
    sub->targetList =
        list_make1(makeTargetEntry((Expr*)makeBoolConst(true, false), 1, pstrdup("exists"), false));
  int rtindex = list_length(q->rtable) + 1;
  List* quals = NIL;
  if (link->subLinkType == ANY_SUBLINK)
    quals = make_ands_implicit((Expr*)params_to_vars(link->testexpr, &rtindex));
  quals = list_concat(quals, pull_up_correlation(sub, rtindex));
  if (!quals) {
    join_flags(q, sub, 0, exists_rule, &anti);
    return;
  }
  if (add_subquery_rte(q, sub) != rtindex) elog(ERROR, "subquery range table index moved");
  join_from_item(q, anti ? JOIN_ANTI : JOIN_SEMI, rtindex, quals);
}

Expr* not_in_rule(Var* empty, Var* no_nulls, void* outer) {
  NullTest* present = makeNode(NullTest);
  present->arg = (Expr*)(Node*)copyObjectImpl(outer);
  present->nulltesttype = IS_NOT_NULL;
  present->location = -1;
  return make_orclause(list_make2(empty, make_andclause(list_make2(present, (Expr*)no_nulls))));
}

// x NOT IN (subquery): true when the subquery has no rows, else only when x is not NULL, no
// row equals it and no row is NULL. An anti join on x = y, then a join with the subquery's
// flags (join_flags) keeping: empty OR (x IS NOT NULL AND no_nulls).
void add_not_in(Query* q, SubLink* link) {
  Query* sub = (Query*)link->subselect;
  if (contain_vars_of_level((Node*)sub, 1))
    refuse("NOT IN over a correlated subquery",
           "Write NOT EXISTS (… WHERE <inner> = <outer>), whose NULL rules differ: a NULL does "
           "not make it false.");
  Node* test = link->testexpr;
  if (!IsA(test, OpExpr) || list_length(((OpExpr*)test)->args) != 2)
    refuse("NOT IN over several columns", "Compare one column, or use NOT EXISTS.");
  Node* outer = (Node*)linitial(((OpExpr*)test)->args);
  int rtindex = list_length(q->rtable) + 1;
  List* quals = list_make1(params_to_vars(test, &rtindex));
  add_subquery_rte(q, sub);
  int position = join_from_item(q, JOIN_ANTI, rtindex, quals);
  join_flags(q, sub, position, not_in_rule, outer);
}

// A correlated scalar aggregate subquery, (SELECT agg(x) FROM s WHERE s.k = outer.k AND …):
// the aggregate grouped by the inner sides of its equalities, LEFT JOINed on them to the FROM
// item holding the outer columns. A key without rows has no group: the join pads the value with
// NULL, which is the aggregate's value over no rows for aggregates without an initial state
// (sum, min, max, …) and for the built-in ones whose final function says NULL then (avg,
// stddev, …) — all but count and regr_count. Returns the value as a Var.
Node* correlated_scalar(Query* q, Query* sub) {
  TargetEntry* result = (TargetEntry*)linitial(sub->targetList);
  if (!IsA(result->expr, Aggref))
    refuse("a correlated scalar subquery whose value is not one aggregate call",
           "Select one aggregate call (SELECT sum(x) FROM … WHERE inner = outer).");
  Oid fn = ((Aggref*)result->expr)->aggfnoid;
  HeapTuple tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(fn));
  bool null_on_empty =
      HeapTupleIsValid(tup) && heap_attisnull(tup, Anum_pg_aggregate_agginitval, nullptr);
  if (HeapTupleIsValid(tup)) ReleaseSysCache(tup);
  const char* name = get_func_name(fn);
  if (fn < FirstNormalObjectId && name && strcmp(name, "count") != 0 &&
      strcmp(name, "regr_count") != 0)
    null_on_empty = true;
  if (!null_on_empty)
    refuse(
        "a correlated scalar subquery over count() or another aggregate that is not NULL over "
        "no rows",
        "Join with the subquery grouped by the correlated columns, and coalesce the count.");
  int rtindex = list_length(q->rtable) + 1;
  List* kept = NIL;
  List* quals = NIL;
  Index ref = 0;
  ListCell* lc;
  foreach (lc, sub->targetList) ref = Max(ref, ((TargetEntry*)lfirst(lc))->ressortgroupref);
  foreach (lc, make_ands_implicit((Expr*)sub->jointree->quals)) {
    Node* c = (Node*)lfirst(lc);
    if (!contain_vars_of_level(c, 1)) {
      kept = lappend(kept, c);
      continue;
    }
    OpExpr* op = IsA(c, OpExpr) && list_length(((OpExpr*)c)->args) == 2 ? (OpExpr*)c : nullptr;
    char* name = op ? get_opname(op->opno) : nullptr;
    Node* inner = op ? (Node*)linitial(op->args) : nullptr;
    Node* outer = op ? (Node*)lsecond(op->args) : nullptr;
    if (op && contain_vars_of_level(inner, 1)) std::swap(inner, outer);
    if (!name || strcmp(name, "=") != 0 || contain_vars_of_level(inner, 1) ||
        contain_vars_of_level(outer, 0) || !contain_vars_of_level(inner, 0) ||
        checkExprHasSubLink(c))
      refuse(
          "a correlated scalar subquery whose conditions on the outer query are not "
          "equalities (inner = outer)",
          nullptr);
    int resno = list_length(sub->targetList) + 1;
    TargetEntry* te = makeTargetEntry((Expr*)inner, resno, psprintf("key_%d", resno), false);
    te->ressortgroupref = ++ref;
    sub->targetList = lappend(sub->targetList, te);
    SortGroupClause* g = makeNode(SortGroupClause);
    g->tleSortGroupRef = ref;
    get_sort_group_operators(exprType(inner), false, true, false, &g->sortop, &g->eqop, nullptr,
                             &g->hashable);
    sub->groupClause = lappend(sub->groupClause, g);
    Node* down = (Node*)copyObjectImpl(outer);
    IncrementVarSublevelsUp(down, -1, 1);
    Var* key = makeVar(rtindex, resno, exprType(inner), exprTypmod(inner), exprCollation(inner), 0);
    bool outer_first = op->args && lsecond(op->args) == inner;
    quals = lappend(quals, make_opclause(op->opno, BOOLOID, false,
                                         (Expr*)(outer_first ? down : (Node*)key),
                                         (Expr*)(outer_first ? (Node*)key : down), InvalidOid,
                                         op->inputcollid));
  }
  sub->jointree->quals = kept ? (Node*)make_ands_explicit(kept) : nullptr;
  if (contain_vars_of_level((Node*)sub, 1))
    refuse("a correlated scalar subquery that uses the outer query outside its WHERE conditions",
           nullptr);
  if (add_subquery_rte(q, sub) != rtindex) elog(ERROR, "subquery range table index moved");
  join_from_item(q, JOIN_LEFT, rtindex, quals);
  return (Node*)first_column(sub, rtindex);
}

// Replaces each scalar subquery in an expression with the column of a one-row aggregate
// joined to the FROM list; refuses the other kinds of subquery there.
Node* scalar_mutator(Node* node, void* context) {
  if (!node) return nullptr;
  auto* q = (Query*)context;
  if (IsA(node, SubLink)) {
    SubLink* link = (SubLink*)node;
    if (link->subLinkType != EXPR_SUBLINK)
      refuse(
          "IN, EXISTS, ANY or ALL with a subquery inside another expression (under OR, NOT, "
          "CASE, …)",
          "IN, EXISTS, NOT IN and NOT EXISTS work as WHERE conditions of their own (ANDed "
          "with the others).");
    Query* sub = (Query*)link->subselect;
    if (!sub->hasAggs || sub->groupClause || sub->groupingSets || sub->havingQual ||
        sub->setOperations || sub->limitCount || sub->limitOffset || sub->hasTargetSRFs)
      refuse("a scalar subquery that is not an aggregate without GROUP BY",
             "A pipeline cannot check that a subquery returns a single row; an aggregate without "
             "GROUP BY (SELECT max(x) FROM …) always does.");
    if (contain_vars_of_level((Node*)sub, 1)) return correlated_scalar(q, sub);
    int rtindex = add_subquery_rte(q, sub);
    q->jointree->fromlist = lappend(q->jointree->fromlist, makeRangeTblRef(rtindex));
    return (Node*)first_column(sub, rtindex);
  }
  return expression_tree_mutator(node, pg_walker<Node*>(scalar_mutator), context);
}

// Plans the subqueries of WHERE and the select list as joins (see the top of the file).
void rewrite_sublinks(Query* q) {
  if (!q->hasSubLinks) return;
  if (q->havingQual && checkExprHasSubLink(q->havingQual)) refuse("a subquery in HAVING", nullptr);
  List* kept = NIL;
  ListCell* lc;
  foreach (lc, make_ands_implicit((Expr*)q->jointree->quals)) {
    Node* c = (Node*)lfirst(lc);
    bool negated = is_notclause(c);
    Node* inner = negated ? (Node*)get_notclausearg((Expr*)c) : c;
    SubLink* link = IsA(inner, SubLink) ? (SubLink*)inner : nullptr;
    if (link && link->subLinkType == EXISTS_SUBLINK)
      add_semi_join(q, link, negated);
    else if (link && link->subLinkType == ANY_SUBLINK && !negated)
      add_semi_join(q, link, false);
    else if (link && link->subLinkType == ANY_SUBLINK)
      add_not_in(q, link);
    else
      kept = lappend(kept, checkExprHasSubLink(c) ? scalar_mutator(c, q) : c);
  }
  q->jointree->quals = kept ? (Node*)make_ands_explicit(kept) : nullptr;
  bool grouped = q->hasAggs || q->groupClause || q->groupingSets;
  foreach (lc, q->targetList) {
    TargetEntry* te = (TargetEntry*)lfirst(lc);
    if (!checkExprHasSubLink((Node*)te->expr)) continue;
    if (grouped)
      refuse("a subquery in the select list of a grouped query",
             "Compute it in a subquery of FROM, or in WHERE.");
    te->expr = (Expr*)scalar_mutator((Node*)te->expr, q);
  }
  if (checkExprHasSubLink((Node*)q->jointree))
    refuse("a subquery in a JOIN's ON condition", "Move the condition to WHERE.");
  q->hasSubLinks = false;
}

// ---- DISTINCT and GROUPING SETS ----

// A query selecting every column of `inner` grouped by all of them (DISTINCT of its result).
Query* distinct_over(Query* inner) {
  Query* outer = makeNode(Query);
  outer->commandType = CMD_SELECT;
  outer->querySource = QSRC_ORIGINAL;
  outer->canSetTag = true;
  add_subquery_rte(outer, inner);
  outer->jointree = makeFromExpr(list_make1(makeRangeTblRef(1)), nullptr);
  ListCell* lc;
  foreach (lc, inner->targetList) {
    TargetEntry* te = (TargetEntry*)lfirst(lc);
    if (te->resjunk) continue;
    Node* e = (Node*)te->expr;
    Oid type = exprType(e);
    Var* v = makeVar(1, te->resno, type, exprTypmod(e), exprCollation(e), 0);
    TargetEntry* out = makeTargetEntry((Expr*)v, te->resno, te->resname, false);
    out->ressortgroupref = te->resno;
    outer->targetList = lappend(outer->targetList, out);
    SortGroupClause* g = makeNode(SortGroupClause);
    g->tleSortGroupRef = te->resno;
    get_sort_group_operators(type, false, true, false, &g->sortop, &g->eqop, nullptr, &g->hashable);
    outer->groupClause = lappend(outer->groupClause, g);
  }
  return outer;
}

struct GroupingSet {
  List* refs;      // sortgroupref of the grouping columns in this set
  List* excluded;  // grouping expressions not in this set: NULL here
};

// The query of one grouping set: its columns NULL where not grouped, grouping() a constant.
Node* grouping_set_mutator(Node* node, void* context) {
  if (!node) return nullptr;
  auto* set = (GroupingSet*)context;
  if (IsA(node, GroupingFunc)) {
    int32 bits = 0;
    ListCell* lc;
    foreach (lc, ((GroupingFunc*)node)->refs)
      bits = (bits << 1) | (list_member_int(set->refs, lfirst_int(lc)) ? 0 : 1);
    return (Node*)makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(bits), false, true);
  }
  if (IsA(node, Aggref)) return node;  // (aggregates see the input rows)
  ListCell* lc;
  foreach (lc, set->excluded) {
    Node* e = (Node*)lfirst(lc);
    if (equal(node, e)) return (Node*)makeNullConst(exprType(e), exprTypmod(e), exprCollation(e));
  }
  return expression_tree_mutator(node, pg_walker<Node*>(grouping_set_mutator), context);
}

// A copy of q (sharing its FROM) grouped by one grouping set (a list of sortgrouprefs).
Query* grouping_set_query(Query* q, List* refs) {
  Query* copy = (Query*)palloc(sizeof(Query));
  memcpy(copy, q, sizeof(Query));
  copy->groupingSets = NIL;
  copy->groupClause = NIL;
  GroupingSet set{refs, NIL};
  ListCell* lc;
  foreach (lc, q->groupClause) {
    SortGroupClause* g = (SortGroupClause*)lfirst(lc);
    if (list_member_int(refs, g->tleSortGroupRef))
      copy->groupClause = lappend(copy->groupClause, g);
  }
  foreach (lc, q->groupClause) {
    SortGroupClause* g = (SortGroupClause*)lfirst(lc);
    if (list_member_int(refs, g->tleSortGroupRef)) continue;
    Node* e = (Node*)get_sortgroupclause_tle(g, q->targetList)->expr;
    bool grouped = false;  // the same expression under another reference in the set
    ListCell* gc;
    foreach (gc, copy->groupClause)
      grouped =
          grouped ||
          equal(e, get_sortgroupclause_tle((SortGroupClause*)lfirst(gc), q->targetList)->expr);
    if (!grouped) set.excluded = lappend(set.excluded, e);
  }
  copy->targetList = NIL;
  foreach (lc, q->targetList) {
    TargetEntry* te = flatCopyTargetEntry((TargetEntry*)lfirst(lc));
    te->expr = (Expr*)grouping_set_mutator((Node*)te->expr, &set);
    copy->targetList = lappend(copy->targetList, te);
  }
  copy->havingQual = grouping_set_mutator(q->havingQual, &set);
  // The empty grouping set is one group, as a global aggregate (HAVING true keeps it grouped
  // when the query has no aggregate).
  if (!copy->groupClause && !copy->hasAggs && !copy->havingQual)
    copy->havingQual = (Node*)makeBoolConst(true, false);
  return copy;
}

// Inlines the references to the query's WITH list (each CTE becomes one shared subquery).
void inline_ctes(Query* q) {
  if (!q->cteList) return;
  if (q->hasRecursive) unsupported("WITH RECURSIVE");
  ListCell* lc;
  foreach (lc, q->cteList) {
    CommonTableExpr* cte = (CommonTableExpr*)lfirst(lc);
    if (!IsA(cte->ctequery, Query) || ((Query*)cte->ctequery)->commandType != CMD_SELECT)
      unsupported("a data-modifying statement in WITH");
  }
  pg::call([&] {
    CteWalk w{q, 0};
    query_tree_walker(q, pg_walker<bool>(cte_walker), &w, QTW_EXAMINE_RTES_BEFORE);
  });
  q->cteList = NIL;
}

}  // namespace

PlanNodePtr plan_query_forms(Query* q) {
  inline_ctes(q);
  pg::call([&] { rewrite_sublinks(q); });
  if (q->distinctClause) {
    if (q->hasDistinctOn)
      unsupported("DISTINCT ON", "Keep one row per key with an aggregate (GROUP BY the key).");
    if (!q->hasAggs && !q->groupClause && !q->groupingSets && !q->havingQual && !q->setOperations) {
      q->groupClause = q->distinctClause;  // DISTINCT a, b is GROUP BY a, b
      q->distinctClause = NIL;
    } else {
      Query* inner = pg::call([&] {
        Query* copy = (Query*)palloc(sizeof(Query));
        memcpy(copy, q, sizeof(Query));
        copy->distinctClause = NIL;
        return copy;
      });
      return plan_query(pg::call([&] { return distinct_over(inner); }));
    }
  }
  if (!q->groupingSets) return nullptr;
  List* sets =
      pg::call([&] { return expand_grouping_sets(q->groupingSets, q->groupDistinct, 4096); });
  auto u = std::make_shared<UnionNode>();
  ListCell* lc;
  foreach (lc, sets) {
    Query* copy = pg::call([&] { return grouping_set_query(q, (List*)lfirst(lc)); });
    u->inputs.push_back(plan_query(copy));
  }
  u->desc = u->inputs[0]->desc;
  for (auto& in : u->inputs) u->updating = u->updating || in->updating;
  return u;
}

PlanNodePtr plan_shared_subquery(Query* sub) {
  auto it = planned_subqueries.find(sub);
  if (it != planned_subqueries.end()) return it->second;
  PlanNodePtr plan = plan_query(sub);
  planned_subqueries[sub] = plan;
  return plan;
}

void reset_shared_subqueries() { planned_subqueries.clear(); }

}  // namespace arroyo
