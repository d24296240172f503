// Grouped queries: GROUP BY with a time window (tumble, hop, session; Dataflow semantics) or
// without (updating semantics). Either is split into an input projection (keys, aggregate
// arguments, FILTER conditions), an aggregate, and a projection of the select list and HAVING
// over the aggregate's output.
#include "planner/plan_util.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "catalog/dependency.h"
#include "catalog/pg_proc.h"
#include "optimizer/optimizer.h"
}

namespace arroyo {

// Which window function a call is, if any: "tumble", "hop", "session" of this extension.
// Like every walker here it calls PostgreSQL directly, so it runs inside pg::call.
const char* window_function_name(Node* node) {
  if (!node || !IsA(node, FuncExpr)) return nullptr;
  Oid funcid = ((FuncExpr*)node)->funcid;
  const char* name = get_func_name(funcid);
  if (!name ||
      (strcmp(name, "tumble") != 0 && strcmp(name, "hop") != 0 && strcmp(name, "session") != 0))
    return nullptr;
  Oid ext = get_extension_oid("arroyo_stream", true);
  return OidIsValid(ext) && getExtensionOfObject(ProcedureRelationId, funcid) == ext ? name
                                                                                     : nullptr;
}

namespace {

[[noreturn]] void misplaced_window(const char* fn) {
  ereport(ERROR,
          (errcode(ERRCODE_GROUPING_ERROR), errmsg("%s() can only be used as a GROUP BY key", fn)));
  pg_unreachable();
}

// An interval argument of a window function, in microseconds; it must be a positive constant.
int64 interval_arg(const char* fn, Node* arg, const char* what) {
  Expr* planned = plan_expr((Expr*)arg);
  if (!IsA(planned, Const) || ((Const*)planned)->constisnull)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             std::string(fn) + "() " + what + " must be a constant interval");
  Interval* iv = DatumGetIntervalP(((Const*)planned)->constvalue);
  if (iv->month != 0)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             std::string(fn) + "() " + what + " cannot be given in months or years");
  int64 us = iv->time + int64(iv->day) * USECS_PER_DAY;
  if (us <= 0)
    pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
             std::string(fn) + "() " + what + " must be a positive interval");
  return us;
}

WindowSpec window_spec(const char* fn, FuncExpr* call) {
  WindowSpec w;
  if (strcmp(fn, "tumble") == 0) {
    w.kind = WindowSpec::Kind::Tumble;
    w.width_us = w.slide_us = interval_arg(fn, (Node*)linitial(call->args), "width");
  } else if (strcmp(fn, "hop") == 0) {
    w.kind = WindowSpec::Kind::Hop;
    w.slide_us = interval_arg(fn, (Node*)linitial(call->args), "slide");
    w.width_us = interval_arg(fn, (Node*)lsecond(call->args), "width");
    if (w.width_us % w.slide_us != 0)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "hop() slide must divide width evenly");
  } else {
    w.kind = WindowSpec::Kind::Session;
    w.gap_us = interval_arg(fn, (Node*)linitial(call->args), "gap");
  }
  return w;
}

// Collects the Aggref nodes of an expression tree into a List** (outermost only).
bool aggref_walker(Node* node, void* context) {
  if (!node) return false;
  if (IsA(node, Aggref)) {
    *(List**)context = lappend(*(List**)context, node);
    return false;
  }
  return expression_tree_walker(node, pg_walker<bool>(aggref_walker), context);
}

struct Substitution {
  std::vector<Node*> groups;  // window first, then the keys: output columns 1..n
  List* aggrefs;              // output columns n+1..
};

// Replaces grouping expressions and aggregate calls with Vars of the window aggregate's output.
Node* substitute(Node* node, void* context) {
  if (!node) return nullptr;
  auto* sub = (Substitution*)context;
  for (size_t i = 0; i < sub->groups.size(); i++) {
    Node* g = sub->groups[i];
    if (equal(node, g))
      return (Node*)makeVar(1, AttrNumber(i + 1), exprType(g), exprTypmod(g), exprCollation(g), 0);
  }
  if (IsA(node, Aggref)) {
    int idx = 0;
    ListCell* lc;
    foreach (lc, sub->aggrefs) {
      if (equal(lfirst(lc), node)) {
        Aggref* a = (Aggref*)node;
        return (Node*)makeVar(1, AttrNumber(sub->groups.size() + idx + 1), a->aggtype, -1,
                              a->aggcollid, 0);
      }
      idx++;
    }
  }
  if (const char* fn = window_function_name(node)) misplaced_window(fn);
  return expression_tree_mutator(node, pg_walker<Node*>(substitute), context);
}

// Rejects a window function anywhere in an expression (WHERE, arguments of aggregates, ...).
bool no_window_walker(Node* node, void*) {
  if (!node) return false;
  if (const char* fn = window_function_name(node)) misplaced_window(fn);
  return expression_tree_walker(node, pg_walker<bool>(no_window_walker), nullptr);
}

// Checks an aggregate call can run in a window and describes it.
void check_aggregate(Aggref* a) {
  // WITHIN GROUP: the direct arguments (percentile_cont's fraction) are evaluated once.
  ListCell* lc;
  foreach (lc, a->aggdirectargs)
    if (!IsA(plan_expr((Expr*)lfirst(lc)), Const))
      unsupported("a direct argument of an ordered-set aggregate that is not a constant",
                  "Write the fraction (or the hypothetical row) as a constant.");
  bool has_transfn = pg::call([&] {
    HeapTuple tup = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(a->aggfnoid));
    bool ok = HeapTupleIsValid(tup) && OidIsValid(((Form_pg_aggregate)GETSTRUCT(tup))->aggtransfn);
    if (HeapTupleIsValid(tup)) ReleaseSysCache(tup);
    return ok;
  });
  if (!has_transfn) unsupported("an aggregate without a transition function");
}

}  // namespace

void check_no_windows(Query* q) {
  pg::call([&] {
    ListCell* lc;
    foreach (lc, q->targetList) no_window_walker((Node*)((TargetEntry*)lfirst(lc))->expr, nullptr);
    no_window_walker(q->jointree ? q->jointree->quals : nullptr, nullptr);
  });
}

PlanNodePtr plan_grouped_query(Query* q, PlanNodePtr input, List* quals) {
  Substitution sub;
  Node* window_call = nullptr;
  const char* window_fn = nullptr;
  std::vector<Node*> keys;
  ListCell* lc;
  foreach (lc, q->groupClause) {
    SortGroupClause* sgc = (SortGroupClause*)lfirst(lc);
    Node* e = (Node*)pg::call([&] { return get_sortgroupclause_tle(sgc, q->targetList); })->expr;
    if (const char* fn = pg::call([&] { return window_function_name(e); })) {
      if (window_call) unsupported("more than one window in a GROUP BY");
      window_call = e;
      window_fn = fn;
    } else {
      pg::call([&] { no_window_walker(e, nullptr); });
      // GROUP BY k, k groups by k once.
      bool repeated = false;
      for (Node* k : keys) repeated = repeated || pg::call([&] { return equal(k, e); });
      if (!repeated) keys.push_back(e);
    }
  }
  const bool input_updating = input->updating;
  if (window_call && input_updating)
    unsupported("a time window over an updating input",
                "Windows aggregate append-only streams; aggregate the updating result without a "
                "window instead.");
  ListCell* qc;
  pg::call([&] {
    foreach (qc, quals) no_window_walker((Node*)lfirst(qc), nullptr);
  });

  if (window_call) sub.groups.push_back(window_call);
  for (Node* k : keys) sub.groups.push_back(k);
  sub.aggrefs = NIL;
  pg::call([&] {
    ListCell* tc;
    foreach (tc, q->targetList)
      aggref_walker((Node*)((TargetEntry*)lfirst(tc))->expr, &sub.aggrefs);
    aggref_walker(q->havingQual, &sub.aggrefs);
  });

  // The input projection: keys, then each aggregate's arguments and FILTER condition.
  std::vector<AggregateSpec> specs;
  List* exprs = NIL;
  for (Node* k : keys) exprs = pg::call([&] { return lappend(exprs, k); });
  int column = int(keys.size());
  foreach (lc, sub.aggrefs) {
    Aggref* a = (Aggref*)lfirst(lc);
    check_aggregate(a);
    AggregateSpec spec;
    ListCell* ac;
    pg::call([&] {
      foreach (ac, a->args) {
        no_window_walker((Node*)((TargetEntry*)lfirst(ac))->expr, nullptr);
        exprs = lappend(exprs, ((TargetEntry*)lfirst(ac))->expr);
      }
    });
    spec.first_arg = column;
    column += list_length(a->args);
    if (a->aggfilter) {
      pg::call([&] {
        no_window_walker((Node*)a->aggfilter, nullptr);
        exprs = lappend(exprs, a->aggfilter);
      });
      spec.filter_col = column++;
    }
    spec.distinct = a->aggdistinct != NIL;
    spec.aggref = a;
    specs.push_back(spec);
  }
  auto in = std::make_unique<ProjectNode>();
  in->input = std::move(input);
  in->quals = quals;
  in->targets = plan_targets(targets_from_exprs(exprs));
  in->desc = desc_from_targets(in->targets);
  in->updating = input_updating;

  PlanNodePtr agg;
  if (window_call) {
    auto w = std::make_unique<WindowAggregateNode>();
    w->window = window_spec(window_fn, (FuncExpr*)window_call);
    w->num_keys = int(keys.size());
    w->aggregates = specs;
    w->input = std::move(in);
    agg = std::move(w);
  } else {
    auto u = std::make_unique<UpdatingAggregateNode>();
    u->num_keys = int(keys.size());
    u->aggregates = specs;
    u->input = std::move(in);
    u->updating = true;
    agg = std::move(u);
  }

  // The aggregate's output: (window,) keys, aggregate results.
  agg->desc = pg::call([&] {
    int lead = window_call ? 1 : 0;
    TupleDesc d = CreateTemplateTupleDesc(lead + int(keys.size()) + list_length(sub.aggrefs));
    if (window_call) TupleDescInitEntry(d, 1, "window", TSTZRANGEOID, -1, 0);
    int att = lead + 1;
    for (Node* k : keys) {
      TupleDescInitEntry(d, att, "key", exprType(k), exprTypmod(k), 0);
      TupleDescInitEntryCollation(d, att++, exprCollation(k));
    }
    ListCell* ac;
    foreach (ac, sub.aggrefs) {
      Aggref* a = (Aggref*)lfirst(ac);
      TupleDescInitEntry(d, att, "aggregate", a->aggtype, -1, 0);
      TupleDescInitEntryCollation(d, att++, a->aggcollid);
    }
    return d;
  });

  // The select list and HAVING over the aggregate's output.
  auto top = std::make_unique<ProjectNode>();
  List* targets = NIL;
  foreach (lc, q->targetList) {
    TargetEntry* te = (TargetEntry*)lfirst(lc);
    Node* e = pg::call([&] { return substitute((Node*)te->expr, &sub); });
    targets = pg::call([&] {
      TargetEntry* copy = flatCopyTargetEntry(te);
      copy->expr = (Expr*)e;
      return lappend(targets, copy);
    });
  }
  top->targets = plan_targets(targets);
  if (q->havingQual) {
    Expr* having = plan_expr((Expr*)pg::call([&] { return substitute(q->havingQual, &sub); }));
    top->quals = pg::call([&] { return make_ands_implicit(having); });
  }
  top->desc = desc_from_targets(top->targets);
  top->updating = agg->updating;
  top->input = std::move(agg);
  return top;
}

}  // namespace arroyo
