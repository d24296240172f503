// Helpers shared by the planner's files: expression planning, row layouts, error shapes.
#pragma once

#include "core/plan.hpp"

#include <map>
#include <vector>

namespace arroyo {

// Adapts a typed tree walker or mutator to the untyped signature PostgreSQL's walkers take.
template <typename R, typename W>
R (*pg_walker(W* fn))
() {
  return reinterpret_cast<R (*)()>(reinterpret_cast<void (*)()>(fn));
}

// Throws "<what> is not supported in a pipeline".
[[noreturn]] void unsupported(const std::string& what, const std::string& hint = {});

// Plans one expression as PostgreSQL's planner would for the executor (default arguments,
// named arguments and constant folding), after checking it.
Expr* plan_expr(Expr* e);
// plan_expr over every entry of a target list.
List* plan_targets(List* targets);
// The row layout a target list produces: attribute k is the entry with resno k.
TupleDesc desc_from_targets(List* targets);
// Which window function a call is, if any: "tumble", "hop", "session" of this extension.
// Calls PostgreSQL directly: run it inside pg::call.
const char* window_function_name(Node* node);
// A target list from expressions, numbered 1..n, named by `names` (or "?column?").
List* targets_from_exprs(List* exprs);

// Plans one FROM item that is not a join (a source table, a regular table, a subquery).
PlanNodePtr plan_rte(RangeTblEntry* rte);
// Plans a FROM list with several items or JOINs (joins.cpp): returns the join tree, renumbers
// the Vars of the query's select list and HAVING to the joined rows' columns, and sets `quals`
// to the WHERE conditions left to filter the joined rows (planned, implicitly ANDed).
PlanNodePtr plan_from(Query* q, List** quals);
// Plans `input` [LEFT] JOIN LATERAL (the subquery of `rte`) as a lookup join (lookups.cpp):
// `offsets` says where each FROM item of `q` before it starts in `input`'s rows.
PlanNodePtr plan_lookup_join(Query* q, bool left, PlanNodePtr input,
                             const std::map<int, int>& offsets, RangeTblEntry* rte);
// Refuses lookup.cache settings in a pipeline without a lookup of foreign tables.
void check_lookup_settings(const LogicalPlan& plan);

// Set-returning functions (set_returning.cpp). split_target_srfs: for a query whose select
// list calls them, replaces the select list by what must be computed below them (its entries
// without such calls, placeholders for the others, then the pieces those need) and returns the
// select list to compute above them; plan_target_srfs plans that over the rows `below` (with
// nullptr: `below` unchanged).
List* split_target_srfs(Query* q);
PlanNodePtr plan_target_srfs(PlanNodePtr below, List* upper);
// A function in FROM lateral to `input` (ROWS FROM, WITH ORDINALITY): `exprs` its calls and
// `quals` its ON conditions, renumbered for the input's rows and then the function's columns;
// `outer` for LEFT JOIN LATERAL.
PlanNodePtr plan_function_scan(PlanNodePtr input, RangeTblEntry* rte, List* exprs, List* quals,
                               bool outer);

// Rejects window functions (tumble, hop, session) in a query without aggregation.
void check_no_windows(Query* q);
// Plans a grouped query (GROUP BY, aggregates, HAVING; with or without a time window) over
// `input`, already filtered by WHERE in `quals`.
PlanNodePtr plan_grouped_query(Query* q, PlanNodePtr input, List* quals);

// Whether grouping key `key` (0-based) of an updating aggregate is provably never NULL (a
// conservative proof: NOT NULL columns, WHERE conditions that reject NULL, constants, and
// built-in arithmetic or casts over those).
bool grouping_key_never_null(const UpdatingAggregateNode& agg, int key);

// Plans a (sub)query: its SELECT list over its FROM, grouped or not (planner.cpp).
PlanNodePtr plan_query(Query* q);

// Query forms planned by rewriting (subqueries.cpp): rewrites WITH, subqueries in WHERE and the
// select list, and DISTINCT into joins and GROUP BY; returns the plan of a query it plans whole
// (GROUPING SETS, DISTINCT over a grouped query), else nullptr for the caller to go on with the
// rewritten query.
PlanNodePtr plan_query_forms(Query* q);
// A FROM subquery's plan: planned once per Query (a CTE read twice is one plan).
PlanNodePtr plan_shared_subquery(Query* sub);
// Forgets the subqueries planned for the previous pipeline.
void reset_shared_subqueries();

// Traces the key of the updating source that feeds `root` through projections (source_keys.cpp):
// per output column (0-based), the source key column (0-based, in key order) it copies, or -1;
// `*num_keys` gets the key's width (0 when no keyed source feeds `root` through projections).
std::vector<int> traced_source_key(const PlanNode* root, int* num_keys);

// Window functions (window_functions.cpp). The FROM item of `SELECT … FROM (SELECT …, rank()
// OVER (…) AS rn FROM x) s WHERE rn <= N` planned as a top-N, or nullptr if q is not that.
PlanNodePtr plan_top_n_from(Query* q);
// ORDER BY … LIMIT n: the query planned without them by `plan_rest`, then an updating top-n.
PlanNodePtr plan_order_limit(Query* q, PlanNodePtr (*plan_rest)(Query*));
// A query level with window functions over its planned FROM item, filtered by `quals`.
PlanNodePtr plan_window_query(Query* q, PlanNodePtr input, List* quals);

}  // namespace arroyo
