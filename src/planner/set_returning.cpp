// Set-returning functions: in the select list (PostgreSQL's ProjectSet: a projection computes
// what they need, then each nesting level of them runs in lockstep, then a projection computes
// the select list over their results) and in FROM lateral to a stream (joins.cpp finds them).
#include "planner/plan_util.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
}

namespace arroyo {

namespace {

// Whether a node is a set-returning call.
bool is_srf(Node* n) {
  return n && ((IsA(n, FuncExpr) && ((FuncExpr*)n)->funcretset) ||
               (IsA(n, OpExpr) && ((OpExpr*)n)->opretset));
}

// The subexpressions without set-returning calls that the select list needs, computed below
// the functions as columns `base` + 1, … of the rows they read.
struct Pieces {
  List* exprs = NIL;
  int base = 0;
};

// Replaces each maximal subexpression without set-returning calls by a Var of the column that
// computes it (constants stay). Inside pg::call.
Node* split_mutator(Node* n, void* context) {
  if (!n) return nullptr;
  if (IsA(n, List) || expression_returns_set(n))
    return expression_tree_mutator(n, pg_walker<Node*>(split_mutator), context);
  if (IsA(n, Const)) return n;
  Pieces* p = (Pieces*)context;
  int k = 0;
  ListCell* lc;
  foreach (lc, p->exprs) {
    if (equal(lfirst(lc), n)) break;
    k++;
  }
  if (k == list_length(p->exprs)) p->exprs = lappend(p->exprs, n);
  return (Node*)makeVar(1, AttrNumber(p->base + k + 1), exprType(n), exprTypmod(n),
                        exprCollation(n), 0);
}

// Adds to a List* (context) the set-returning calls whose arguments have none, once each.
bool bottom_srfs_walker(Node* n, void* context) {
  if (!n) return false;
  if (is_srf(n) && !expression_returns_set(
                       (Node*)(IsA(n, FuncExpr) ? ((FuncExpr*)n)->args : ((OpExpr*)n)->args))) {
    List** out = (List**)context;
    if (!list_member(*out, n)) *out = lappend(*out, n);
    return false;
  }
  return expression_tree_walker(n, pg_walker<bool>(bottom_srfs_walker), context);
}

// Replaces the calls of one level by Vars of the columns holding their values.
struct LevelColumns {
  List* calls;
  int base;
};

Node* level_mutator(Node* n, void* context) {
  if (!n) return nullptr;
  LevelColumns* l = (LevelColumns*)context;
  if (is_srf(n)) {
    int k = 0;
    ListCell* lc;
    foreach (lc, l->calls) {
      if (equal(lfirst(lc), n))
        return (Node*)makeVar(1, AttrNumber(l->base + k + 1), exprType(n), exprTypmod(n),
                              exprCollation(n), 0);
      k++;
    }
  }
  return expression_tree_mutator(n, pg_walker<Node*>(level_mutator), context);
}

// `in`'s columns followed by those of `extra` (copied entries); no NOT NULL (rows are padded).
TupleDesc extended_desc(TupleDesc in, TupleDesc extra) {
  return pg::call([&] {
    TupleDesc d = CreateTemplateTupleDesc(in->natts + extra->natts);
    for (int i = 0; i < in->natts; i++) TupleDescCopyEntry(d, i + 1, in, i + 1);
    for (int i = 0; i < extra->natts; i++) TupleDescCopyEntry(d, in->natts + i + 1, extra, i + 1);
    for (int i = 0; i < d->natts; i++) TupleDescAttr(d, i)->attnotnull = false;
    return d;
  });
}

}  // namespace

List* split_target_srfs(Query* q) {
  for (ListCell* lc = list_head(q->targetList); lc; lc = lnext(q->targetList, lc)) {
    TargetEntry* te = (TargetEntry*)lfirst(lc);
    if (te->ressortgroupref && pg::call([&] { return expression_returns_set((Node*)te->expr); }))
      unsupported("a set-returning function in GROUP BY");
  }
  return pg::call([&] {
    Pieces pieces;
    pieces.base = list_length(q->targetList);
    List *below = NIL, *upper = NIL;
    ListCell* lc;
    foreach (lc, q->targetList) {
      TargetEntry* te = (TargetEntry*)lfirst(lc);
      Node* e = (Node*)te->expr;
      TargetEntry* up = flatCopyTargetEntry(te);
      if (expression_returns_set(e)) {
        // Computed above; below, the column is a placeholder.
        up->expr = (Expr*)split_mutator(e, &pieces);
        TargetEntry* placeholder = flatCopyTargetEntry(te);
        placeholder->expr = (Expr*)makeNullConst(exprType(e), exprTypmod(e), exprCollation(e));
        below = lappend(below, placeholder);
      } else {
        up->expr = (Expr*)makeVar(1, te->resno, exprType(e), exprTypmod(e), exprCollation(e), 0);
        below = lappend(below, te);
      }
      upper = lappend(upper, up);
    }
    int resno = pieces.base;
    foreach (lc, pieces.exprs)
      below =
          lappend(below, makeTargetEntry((Expr*)lfirst(lc), AttrNumber(++resno), nullptr, false));
    q->targetList = below;
    return upper;
  });
}

PlanNodePtr plan_target_srfs(PlanNodePtr below, List* upper) {
  if (!upper) return below;
  PlanNodePtr cur = std::move(below);
  for (;;) {
    List* calls = pg::call([&] {
      List* out = NIL;
      bottom_srfs_walker((Node*)upper, &out);
      return out;
    });
    if (!calls) break;
    auto level = std::make_shared<ProjectSetNode>();
    TupleDesc values = pg::call([&] {
      TupleDesc d = CreateTemplateTupleDesc(list_length(calls));
      int k = 0;
      ListCell* lc;
      foreach (lc, calls) {
        Node* call = (Node*)lfirst(lc);
        k++;
        TupleDescInitEntry(d, k,
                           get_func_name(IsA(call, FuncExpr) ? ((FuncExpr*)call)->funcid
                                                             : ((OpExpr*)call)->opfuncid),
                           exprType(call), exprTypmod(call), 0);
        TupleDescInitEntryCollation(d, k, exprCollation(call));
      }
      return d;
    });
    ListCell* lc;
    foreach (lc, calls) {
      Expr* e = plan_expr((Expr*)lfirst(lc));
      level->functions = pg::call([&] { return lappend(level->functions, e); });
      level->widths.push_back(0);
      level->record_descs.push_back(nullptr);
    }
    LevelColumns columns{calls, cur->desc->natts};
    upper = pg::call([&] { return (List*)level_mutator((Node*)upper, &columns); });
    level->desc = extended_desc(cur->desc, values);
    level->updating = cur->updating;
    level->input = std::move(cur);
    cur = std::move(level);
  }
  auto proj = std::make_shared<ProjectNode>();
  proj->targets = plan_targets(upper);
  proj->desc = desc_from_targets(proj->targets);
  proj->updating = cur->updating;
  proj->input = std::move(cur);
  return proj;
}

PlanNodePtr plan_function_scan(PlanNodePtr input, RangeTblEntry* rte, List* exprs, List* quals,
                               bool outer) {
  auto node = std::make_shared<ProjectSetNode>();
  List* names = rte->eref->colnames;
  int total = 0;
  ListCell *lc, *fc;
  forboth(lc, exprs, fc, rte->functions) {
    RangeTblFunction* rtfunc = (RangeTblFunction*)lfirst(fc);
    Expr* e = (Expr*)lfirst(lc);
    TupleDesc desc = nullptr;
    TypeFuncClass kind = pg::call([&] {
      Oid type;
      TupleDesc found;
      TypeFuncClass k = get_expr_result_type((Node*)e, &type, &found);
      if (k == TYPEFUNC_COMPOSITE || k == TYPEFUNC_COMPOSITE_DOMAIN)
        desc = CreateTupleDescCopy(found);
      else if (k == TYPEFUNC_RECORD && rtfunc->funccolnames)
        desc = BuildDescFromLists(rtfunc->funccolnames, rtfunc->funccoltypes,
                                  rtfunc->funccoltypmods, rtfunc->funccolcollations);
      return k;
    });
    if (kind == TYPEFUNC_SCALAR) {
      node->widths.push_back(0);
      node->record_descs.push_back(nullptr);
      total += 1;
    } else if (desc && desc->natts == rtfunc->funccolcount) {
      node->widths.push_back(desc->natts);
      node->record_descs.push_back(desc);
      total += desc->natts;
    } else {
      unsupported("this function in FROM", "Its result type is not known when it is planned.");
    }
    Expr* planned = plan_expr(e);
    node->functions = pg::call([&] { return lappend(node->functions, planned); });
  }
  node->ordinality = rte->funcordinality;
  // The function columns, named as the FROM item names them.
  TupleDesc own = pg::call([&] {
    TupleDesc d = CreateTemplateTupleDesc(total + (rte->funcordinality ? 1 : 0));
    int col = 0;
    ListCell *lc2, *fc2;
    int k = 0;
    forboth(lc2, node->functions, fc2, rte->functions) {
      Node* e = (Node*)lfirst(lc2);
      TupleDesc rd = node->record_descs[k];
      int width = node->widths[k++];
      for (int c = 0; c < (width > 0 ? width : 1); c++) {
        col++;
        const char* name = col <= list_length(names) ? strVal(list_nth(names, col - 1)) : "?";
        if (width > 0) {
          TupleDescCopyEntry(d, col, rd, c + 1);
          namestrcpy(&TupleDescAttr(d, col - 1)->attname, name);
        } else {
          TupleDescInitEntry(d, col, name, exprType(e), exprTypmod(e), 0);
          TupleDescInitEntryCollation(d, col, exprCollation(e));
        }
      }
    }
    if (rte->funcordinality) TupleDescInitEntry(d, col + 1, "ordinality", INT8OID, -1, 0);
    return d;
  });
  node->desc = extended_desc(input->desc, own);
  foreach (lc, quals) {
    Expr* e = plan_expr((Expr*)lfirst(lc));
    node->quals = pg::call([&] { return lappend(node->quals, e); });
  }
  node->outer = outer;
  node->updating = input->updating;
  node->input = std::move(input);
  return node;
}

}  // namespace arroyo
