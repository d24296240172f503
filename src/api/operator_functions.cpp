// The live per-operator counters behind the stream_operators view (shared memory).
#include "pg/guard.hpp"
#include "worker/slots.hpp"

using namespace arroyo;

extern "C" {

PG_FUNCTION_INFO_V1(arroyo_stream_live_operators);

// _arroyo_stream.live_operators(): one row per plan node of this database's running pipelines.
Datum arroyo_stream_live_operators(PG_FUNCTION_ARGS) {
  ReturnSetInfo* rsinfo = (ReturnSetInfo*)fcinfo->resultinfo;
  InitMaterializedSRF(fcinfo, 0);
  static NodeStats nodes[kSlotMaxNodes];
  for (int i = 0; i < slots::count(); i++) {
    int32 pipeline_id = 0;
    int n = slots::read_nodes(i, MyDatabaseId, &pipeline_id, nodes);
    for (int k = 0; k < n; k++) {
      const NodeStats& s = nodes[k];
      Datum values[11];
      bool nulls[11] = {false};
      values[0] = Int32GetDatum(pipeline_id);
      values[1] = Int32GetDatum(s.node);
      values[2] = CStringGetTextDatum(s.kind);
      values[3] = Int64GetDatum(s.rows_in);
      values[4] = Int64GetDatum(s.rows_out);
      values[5] = Int64GetDatum(s.late_rows);
      values[6] = Int64GetDatum(s.bad_rows);
      values[7] = Int64GetDatum(s.state_bytes);
      values[8] = Int64GetDatum(s.state_keys);
      nulls[8] = s.state_keys < 0;
      values[9] = TimestampTzGetDatum(s.watermark);
      nulls[9] = s.watermark == DT_NOBEGIN;
      values[10] = Int64GetDatum(s.busy_us);
      tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
  }
  return (Datum)0;
}

}  // extern "C"
