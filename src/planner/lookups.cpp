// Lookup joins: a stream joined with a LATERAL subquery, `[LEFT] JOIN LATERAL (SELECT … FROM
// customers c WHERE c.id = o.customer_id) c ON true`. The subquery reads regular tables (or
// foreign tables of other wrappers) as they are when each event is processed: it is not a
// source, and nothing of it is read through change data capture.
//
// The subquery's references to the stream become the columns of `unnest($1, …, $n) WITH
// ORDINALITY k`, so that one query per batch looks up every distinct key of the batch:
//   SELECT k.ordinality, s.* FROM unnest($1, …) WITH ORDINALITY k, LATERAL (subquery) s
// PostgreSQL plans it (an index probe per key where an index serves the conditions).
#include "planner/plan_util.hpp"

#include "core/plan_walk.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "nodes/plannodes.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteManip.h"
}

namespace arroyo {

namespace {

// What the walk over a lookup subquery collects (inside pg::call).
struct LookupWalk {
  int depth = 0;          // query nesting below the LATERAL subquery
  List* params = NIL;     // of Expr over the stream's columns (Vars of level 0): the parameters
  List* relations = NIL;  // of RangeTblEntry: the relations it reads
};

// Whether `node` is a call of row_time(), the event time of the row being processed: inside a
// lookup subquery it is the stream's value, computed per event. Inside pg::call.
bool is_row_time(Node* node) {
  if (!IsA(node, FuncExpr) || ((FuncExpr*)node)->args != NIL) return false;
  HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(((FuncExpr*)node)->funcid));
  if (!HeapTupleIsValid(tup)) return false;
  bool isnull;
  Datum src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
  bool is = !isnull && ((Form_pg_proc)GETSTRUCT(tup))->prolang == ClanguageId &&
            strcmp(TextDatumGetCString(src), "arroyo_stream_row_time") == 0;
  ReleaseSysCache(tup);
  return is;
}

// A copy of an expression with its row_time() calls replaced by constants, for the volatility
// check (row_time() is volatile only in that it changes from row to row). Inside pg::call.
Node* without_row_time(Node* node, void* context) {
  if (!node) return nullptr;
  if (is_row_time(node)) return (Node*)makeNullConst(TIMESTAMPTZOID, -1, InvalidOid);
  return expression_tree_mutator(node, pg_walker<Node*>(without_row_time), context);
}

// Whether an expression uses the stream's columns (Vars of `level`) and nothing else of any
// query level (inside pg::call).
struct OuterOnly {
  Index level;
  bool outer = false, other = false;
};

bool outer_only_walker(Node* node, void* context) {
  if (!node) return false;
  OuterOnly* o = (OuterOnly*)context;
  if (is_row_time(node)) {
    o->outer = true;
    return false;
  }
  if (IsA(node, Var)) {
    Var* v = (Var*)node;
    if (v->varlevelsup == o->level && v->varattno > 0)
      o->outer = true;
    else
      o->other = true;
    return false;
  }
  if (IsA(node, Param) || IsA(node, CaseTestExpr) || IsA(node, CoerceToDomainValue) ||
      IsA(node, SetToDefault) || IsA(node, SubLink) || IsA(node, Aggref) ||
      IsA(node, GroupingFunc) || IsA(node, WindowFunc) || IsA(node, Query)) {
    o->other = true;
    return true;
  }
  return expression_tree_walker(node, pg_walker<bool>(outer_only_walker), context);
}

// Whether `node` is an expression computed from the stream's columns alone (`o.k % 4`), without
// volatile functions: it is then computed per event, outside the subquery, and its distinct
// values are the keys looked up (and cached). Inside pg::call.
bool computed_from_stream(Node* node, Index level) {
  switch (nodeTag(node)) {
    case T_OpExpr:
    case T_FuncExpr:
    case T_RelabelType:
    case T_CoerceViaIO:
    case T_CoalesceExpr:
    case T_NullIfExpr:
    case T_MinMaxExpr:
    case T_BoolExpr:
    case T_NullTest:
    case T_BooleanTest:
    case T_CaseExpr: break;
    default: return false;
  }
  OuterOnly o{level};
  outer_only_walker(node, &o);
  return o.outer && !o.other && !contain_volatile_functions(without_row_time(node, nullptr)) &&
         !expression_returns_set(node);
}

// The reference to k's column for parameter `node` (an expression over the stream's columns of
// the query `w->depth` levels inside the subquery), adding the parameter if it is new.
Node* parameter_ref(LookupWalk* w, Node* node) {
  Node* param = (Node*)copyObjectImpl(node);
  IncrementVarSublevelsUp(param, -(w->depth + 1), 0);
  int k = 0;
  ListCell* lc;
  foreach (lc, w->params) {
    if (equal(lfirst(lc), param)) break;
    k++;
  }
  if (k == list_length(w->params)) w->params = lappend(w->params, param);
  // k is the wrapper's first FROM item, one level above the subquery.
  return (Node*)makeVar(1, AttrNumber(k + 1), exprType(node), exprTypmod(node), exprCollation(node),
                        Index(w->depth + 1));
}

// Turns the subquery's references to the stream (columns, or expressions over them alone)
// into references to k's columns (the parameters), numbered in order of appearance; rejects
// what a lookup cannot do. Inside pg::call.
Node* outer_ref_mutator(Node* node, void* context) {
  if (!node) return nullptr;
  LookupWalk* w = (LookupWalk*)context;
  if (computed_from_stream(node, Index(w->depth + 1))) return parameter_ref(w, node);
  if (IsA(node, Var)) {
    Var* v = (Var*)node;
    if (v->varlevelsup < Index(w->depth + 1)) return (Node*)copyObjectImpl(v);
    if (v->varlevelsup > Index(w->depth + 1) || v->varattno <= 0)
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("a whole-row or system column reference to the stream inside a "
                             "LATERAL subquery is not supported in a pipeline"),
                      errhint("Name the stream's columns.")));
    return parameter_ref(w, node);
  }
  if ((IsA(node, Aggref) && ((Aggref*)node)->agglevelsup > Index(w->depth)) ||
      (IsA(node, GroupingFunc) && ((GroupingFunc*)node)->agglevelsup > Index(w->depth)))
    ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                    errmsg("an aggregate over the stream's columns inside a LATERAL subquery is "
                           "not supported in a pipeline"),
                    errhint("A lookup runs its subquery per event; aggregate the stream outside "
                            "it (GROUP BY over the joined rows).")));
  if (IsA(node, Query)) {
    w->depth++;
    Node* out =
        (Node*)query_tree_mutator((Query*)node, pg_walker<Node*>(outer_ref_mutator), context, 0);
    w->depth--;
    return out;
  }
  return expression_tree_mutator(node, pg_walker<Node*>(outer_ref_mutator), context);
}

// Renumbers the Vars of an expression over the outer query's FROM items to the columns of the
// lookup's input rows (`context`: the items' offsets). Inside pg::call.
Node* input_columns_mutator(Node* node, void* context) {
  if (!node) return nullptr;
  if (IsA(node, Var)) {
    Var* v = (Var*)copyObjectImpl(node);
    const std::map<int, int>& offsets = *(const std::map<int, int>*)context;
    auto it = offsets.find(int(v->varno));
    if (it == offsets.end())
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("a LATERAL subquery may only reference the FROM items before it")));
    v->varattno = AttrNumber(it->second + v->varattno);
    v->varno = 1;
    v->varnosyn = 0;
    v->varattnosyn = 0;
    return (Node*)v;
  }
  return expression_tree_mutator(node, pg_walker<Node*>(input_columns_mutator), context);
}

// Collects the relations a lookup subquery reads; rejects references to the pipeline's own
// WITH queries. Inside pg::call.
bool lookup_rte_walker(Node* node, void* context) {
  if (!node) return false;
  LookupWalk* w = (LookupWalk*)context;
  if (IsA(node, RangeTblEntry)) {
    RangeTblEntry* rte = (RangeTblEntry*)node;
    if (rte->rtekind == RTE_RELATION) w->relations = lappend(w->relations, rte);
    if (rte->rtekind == RTE_CTE && rte->ctelevelsup > Index(w->depth))
      ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                      errmsg("a reference to the pipeline's WITH query \"%s\" inside a LATERAL "
                             "subquery is not supported in a pipeline",
                             rte->ctename)));
    return false;
  }
  if (IsA(node, Query)) {
    w->depth++;
    bool r = query_tree_walker((Query*)node, pg_walker<bool>(lookup_rte_walker), context,
                               QTW_EXAMINE_RTES_BEFORE);
    w->depth--;
    return r;
  }
  return expression_tree_walker(node, pg_walker<bool>(lookup_rte_walker), context);
}

// The relations a SeqScan reads anywhere in a plan tree (inside pg::call).
void scanned_relations(Plan* plan, PlannedStmt* stmt, List** out) {
  if (!plan) return;
  if (IsA(plan, SeqScan)) {
    Oid relid = rt_fetch(((Scan*)plan)->scanrelid, stmt->rtable)->relid;
    *out = list_append_unique_oid(*out, relid);
  }
  scanned_relations(plan->lefttree, stmt, out);
  scanned_relations(plan->righttree, stmt, out);
  ListCell* lc;
  List* children = NIL;
  if (IsA(plan, Append)) children = ((Append*)plan)->appendplans;
  if (IsA(plan, MergeAppend)) children = ((MergeAppend*)plan)->mergeplans;
  if (IsA(plan, BitmapAnd)) children = ((BitmapAnd*)plan)->bitmapplans;
  if (IsA(plan, BitmapOr)) children = ((BitmapOr*)plan)->bitmapplans;
  if (IsA(plan, SubqueryScan)) scanned_relations(((SubqueryScan*)plan)->subplan, stmt, out);
  foreach (lc, children) scanned_relations((Plan*)lfirst(lc), stmt, out);
}

// The tables the lookup scans whatever the planner's costs: planned with sequential scans,
// hash and merge joins discouraged, a table still read by a SeqScan has no index serving the
// conditions. Names, comma-separated ("" if none).
std::string scanned_tables(Query* lookup) {
  List* relids = pg::call([&] {
    int nest = NewGUCNestLevel();
    for (const char* name : {"enable_seqscan", "enable_hashjoin", "enable_mergejoin"})
      set_config_option(name, "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
    PlannedStmt* stmt = pg_plan_query((Query*)copyObjectImpl(lookup), "lookup join", 0, nullptr);
    AtEOXact_GUC(true, nest);
    List* out = NIL;
    scanned_relations(stmt->planTree, stmt, &out);
    ListCell* lc;
    foreach (lc, stmt->subplans) scanned_relations((Plan*)lfirst(lc), stmt, &out);
    return out;
  });
  std::string names;
  ListCell* lc;
  foreach (lc, relids) {
    Oid relid = lfirst_oid(lc);
    char relkind = pg::call([&] { return get_rel_relkind(relid); });
    if (relkind == RELKIND_FOREIGN_TABLE) continue;  // the remote server decides
    const char* name = pg::call([&] { return get_rel_name(relid); });
    names += (names.empty() ? "\"" : ", \"") + std::string(name ? name : "?") + "\"";
  }
  return names;
}

// The name of a foreign table's wrapper.
std::string wrapper_name(Oid relid) {
  return pg::call([&] {
    ForeignServer* srv = GetForeignServer(GetForeignTable(relid)->serverid);
    return (const char*)GetForeignDataWrapper(srv->fdwid)->fdwname;
  });
}

// Whether a foreign table of arroyo_stream is a lookup table of its connector (Redis).
bool is_lookup_table(Oid relid) {
  TableSpec spec = load_table_spec(relid, false);
  return connector_of(relid).role(spec) == TableRole::Lookup;
}

// The subquery over a connector's lookup table, `SELECT t.a, t.b FROM t WHERE t.key = <the
// stream's value>` (after outer_ref_mutator: the value is k's column 1): fills the node's
// lookup_columns; anything else is refused, naming the form that works.
void plan_connector_lookup(Query* sub, int nparams, LookupJoinNode& node) {
  node.lookup_spec = load_table_spec(node.lookup_table, true);
  node.lookup_connector = &connector_of(node.lookup_table);
  const TableSpec& spec = node.lookup_spec;
  const Connector& c = *node.lookup_connector;
  c.validate_table(spec);
  c.check_privileges(spec, TableRole::Lookup);
  int key = c.lookup_key_column(spec);
  std::string table = node.tables, key_name = "key";
  for (const ColumnInfo& col : spec.columns)
    if (col.attnum - 1 == key) key_name = col.name;
  std::string hint =
      "A lookup table is read by its key alone: JOIN LATERAL (SELECT t.col, … "
      "FROM " +
      table + " t WHERE t." + key_name + " = stream.column) x ON true.";
  bool plain = pg::call([&] {
    return sub->commandType == CMD_SELECT && list_length(sub->rtable) == 1 && sub->jointree &&
           list_length(sub->jointree->fromlist) == 1 &&
           IsA(linitial(sub->jointree->fromlist), RangeTblRef) && !sub->hasAggs &&
           !sub->hasWindowFuncs && !sub->hasTargetSRFs && !sub->hasSubLinks &&
           sub->groupClause == NIL && sub->groupingSets == NIL && !sub->havingQual &&
           sub->sortClause == NIL && sub->distinctClause == NIL && !sub->limitCount &&
           !sub->limitOffset && !sub->setOperations && sub->cteList == NIL;
  });
  if (!plain || nparams != 1)
    unsupported("this LATERAL subquery over the lookup table " + table, hint);
  // WHERE: <table's key column> = <k's column 1>, either way round.
  bool keyed = pg::call([&] {
    Node* q = sub->jointree->quals;
    if (q && IsA(q, List) && list_length((List*)q) == 1) q = (Node*)linitial((List*)q);
    if (!q || !IsA(q, OpExpr) || list_length(((OpExpr*)q)->args) != 2) return false;
    char* opname = get_opname(((OpExpr*)q)->opno);
    if (!opname || strcmp(opname, "=") != 0) return false;
    bool table_side = false, stream_side = false;
    ListCell* lc;
    foreach (lc, ((OpExpr*)q)->args) {
      Node* arg = (Node*)lfirst(lc);
      while (IsA(arg, RelabelType)) arg = (Node*)((RelabelType*)arg)->arg;
      if (!IsA(arg, Var)) return false;
      Var* v = (Var*)arg;
      if (v->varlevelsup == 0 && v->varno == 1 && v->varattno == key + 1) table_side = true;
      if (v->varlevelsup == 1 && v->varno == 1 && v->varattno == 1) stream_side = true;
    }
    return table_side && stream_side;
  });
  if (!keyed) unsupported("this LATERAL subquery over the lookup table " + table, hint);
  List* targets = sub->targetList;
  ListCell* lc;
  foreach (lc, targets) {
    TargetEntry* te = (TargetEntry*)lfirst(lc);
    if (te->resjunk) continue;
    Node* e = (Node*)te->expr;
    if (!IsA(e, Var) || ((Var*)e)->varlevelsup != 0 || ((Var*)e)->varattno <= 0)
      unsupported(
          "an expression in the select list of a LATERAL subquery over the lookup "
          "table " +
              table,
          "Select the table's columns; compute over them outside the subquery.");
    node.lookup_columns.push_back(((Var*)e)->varattno - 1);
  }
}

// Checks every relation the subquery reads can be looked up by the pipeline's worker; fills the
// node's `tables` and `cacheable`.
void check_lookup_relations(List* relations, LookupJoinNode& node) {
  bool regular = false, foreign = false;
  ListCell* lc;
  foreach (lc, relations) {
    RangeTblEntry* rte = (RangeTblEntry*)lfirst(lc);
    const char* relname = pg::call([&] { return get_rel_name(rte->relid); });
    std::string name = relname ? relname : "?";
    if (node.tables.find("\"" + name + "\"") == std::string::npos)
      node.tables += (node.tables.empty() ? "\"" : ", \"") + name + "\"";
    if (rte->relkind == RELKIND_FOREIGN_TABLE) {
      std::string wrapper = wrapper_name(rte->relid);
      if (wrapper == "arroyo_stream" && is_lookup_table(rte->relid)) {
        if (list_length(relations) > 1)
          unsupported("a LATERAL subquery reading the lookup table \"" + name +
                          "\" together with other relations",
                      "Look the lookup table up in a subquery of its own.");
        node.lookup_table = rte->relid;
        foreign = true;
        continue;
      }
      if (wrapper == "arroyo_stream")
        unsupported("looking up the stream table \"" + name + "\" in a LATERAL subquery",
                    "A LATERAL subquery looks rows up in regular tables or foreign tables of "
                    "other wrappers (postgres_fdw); join a stream with JOIN … ON instead.");
      foreign = true;
      continue;
    }
    regular = true;
    char persistence = pg::call([&] { return get_rel_persistence(rte->relid); });
    if (persistence == RELPERSISTENCE_TEMP)
      pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
               "a pipeline cannot look up the temporary table \"" + name + "\"",
               "A pipeline runs in a background worker, which cannot see another session's "
               "temporary tables.",
               "Use a regular table, or an UNLOGGED one if its rows need not survive a crash.");
  }
  node.cacheable = foreign && !regular;
}

}  // namespace

PlanNodePtr plan_lookup_join(Query* q, bool left, PlanNodePtr input,
                             const std::map<int, int>& offsets, RangeTblEntry* rte) {
  if (input->updating)
    unsupported("a lookup join (JOIN LATERAL) over updating rows",
                "A lookup matches each event once, when it is processed; its input must be "
                "append-only (not an updating aggregate, join or table changes).");
  auto node = std::make_shared<LookupJoinNode>();
  node->left = left;
  LookupWalk walk;
  Query* sub = pg::call([&] {
    // References to the stream's join aliases (USING columns) become the columns beneath.
    Query* flat = (Query*)flatten_join_alias_vars(q, (Node*)rte->subquery);
    query_tree_walker(flat, pg_walker<bool>(lookup_rte_walker), &walk, QTW_EXAMINE_RTES_BEFORE);
    return (Query*)query_tree_mutator(flat, pg_walker<Node*>(outer_ref_mutator), &walk, 0);
  });
  check_lookup_relations(walk.relations, *node);
  if (OidIsValid(node->lookup_table)) plan_connector_lookup(sub, list_length(walk.params), *node);
  // The parameters: per stream column or expression the subquery uses, an array of its
  // distinct values.
  int nparams = list_length(walk.params);
  std::vector<Oid> array_types;
  std::string args;
  ListCell* lc;
  foreach (lc, walk.params) {
    Node* param = (Node*)lfirst(lc);
    Node* over_input = pg::call([&] { return input_columns_mutator(param, (void*)&offsets); });
    if (IsA(over_input, Var)) {
      node->param_columns.push_back(((Var*)over_input)->varattno - 1);
    } else {
      node->param_columns.push_back(-1);
      over_input = (Node*)plan_expr((Expr*)over_input);
    }
    node->param_exprs = pg::call([&] { return lappend(node->param_exprs, over_input); });
    Oid type = pg::call([&] { return exprType(param); });
    Oid array = pg::call([&] { return get_array_type(type); });
    if (!OidIsValid(array))
      unsupported("a LATERAL subquery using a value of type " +
                  std::string(pg::call([&] { return (const char*)format_type_be(type); })) +
                  " from the stream, which has no array type");
    array_types.push_back(array);
    args += (args.empty() ? "$" : ", $") + std::to_string(array_types.size());
  }
  if (nparams == 0) args = "'{0}'::int4[]";  // one key: every event gets the same rows
  node->param_array_types = array_types;
  // The wrapper, analyzed as text with a placeholder subquery, which is then replaced.
  std::string text = "SELECT FROM unnest(" + args + ") WITH ORDINALITY k, LATERAL (SELECT) s";
  // A connector's lookup table is read by the connector, not by a query.
  if (!OidIsValid(node->lookup_table))
    node->lookup = pg::call([&] {
      RawStmt* raw = linitial_node(RawStmt, raw_parser(text.c_str(), RAW_PARSE_DEFAULT));
      Query* wrapper =
          parse_analyze_fixedparams(raw, text.c_str(), array_types.data(), nparams, nullptr);
      RangeTblEntry* k = rt_fetch(1, wrapper->rtable);
      RangeTblEntry* s = rt_fetch(2, wrapper->rtable);
      s->subquery = sub;
      List* names = NIL;
      List* targets = NIL;
      int ncols = list_length(k->eref->colnames);  // the parameters, then the ordinality
      targets = lappend(
          targets, makeTargetEntry((Expr*)makeVar(1, AttrNumber(ncols), INT8OID, -1, InvalidOid, 0),
                                   1, pstrdup("ordinality"), false));
      ListCell* tc;
      foreach (tc, sub->targetList) {
        TargetEntry* te = (TargetEntry*)lfirst(tc);
        if (te->resjunk) continue;
        names = lappend(names, makeString(pstrdup(te->resname ? te->resname : "?column?")));
        Var* v = makeVar(2, te->resno, exprType((Node*)te->expr), exprTypmod((Node*)te->expr),
                         exprCollation((Node*)te->expr), 0);
        targets = lappend(targets,
                          makeTargetEntry((Expr*)v, AttrNumber(list_length(targets) + 1),
                                          pstrdup(te->resname ? te->resname : "?column?"), false));
      }
      s->eref = makeAlias("s", names);
      wrapper->targetList = targets;
      return wrapper;
    });
  // The rows: the stream's columns, then the subquery's (NULL-padded for LEFT).
  List* sub_targets = pg::call([&] {
    List* out = NIL;
    ListCell* tc;
    foreach (tc, sub->targetList) {
      TargetEntry* te = (TargetEntry*)lfirst(tc);
      if (te->resjunk) continue;
      TargetEntry* copy = flatCopyTargetEntry(te);
      copy->resno = AttrNumber(list_length(out) + 1);
      out = lappend(out, copy);
    }
    return out;
  });
  node->subquery_desc = desc_from_targets(sub_targets);
  TupleDesc in = input->desc, sd = node->subquery_desc;
  node->desc = pg::call([&] {
    TupleDesc d = CreateTemplateTupleDesc(in->natts + sd->natts);
    for (int i = 0; i < in->natts; i++) TupleDescCopyEntry(d, i + 1, in, i + 1);
    for (int i = 0; i < sd->natts; i++) TupleDescCopyEntry(d, in->natts + i + 1, sd, i + 1);
    for (int i = 0; i < d->natts; i++) TupleDescAttr(d, i)->attnotnull = false;
    return d;
  });
  node->input = std::move(input);
  std::string scans = node->lookup ? scanned_tables(node->lookup) : std::string();
  node->scans = !scans.empty();
  // Said once per transaction (stream_create plans the query as written, then as stored).
  static LocalTransactionId noticed_in = InvalidLocalTransactionId;
  static std::string noticed;
  if (node->scans && !IsBackgroundWorker && (noticed_in != MyProc->lxid || noticed != scans)) {
    noticed_in = MyProc->lxid;
    noticed = scans;
    pg::call([&] {
      ereport(NOTICE, (errmsg("the lookup subquery scans %s for each batch of events: no index "
                              "serves its conditions",
                              scans.c_str()),
                       errhint("An index on the looked-up columns lets each key be probed.")));
    });
  }
  return node;
}

namespace {

// Whether the plan beneath `node` has a lookup join that may be cached (of foreign tables only).
bool has_cacheable_lookup(const PlanNode* node) {
  if (node->kind == PlanNode::Kind::LookupJoin &&
      static_cast<const LookupJoinNode*>(node)->cacheable)
    return true;
  for (const PlanNode* in : plan_inputs(*node))
    if (has_cacheable_lookup(in)) return true;
  return false;
}

}  // namespace

void check_lookup_settings(const LogicalPlan& plan) {
  const PipelineSettings& s = plan.settings;
  bool set = s.lookup_cache_ttl_us > 0 || s.lookup_cache_max_rows > 0;
  if (!set || has_cacheable_lookup(plan.root.get())) return;
  pg::fail(ERRCODE_INVALID_PARAMETER_VALUE,
           "lookup.cache settings apply to lookups of foreign tables only, and this pipeline has "
           "none",
           "A lookup of regular tables reads them under a fresh snapshot for each batch and is "
           "never cached; a lookup is cached when its subquery reads only foreign tables of "
           "other wrappers (postgres_fdw).");
}

}  // namespace arroyo
