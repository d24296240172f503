#include "catalog/operator_stats.hpp"

#include "catalog/pipelines.hpp"
#include "pg/guard.hpp"

namespace arroyo {

namespace {

// Whether the extension script that created the catalog has the table (0.4.0 on).
bool has_table() {
  return pg::call([&] {
    Oid nsp = get_namespace_oid("_arroyo_stream", true);
    return OidIsValid(nsp) && OidIsValid(get_relname_relid("operator_stats", nsp));
  });
}

}  // namespace

void catalog_save_node_stats(int32 id, const std::vector<NodeStats>& nodes) {
  if (!has_table()) return;
  as_catalog_owner([&] {
    pg::call([&] {
      Oid del_types[] = {INT4OID};
      Datum del_values[] = {Int32GetDatum(id)};
      // The rows reference the pipeline: one dropped meanwhile gets none (and its row stays
      // locked against a drop until this transaction ends).
      if (SPI_execute_with_args(
              "SELECT 1 FROM _arroyo_stream.pipelines WHERE id = $1 FOR KEY SHARE", 1, del_types,
              del_values, nullptr, false, 0) != SPI_OK_SELECT)
        elog(ERROR, "arroyo_stream: could not read the pipeline");
      if (SPI_processed == 0) return;
      if (SPI_execute_with_args("DELETE FROM _arroyo_stream.operator_stats WHERE pipeline_id = $1",
                                1, del_types, del_values, nullptr, false, 0) != SPI_OK_DELETE)
        elog(ERROR, "arroyo_stream: could not clear operator_stats");
      Oid types[] = {INT4OID, INT4OID, TEXTOID, INT8OID,        INT8OID, INT8OID,
                     INT8OID, INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID};
      for (const NodeStats& n : nodes) {
        Datum values[] = {Int32GetDatum(id),           Int32GetDatum(n.node),
                          CStringGetTextDatum(n.kind), Int64GetDatum(n.rows_in),
                          Int64GetDatum(n.rows_out),   Int64GetDatum(n.late_rows),
                          Int64GetDatum(n.bad_rows),   Int64GetDatum(n.state_bytes),
                          Int64GetDatum(n.state_keys), TimestampTzGetDatum(n.watermark),
                          Int64GetDatum(n.busy_us)};
        char nulls[] = "           ";  // 11 columns, none NULL but these two
        nulls[8] = n.state_keys < 0 ? 'n' : ' ';
        nulls[9] = n.watermark == DT_NOBEGIN ? 'n' : ' ';
        if (SPI_execute_with_args(
                "INSERT INTO _arroyo_stream.operator_stats (pipeline_id, node, kind, rows_in, "
                "rows_out, late_rows, bad_rows, state_bytes, state_keys, watermark, busy_us) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                11, types, values, nulls, false, 0) != SPI_OK_INSERT)
          elog(ERROR, "arroyo_stream: could not record operator_stats");
      }
    });
  });
}

}  // namespace arroyo
