#include "catalog/pipeline_objects.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "catalog/dependency.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_rewrite.h"
#include "commands/tablecmds.h"
#include "commands/view.h"
#include "utils/ruleutils.h"
}

#include <vector>

namespace arroyo {

namespace {

constexpr const char* kSchema = "_arroyo_stream";
constexpr const char* kViewPrefix = "pipeline ";
constexpr const char* kRuleName = "writes";

std::string view_name(const std::string& pipeline) { return kViewPrefix + pipeline; }

Oid schema_oid() {
  return pg::call([&] { return get_namespace_oid(kSchema, true); });
}

Oid view_oid(const std::string& pipeline) {
  Oid nsp = schema_oid();
  if (!OidIsValid(nsp)) return InvalidOid;
  return pg::call([&] { return get_relname_relid(view_name(pipeline).c_str(), nsp); });
}

// Runs `body` as the owner of the extension's schema (it may create objects there).
template <typename F>
void as_schema_owner(F&& body) {
  Oid saved_user;
  int saved_sec;
  pg::call([&] {
    GetUserIdAndSecContext(&saved_user, &saved_sec);
    HeapTuple tup =
        SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(get_namespace_oid(kSchema, false)));
    Oid owner = ((Form_pg_namespace)GETSTRUCT(tup))->nspowner;
    ReleaseSysCache(tup);
    SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
  });
  try {
    body();
  } catch (...) {
    pg::call([&] { SetUserIdAndSecContext(saved_user, saved_sec); });
    throw;
  }
  pg::call([&] { SetUserIdAndSecContext(saved_user, saved_sec); });
}

// The pipeline text's INSERT statement (raw), and its SET statements as written.
struct SplitText {
  RawStmt* insert = nullptr;
  std::string settings;  // "SET …;\n" per SET statement
};

SplitText split_text(const std::string& text) {
  SplitText out;
  List* raw = pg::call([&] { return raw_parser(text.c_str(), RAW_PARSE_DEFAULT); });
  ListCell* lc;
  foreach (lc, raw) {
    RawStmt* rs = lfirst_node(RawStmt, lc);
    if (IsA(rs->stmt, InsertStmt)) {
      out.insert = rs;
    } else if (IsA(rs->stmt, VariableSetStmt)) {
      size_t len = rs->stmt_len > 0 ? size_t(rs->stmt_len) : text.size() - rs->stmt_location;
      std::string s = text.substr(rs->stmt_location, len);
      size_t a = s.find_first_not_of(" \t\r\n");
      out.settings += (a == std::string::npos ? s : s.substr(a)) + ";\n";
    }
  }
  if (!out.insert) pg::fail(ERRCODE_SYNTAX_ERROR, "pipeline query has no INSERT statement");
  return out;
}

}  // namespace

std::string with_parallelism(const std::string& text, int n) {
  List* raw = pg::call([&] { return raw_parser(text.c_str(), RAW_PARSE_DEFAULT); });
  std::string out = n > 1 ? "SET parallelism = " + std::to_string(n) + ";\n" : "";
  size_t from = 0;
  ListCell* lc;
  foreach (lc, raw) {
    RawStmt* rs = lfirst_node(RawStmt, lc);
    if (!IsA(rs->stmt, VariableSetStmt) ||
        pg_strcasecmp(castNode(VariableSetStmt, rs->stmt)->name, "parallelism") != 0)
      continue;
    // The statement and its semicolon (a statement's length leaves the semicolon out).
    size_t at = size_t(rs->stmt_location);
    size_t end = rs->stmt_len > 0 ? at + size_t(rs->stmt_len) : text.size();
    size_t semi = text.find(';', end);
    end = semi == std::string::npos ? text.size() : semi + 1;
    out += text.substr(from, at - from);
    from = end;
    while (from < text.size() && (text[from] == '\n' || text[from] == ' ')) from++;
  }
  return out + text.substr(from);
}

namespace {

// The relation name as the deparse writes it: qualified unless the search_path finds it.
std::string relation_name(Oid relid) {
  return pg::call([&] {
    const char* rel = get_rel_name(relid);
    if (!rel) elog(ERROR, "relation %u does not exist", relid);
    if (RelationIsVisible(relid)) return (const char*)pstrdup(quote_identifier(rel));
    return (const char*)quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
                                                   rel);
  });
}

// The rule's INSERT: its target and the target columns it writes, in the view's column order.
struct RuleTarget {
  Oid relid = InvalidOid;
  std::vector<AttrNumber> columns;
};

std::optional<RuleTarget> rule_target(Oid view) {
  RuleTarget out;
  bool found = pg::call([&] {
    HeapTuple tup =
        SearchSysCache2(RULERELNAME, ObjectIdGetDatum(view), CStringGetDatum(kRuleName));
    if (!HeapTupleIsValid(tup)) return false;
    bool isnull;
    Datum d = SysCacheGetAttr(RULERELNAME, tup, Anum_pg_rewrite_ev_action, &isnull);
    List* actions = isnull ? NIL : (List*)stringToNode(TextDatumGetCString(d));
    ReleaseSysCache(tup);
    if (list_length(actions) != 1) return false;
    Query* q = (Query*)linitial(actions);
    if (q->commandType != CMD_INSERT || q->resultRelation <= 0) return false;
    out.relid = rt_fetch(q->resultRelation, q->rtable)->relid;
    ListCell* lc;
    foreach (lc, q->targetList) {
      TargetEntry* te = (TargetEntry*)lfirst(lc);
      if (!te->resjunk) out.columns.push_back(te->resno);
    }
    return true;
  });
  if (!found) return std::nullopt;
  return out;
}

// Runs `body` with search_path set to `path` (restored afterwards).
template <typename F>
void with_search_path(const std::string& path, F&& body) {
  int level = pg::call([&] {
    int nest = NewGUCNestLevel();
    set_config_option("search_path", path.c_str(), PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                      true, 0, false);
    return nest;
  });
  try {
    body();
  } catch (...) {
    pg::call([&] { AtEOXact_GUC(false, level); });
    throw;
  }
  pg::call([&] { AtEOXact_GUC(true, level); });
}

// The deparse, with the current search_path.
std::string deparse(const std::string& name, const std::string& written, Oid view) {
  std::optional<RuleTarget> target = rule_target(view);
  if (!target)
    pg::fail(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "pipeline \"" + name + "\" has no target",
             "Rule \"writes\" of view _arroyo_stream.\"pipeline " + name +
                 "\", which records where the pipeline writes, is missing (a restore of only "
                 "part of a dump?).",
             "Drop the pipeline (stream_drop) and create it again.");
  std::string out =
      split_text(written).settings + "INSERT INTO " + relation_name(target->relid) + " (";
  for (size_t i = 0; i < target->columns.size(); i++) {
    AttrNumber att = target->columns[i];
    out += (i ? ", " : "") + std::string(pg::call([&] {
             return (const char*)quote_identifier(get_attname(target->relid, att, false));
           }));
  }
  out += ")\n";
  // As pg_get_viewdef deparses it (which reads pg_rewrite under the statement's snapshot: a
  // view this transaction just created would not be found), from the relation cache.
  std::string select = pg::call([&] {
    Relation rel = relation_open(view, AccessShareLock);
    char* def = pg_get_querydef((Query*)copyObjectImpl(get_view_query(rel)), false);
    relation_close(rel, AccessShareLock);
    return (const char*)def;
  });
  size_t a = select.find_first_not_of(" \n");
  size_t b = select.find_last_not_of(" \n;");
  out += a == std::string::npos ? select : select.substr(a, b - a + 1);
  return out;
}

}  // namespace

void pipeline_objects_create(const std::string& name, const std::string& query, Oid owner) {
  if (int(name.size()) > kMaxPipelineNameLen)
    pg::fail(ERRCODE_NAME_TOO_LONG, "pipeline name \"" + name + "\" is too long",
             "A pipeline owns a view named \"pipeline <name>\", which must fit in " +
                 std::to_string(NAMEDATALEN - 1) + " bytes.",
             "Use a name of at most " + std::to_string(kMaxPipelineNameLen) + " bytes.");
  SplitText split = split_text(query);
  // The target columns the SELECT's columns go to, in order: they name the view's columns.
  Oid target = InvalidOid;
  List* aliases = NIL;
  std::vector<std::string> columns;
  pg::call([&] {
    Query* ins = parse_analyze_fixedparams(split.insert, query.c_str(), nullptr, 0, nullptr);
    target = rt_fetch(ins->resultRelation, ins->rtable)->relid;
    ListCell* lc;
    foreach (lc, ins->targetList) {
      TargetEntry* te = (TargetEntry*)lfirst(lc);
      if (te->resjunk) continue;
      char* att = get_attname(target, te->resno, false);
      aliases = lappend(aliases, makeString(att));
    }
  });
  for (int i = 0; i < list_length(aliases); i++) columns.push_back(strVal(list_nth(aliases, i)));
  // A fresh parse: analysis above may have scribbled on the raw tree.
  SplitText again = split_text(query);
  as_schema_owner([&] {
    Oid view = pg::call([&] {
      ViewStmt* stmt = makeNode(ViewStmt);
      stmt->view = makeRangeVar(pstrdup(kSchema), pstrdup(view_name(name).c_str()), -1);
      stmt->aliases = aliases;
      stmt->query = ((InsertStmt*)again.insert->stmt)->selectStmt;
      stmt->replace = false;
      stmt->options = NIL;
      stmt->withCheckOption = NO_CHECK_OPTION;
      ObjectAddress addr =
          DefineView(stmt, query.c_str(), again.insert->stmt_location, again.insert->stmt_len);
      CommandCounterIncrement();
      return addr.objectId;
    });
    std::string cols, values;
    for (size_t i = 0; i < columns.size(); i++) {
      std::string c = pg::call([&] { return (const char*)quote_identifier(columns[i].c_str()); });
      cols += (i ? ", " : "") + c;
      values += (i ? ", " : "") + std::string("new.") + c;
    }
    std::string target_name = pg::call([&] {
      return (const char*)quote_qualified_identifier(get_namespace_name(get_rel_namespace(target)),
                                                     get_rel_name(target));
    });
    std::string qualified_view = pg::call(
        [&] { return (const char*)quote_qualified_identifier(kSchema, view_name(name).c_str()); });
    std::string rule = std::string("CREATE RULE ") + kRuleName + " AS ON INSERT TO " +
                       qualified_view + " DO INSTEAD INSERT INTO " + target_name + " (" + cols +
                       ") VALUES (" + values + ")";
    pg::call([&] {
      if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
      int rc = SPI_execute(rule.c_str(), false, 0);
      if (rc != SPI_OK_UTILITY) elog(ERROR, "arroyo_stream: could not create rule: %d", rc);
      SPI_finish();
      // The pipeline's owner owns the view, as the owner of any view does: DROP OWNED and
      // REASSIGN OWNED treat it like the role's other objects.
      ATExecChangeOwner(view, owner, false, AccessExclusiveLock);
      CommandCounterIncrement();
    });
  });
}

void pipeline_objects_drop(const std::string& name) {
  Oid view = view_oid(name);
  if (!OidIsValid(view)) return;
  pg::call([&] {
    ObjectAddress addr;
    ObjectAddressSet(addr, RelationRelationId, view);
    performDeletion(&addr, DROP_RESTRICT, PERFORM_DELETION_INTERNAL);
    CommandCounterIncrement();
  });
}

std::optional<std::string> pipeline_query_now(const PipelineRow& row) {
  Oid view = view_oid(row.name);
  if (!OidIsValid(view)) return std::nullopt;
  std::string out;
  with_search_path(row.search_path, [&] { out = deparse(row.name, row.query, view); });
  return out;
}

std::string pipeline_query_shown(const PipelineRow& row) {
  Oid view = view_oid(row.name);
  // Without a view (before 0.3.0) or its rule (a partial restore), the text as written.
  if (!OidIsValid(view) || !rule_target(view)) return row.query;
  std::string now = *pipeline_query_now(row);
  return now == row.definition ? row.query : now;
}

void sync_pipeline_owners() {
  if (!OidIsValid(schema_oid()) || !catalog_has_definitions()) return;
  as_catalog_owner([&] {
    pg::call([&] {
      int rc = SPI_execute(
          "UPDATE _arroyo_stream.pipelines p SET owner = v.relowner::pg_catalog.regrole "
          "FROM pg_catalog.pg_class v "
          "WHERE v.relnamespace = '_arroyo_stream'::pg_catalog.regnamespace "
          "  AND v.relname = 'pipeline ' || p.name AND p.owner::pg_catalog.oid <> v.relowner",
          false, 0);
      if (rc != SPI_OK_UPDATE) elog(ERROR, "arroyo_stream: could not follow owner changes: %d", rc);
    });
  });
}

std::vector<std::string> pipelines_reading(Oid relid, AttrNumber att, bool checkpointed) {
  std::vector<std::string> out;
  // Before 0.3.0 pipelines own no views, hence no dependencies.
  if (!OidIsValid(schema_oid()) || !catalog_has_definitions()) return out;
  Oid types[] = {OIDOID, INT4OID, BOOLOID};
  Datum values[] = {ObjectIdGetDatum(relid), Int32GetDatum(att), BoolGetDatum(checkpointed)};
  as_catalog_owner([&] {
    pg::call([&] {
      int rc = SPI_execute_with_args(
          "SELECT DISTINCT p.name FROM pg_catalog.pg_depend d "
          "JOIN pg_catalog.pg_rewrite r ON d.classid = "
          "'pg_catalog.pg_rewrite'::pg_catalog.regclass "
          "  AND d.objid = r.oid AND r.rulename = '_RETURN' "
          "JOIN pg_catalog.pg_class v ON v.oid = r.ev_class "
          "JOIN _arroyo_stream.pipelines p ON v.relname = 'pipeline ' || p.name "
          "WHERE v.relnamespace = '_arroyo_stream'::pg_catalog.regnamespace "
          "  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass "
          "  AND d.refobjid = $1 AND ($2 = 0 OR d.refobjsubid = $2) "
          "  AND (NOT $3 OR p.checkpoint_epoch > 0) "
          "ORDER BY 1",
          3, types, values, nullptr, true, 0);
      if (rc != SPI_OK_SELECT) elog(ERROR, "arroyo_stream: pipelines_reading failed: %d", rc);
      for (uint64 i = 0; i < SPI_processed; i++)
        out.push_back(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
    });
  });
  return out;
}

void pipeline_rule_created(Oid view) {
  Oid nsp = schema_oid();
  bool ours = pg::call([&] {
    if (get_rel_namespace(view) != nsp) return false;
    const char* n = get_rel_name(view);
    return n && strncmp(n, kViewPrefix, strlen(kViewPrefix)) == 0;
  });
  if (!ours) return;
  std::optional<RuleTarget> target = rule_target(view);
  if (!target) return;
  pg::call([&] {
    ObjectAddress from, to;
    ObjectAddressSet(from, RelationRelationId, view);
    ObjectAddressSet(to, RelationRelationId, target->relid);
    recordDependencyOn(&from, &to, DEPENDENCY_NORMAL);
    CommandCounterIncrement();
  });
}

std::optional<std::string> pipeline_of_view(Oid relid) {
  Oid nsp = schema_oid();
  if (!OidIsValid(nsp)) return std::nullopt;
  std::string relname;
  bool candidate = pg::call([&] {
    if (get_rel_namespace(relid) != nsp || get_rel_relkind(relid) != RELKIND_VIEW) return false;
    const char* n = get_rel_name(relid);
    relname = n ? n : "";
    return true;
  });
  if (!candidate || relname.compare(0, strlen(kViewPrefix), kViewPrefix) != 0) return std::nullopt;
  // DROP EXTENSION: the catalog table may be gone already.
  if (!OidIsValid(pg::call([&] { return get_relname_relid("pipelines", nsp); })))
    return std::nullopt;
  return relname.substr(strlen(kViewPrefix));
}

}  // namespace arroyo
