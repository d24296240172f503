// Whether a plan's expressions can be NULL: a conservative proof (false means "maybe NULL"),
// used to refuse at stream_create a NULL grouping key that the target cannot store.
#include "planner/plan_util.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "utils/fmgroids.h"
#include "optimizer/clauses.h"
}

namespace arroyo {

namespace {

bool never_null(const PlanNode* node, Node* e, List* nonnull_vars);

// Whether column `attno` (1-based) of the rows `node` produces is never NULL.
bool column_never_null(const PlanNode* node, int attno) {
  switch (node->kind) {
    case PlanNode::Kind::Source: {
      auto* s = static_cast<const SourceNode*>(node);
      if (OidIsValid(s->spec.relid)) {
        Relation rel = table_open(s->spec.relid, AccessShareLock);
        Form_pg_attribute att = attno <= RelationGetDescr(rel)->natts
                                    ? TupleDescAttr(RelationGetDescr(rel), attno - 1)
                                    : nullptr;
        bool filled =
            att && s->connector && s->connector->never_null(s->spec, NameStr(att->attname));
        bool notnull = att && (att->attnotnull || filled);
        table_close(rel, AccessShareLock);
        return notnull;
      }
      return false;
    }
    case PlanNode::Kind::Project: {
      auto* p = static_cast<const ProjectNode*>(node);
      // A WHERE condition that cannot be true for a NULL column (x > 0, x IS NOT NULL).
      List* vars = find_nonnullable_vars((Node*)p->quals);
      TargetEntry* te = (TargetEntry*)list_nth(p->targets, attno - 1);
      return never_null(p->input.get(), (Node*)te->expr, vars);
    }
    case PlanNode::Kind::Join: {
      // A column of a side that an outer join pads with NULLs can be NULL whatever it holds.
      auto* j = static_cast<const JoinNode*>(node);
      int left_cols = j->left->desc->natts;
      if (attno <= left_cols)
        return !j->preserves_right() && column_never_null(j->left.get(), attno);
      return !j->preserves_left() && column_never_null(j->right.get(), attno - left_cols);
    }
    case PlanNode::Kind::Union: {
      auto* u = static_cast<const UnionNode*>(node);
      for (const auto& in : u->inputs)
        if (!column_never_null(in.get(), attno)) return false;
      return true;
    }
    case PlanNode::Kind::UpdatingAggregate:
    case PlanNode::Kind::WindowAggregate: {
      // Output: (window,) keys, then aggregates; count() is never NULL.
      bool windowed = node->kind == PlanNode::Kind::WindowAggregate;
      int num_keys;
      const PlanNode* input;
      const std::vector<AggregateSpec>* aggs;
      if (windowed) {
        auto* w = static_cast<const WindowAggregateNode*>(node);
        num_keys = w->num_keys, input = w->input.get(), aggs = &w->aggregates;
      } else {
        auto* u = static_cast<const UpdatingAggregateNode*>(node);
        num_keys = u->num_keys, input = u->input.get(), aggs = &u->aggregates;
      }
      int col = attno - (windowed ? 2 : 1);  // 0-based among keys and aggregates
      if (col < 0) return true;              // the window
      if (col < num_keys) return column_never_null(input, col + 1);
      Oid fn = (*aggs)[col - num_keys].aggref->aggfnoid;
      return fn == F_COUNT_ || fn == F_COUNT_ANY;
    }
    default: return false;
  }
}

// Types whose strict built-in functions and operators return a value for every non-NULL input
// (numbers, booleans, dates and times): arithmetic, comparisons, date_trunc, casts.
bool value_preserving_result(Oid type) {
  char category;
  bool preferred;
  get_type_category_preferred(type, &category, &preferred);
  return category == TYPCATEGORY_NUMERIC || category == TYPCATEGORY_BOOLEAN ||
         category == TYPCATEGORY_DATETIME || category == TYPCATEGORY_TIMESPAN;
}

bool args_never_null(const PlanNode* input, List* args, List* nonnull_vars) {
  ListCell* lc;
  foreach (lc, args)
    if (!never_null(input, (Node*)lfirst(lc), nonnull_vars)) return false;
  return true;
}

// Whether expression `e`, over the rows `input` produces, is never NULL.
bool never_null(const PlanNode* input, Node* e, List* nonnull_vars) {
  check_stack_depth();
  if (!e) return false;
  switch (nodeTag(e)) {
    case T_Const: return !((Const*)e)->constisnull;
    case T_Var: {
      ListCell* lc;
      foreach (lc, nonnull_vars)
        if (((Var*)lfirst(lc))->varattno == ((Var*)e)->varattno) return true;
      return input && column_never_null(input, ((Var*)e)->varattno);
    }
    case T_RelabelType: return never_null(input, (Node*)((RelabelType*)e)->arg, nonnull_vars);
    case T_CoerceViaIO: return never_null(input, (Node*)((CoerceViaIO*)e)->arg, nonnull_vars);
    case T_CoalesceExpr: {
      ListCell* lc;
      foreach (lc, ((CoalesceExpr*)e)->args)
        if (never_null(input, (Node*)lfirst(lc), nonnull_vars)) return true;
      return false;
    }
    case T_NullTest:
    case T_BooleanTest: return true;
    case T_CaseExpr: {
      CaseExpr* c = (CaseExpr*)e;
      if (!never_null(input, (Node*)c->defresult, nonnull_vars)) return false;
      ListCell* lc;
      foreach (lc, c->args)
        if (!never_null(input, (Node*)((CaseWhen*)lfirst(lc))->result, nonnull_vars)) return false;
      return true;
    }
    case T_FuncExpr: {
      FuncExpr* f = (FuncExpr*)e;
      return f->funcid < FirstNormalObjectId && func_strict(f->funcid) &&
             value_preserving_result(f->funcresulttype) &&
             args_never_null(input, f->args, nonnull_vars);
    }
    case T_OpExpr: {
      OpExpr* o = (OpExpr*)e;
      return o->opfuncid < FirstNormalObjectId && func_strict(o->opfuncid) &&
             value_preserving_result(o->opresulttype) &&
             args_never_null(input, o->args, nonnull_vars);
    }
    default: return false;
  }
}

}  // namespace

bool grouping_key_never_null(const UpdatingAggregateNode& agg, int key) {
  return pg::call([&] { return column_never_null(agg.input.get(), key + 1); });
}

}  // namespace arroyo
