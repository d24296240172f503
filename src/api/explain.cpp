// stream_explain(query, format): the dataflow a pipeline query plans to, or that of an existing
// pipeline (by name) as it would plan now, without creating or starting anything.
#include "catalog/pipeline_objects.hpp"
#include "catalog/pipelines.hpp"
#include "pg/guard.hpp"
#include "planner/explain.hpp"
#include "planner/planner.hpp"
#include "worker/launch.hpp"

extern "C" {
#include "catalog/pg_authid.h"
#include "parser/parser.h"
}

namespace arroyo {

namespace {

// Plans `query` as `owner` (as stream_start does), restoring the caller's identity after.
LogicalPlan plan_as(Oid owner, const std::string& query, const std::string& search_path) {
  Oid saved_user;
  int saved_sec;
  pg::call([&] {
    GetUserIdAndSecContext(&saved_user, &saved_sec);
    SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
  });
  try {
    LogicalPlan plan = plan_pipeline(query, search_path.c_str());
    pg::call([&] { SetUserIdAndSecContext(saved_user, saved_sec); });
    return plan;
  } catch (...) {
    pg::call([&] { SetUserIdAndSecContext(saved_user, saved_sec); });
    throw;
  }
}

// The plan to explain: an existing pipeline's (when `arg` names one), else `arg` as a query.
LogicalPlan plan_for(const std::string& arg) {
  if (std::optional<PipelineRow> row = catalog_find(arg)) {
    // Its query is visible to whoever stream_pipelines shows it to.
    bool visible = pg::call([&] {
      return has_privs_of_role(GetUserId(), row->owner) ||
             has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
    });
    if (!visible)
      pg::fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of pipeline \"" + row->name + "\"",
               "Explaining a pipeline by name needs membership in its owner role or in "
               "pg_read_all_stats.");
    return plan_as(row->owner, pipeline_query_now(*row).value_or(row->query), row->search_path);
  }
  // A pipeline query has whitespace ("INSERT INTO …"); a single word is a pipeline's name.
  if (arg.find_first_of(" \t\n\r\f\v") == std::string::npos)
    pg::fail(ERRCODE_UNDEFINED_OBJECT, "pipeline \"" + arg + "\" does not exist", {},
             "stream_explain takes a pipeline's name or a pipeline query "
             "(INSERT INTO … SELECT …).");
  // A query to preview (ending with a SELECT) explains as stream_preview runs it.
  bool select = pg::call([&] {
    List* raw = raw_parser(arg.c_str(), RAW_PARSE_DEFAULT);
    return raw != NIL && IsA(llast_node(RawStmt, raw)->stmt, SelectStmt);
  });
  if (select) return plan_preview(arg);
  return plan_pipeline(arg);  // as stream_create plans it: as the current user
}

}  // namespace

}  // namespace arroyo

using namespace arroyo;

extern "C" {

PG_FUNCTION_INFO_V1(arroyo_stream_explain);

// stream_explain(query text, format text DEFAULT 'text') RETURNS SETOF text.
Datum arroyo_stream_explain(PG_FUNCTION_ARGS) {
  return pg::entry([&] {
    std::string arg = pg::call([&] { return (const char*)text_to_cstring(PG_GETARG_TEXT_PP(0)); });
    std::string format =
        pg::call([&] { return (const char*)text_to_cstring(PG_GETARG_TEXT_PP(1)); });
    if (format != "text" && format != "json")
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "unknown stream_explain format \"" + format + "\"",
               {}, "Use 'text' or 'json'.");
    LogicalPlan plan = plan_for(arg);
    ExplainDefaults defaults{int64(checkpoint_interval_ms) * 1000,
                             int64(update_flush_interval_ms) * 1000,
                             int64(updating_ttl_s) * USECS_PER_SEC};
    std::vector<std::string> lines = explain_plan(plan, defaults, format == "json");
    pg::call([&] {
      ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
      InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
      for (const std::string& line : lines) {
        Datum value = CStringGetTextDatum(line.c_str());
        bool null = false;
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &null);
      }
    });
    return (Datum)0;
  });
}

}  // extern "C"
