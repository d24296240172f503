// Validates foreign tables, column options and user mappings with their server's connector,
// right after CREATE/ALTER FOREIGN TABLE, ALTER SERVER and CREATE/ALTER USER MAPPING
// (a wrapper's validator cannot see which server, hence which connector, an option is for).
#include "catalog/pipeline_objects.hpp"
#include "connectors/connector.hpp"
#include "connectors/event_time.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "catalog/pg_foreign_table.h"
#include "access/genam.h"
#include "utils/fmgroids.h"
}

#include <vector>

namespace arroyo {

namespace {

ProcessUtility_hook_type prev_utility_hook = nullptr;

// Whether a server belongs to the arroyo_stream wrapper.
bool is_our_server(Oid serverid) {
  return pg::call([&] {
    ForeignServer* s = GetForeignServer(serverid);
    return strcmp(GetForeignDataWrapper(s->fdwid)->fdwname, "arroyo_stream") == 0;
  });
}

void validate_table(Oid relid) {
  bool ours = pg::call([&] {
    if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE) return false;
    ForeignTable* ft = GetForeignTable(relid);
    ForeignServer* s = GetForeignServer(ft->serverid);
    return strcmp(GetForeignDataWrapper(s->fdwid)->fdwname, "arroyo_stream") == 0;
  });
  if (!ours) return;
  TableSpec spec = load_table_spec(relid, false);
  const Connector& c = connector_of(relid);
  c.validate_table(spec);
  TableRole role = c.role(spec);
  if (role == TableRole::Source) validate_event_time(spec);
  c.check_privileges(spec, role);
}

// The foreign tables of a server.
std::vector<Oid> tables_of_server(Oid serverid) {
  std::vector<Oid> out;
  std::vector<Oid>* outp = &out;
  pg::call([&] {
    Relation rel = table_open(ForeignTableRelationId, AccessShareLock);
    ScanKeyData key;
    ScanKeyInit(&key, Anum_pg_foreign_table_ftserver, BTEqualStrategyNumber, F_OIDEQ,
                ObjectIdGetDatum(serverid));
    SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, nullptr, 1, &key);
    HeapTuple tup;
    while (HeapTupleIsValid(tup = systable_getnext(scan)))
      outp->push_back(((Form_pg_foreign_table)GETSTRUCT(tup))->ftrelid);
    systable_endscan(scan);
    table_close(rel, AccessShareLock);
  });
  return out;
}

// "table", for messages.
std::string relation_label(Oid relid) {
  return pg::call([&] {
    return (const char*)psprintf("\"%s\"", get_rel_name(relid));
  });
}

Oid server_oid(const char* name) {
  return pg::call([&] { return get_foreign_server_oid(name, false); });
}

// Validates what a just-executed statement created or changed.
void validate_after(Node* stmt) {
  switch (nodeTag(stmt)) {
    case T_CreateForeignTableStmt: {
      RangeVar* rv = ((CreateForeignTableStmt*)stmt)->base.relation;
      validate_table(pg::call([&] { return RangeVarGetRelid(rv, NoLock, false); }));
      break;
    }
    case T_AlterTableStmt: {
      RangeVar* rv = ((AlterTableStmt*)stmt)->relation;
      Oid relid = pg::call([&] { return RangeVarGetRelid(rv, NoLock, true); });
      if (OidIsValid(relid)) validate_table(relid);
      break;
    }
    case T_AlterForeignServerStmt: {
      const char* srvname = ((AlterForeignServerStmt*)stmt)->servername;
      Oid srv = server_oid(srvname);
      if (!is_our_server(srv)) break;
      for (Oid relid : tables_of_server(srv)) {
        try {
          validate_table(relid);
        } catch (const pg::Error& e) {
          std::string rel = relation_label(relid);
          throw pg::Error(e.sqlerrcode(),
                          "server \"" + std::string(srvname) + "\" cannot have these options: " +
                              "its foreign table " + rel + " would not be valid: " + e.message(),
                          e.detail(), e.hint());
        }
      }
      break;
    }
    case T_RenameStmt: {
      // ALTER [FOREIGN] TABLE … RENAME COLUMN: a connector may give column names a meaning.
      Oid relid = pg::call([&] { return RangeVarGetRelid(((RenameStmt*)stmt)->relation, NoLock, true); });
      if (OidIsValid(relid)) validate_table(relid);
      break;
    }
    case T_RuleStmt: {
      // The rule of a pipeline's view (stream_create, or restoring a dump): its target
      // dependency, which pg_dump does not carry.
      Oid relid = pg::call([&] { return RangeVarGetRelid(((RuleStmt*)stmt)->relation, NoLock, true); });
      if (OidIsValid(relid)) pipeline_rule_created(relid);
      break;
    }
    case T_CreateUserMappingStmt:
    case T_AlterUserMappingStmt: {
      const char* srvname = IsA(stmt, CreateUserMappingStmt)
                                ? ((CreateUserMappingStmt*)stmt)->servername
                                : ((AlterUserMappingStmt*)stmt)->servername;
      List* options = IsA(stmt, CreateUserMappingStmt) ? ((CreateUserMappingStmt*)stmt)->options
                                                       : ((AlterUserMappingStmt*)stmt)->options;
      Oid srv = server_oid(srvname);
      if (!is_our_server(srv)) break;
      Options opts;
      ListCell* lc;
      foreach (lc, options) {
        DefElem* d = (DefElem*)lfirst(lc);
        if (d->defaction != DEFELEM_DROP) opts[d->defname] = pg::call([&] { return (const char*)defGetString(d); });
      }
      ForeignServer* server = pg::call([&] { return GetForeignServer(srv); });
      auto name = get_option(options_from_list(server->options), "connector");
      const Connector* c = name ? find_connector(*name) : nullptr;
      if (c)
        validate_options(opts, c->user_mapping_options(),
                         std::string("connector \"") + c->name() + "\" user mappings");
      break;
    }
    default:
      break;
  }
}

bool needs_validation(Node* stmt) {
  switch (nodeTag(stmt)) {
    case T_CreateForeignTableStmt:
    case T_AlterForeignServerStmt:
    case T_CreateUserMappingStmt:
    case T_AlterUserMappingStmt:
      return true;
    case T_AlterTableStmt:
      return ((AlterTableStmt*)stmt)->objtype == OBJECT_FOREIGN_TABLE ||
             ((AlterTableStmt*)stmt)->objtype == OBJECT_TABLE;
    case T_RenameStmt:
      return ((RenameStmt*)stmt)->renameType == OBJECT_COLUMN &&
             (((RenameStmt*)stmt)->relationType == OBJECT_FOREIGN_TABLE ||
              ((RenameStmt*)stmt)->relationType == OBJECT_TABLE);
    case T_RuleStmt:
      return true;
    default:
      return false;
  }
}

void utility_hook(PlannedStmt* pstmt, const char* query, bool read_only,
                  ProcessUtilityContext context, ParamListInfo params, QueryEnvironment* env,
                  DestReceiver* dest, QueryCompletion* qc) {
  if (prev_utility_hook)
    prev_utility_hook(pstmt, query, read_only, context, params, env, dest, qc);
  else
    standard_ProcessUtility(pstmt, query, read_only, context, params, env, dest, qc);
  Node* stmt = pstmt->utilityStmt;
  if (!needs_validation(stmt)) return;
  // CREATE FOREIGN TABLE sets column options through ALTER subcommands: validate the table
  // once, after the whole statement, not in its intermediate states.
  if (context == PROCESS_UTILITY_SUBCOMMAND && IsA(stmt, AlterTableStmt)) return;
  pg::entry([&] {
    pg::call([&] { CommandCounterIncrement(); });
    validate_after(stmt);
  });
}

}  // namespace

void install_ddl_hook() {
  prev_utility_hook = ProcessUtility_hook;
  ProcessUtility_hook = utility_hook;
  install_pipeline_object_hooks();
}

}  // namespace arroyo
