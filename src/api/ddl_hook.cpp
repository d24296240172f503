// Validates foreign tables, column options and user mappings with their server's connector,
// right after CREATE/ALTER FOREIGN TABLE, ALTER SERVER and CREATE/ALTER USER MAPPING
// (a wrapper's validator cannot see which server, hence which connector, an option is for).
#include "connectors/cdc/cdc.hpp"
#include "core/connector.hpp"
#include "core/event_time.hpp"
#include "formats/raw_string.hpp"
#include "pg/guard.hpp"
#include "worker/slots.hpp"

extern "C" {
#include "catalog/pg_foreign_table.h"
#include "access/genam.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
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
      Oid srv = server_oid(((AlterForeignServerStmt*)stmt)->servername);
      if (is_our_server(srv))
        for (Oid relid : tables_of_server(srv)) validate_table(relid);
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

// Whether the statement is a DROP EXTENSION of arroyo_stream, installed here, by its owner (so
// the drop will not fail for want of privileges after the pipelines were stopped).
bool drops_our_extension(Node* stmt) {
  if (!IsA(stmt, DropStmt) || ((DropStmt*)stmt)->removeType != OBJECT_EXTENSION) return false;
  ListCell* lc;
  foreach (lc, ((DropStmt*)stmt)->objects) {
    if (strcmp(strVal(lfirst(lc)), "arroyo_stream") != 0) continue;
    return pg::call([&] {
      Oid ext = get_extension_oid("arroyo_stream", true);
      return OidIsValid(ext) && pg_extension_ownercheck(ext, GetUserId());
    });
  }
  return false;
}

// The database a DROP DATABASE drops, if it exists and the caller owns it (else InvalidOid).
Oid dropped_database(Node* stmt) {
  if (!IsA(stmt, DropdbStmt)) return InvalidOid;
  return pg::call([&] {
    Oid db = get_database_oid(((DropdbStmt*)stmt)->dbname, true);
    return OidIsValid(db) && pg_database_ownercheck(db, GetUserId()) ? db : InvalidOid;
  });
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
    default:
      return false;
  }
}

void utility_hook(PlannedStmt* pstmt, const char* query, bool read_only,
                  ProcessUtilityContext context, ParamListInfo params, QueryEnvironment* env,
                  DestReceiver* dest, QueryCompletion* qc) {
  Node* parsed = pstmt->utilityStmt;
  // DROP EXTENSION and DROP DATABASE stop the pipelines first, cleanly (a final checkpoint,
  // 'stopped' recorded): a worker must not find its catalog, or its database, gone. The
  // database's own slots are dropped with the extension (DROP DATABASE drops them itself).
  bool dropping_extension = false;
  pg::entry([&] {
    dropping_extension = drops_our_extension(parsed);
    if (dropping_extension) slots::stop_database_workers(MyDatabaseId);
    if (Oid db = dropped_database(parsed); OidIsValid(db)) slots::stop_database_workers(db);
    return (Datum)0;
  });
  if (prev_utility_hook)
    prev_utility_hook(pstmt, query, read_only, context, params, env, dest, qc);
  else
    standard_ProcessUtility(pstmt, query, read_only, context, params, env, dest, qc);
  Node* stmt = pstmt->utilityStmt;
  if (dropping_extension) {
    pg::entry([&] {
      drop_cdc_slots_of_database(MyDatabaseId);
      return (Datum)0;
    });
    return;
  }
  if (!needs_validation(stmt)) return;
  // CREATE FOREIGN TABLE sets column options through ALTER subcommands: validate the table
  // once, after the whole statement, not in its intermediate states.
  if (context == PROCESS_UTILITY_SUBCOMMAND && IsA(stmt, AlterTableStmt)) return;
  pg::entry([&] {
    pg::call([&] { CommandCounterIncrement(); });
    // pg_dump's scripts run with check_function_bodies off (as pg_restore does): checks that
    // need statements still to come (column options) wait for the table's use.
    struct Defer {
      bool saved = raw_string_defer_column_count;
      Defer() { raw_string_defer_column_count = !check_function_bodies; }
      ~Defer() { raw_string_defer_column_count = saved; }
    } defer;
    validate_after(stmt);
  });
}

}  // namespace

void install_ddl_hook() {
  prev_utility_hook = ProcessUtility_hook;
  ProcessUtility_hook = utility_hook;
}

}  // namespace arroyo
