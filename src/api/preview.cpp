// stream_preview(query, max_rows, timeout): a query's rows as a temporary pipeline produces
// them, without creating anything (src/worker/preview.hpp).
#include "pg/guard.hpp"
#include "planner/planner.hpp"
#include "worker/preview.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/timestamp.h"
}

namespace arroyo {

namespace {

// An interval as microseconds (a month as 30 days, as interval comparisons count it).
int64 interval_us(const Interval* i) {
  return i->time + int64(i->day) * USECS_PER_DAY + int64(i->month) * 30 * USECS_PER_DAY;
}

}  // namespace

}  // namespace arroyo

using namespace arroyo;

extern "C" {

PG_FUNCTION_INFO_V1(arroyo_stream_preview);

// stream_preview(query text, max_rows integer DEFAULT 100, timeout interval DEFAULT '10 s')
// RETURNS TABLE (op text, window_start timestamptz, window_end timestamptz, "row" json).
Datum arroyo_stream_preview(PG_FUNCTION_ARGS) {
  return pg::entry([&] {
    if (PG_ARGISNULL(0))
      pg::fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "the query to preview must not be NULL");
    std::string query =
        pg::call([&] { return (const char*)text_to_cstring(PG_GETARG_TEXT_PP(0)); });
    int64 max_rows = PG_ARGISNULL(1) ? -1 : PG_GETARG_INT32(1);
    if (!PG_ARGISNULL(1) && max_rows <= 0)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "max_rows must be positive (NULL: no limit)");
    int64 timeout_us = PG_ARGISNULL(2) ? 0 : interval_us(PG_GETARG_INTERVAL_P(2));
    if (!PG_ARGISNULL(2) && timeout_us <= 0)
      pg::fail(ERRCODE_INVALID_PARAMETER_VALUE, "timeout must be positive (NULL: none)");
    // Planned here first, so that what the query cannot do fails as it would at stream_create.
    plan_preview(query);
    std::string search_path =
        pg::call([&] { return (const char*)GetConfigOption("search_path", false, false); });
    pg::call([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
    ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
    TimestampTz deadline = timeout_us ? GetCurrentTimestamp() + timeout_us : 0;
    PreviewSession session(query, search_path, max_rows);
    PreviewRow row;
    for (int64 n = 0; max_rows < 0 || n < max_rows; n++) {
      if (session.next(row, deadline) != PreviewSession::Next::Row) break;
      pg::call([&] {
        Datum values[4];
        bool nulls[4] = {false, !row.has_window, !row.has_window, false};
        values[0] = CStringGetTextDatum(row.deleted ? "delete" : "insert");
        values[1] = TimestampTzGetDatum(row.window_start);
        values[2] = TimestampTzGetDatum(row.window_end);
        values[3] = CStringGetTextDatum(row.json.c_str());
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
      });
    }
    return (Datum)0;
  });
}

}  // extern "C"
