// The SQL functions behind parallelism's views: stream_workers (each worker of a pipeline that
// runs as several, from shared memory) and stream_pipelines.parallelism.
#include "pg/guard.hpp"
#include "planner/planner.hpp"
#include "worker/slots.hpp"

extern "C" {
#include "funcapi.h"
#include "utils/builtins.h"
}

using namespace arroyo;

extern "C" {

PG_FUNCTION_INFO_V1(arroyo_stream_live_workers);
PG_FUNCTION_INFO_V1(arroyo_stream_query_parallelism);

// _arroyo_stream.live_workers(): one row per worker of this database's running pipelines that
// run as several workers.
Datum arroyo_stream_live_workers(PG_FUNCTION_ARGS) {
  ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
  InitMaterializedSRF(fcinfo, 0);
  static WorkerStatus workers[kSlotMaxWorkers];
  for (int i = 0; i < slots::count(); i++) {
    int32 pipeline_id = 0;
    int n = slots::read_workers(i, MyDatabaseId, &pipeline_id, workers);
    for (int k = 0; k < n; k++) {
      const WorkerStatus& w = workers[k];
      Datum values[8];
      bool nulls[8] = {false};
      values[0] = Int32GetDatum(pipeline_id);
      values[1] = Int32GetDatum(w.worker);
      values[2] = Int32GetDatum(w.pid);
      nulls[2] = w.pid == 0;
      values[3] = Int64GetDatum(w.rows_in);
      values[4] = Int64GetDatum(w.rows_out);
      values[5] = Int64GetDatum(w.state_bytes);
      values[6] = TimestampTzGetDatum(w.watermark);
      nulls[6] = w.watermark == DT_NOBEGIN;
      values[7] = Int64GetDatum(w.busy_us);
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
  }
  return (Datum)0;
}

// _arroyo_stream.query_parallelism(query): the workers the query's SET parallelism asks for (1
// without one, or for a text that no longer parses).
Datum arroyo_stream_query_parallelism(PG_FUNCTION_ARGS) {
  text* query = PG_GETARG_TEXT_PP(0);
  int n = pg::entry([&] {
    try {
      return pipeline_settings(pg::call([&] { return (const char*)text_to_cstring(query); }))
          .parallelism;
    } catch (const pg::Error&) {
      return 1;
    }
  });
  PG_RETURN_INT32(n);
}

}  // extern "C"
