// The arroyo_stream foreign data wrapper: its handler (foreign tables are streams, read only by
// pipelines) and its validator (server options, checked by the server's connector).
#include "core/connector.hpp"
#include "pg/guard.hpp"

extern "C" {
#include "catalog/pg_foreign_data_wrapper.h"
}

namespace arroyo {

namespace {

// Direct queries on a stream are refused with a pointer to pipelines (a source) or to where
// its rows go (a sink).
void refuse_scan(PlannerInfo*, RelOptInfo*, Oid relid) {
  char connector[NAMEDATALEN];  // no C++ object may live across the ereport below
  bool sink = pg::entry([&] {
    const Connector& c = connector_of(relid);
    strlcpy(connector, c.name(), sizeof(connector));
    return c.role(load_table_spec(relid, false)) == TableRole::Sink;
  });
  if (sink)
    ereport(ERROR,
            (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
             errmsg("foreign table \"%s\" is a sink and cannot be queried", get_rel_name(relid)),
             errdetail("Pipelines write into it; connector \"%s\" sends the rows on and "
                       "keeps none.",
                       connector),
             errhint("Read the rows where the sink sends them, or have the pipeline "
                     "write into a regular table to query them.")));
  ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                  errmsg("foreign table \"%s\" is a stream and cannot be queried directly",
                         get_rel_name(relid)),
                  errhint("Read it in a pipeline: SELECT stream_create(name, 'INSERT INTO … "
                          "SELECT … FROM %s').",
                          get_rel_name(relid))));
}

void validate_server_options(const Options& all) {
  auto name = get_option(all, "connector");
  std::string known;
  for (const auto& n : connector_names()) known += (known.empty() ? "" : ", ") + n;
  if (!name)
    pg::fail(ERRCODE_FDW_OPTION_NAME_NOT_FOUND,
             "missing required option \"connector\" for an arroyo_stream server",
             "Valid connectors are: " + known + ".");
  const Connector* c = find_connector(*name);
  if (!c)
    pg::fail(ERRCODE_FDW_INVALID_OPTION_NAME,
             "invalid value for option \"connector\": \"" + *name + "\"",
             "Valid connectors are: " + known + ".");
  Options rest = all;
  rest.erase("connector");
  c->validate_server_options(rest);
}

}  // namespace

}  // namespace arroyo

using namespace arroyo;

extern "C" {

PG_FUNCTION_INFO_V1(arroyo_stream_fdw_handler);
PG_FUNCTION_INFO_V1(arroyo_stream_fdw_validator);

Datum arroyo_stream_fdw_handler(PG_FUNCTION_ARGS) {
  FdwRoutine* routine = makeNode(FdwRoutine);
  routine->GetForeignRelSize = [](PlannerInfo* root, RelOptInfo* rel, Oid relid) {
    refuse_scan(root, rel, relid);
  };
  PG_RETURN_POINTER(routine);
}

// Checks options where the catalog alone tells the connector: the wrapper and its servers.
// Table, column and user-mapping options depend on the server's connector; they are checked
// after the statement by the DDL hook (ddl_hook.cpp).
Datum arroyo_stream_fdw_validator(PG_FUNCTION_ARGS) {
  List* options = untransformRelOptions(PG_GETARG_DATUM(0));
  Oid catalog = PG_GETARG_OID(1);
  return pg::entry([&] {
    Options opts = options_from_list(options);
    if (catalog == ForeignDataWrapperRelationId)
      validate_options(opts, {}, "the arroyo_stream wrapper");
    else if (catalog == ForeignServerRelationId)
      validate_server_options(opts);
    return (Datum)0;
  });
}

}  // extern "C"
