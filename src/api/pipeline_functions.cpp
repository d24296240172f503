// SQL-callable pipeline lifecycle: stream_create, stream_start, stream_stop, stream_drop,
// stream_wait, and the live status behind the stream_pipelines view.
#include "catalog/pipeline_objects.hpp"
#include "catalog/pipelines.hpp"
#include "core/operator.hpp"
#include "pg/guard.hpp"
#include "pg/wait.hpp"
#include "planner/planner.hpp"
#include "state/checkpoint_store.hpp"
#include "worker/launch.hpp"
#include "worker/group_run.hpp"
#include "worker/slots.hpp"

namespace arroyo {

extern bool loaded_at_preload;

namespace {

std::string text_arg(FunctionCallInfo fcinfo, int n) {
  return pg::call([&] { return (const char*)text_to_cstring(PG_GETARG_TEXT_PP(n)); });
}

std::string quoted(const std::string& name) { return "\"" + name + "\""; }

PipelineRow find_pipeline(const std::string& name) {
  auto row = catalog_find(name);
  if (!row) pg::fail(ERRCODE_UNDEFINED_OBJECT, "pipeline " + quoted(name) + " does not exist");
  return *row;
}

// Only the owner (or a member of the owning role, or a superuser) may manage a pipeline.
void check_owner(const PipelineRow& row) {
  bool ok = pg::call([&] { return has_privs_of_role(GetUserId(), row.owner); });
  if (!ok)
    pg::fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "must be owner of pipeline " + quoted(row.name));
}

// Pipelines run as a worker connected as their owner, so the owner must be able to log in.
void check_owner_can_login(Oid owner) {
  bool can_login = false;
  const char* rolname = nullptr;
  pg::call([&] {
    HeapTuple tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(owner));
    if (!HeapTupleIsValid(tup)) elog(ERROR, "role %u does not exist", owner);
    Form_pg_authid role = (Form_pg_authid)GETSTRUCT(tup);
    can_login = role->rolcanlogin;
    rolname = pstrdup(NameStr(role->rolname));
    ReleaseSysCache(tup);
  });
  if (!can_login)
    pg::fail(ERRCODE_INSUFFICIENT_PRIVILEGE,
             std::string("role \"") + rolname + "\" cannot own a pipeline: it cannot log in",
             "A pipeline runs as a background worker connected as its owner.",
             "Create the pipeline as a role with LOGIN.");
}

// Plans the query as `owner`, so its privileges (not the caller's) decide.
void validate_as(Oid owner, const std::string& query, const std::string& search_path) {
  Oid saved_user;
  int saved_sec;
  pg::call([&] {
    GetUserIdAndSecContext(&saved_user, &saved_sec);
    SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
  });
  try {
    plan_pipeline(query, search_path.c_str());
  } catch (...) {
    pg::call([&] { SetUserIdAndSecContext(saved_user, saved_sec); });
    throw;
  }
  pg::call([&] { SetUserIdAndSecContext(saved_user, saved_sec); });
}

// Asks a running pipeline's worker to stop and waits until it has.
void stop_worker(const PipelineRow& row) { slots::stop_and_wait(MyDatabaseId, row.id); }

}  // namespace

}  // namespace arroyo

using namespace arroyo;

extern "C" {

PG_FUNCTION_INFO_V1(arroyo_stream_check_preload);
PG_FUNCTION_INFO_V1(arroyo_stream_create);
PG_FUNCTION_INFO_V1(arroyo_stream_start);
PG_FUNCTION_INFO_V1(arroyo_stream_stop);
PG_FUNCTION_INFO_V1(arroyo_stream_rescale);
PG_FUNCTION_INFO_V1(arroyo_stream_drop);
PG_FUNCTION_INFO_V1(arroyo_stream_wait);
PG_FUNCTION_INFO_V1(arroyo_stream_pipeline_query);
PG_FUNCTION_INFO_V1(arroyo_stream_live_status);
PG_FUNCTION_INFO_V1(arroyo_stream_row_time);
PG_FUNCTION_INFO_V1(arroyo_stream_window_marker);

// Fails CREATE EXTENSION unless the library was loaded through shared_preload_libraries.
Datum arroyo_stream_check_preload(PG_FUNCTION_ARGS) {
  if (!loaded_at_preload)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("arroyo_stream must be loaded via shared_preload_libraries"),
                    errhint("Add arroyo_stream to shared_preload_libraries in postgresql.conf and "
                            "restart the server.")));
  PG_RETURN_VOID();
}

// stream_create(name, query): validates the query as the current user and stores it.
Datum arroyo_stream_create(PG_FUNCTION_ARGS) {
  return pg::entry([&] {
    std::string name = text_arg(fcinfo, 0);
    std::string query = text_arg(fcinfo, 1);
    if (name.empty()) pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "pipeline name cannot be empty");
    if (catalog_find(name))
      pg::fail(ERRCODE_DUPLICATE_OBJECT, "pipeline " + quoted(name) + " already exists");
    if (int(name.size()) > kMaxPipelineNameLen)
      pg::fail(ERRCODE_NAME_TOO_LONG, "pipeline name \"" + name + "\" is too long",
               "A pipeline owns a view named \"pipeline <name>\", which must fit in " +
                   std::to_string(NAMEDATALEN - 1) + " bytes.",
               "Use a name of at most " + std::to_string(kMaxPipelineNameLen) + " bytes.");
    Oid owner = GetUserId();
    check_owner_can_login(owner);
    plan_pipeline(query);
    std::string search_path =
        pg::call([&] { return GetConfigOption("search_path", false, false); });
    int32 id = catalog_insert(name, query, owner, search_path);
    if (!catalog_has_definitions()) return (Datum)0;  // extension script older than 0.3.0
    pipeline_objects_create(name, query, owner);
    // What a worker will run: the query as stored in the view and rule, deparsed. It must plan
    // like the text as written did.
    std::string stored = *pipeline_query_now(*catalog_get(id));
    try {
      validate_as(owner, stored, search_path);
    } catch (const pg::Error& e) {
      pg::fail(ERRCODE_FEATURE_NOT_SUPPORTED,
               "pipeline " + quoted(name) + " cannot be stored: " + e.message(),
               "A pipeline is stored as a view over its SELECT and a rule writing to its target, "
               "and runs what they read back as:\n" +
                   stored,
               "Write the SELECT's column types explicitly (casts) to match the target.");
    }
    catalog_set_definition(id, stored);
    return (Datum)0;
  });
}

namespace {

// Marks the pipeline running and starts its worker (which waits for this transaction).
void start_pipeline(const PipelineRow& row) {
  check_owner_can_login(row.owner);
  validate_as(row.owner, pipeline_query_now(row).value_or(row.query), row.search_path);
  // A worker that has just recorded its end may not have given its slot back yet.
  TimestampTz deadline = GetCurrentTimestamp() + 10 * USECS_PER_SEC;
  for (std::optional<SlotState> st; (st = slots::find_state(MyDatabaseId, row.id)) &&
                                    is_terminal(*st) && GetCurrentTimestamp() < deadline;)
    pg::wait_latch(10);
  int index = slots::claim(MyDatabaseId, row.id, row.name.c_str());
  try {
    catalog_mark_started(row.id);
  } catch (...) {
    slots::release(index);
    throw;
  }
  TransactionId xid = pg::call([&] { return GetTopTransactionId(); });
  PipelineWorkerArgs args{MyDatabaseId, row.owner, row.id, index, xid};
  launch_pipeline_worker(args, row.name.c_str(), true);
}

}  // namespace

// stream_start(name): marks the pipeline running and starts its worker.
Datum arroyo_stream_start(PG_FUNCTION_ARGS) {
  return pg::entry([&] {
    PipelineRow row = find_pipeline(text_arg(fcinfo, 0));
    check_owner(row);
    start_pipeline(row);
    return (Datum)0;
  });
}

// stream_rescale(name, parallelism): the pipeline runs as `parallelism` workers from now on
// (its text's SET parallelism is replaced). A running pipeline stops, with a final
// checkpoint, and starts again; its state is redistributed by key group as it resumes.
Datum arroyo_stream_rescale(PG_FUNCTION_ARGS) {
  return pg::entry([&] {
    PipelineRow row = find_pipeline(text_arg(fcinfo, 0));
    check_owner(row);
    int32 n = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
    if (n < 1 || n > 32)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "parallelism must be an integer from 1 to 32");
    row.query = with_parallelism(row.query, n);
    std::optional<std::string> now;
    if (catalog_has_definitions()) now = pipeline_query_now(row);
    // The new text must plan (max_prepared_transactions, a target several workers can write).
    validate_as(row.owner, now.value_or(row.query), row.search_path);
    bool running = row.state == "running";
    if (running) {
      stop_worker(row);
      catalog_mark_ended(row.id, "stopped", {}, {}, false);
    }
    catalog_set_query(row.id, row.query);
    if (now) catalog_set_definition(row.id, *now);
    if (running) start_pipeline(row);
    return (Datum)0;
  });
}

// stream_stop(name): stops the worker (it commits what it has written) and records 'stopped'.
Datum arroyo_stream_stop(PG_FUNCTION_ARGS) {
  return pg::entry([&] {
    PipelineRow row = find_pipeline(text_arg(fcinfo, 0));
    check_owner(row);
    stop_worker(row);
    catalog_mark_ended(row.id, "stopped", {}, {}, false);
    return (Datum)0;
  });
}

// stream_drop(name): stops the pipeline if it runs, then removes it.
Datum arroyo_stream_drop(PG_FUNCTION_ARGS) {
  return pg::entry([&] {
    PipelineRow row = find_pipeline(text_arg(fcinfo, 0));
    check_owner(row);
    stop_worker(row);
    drop_pipeline_resources(MyDatabaseId, row.id);
    resolve_prepared_at_drop(MyDatabaseId, row.id, row.owner);
    CheckpointStore::remove_all(row.id);
    catalog_delete(row.id);
    pipeline_objects_drop(row.name);
    return (Datum)0;
  });
}

// stream_wait(name, timeout): waits for finished, failed or stopped; returns the state.
Datum arroyo_stream_wait(PG_FUNCTION_ARGS) {
  return pg::entry([&] {
    std::string name = text_arg(fcinfo, 0);
    Interval* timeout = PG_GETARG_INTERVAL_P(1);
    int64 timeout_us = timeout->time + int64(timeout->day) * USECS_PER_DAY +
                       int64(timeout->month) * 30 * USECS_PER_DAY;
    TimestampTz deadline = GetCurrentTimestamp() + timeout_us;
    std::string state;
    while (true) {
      PipelineRow row = find_pipeline(name);
      state = row.state;
      if (std::optional<SlotState> st = slots::find_state(MyDatabaseId, row.id))
        state = slot_state_name(*st);
      if (state == "finished" || state == "failed" || state == "stopped") break;
      if (GetCurrentTimestamp() >= deadline) break;
      pg::wait_latch(10);
    }
    return pg::call([&] { return PointerGetDatum(cstring_to_text(state.c_str())); });
  });
}

// _arroyo_stream.pipeline_query(id): the query stream_pipelines shows (pipeline_objects.hpp).
Datum arroyo_stream_pipeline_query(PG_FUNCTION_ARGS) {
  int32 id = PG_GETARG_INT32(0);
  return pg::entry([&] {
    std::optional<PipelineRow> row = catalog_get(id);
    if (!row) return (Datum)0;
    std::string q = pipeline_query_shown(*row);
    return pg::call([&] { return PointerGetDatum(cstring_to_text(q.c_str())); });
  });
}

// Live status of this database's pipeline workers, from shared memory.
Datum arroyo_stream_live_status(PG_FUNCTION_ARGS) {
  ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
  InitMaterializedSRF(fcinfo, 0);
  for (int i = 0; i < slots::count(); i++) {
    SlotStatus copy;
    if (!slots::read(i, MyDatabaseId, &copy)) continue;
    Datum values[12];
    bool nulls[12] = {false};
    values[0] = Int32GetDatum(copy.pipeline_id);
    values[1] = CStringGetTextDatum(slot_state_name(copy.state));
    values[2] = Int32GetDatum(copy.pid);
    nulls[2] = copy.pid == 0;
    values[3] = TimestampTzGetDatum(copy.started_at);
    values[4] = Int64GetDatum(copy.rows_in);
    values[5] = Int64GetDatum(copy.rows_out);
    values[6] = Int64GetDatum(copy.bad_rows);
    values[7] = Int64GetDatum(copy.late_rows);
    values[8] = TimestampTzGetDatum(copy.watermark);
    nulls[8] = TIMESTAMP_NOT_FINITE(copy.watermark);
    values[9] = CStringGetTextDatum(copy.last_error);
    nulls[9] = copy.last_error[0] == '\0';
    values[10] = Int64GetDatum(copy.state_bytes);
    values[11] = CStringGetTextDatum(copy.source_status);
    nulls[11] = copy.source_status[0] == '\0' || is_terminal(copy.state);
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  }
  return (Datum)0;
}

// tumble(), hop(), session(): markers the planner turns into windows; never evaluated.
Datum arroyo_stream_window_marker(PG_FUNCTION_ARGS) {
  ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                  errmsg("%s() can only be used as a GROUP BY key of a pipeline",
                         get_func_name(fcinfo->flinfo->fn_oid))));
  PG_RETURN_NULL();
}

// row_time(): the event time of the row a pipeline is evaluating.
Datum arroyo_stream_row_time(PG_FUNCTION_ARGS) {
  if (!current_row_time_valid)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("row_time() can only be used in a pipeline")));
  PG_RETURN_TIMESTAMPTZ(current_row_time);
}

}  // extern "C"
