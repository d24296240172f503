// Validates foreign tables, column options and user mappings with their server's connector,
// right after CREATE/ALTER FOREIGN TABLE (RENAME COLUMN included), ALTER SERVER and
// CREATE/ALTER USER MAPPING (a wrapper's validator cannot see which server, hence which
// connector, an option is for). It also keeps DDL from breaking pipelines (renaming a column a
// pipeline reads by name, changing an option a checkpoint refers to), and keeps the catalog in
// step with the pipelines' views (their target dependency after CREATE RULE, their owner after
// REASSIGN OWNED); see catalog/pipeline_objects.hpp.
#include "catalog/pipeline_objects.hpp"
#include "connectors/cdc/cdc.hpp"
#include "core/connector.hpp"
#include "core/event_time.hpp"
#include "formats/raw_string.hpp"
#include "pg/guard.hpp"
#include "worker/slots.hpp"

extern "C" {
#include "catalog/pg_foreign_table.h"
#include "utils/relcache.h"
#include "access/genam.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "utils/fmgroids.h"
}

#include <vector>

namespace arroyo {

void install_pipeline_drop_hook();  // pipeline_drop_hook.cpp

namespace {

ProcessUtility_hook_type prev_utility_hook = nullptr;

// Whether a server belongs to the arroyo_stream wrapper.
bool is_our_server(Oid serverid) {
  return pg::call([&] {
    ForeignServer* s = GetForeignServer(serverid);
    return strcmp(GetForeignDataWrapper(s->fdwid)->fdwname, "arroyo_stream") == 0;
  });
}

// Whether a relation is a foreign table of the arroyo_stream wrapper.
bool is_our_table(Oid relid) {
  return pg::call([&] {
    if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE) return false;
    ForeignTable* ft = GetForeignTable(relid);
    ForeignServer* s = GetForeignServer(ft->serverid);
    return strcmp(GetForeignDataWrapper(s->fdwid)->fdwname, "arroyo_stream") == 0;
  });
}

void validate_table(Oid relid) {
  if (!is_our_table(relid)) return;
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
  return pg::call([&] { return (const char*)psprintf("\"%s\"", get_rel_name(relid)); });
}

// A regular table whose changes a pipeline reads must keep identifying its old rows (a
// primary key, REPLICA IDENTITY USING INDEX or FULL), as stream_create required.
void check_change_capture(Oid relid) {
  bool identified = pg::call([&] {
    if (get_rel_relkind(relid) != RELKIND_RELATION) return true;
    Relation rel = relation_open(relid, NoLock);
    bool ok = rel->rd_rel->relreplident == REPLICA_IDENTITY_FULL ||
              OidIsValid(RelationGetReplicaIndex(rel));
    relation_close(rel, NoLock);
    return ok;
  });
  if (identified) return;
  std::vector<std::string> readers = pipelines_reading(relid, 0, false);
  if (readers.empty()) return;
  pg::fail(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
           "table " + relation_label(relid) +
               " would no longer identify its rows, but pipeline \"" + readers[0] +
               "\" reads its changes",
           "Updates and deletes must identify the old row (a primary key, REPLICA IDENTITY USING "
           "INDEX or REPLICA IDENTITY FULL), so that the pipeline can retract it.",
           "Keep a primary key, or set REPLICA IDENTITY FULL first.");
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
      if (((AlterTableStmt*)stmt)->objtype == OBJECT_VIEW) {
        sync_pipeline_owners();  // ALTER VIEW _arroyo_stream."pipeline p" OWNER TO …
        break;
      }
      RangeVar* rv = ((AlterTableStmt*)stmt)->relation;
      Oid relid = pg::call([&] { return RangeVarGetRelid(rv, NoLock, true); });
      if (!OidIsValid(relid)) break;
      validate_table(relid);
      check_change_capture(relid);
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
      // ALTER [FOREIGN] TABLE … RENAME COLUMN: a connector gives column names a meaning (a
      // JSON field, an impulse column): validated as CREATE would, and refused while a
      // pipeline reads the column (it would read another field; a table's CDC is followed).
      RenameStmt* rs = (RenameStmt*)stmt;
      Oid relid = pg::call([&] { return RangeVarGetRelid(rs->relation, NoLock, true); });
      if (!OidIsValid(relid) || !is_our_table(relid)) break;
      validate_table(relid);
      AttrNumber att = pg::call([&] { return get_attnum(relid, rs->newname); });
      std::vector<std::string> readers = pipelines_reading(relid, att, false);
      if (!readers.empty())
        pg::fail(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
                 "cannot rename column \"" + std::string(rs->subname) + "\" of foreign table " +
                     relation_label(relid) + ": pipeline \"" + readers[0] + "\" reads it",
                 "The connector finds a column's values by the column's name: the pipeline would "
                 "read something else.",
                 "Drop the pipeline (stream_drop), rename the column, and create the pipeline "
                 "again.");
      break;
    }
    case T_ReassignOwnedStmt:
      sync_pipeline_owners();  // the pipelines' views changed owner
      break;
    case T_RuleStmt: {
      // The rule of a pipeline's view (stream_create, or restoring a dump): its target
      // dependency, which pg_dump does not carry.
      Oid relid =
          pg::call([&] { return RangeVarGetRelid(((RuleStmt*)stmt)->relation, NoLock, true); });
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
        if (d->defaction != DEFELEM_DROP)
          opts[d->defname] = pg::call([&] { return (const char*)defGetString(d); });
      }
      ForeignServer* server = pg::call([&] { return GetForeignServer(srv); });
      auto name = get_option(options_from_list(server->options), "connector");
      const Connector* c = name ? find_connector(*name) : nullptr;
      if (c)
        validate_options(opts, c->user_mapping_options(),
                         std::string("connector \"") + c->name() + "\" user mappings");
      break;
    }
    default: break;
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
    case T_AlterUserMappingStmt: return true;
    case T_AlterTableStmt:
      return ((AlterTableStmt*)stmt)->objtype == OBJECT_FOREIGN_TABLE ||
             ((AlterTableStmt*)stmt)->objtype == OBJECT_TABLE ||
             ((AlterTableStmt*)stmt)->objtype == OBJECT_VIEW;
    case T_RenameStmt:
      return ((RenameStmt*)stmt)->renameType == OBJECT_COLUMN &&
             (((RenameStmt*)stmt)->relationType == OBJECT_FOREIGN_TABLE ||
              ((RenameStmt*)stmt)->relationType == OBJECT_TABLE);
    case T_RuleStmt:
    case T_ReassignOwnedStmt: return true;
    default: return false;
  }
}

// --- options a checkpoint refers to ----------------------------------------------------

struct PositionSnapshot {
  Oid relid;
  std::string connector;
  std::vector<std::string> checkpointed;  // Connector::checkpointed_options()
  Options options;                        // the table's and its server's
};

// Filled before an ALTER FOREIGN TABLE or ALTER SERVER runs, checked after it.
std::vector<PositionSnapshot> position_snapshots;

// The foreign tables of ours whose options `stmt` may change.
std::vector<Oid> tables_with_changing_options(Node* stmt) {
  std::vector<Oid> out;
  if (IsA(stmt, AlterTableStmt) && ((AlterTableStmt*)stmt)->objtype == OBJECT_FOREIGN_TABLE) {
    Oid relid =
        pg::call([&] { return RangeVarGetRelid(((AlterTableStmt*)stmt)->relation, NoLock, true); });
    if (OidIsValid(relid)) out.push_back(relid);
  } else if (IsA(stmt, AlterForeignServerStmt)) {
    Oid srv = pg::call(
        [&] { return get_foreign_server_oid(((AlterForeignServerStmt*)stmt)->servername, true); });
    if (OidIsValid(srv) && is_our_server(srv)) out = tables_of_server(srv);
  }
  std::vector<Oid> ours;
  for (Oid r : out)
    if (is_our_table(r)) ours.push_back(r);
  return ours;
}

PositionSnapshot snapshot_of(Oid relid) {
  TableSpec spec = load_table_spec(relid, false);
  const Connector& c = connector_of(relid);
  PositionSnapshot snap{relid, c.name(), c.checkpointed_options(), spec.table_options};
  for (const auto& [k, v] : spec.server_options) snap.options[k] = v;
  return snap;
}

void snapshot_positions(Node* stmt) {
  position_snapshots.clear();
  for (Oid relid : tables_with_changing_options(stmt)) {
    PositionSnapshot snap = snapshot_of(relid);
    if (!snap.checkpointed.empty()) position_snapshots.push_back(std::move(snap));
  }
}

// Refuses a change of an option a pipeline's checkpoint refers to, naming the pipeline.
void check_positions() {
  std::vector<PositionSnapshot> before = std::move(position_snapshots);
  position_snapshots.clear();
  for (const PositionSnapshot& was : before) {
    PositionSnapshot now = snapshot_of(was.relid);
    for (const std::string& opt : was.checkpointed) {
      auto a = was.options.find(opt);
      auto b = now.options.find(opt);
      std::string va = a == was.options.end() ? "" : a->second;
      std::string vb = b == now.options.end() ? "" : b->second;
      if (va == vb) continue;
      std::vector<std::string> readers = pipelines_reading(was.relid, 0, true);
      if (readers.empty()) break;
      pg::fail(ERRCODE_OBJECT_IN_USE,
               "cannot change option \"" + opt + "\" of foreign table " +
                   relation_label(was.relid) + ": the checkpoint of pipeline \"" + readers[0] +
                   "\" refers to it",
               "The pipeline resumes from positions in what \"" + opt + "\" names (connector \"" +
                   was.connector + "\"); they would point into something else.",
               "Drop the pipeline (stream_drop) and create it again to start from scratch, or "
               "read the new " +
                   opt + " through a new foreign table.");
    }
  }
}

void utility_hook(PlannedStmt* pstmt, const char* query, bool read_only,
                  ProcessUtilityContext context, ParamListInfo params, QueryEnvironment* env,
                  DestReceiver* dest, QueryCompletion* qc) {
  Node* parsed = pstmt->utilityStmt;
  bool check_options = context != PROCESS_UTILITY_SUBCOMMAND &&
                       (IsA(parsed, AlterTableStmt) || IsA(parsed, AlterForeignServerStmt));
  if (check_options) pg::entry([&] { snapshot_positions(parsed); });
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
    if (check_options) check_positions();
  });
}

}  // namespace

void install_ddl_hook() {
  prev_utility_hook = ProcessUtility_hook;
  ProcessUtility_hook = utility_hook;
  install_pipeline_drop_hook();
}

}  // namespace arroyo
