// Query tree → logical plan. Every "is this supported?" check lives here, so unsupported SQL
// fails at stream_create naming the construct.
#include "planner/planner.hpp"

#include "pg/guard.hpp"
#include "planner/plan_util.hpp"
#include "planner/settings.hpp"
#include "core/event_time.hpp"

#include <map>

extern "C" {
#include "access/genam.h"
#include "access/xlog.h"
#include "catalog/pg_index.h"
#include "optimizer/optimizer.h"
#include "optimizer/tlist.h"
#include "utils/rls.h"
}

namespace arroyo {

namespace {

// Rejects the SELECT-level constructs a streaming pipeline cannot run (yet).
void check_query_shape(Query* q) {
  if (q->groupingSets) unsupported("GROUPING SETS, ROLLUP or CUBE");
  if (q->hasWindowFuncs && q->setOperations) unsupported("a window function (OVER) over UNION ALL");
  if (q->hasSubLinks) unsupported("a subquery in an expression");
  if (q->cteList) unsupported("WITH (a common table expression)");
  if (q->sortClause && !q->limitCount)
    unsupported("ORDER BY without LIMIT",
                "A stream has no end to sort by; ORDER BY … LIMIT n keeps the current top n.");
  if (q->limitOffset) unsupported("OFFSET");
  if (q->distinctClause) unsupported("DISTINCT");
  if (q->rowMarks) unsupported("FOR UPDATE/SHARE");
}

PlanNodePtr plan_select(Query* q);

// Leaves out a projection that filters nothing and passes its input's columns through
// unchanged, in order: the input already produces its rows, and the rows need no copying.
// With `same_names`, the column names must match too (whole-row references above see them).
PlanNodePtr skip_if_identity(std::unique_ptr<ProjectNode> proj, bool same_names) {
  TupleDesc in = proj->input->desc;
  // (Over updating rows a projection also cancels unchanged updates: it stays.)
  if (proj->quals || proj->input->updating || list_length(proj->targets) != in->natts) return proj;
  for (int i = 0; i < in->natts; i++) {
    Expr* e = ((TargetEntry*)list_nth(proj->targets, i))->expr;
    Form_pg_attribute att = TupleDescAttr(in, i);
    Var* v = IsA(e, Var) ? (Var*)e : nullptr;
    bool same = v && v->varattno == i + 1 && v->varlevelsup == 0 && !att->attisdropped &&
                v->vartype == att->atttypid && v->vartypmod == att->atttypmod;
    if (same && same_names)
      same = strcmp(NameStr(att->attname), NameStr(TupleDescAttr(proj->desc, i)->attname)) == 0;
    if (!same) return proj;
  }
  return std::move(proj->input);
}

// The generated columns of a source: a full-row target list computing them from the others.
void plan_generated_columns(SourceNode& node, Oid relid) {
  List* targets = pg::call([&] {
    // The relation's own descriptor: CreateTupleDescCopy drops attgenerated.
    Relation rel = relation_open(relid, NoLock);
    TupleDesc desc = RelationGetDescr(rel);
    bool any = false;
    for (int i = 0; i < desc->natts; i++) any = any || TupleDescAttr(desc, i)->attgenerated;
    List* out = NIL;
    for (int i = 0; any && i < desc->natts; i++) {
      Form_pg_attribute att = TupleDescAttr(desc, i);
      Expr* e;
      if (att->attisdropped)
        e = (Expr*)makeNullConst(INT4OID, -1, InvalidOid);
      else if (att->attgenerated)
        e = (Expr*)build_column_default(rel, i + 1);
      else
        e = (Expr*)makeVar(1, i + 1, att->atttypid, att->atttypmod, att->attcollation, 0);
      out = lappend(out, makeTargetEntry(e, i + 1, pstrdup(NameStr(att->attname)), false));
    }
    relation_close(rel, NoLock);
    return out;
  });
  if (targets) node.generated = plan_targets(targets);
}

// A copy of a (locked) relation's row layout: what its source produces.
TupleDesc row_desc(Oid relid) {
  return pg::call([&] {
    Relation rel = relation_open(relid, NoLock);
    TupleDesc d = CreateTupleDescCopy(RelationGetDescr(rel));
    relation_close(rel, NoLock);
    return d;
  });
}

// Whether a comma-separated library list names `library`.
bool names_library(const std::string& list, const std::string& library) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(start, end - start);
    size_t a = item.find_first_not_of(" \t\""), b = item.find_last_not_of(" \t\"");
    if (a != std::string::npos && item.substr(a, b - a + 1) == library) return true;
    start = end + 1;
  }
  return false;
}

// A pipeline runs in a background worker, as its owner: a table it reads or writes must be
// visible to that worker (not another session's temporary table), and row-level security must
// not apply to the owner (the worker reads and writes rows without applying policies).
void check_table_reachable(Oid relid, const std::string& name, bool writing) {
  const char* verb = writing ? "write into" : "read";
  char persistence = pg::call([&] { return get_rel_persistence(relid); });
  if (persistence == RELPERSISTENCE_TEMP)
    pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
             std::string("a pipeline cannot ") + verb + " the temporary table \"" + name + "\"",
             "A pipeline runs in a background worker, which cannot see another session's "
             "temporary tables.",
             "Use a regular table, or an UNLOGGED one if its rows need not survive a crash.");
  int rls = pg::call([&] { return check_enable_rls(relid, InvalidOid, true); });
  if (rls == RLS_ENABLED)
    pg::fail(ERRCODE_INSUFFICIENT_PRIVILEGE,
             std::string("a pipeline cannot ") + verb + " table \"" + name +
                 "\": row-level security applies to its owner",
             std::string("A pipeline ") + (writing ? "writes" : "reads") +
                 " rows without applying row security policies, so it may only use tables "
                 "whose policies do not apply to its owner.",
             "Create the pipeline as the table's owner (without FORCE ROW LEVEL SECURITY) or "
             "as a role with BYPASSRLS, or disable row-level security on \"" +
                 name + "\".");
}

// The name of a foreign table's wrapper.
std::string wrapper_of(Oid relid) {
  return pg::call([&] {
    ForeignServer* srv = GetForeignServer(GetForeignTable(relid)->serverid);
    return (const char*)GetForeignDataWrapper(srv->fdwid)->fdwname;
  });
}

// The regular tables read through change data capture by the pipeline being planned.
thread_local std::vector<Oid> cdc_tables;
// The sources planned so far for the pipeline being planned, by table: a table read more than
// once (a UNION ALL of it with itself, a view and its table) is one source with several
// consumers, read once.
thread_local std::map<Oid, PlanNodePtr> planned_sources;

// A regular table: its current rows, then its changes (an updating source).
PlanNodePtr plan_table_changes(RangeTblEntry* rte, const std::string& name) {
  check_table_reachable(rte->relid, name, false);
  if (wal_level < WAL_LEVEL_LOGICAL)
    pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
             "reading the changes of table \"" + name + "\" needs wal_level = logical", {},
             "Set wal_level = logical in postgresql.conf and restart the server.");
  const char* allowed =
      pg::call([&] { return GetConfigOption("output_plugin_libraries", true, false); });
  if (allowed && !names_library(allowed, "arroyo_stream"))
    pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
             "reading the changes of table \"" + name +
                 "\" needs arroyo_stream in output_plugin_libraries",
             std::string("Change data capture decodes with arroyo_stream as its output plugin; "
                         "output_plugin_libraries is '") +
                 allowed + "'.",
             "Add it in postgresql.conf, e.g. output_plugin_libraries = 'pgoutput, "
             "test_decoding, arroyo_stream', and reload.");
  // FULL, or a key (the primary key, or REPLICA IDENTITY USING INDEX): the source then keeps
  // the rows by key to retract them (connectors/cdc/row_mirror.hpp).
  bool identified = pg::call([&] {
    Relation rel = relation_open(rte->relid, NoLock);
    bool ok = rel->rd_rel->relreplident == REPLICA_IDENTITY_FULL ||
              OidIsValid(RelationGetReplicaIndex(rel));
    relation_close(rel, NoLock);
    return ok;
  });
  if (!identified)
    pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
             "table \"" + name +
                 "\" needs a primary key or REPLICA IDENTITY FULL for its "
                 "changes to be read",
             "Updates and deletes must identify the old row, so that the pipeline can retract "
             "it.",
             "Add a primary key, or: ALTER TABLE " + name + " REPLICA IDENTITY FULL;");
  cdc_tables.push_back(rte->relid);
  auto node = std::make_unique<SourceNode>();
  node->spec = relation_table_spec(rte->relid);
  node->connector = &regular_table_connector();
  node->updating = true;
  node->desc = row_desc(rte->relid);
  return node;
}

// A foreign table of ours with a source connector.
PlanNodePtr plan_source(RangeTblEntry* rte) {
  char relkind = rte->relkind;
  const char* relname = pg::call([&] { return get_rel_name(rte->relid); });
  std::string name = relname ? relname : "?";
  if (relkind == RELKIND_RELATION) return plan_table_changes(rte, name);
  if (relkind == RELKIND_PARTITIONED_TABLE)
    unsupported("reading the partitioned table \"" + name + "\"", "Read one partition.");
  if (relkind == RELKIND_VIEW || relkind == RELKIND_MATVIEW)
    unsupported("reading the materialized view \"" + name + "\"");
  if (relkind != RELKIND_FOREIGN_TABLE) unsupported("reading relation \"" + name + "\"");
  std::string wrapper = wrapper_of(rte->relid);
  if (wrapper != "arroyo_stream")
    unsupported("reading foreign table \"" + name + "\" of wrapper \"" + wrapper + "\"",
                "Sources are foreign tables of the arroyo_stream wrapper, or regular tables "
                "(their rows, then their changes).");
  auto node = std::make_unique<SourceNode>();
  node->spec = load_table_spec(rte->relid, true);
  node->connector = &connector_of(rte->relid);
  // Validated again as the DDL hook does: DDL run with check_function_bodies off (a restore)
  // may have left a check that needs the whole table to its use.
  node->connector->validate_table(node->spec);
  if (node->connector->role(node->spec) == TableRole::Lookup)
    pg::fail(ERRCODE_WRONG_OBJECT_TYPE,
             "foreign table \"" + name + "\" is a lookup table and cannot be read as a stream", {},
             "Look keys up in it: JOIN LATERAL (SELECT t.col, … FROM " + name +
                 " t WHERE t.key = stream.column) x ON true.");
  if (node->connector->role(node->spec) != TableRole::Source)
    pg::fail(ERRCODE_WRONG_OBJECT_TYPE,
             "foreign table \"" + name + "\" is a sink and cannot be read from", {},
             "Create a table with type 'source' to read.");
  node->connector->check_privileges(node->spec, TableRole::Source);
  node->updating = node->connector->produces_updates(node->spec);
  node->desc = row_desc(rte->relid);
  plan_generated_columns(*node, rte->relid);
  EventTimeOptions et = event_time_options(node->spec);
  node->time_column = et.column;
  if (et.column < 0) node->natural_time_column = node->connector->event_time_column(node->spec);
  pg::call([&] {
    Relation rel = table_open(rte->relid, AccessShareLock);
    TupleDesc d = RelationGetDescr(rel);
    for (int c = 0; c < d->natts; c++) {
      Form_pg_attribute att = TupleDescAttr(d, c);
      if (att->attnotnull && !att->attisdropped && !att->attgenerated)
        node->not_null_columns.push_back(c);
    }
    table_close(rel, AccessShareLock);
  });
  node->watermark_delay_us = et.watermark_delay_us;
  node->idle_timeout_us = et.idle_timeout_us;
  return node;
}

}  // namespace

PlanNodePtr plan_rte(RangeTblEntry* rte) {
  switch (rte->rtekind) {
    case RTE_RELATION: {
      PlanNodePtr& planned = planned_sources[rte->relid];
      if (!planned) planned = plan_source(rte);
      return planned;
    }
    case RTE_SUBQUERY:
      if (rte->lateral)
        unsupported("LATERAL here",
                    "A LATERAL subquery looks rows up for each event of a stream: write FROM "
                    "<stream> [LEFT] JOIN LATERAL (SELECT …) alias ON true.");
      return plan_shared_subquery(rte->subquery);
    case RTE_FUNCTION:
      unsupported("a function in FROM without a source before it",
                  "Call it lateral to a source: FROM s, LATERAL f(s.x).");
    case RTE_VALUES: unsupported("VALUES in FROM");
    default: unsupported("this kind of FROM item");
  }
}

namespace {

// Wraps `input` in a projection that casts its columns to the given types where they differ.
PlanNodePtr coerce_columns(PlanNodePtr input, List* types, List* typmods, List* collations) {
  TupleDesc in = input->desc;
  bool same = true;
  for (int i = 0; i < in->natts; i++)
    same = same && TupleDescAttr(in, i)->atttypid == list_nth_oid(types, i) &&
           TupleDescAttr(in, i)->atttypmod == list_nth_int(typmods, i);
  if (same) return input;
  auto proj = std::make_unique<ProjectNode>();
  List* targets = pg::call([&] {
    List* out = NIL;
    for (int i = 0; i < in->natts; i++) {
      Form_pg_attribute att = TupleDescAttr(in, i);
      Node* var = (Node*)makeVar(1, i + 1, att->atttypid, att->atttypmod, att->attcollation, 0);
      Node* cast = coerce_to_target_type(nullptr, var, att->atttypid, list_nth_oid(types, i),
                                         list_nth_int(typmods, i), COERCION_IMPLICIT,
                                         COERCE_IMPLICIT_CAST, -1);
      if (!cast) elog(ERROR, "cannot coerce UNION ALL column %d", i + 1);
      out =
          lappend(out, makeTargetEntry((Expr*)cast, i + 1, pstrdup(NameStr(att->attname)), false));
    }
    return out;
  });
  proj->targets = plan_targets(targets);
  proj->desc = desc_from_targets(proj->targets);
  proj->updating = input->updating;
  proj->input = std::move(input);
  return proj;
}

// Collects the leaves of a UNION ALL tree, left to right.
void union_leaves(Node* n, Query* q, std::vector<RangeTblEntry*>& out) {
  if (IsA(n, RangeTblRef)) {
    out.push_back(rt_fetch(((RangeTblRef*)n)->rtindex, q->rtable));
    return;
  }
  SetOperationStmt* s = (SetOperationStmt*)n;
  if (s->op != SETOP_UNION || !s->all) unsupported("UNION without ALL, INTERSECT or EXCEPT");
  union_leaves(s->larg, q, out);
  union_leaves(s->rarg, q, out);
}

PlanNodePtr plan_union(Query* q) {
  SetOperationStmt* top = (SetOperationStmt*)q->setOperations;
  std::vector<RangeTblEntry*> leaves;
  union_leaves((Node*)top, q, leaves);
  auto u = std::make_unique<UnionNode>();
  for (RangeTblEntry* leaf : leaves)
    u->inputs.push_back(
        coerce_columns(plan_rte(leaf), top->colTypes, top->colTypmods, top->colCollations));
  u->desc = u->inputs[0]->desc;
  for (auto& in : u->inputs) u->updating = u->updating || in->updating;
  return u;
}

PlanNodePtr plan_select(Query* q) {
  if (PlanNodePtr whole = plan_query_forms(q)) return whole;
  check_query_shape(q);
  if (q->limitCount) return plan_order_limit(q, plan_select);
  if (!q->hasAggs && !q->groupClause && !q->havingQual) check_no_windows(q);
  if (q->setOperations) {
    auto proj = std::make_unique<ProjectNode>();
    proj->input = plan_union(q);
    proj->targets = plan_targets(q->targetList);
    proj->desc = desc_from_targets(proj->targets);
    proj->updating = proj->input->updating;
    return proj;
  }
  List* from = q->jointree->fromlist;
  if (list_length(from) == 0)
    pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED, "a pipeline must read from a source table", {},
             "Add FROM with a foreign table of the arroyo_stream wrapper.");
  PlanNodePtr input;
  List* quals = nullptr;
  if (list_length(from) > 1 || !IsA(linitial(from), RangeTblRef)) {
    input = plan_from(q, &quals);
  } else if (q->jointree->quals) {
    input = plan_top_n_from(q);
    if (!input) input = plan_rte(rt_fetch(((RangeTblRef*)linitial(from))->rtindex, q->rtable));
    Expr* qual = plan_expr((Expr*)q->jointree->quals);
    quals = pg::call([&] { return make_ands_implicit(qual); });
  } else {
    input = plan_rte(rt_fetch(((RangeTblRef*)linitial(from))->rtindex, q->rtable));
  }
  if (q->hasWindowFuncs) {
    if (q->hasTargetSRFs)
      unsupported("a set-returning function and a window function in one select list",
                  "Compute one of them in a subquery in FROM.");
    return plan_window_query(q, std::move(input), quals);
  }
  List* above_srfs = q->hasTargetSRFs ? split_target_srfs(q) : nullptr;
  if (q->hasAggs || q->groupClause || q->havingQual)
    return plan_target_srfs(plan_grouped_query(q, std::move(input), quals), above_srfs);
  auto proj = std::make_unique<ProjectNode>();
  proj->updating = input->updating;
  proj->input = std::move(input);
  proj->quals = quals;
  proj->targets = plan_targets(q->targetList);
  proj->desc = desc_from_targets(proj->targets);
  return plan_target_srfs(skip_if_identity(std::move(proj), true), above_srfs);
}

}  // namespace

PlanNodePtr plan_query(Query* q) { return plan_select(q); }

namespace {

// Adds every relation the query reads or writes to `context` (a List**), for privilege checks.
bool relation_rte_walker(Node* node, void* context) {
  if (!node) return false;
  if (IsA(node, RangeTblEntry)) {
    RangeTblEntry* rte = (RangeTblEntry*)node;
    if (rte->rtekind == RTE_RELATION) *(List**)context = lappend(*(List**)context, rte);
    return false;
  }
  if (IsA(node, Query))
    return query_tree_walker((Query*)node, pg_walker<bool>(relation_rte_walker), context,
                             QTW_EXAMINE_RTES_BEFORE);
  return expression_tree_walker(node, pg_walker<bool>(relation_rte_walker), context);
}

// Whether a cast maps distinct values to distinct values, so that a key written through it
// still identifies its group: between integer types (a value that does not fit is an error,
// never a collision) and from integers to numeric.
bool one_to_one_cast(Oid from, Oid to) {
  auto integer = [](Oid t) { return t == INT2OID || t == INT4OID || t == INT8OID; };
  return integer(from) && (integer(to) || to == NUMERICOID);
}

// The grouping key (0-based) that output column `attno` of `node` carries, or -1: plain column
// references down through projections to an updating aggregate, through binary-compatible
// casts and one-to-one casts (an int8 key into an int4 column). A key reaching the column
// through another cast sets `*lossy`.
int traced_key(PlanNode* node, int attno, bool* lossy_cast = nullptr) {
  bool lossy = false;
  while (node->kind == PlanNode::Kind::Project) {
    auto* p = static_cast<ProjectNode*>(node);
    Node* e = (Node*)((TargetEntry*)list_nth(p->targets, attno - 1))->expr;
    for (;;) {
      if (e && IsA(e, RelabelType)) {
        e = (Node*)((RelabelType*)e)->arg;
      } else if (e && IsA(e, FuncExpr) && ((FuncExpr*)e)->funcformat != COERCE_EXPLICIT_CALL &&
                 list_length(((FuncExpr*)e)->args) >= 1) {
        FuncExpr* f = (FuncExpr*)e;
        Node* arg = (Node*)linitial(f->args);
        if (!one_to_one_cast(exprType(arg), f->funcresulttype)) lossy = true;
        e = arg;
      } else if (e && IsA(e, CoerceViaIO)) {
        lossy = true;
        e = (Node*)((CoerceViaIO*)e)->arg;
      } else {
        break;
      }
    }
    if (!e || !IsA(e, Var)) return -1;
    attno = ((Var*)e)->varattno;
    node = p->input.get();
  }
  if (node->kind != PlanNode::Kind::UpdatingAggregate) return -1;
  int key = attno <= static_cast<UpdatingAggregateNode*>(node)->num_keys ? attno - 1 : -1;
  if (lossy_cast) *lossy_cast = key >= 0 && lossy;
  return key;
}

// The updating aggregate whose rows reach the sink through projections only, if any.
UpdatingAggregateNode* feeding_aggregate(PlanNode* node) {
  while (node->kind == PlanNode::Kind::Project) node = static_cast<ProjectNode*>(node)->input.get();
  return node->kind == PlanNode::Kind::UpdatingAggregate ? static_cast<UpdatingAggregateNode*>(node)
                                                         : nullptr;
}

// A unique index of a table through which one stored row can be found: immediate, valid and
// not partial.
struct RowIndex {
  Oid oid;
  bool primary;
  std::vector<int> attnums;  // its key columns (1-based; 0 for an expression)
};

std::vector<RowIndex> row_indexes(Oid relid) {
  List* oids = pg::call([&] {
    Relation rel = table_open(relid, NoLock);
    List* list = RelationGetIndexList(rel);
    table_close(rel, NoLock);
    return list;
  });
  std::vector<RowIndex> out;
  ListCell* lc;
  foreach (lc, oids) {
    Oid oid = lfirst_oid(lc);
    bool usable = false, primary = false;
    int natts = 0;
    int16 attnums[INDEX_MAX_KEYS];
    pg::call([&] {
      Relation idx = index_open(oid, AccessShareLock);
      Form_pg_index form = idx->rd_index;
      usable = form->indisunique && form->indimmediate && form->indisvalid &&
               heap_attisnull(idx->rd_indextuple, Anum_pg_index_indpred, nullptr);
      primary = form->indisprimary;
      natts = form->indnkeyatts;
      for (int k = 0; k < natts; k++) attnums[k] = form->indkey.values[k];
      index_close(idx, AccessShareLock);
    });
    if (usable) out.push_back({oid, primary, std::vector<int>(attnums, attnums + natts)});
  }
  return out;
}

// A unique index of the table whose key columns each hold a grouping key and together hold
// every one of the `num_keys` keys (`key_of_column`: per 0-based column, the key it holds or
// -1), preferring the primary key; InvalidOid if there is none. `columns` gets, per key, the
// index column holding it.
Oid unique_index_on(Oid relid, const std::vector<int>& key_of_column, int num_keys,
                    std::vector<int>* columns) {
  Oid found = InvalidOid;
  for (const RowIndex& index : row_indexes(relid)) {
    bool fits = int(index.attnums.size()) >= num_keys;
    std::vector<int> chosen(num_keys, -1);
    for (int att : index.attnums) {
      int key = att > 0 && att <= int(key_of_column.size()) ? key_of_column[att - 1] : -1;
      fits = fits && key >= 0;
      if (fits && chosen[key] < 0) chosen[key] = att - 1;
    }
    for (int key = 0; fits && key < num_keys; key++) fits = chosen[key] >= 0;
    if (fits && (!OidIsValid(found) || index.primary)) {
      found = index.oid;
      *columns = chosen;
    }
  }
  return found;
}

// A unique index of the table on plain columns (the primary key if it is one), through which
// a stored row can be found; InvalidOid if there is none.
Oid plain_unique_index(Oid relid) {
  Oid found = InvalidOid;
  for (const RowIndex& index : row_indexes(relid)) {
    bool plain = true;
    for (int att : index.attnums) plain = plain && att > 0;
    if (plain && (!OidIsValid(found) || index.primary)) found = index.oid;
  }
  return found;
}

// Checks that an updating result can be materialized in its target, and finds how: the target
// columns holding the grouping keys and, for a table, the unique index on exactly them.
void plan_updating_sink(LogicalPlan& plan) {
  SinkTarget& sink = plan.sink;
  sink.updating = true;
  std::string relname = pg::call([&] { return (const char*)get_rel_name(sink.relid); });
  if (sink.partitioned)
    pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
             "the result of this pipeline is updating, but \"" + relname +
                 "\" is a partitioned table, which a pipeline can only append to",
             "Updating rows are upserted and deleted by key in one table; a pipeline routes only "
             "appended rows to partitions.",
             "Write them to one partition (a pipeline per partition, with a WHERE matching its "
             "bounds), or to a table that is not partitioned.");
  if (sink.foreign)
    pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
             "the result of this pipeline is updating, but foreign table \"" + relname +
                 "\" of another wrapper can only be appended to",
             "Its rows are updating (deletes as well as inserts, e.g. from an aggregate without a "
             "time window), which would need updates by key through the wrapper.",
             "Write them to a local table with a primary key on the grouping columns, or use a "
             "time window.");
  if (!sink.is_table && !sink.connector->accepts_updates(sink.spec))
    pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
             "the result of this pipeline is updating, but \"" + relname +
                 "\" can only append rows",
             "Its rows are updating (deletes as well as inserts, e.g. from an aggregate without a "
             "time window): write them to a table with a primary key on the grouping columns, or "
             "to a sink with format 'debezium_json'.");
  UpdatingAggregateNode* agg = feeding_aggregate(plan.root.get());
  // Rows without grouping keys (a join's, an updating source's): a table holds them as a
  // multiset, each retraction deleting one stored row equal to it.
  // An updating source's rows, through filters and projections, are upserted and deleted by
  // its key where a unique index of the target holds exactly that key.
  if (!agg) {
    int num_keys = 0;
    std::vector<int> key_of_column = traced_source_key(plan.root.get(), &num_keys);
    std::vector<int> chosen;
    if (sink.is_table && num_keys > 0)
      sink.key_index = unique_index_on(sink.relid, key_of_column, num_keys, &chosen);
    if (OidIsValid(sink.key_index)) {
      sink.key_columns = chosen;
    } else if (sink.is_table) {
      sink.whole_rows = true;
      sink.key_index = plain_unique_index(sink.relid);
    }
    return;
  }
  std::vector<int> column_of_key(agg->num_keys, -1);
  TupleDesc target = plan.root->desc;
  std::vector<int> lossy_column(agg->num_keys, -1);
  std::vector<int> key_of_column(target->natts, -1);
  for (int c = 0; c < target->natts; c++) {
    if (TupleDescAttr(target, c)->attisdropped) continue;
    bool lossy = false;
    int key = pg::call([&] { return traced_key(plan.root.get(), c + 1, &lossy); });
    if (key >= 0 && lossy && lossy_column[key] < 0) lossy_column[key] = c;
    if (key >= 0 && !lossy) key_of_column[c] = key;
    if (key >= 0 && !lossy && column_of_key[key] < 0) column_of_key[key] = c;
  }
  for (int k = 0; k < agg->num_keys; k++) {
    if (column_of_key[k] < 0 && lossy_column[k] >= 0) {
      Form_pg_attribute att = TupleDescAttr(target, lossy_column[k]);
      std::string key_type = pg::call(
          [&] { return (const char*)format_type_be(TupleDescAttr(agg->desc, k)->atttypid); });
      std::string col_type = pg::call([&] { return (const char*)format_type_be(att->atttypid); });
      pg::fail(ERRCODE_DATATYPE_MISMATCH,
               "grouping key " + std::to_string(k + 1) + " is written to column \"" +
                   NameStr(att->attname) + "\" of \"" + relname + "\" through a cast from " +
                   key_type + " to " + col_type,
               "That cast can map different keys to the same value, so a group's row could not "
               "be found again by its key.",
               "Give the column the key's type (" + key_type + "), or group by the cast value (" +
                   "GROUP BY <key>::" + col_type + ").");
    }
    if (column_of_key[k] < 0)
      pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
               "grouping key " + std::to_string(k + 1) + " is not written to \"" + relname + "\"",
               "Each group's row is found again by its grouping keys: write every GROUP BY "
               "expression, unchanged, to a column of the target.");
    sink.key_columns.push_back(column_of_key[k]);
    auto width = [](Oid t) { return t == INT2OID ? 2 : t == INT4OID ? 4 : t == INT8OID ? 8 : 0; };
    Oid key_type = TupleDescAttr(agg->desc, k)->atttypid;
    Form_pg_attribute col = TupleDescAttr(target, column_of_key[k]);
    if (width(key_type) > width(col->atttypid) && width(col->atttypid) > 0)
      sink.narrowed_keys +=
          std::string(sink.narrowed_keys.empty() ? "" : "; ") + "grouping key " +
          std::to_string(k + 1) + " (" +
          pg::call([&] { return (const char*)format_type_be(key_type); }) +
          ") is written to column \"" + NameStr(col->attname) + "\" of \"" + relname + "\" (" +
          pg::call([&] { return (const char*)format_type_be(col->atttypid); }) + ")";
  }
  // A key written to several columns is found through whichever the key's index holds.
  if (sink.is_table && agg->num_keys > 0) {
    std::vector<int> chosen;
    sink.key_index = unique_index_on(sink.relid, key_of_column, agg->num_keys, &chosen);
    if (OidIsValid(sink.key_index)) sink.key_columns = chosen;
  }
  // The NULL group is a group like the others: its row needs a key column that can hold NULL.
  if (sink.is_table) {
    TupleDesc stored = pg::call([&] {  // the table's own columns, with their NOT NULL
      Relation rel = table_open(sink.relid, AccessShareLock);
      TupleDesc d = CreateTupleDescCopyConstr(RelationGetDescr(rel));
      table_close(rel, AccessShareLock);
      return d;
    });
    for (int k = 0; k < agg->num_keys; k++) {
      int c = sink.key_columns[k];
      if (!TupleDescAttr(stored, c)->attnotnull || grouping_key_never_null(*agg, k)) continue;
      std::string col = NameStr(TupleDescAttr(target, c)->attname);
      pg::fail(ERRCODE_NOT_NULL_VIOLATION,
               "grouping key " + std::to_string(k + 1) + " can be NULL, but column \"" + col +
                   "\" of \"" + relname + "\" cannot hold NULL",
               "Rows with a NULL key form one group, whose row is stored like every other "
               "group's.",
               "Filter the NULL key out (WHERE <key> IS NOT NULL) or coalesce it, declare the "
               "source column NOT NULL, or key the target with UNIQUE NULLS NOT DISTINCT (" +
                   col + ") instead of a primary key.");
    }
  }
  if (!sink.is_table || agg->num_keys == 0) return;
  std::string names;
  for (int c : sink.key_columns) {
    names += (names.empty() ? "" : ", ") + std::string(NameStr(TupleDescAttr(target, c)->attname));
  }
  if (!OidIsValid(sink.key_index))
    pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
             "target table \"" + relname +
                 "\" needs a primary key or unique constraint on exactly its grouping columns (" +
                 names + ")",
             "The pipeline updates each group's row in place, finding it by that key.",
             "For example: ALTER TABLE " + sink.name + " ADD PRIMARY KEY (" + names + ");");
}

// Splits the text into its SET statements (applied to settings) and the one INSERT (for a
// preview, or the one SELECT).
RawStmt* split_statements(const std::string& text, PipelineSettings& settings,
                          bool preview = false) {
  List* raw = pg::call([&] { return raw_parser(text.c_str(), RAW_PARSE_DEFAULT); });
  RawStmt* insert = nullptr;
  ListCell* lc;
  foreach (lc, raw) {
    RawStmt* rs = lfirst_node(RawStmt, lc);
    Node* stmt = rs->stmt;
    if (insert)
      pg::fail(ERRCODE_SYNTAX_ERROR, "a pipeline query must end with its INSERT statement",
               "Only SET statements may come before it, and nothing after it.");
    if (IsA(stmt, VariableSetStmt)) {
      apply_setting((VariableSetStmt*)stmt, settings);
    } else if (IsA(stmt, InsertStmt) || (preview && IsA(stmt, SelectStmt))) {
      insert = rs;
    } else if (IsA(stmt, SelectStmt)) {
      pg::fail(ERRCODE_WRONG_OBJECT_TYPE, "a pipeline query must be INSERT INTO … SELECT …", {},
               "Write INSERT INTO <target table> SELECT … so the pipeline has a target.");
    } else {
      const char* tag = pg::call([&] { return GetCommandTagName(CreateCommandTag(stmt)); });
      pg::fail(ERRCODE_WRONG_OBJECT_TYPE, std::string("a pipeline query cannot contain ") + tag,
               "A pipeline query is INSERT INTO … SELECT …, optionally after SET statements.");
    }
  }
  if (!insert)
    pg::fail(ERRCODE_SYNTAX_ERROR, preview
                                       ? "the query to preview has no SELECT statement"
                                       : "pipeline query has no INSERT INTO … SELECT … statement");
  if (IsA(insert->stmt, SelectStmt)) return insert;
  InsertStmt* ins = (InsertStmt*)insert->stmt;
  if (ins->withClause)
    unsupported("WITH on the INSERT",
                "Put it on the SELECT: INSERT INTO <target> WITH x AS (…) SELECT … FROM x.");
  if (ins->onConflictClause) unsupported("INSERT … ON CONFLICT");
  if (ins->returningList) unsupported("INSERT … RETURNING");
  if (!ins->selectStmt || ((SelectStmt*)ins->selectStmt)->valuesLists)
    pg::fail(ERRCODE_WRONG_OBJECT_TYPE, "INSERT … VALUES is not a pipeline", {},
             "Use INSERT INTO … SELECT … FROM a source table.");
  return insert;
}

// Describes the target and checks it can be written by a pipeline.
SinkTarget plan_target(Query* ins) {
  RangeTblEntry* rte = rt_fetch(ins->resultRelation, ins->rtable);
  SinkTarget sink;
  sink.relid = rte->relid;
  sink.name = pg::call([&] {
    return (const char*)quote_qualified_identifier(
        get_namespace_name(get_rel_namespace(rte->relid)), get_rel_name(rte->relid));
  });
  std::string relname = pg::call([&] { return (const char*)get_rel_name(rte->relid); });
  if (rte->relkind == RELKIND_RELATION) {
    check_table_reachable(rte->relid, relname, true);
    return sink;
  }
  if (rte->relkind == RELKIND_PARTITIONED_TABLE) {
    // Append-only rows are routed to their partitions; updating ones are refused below.
    check_table_reachable(rte->relid, relname, true);
    sink.partitioned = true;
    return sink;
  }
  if (rte->relkind != RELKIND_FOREIGN_TABLE)
    unsupported("writing into \"" + relname + "\" (not a table)");
  std::string wrapper = wrapper_of(rte->relid);
  if (wrapper != "arroyo_stream") {
    // Another wrapper's table (postgres_fdw, say): rows go in through its ExecForeignInsert.
    bool can_insert = pg::call([&] {
      FdwRoutine* fdw = GetFdwRoutineByRelId(rte->relid);
      if (!fdw->ExecForeignInsert || !fdw->BeginForeignInsert) return false;
      if (!fdw->IsForeignRelUpdatable) return true;
      Relation rel = relation_open(rte->relid, NoLock);
      bool ok = (fdw->IsForeignRelUpdatable(rel) & (1 << CMD_INSERT)) != 0;
      relation_close(rel, NoLock);
      return ok;
    });
    if (!can_insert)
      pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
               "a pipeline cannot write into foreign table \"" + relname + "\": wrapper \"" +
                   wrapper + "\" cannot insert into it",
               {}, "Write into a regular table, or a foreign table whose wrapper supports INSERT.");
    sink.foreign = true;
    return sink;
  }
  sink.is_table = false;
  sink.spec = load_table_spec(rte->relid, true);
  sink.connector = &connector_of(rte->relid);
  sink.connector->validate_table(sink.spec);  // as for a source (plan_source)
  if (sink.connector->role(sink.spec) != TableRole::Sink)
    pg::fail(
        ERRCODE_WRONG_OBJECT_TYPE,
        "foreign table \"" + relname + "\" is a " +
            (sink.connector->role(sink.spec) == TableRole::Lookup ? "lookup table" : "source") +
            " and cannot be written to",
        {}, "Create a table with type 'sink' to write.");
  sink.connector->check_privileges(sink.spec, TableRole::Sink);
  return sink;
}

// The final projection: the INSERT's target list (with defaults) as a full row of the target.
PlanNodePtr plan_sink_projection(Query* ins, PlanNodePtr select) {
  auto proj = std::make_unique<ProjectNode>();
  TupleDesc target_desc;
  List* targets = pg::call([&] {
    Relation rel = relation_open(rt_fetch(ins->resultRelation, ins->rtable)->relid, NoLock);
    target_desc = CreateTupleDescCopy(RelationGetDescr(rel));
    relation_close(rel, NoLock);
    List* out = NIL;
    for (int i = 0; i < target_desc->natts; i++) {
      Form_pg_attribute att = TupleDescAttr(target_desc, i);
      Expr* e = nullptr;
      ListCell* lc;
      foreach (lc, ins->targetList) {
        TargetEntry* te = (TargetEntry*)lfirst(lc);
        if (te->resno == i + 1 && !te->resjunk) e = te->expr;
      }
      if (!e)
        e = (Expr*)makeNullConst(att->attisdropped ? INT4OID : att->atttypid,
                                 att->attisdropped ? -1 : att->atttypmod,
                                 att->attisdropped ? InvalidOid : att->attcollation);
      out = lappend(out, makeTargetEntry(e, i + 1, pstrdup(NameStr(att->attname)), false));
    }
    return out;
  });
  proj->targets = plan_targets(targets);
  proj->desc = target_desc;
  proj->updating = select->updating;
  proj->input = std::move(select);
  return skip_if_identity(std::move(proj), false);
}

// Runs `plan` with search_path set to `search_path` (if given) for its duration.
template <typename F>
LogicalPlan with_search_path(const char* search_path, F&& plan) {
  if (!search_path) return plan();
  int level = pg::call([&] {
    int nest = NewGUCNestLevel();
    set_config_option("search_path", search_path, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                      0, false);
    return nest;
  });
  try {
    LogicalPlan result = plan();
    pg::call([&] { AtEOXact_GUC(true, level); });
    return result;
  } catch (...) {
    pg::call([&] { AtEOXact_GUC(false, level); });
    throw;
  }
}

// Analyzes the statement split_statements chose, rewritten, with the privileges it needs checked.
Query* analyze_statement(RawStmt* raw, const std::string& query_text, CmdType expected) {
  Query* q = pg::call([&] {
    Query* q = parse_analyze_fixedparams(raw, query_text.c_str(), nullptr, 0, nullptr);
    List* rewritten = QueryRewrite(q);
    if (list_length(rewritten) != 1 || ((Query*)linitial(rewritten))->commandType != expected)
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("the target of a pipeline cannot have rewrite rules")));
    return (Query*)linitial(rewritten);
  });
  List* relations = NIL;
  pg::call([&] {
    query_tree_walker(q, pg_walker<bool>(relation_rte_walker), &relations, QTW_EXAMINE_RTES_BEFORE);
    ExecCheckRTPerms(relations, true);
  });
  return q;
}

// Plans an analyzed INSERT INTO … SELECT … into `plan` (root and sink).
void plan_insert(Query* ins, LogicalPlan& plan) {
  plan.sink = plan_target(ins);
  List* from = ins->jointree->fromlist;
  if (list_length(from) != 1 || !IsA(linitial(from), RangeTblRef))
    pg::fail(ERRCODE_WRONG_OBJECT_TYPE, "INSERT … VALUES is not a pipeline", {},
             "Use INSERT INTO … SELECT … FROM a source table.");
  RangeTblEntry* select_rte = rt_fetch(((RangeTblRef*)linitial(from))->rtindex, ins->rtable);
  if (select_rte->rtekind != RTE_SUBQUERY)
    pg::fail(ERRCODE_WRONG_OBJECT_TYPE, "INSERT … VALUES is not a pipeline", {},
             "Use INSERT INTO … SELECT … FROM a source table.");
  plan.root = plan_sink_projection(ins, plan_select(select_rte->subquery));
  for (Oid t : cdc_tables)
    if (t == plan.sink.relid)
      pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
               "a pipeline cannot write to \"" +
                   std::string(pg::call([&] { return (const char*)get_rel_name(t); })) +
                   "\", which it also reads",
               "Its own writes would come back as changes.");
}

// Makes the window of a windowed SELECT an output column, if the select list leaves it out (a
// GROUP BY key that is only a junk entry): returns its column (0-based), or -1.
int expose_window(Query* q) {
  return pg::call([&] {
    int visible = 0;
    ListCell* lc;
    foreach (lc, q->targetList)
      if (!((TargetEntry*)lfirst(lc))->resjunk) visible++;
    foreach (lc, q->groupClause) {
      TargetEntry* te = get_sortgroupclause_tle((SortGroupClause*)lfirst(lc), q->targetList);
      if (!window_function_name((Node*)te->expr)) continue;
      if (!te->resjunk) return te->resno - 1;
      // Junk entries follow the visible ones: move this one right after them.
      q->targetList = list_delete_ptr(q->targetList, te);
      q->targetList = list_insert_nth(q->targetList, visible, te);
      te->resjunk = false;
      te->resname = pstrdup("window");
      int resno = 1;
      foreach (lc, q->targetList) ((TargetEntry*)lfirst(lc))->resno = resno++;
      return visible;
    }
    return -1;
  });
}

// Number of visible (non-junk) entries of a target list; junk entries come after them.
int visible_columns(List* targets) {
  int n = 0;
  ListCell* lc;
  foreach (lc, targets)
    if (!((TargetEntry*)lfirst(lc))->resjunk) n++;
  return n;
}

// Plans a pipeline query, or (preview) a query to preview: a SELECT, or an INSERT whose target
// is then replaced by the preview.
LogicalPlan plan_text(const std::string& query_text, bool preview) {
  LogicalPlan plan;
  RawStmt* raw = split_statements(query_text, plan.settings, preview);
  bool select = IsA(raw->stmt, SelectStmt);
  Query* q = analyze_statement(raw, query_text, select ? CMD_SELECT : CMD_INSERT);
  cdc_tables.clear();
  planned_sources.clear();
  reset_shared_subqueries();
  if (select) {
    int columns = visible_columns(q->targetList);
    int window = expose_window(q);
    plan.root = plan_select(q);
    plan.sink.is_table = false;
    plan.sink.name = "preview";
    plan.sink.preview_columns = columns;
    plan.sink.preview_window = window;
  } else {
    plan_insert(q, plan);
  }
  check_lookup_settings(plan);
  plan.reads_table_changes = !cdc_tables.empty();
  cdc_tables.clear();
  planned_sources.clear();
  reset_shared_subqueries();
  if (preview) {
    if (!select) {
      plan.sink = SinkTarget();
      plan.sink.is_table = false;
      plan.sink.name = "preview";
      plan.sink.preview_columns = plan.root->desc->natts;
    }
    plan.sink.preview = true;
    plan.sink.updating = plan.root->updating;
  } else if (plan.root->updating) {
    plan_updating_sink(plan);
  }
  if (preview)
    plan.settings.parallelism = 1;  // a preview runs as one worker
  else
    check_parallelism(plan);
  return plan;
}

}  // namespace

LogicalPlan plan_pipeline(const std::string& query_text, const char* search_path) {
  return with_search_path(search_path, [&] { return plan_text(query_text, false); });
}

PipelineSettings pipeline_settings(const std::string& query_text) {
  PipelineSettings settings;
  split_statements(query_text, settings);
  return settings;
}

LogicalPlan plan_preview(const std::string& query_text, const char* search_path) {
  return with_search_path(search_path, [&] { return plan_text(query_text, true); });
}

}  // namespace arroyo
