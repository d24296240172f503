#include "planner/plan_util.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "optimizer/optimizer.h"
}

namespace arroyo {

void unsupported(const std::string& what, const std::string& hint) {
  pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED, what + " is not supported in a pipeline", {}, hint);
}

namespace {

// Rejects references to system columns (ctid, tableoid, ...), which streams do not have.
// Walkers run inside pg::call and report with ereport: no C++ exception crosses PostgreSQL.
bool system_column_walker(Node* node, void* context) {
  if (!node) return false;
  if (IsA(node, Var) && ((Var*)node)->varattno < 0)
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("a system column (ctid, xmin, tableoid, ...) is not supported in a "
                           "pipeline")));
  return expression_tree_walker(node, pg_walker<bool>(system_column_walker), context);
}

}  // namespace

Expr* plan_expr(Expr* e) {
  return pg::call([&] {
    system_column_walker((Node*)e, nullptr);
    return expression_planner(e);
  });
}

List* plan_targets(List* targets) {
  List* out = NIL;
  ListCell* lc;
  foreach (lc, targets) {
    TargetEntry* te = (TargetEntry*)lfirst(lc);
    Expr* e = plan_expr(te->expr);
    out = pg::call([&] {
      TargetEntry* copy = flatCopyTargetEntry(te);
      copy->expr = e;
      return lappend(out, copy);
    });
  }
  return out;
}

TupleDesc desc_from_targets(List* targets) {
  return pg::call([&] {
    TupleDesc desc = CreateTemplateTupleDesc(list_length(targets));
    ListCell* lc;
    foreach (lc, targets) {
      TargetEntry* te = (TargetEntry*)lfirst(lc);
      Node* e = (Node*)te->expr;
      TupleDescInitEntry(desc, te->resno, te->resname ? te->resname : "?column?", exprType(e),
                         exprTypmod(e), 0);
      TupleDescInitEntryCollation(desc, te->resno, exprCollation(e));
    }
    return desc;
  });
}

List* targets_from_exprs(List* exprs) {
  return pg::call([&] {
    List* out = NIL;
    int resno = 1;
    ListCell* lc;
    foreach (lc, exprs)
      out = lappend(out, makeTargetEntry((Expr*)lfirst(lc), resno++, nullptr, false));
    return out;
  });
}

}  // namespace arroyo
