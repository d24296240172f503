-- arroyo_stream 0.2.0 -> 0.3.0: pipelines own a view and a rule (dependencies).
\echo Use "ALTER EXTENSION arroyo_stream UPDATE TO '0.3.0'" to load this file. \quit

-- Pipelines created before 0.3.0 have no view: they keep running from their text as written.
ALTER TABLE _arroyo_stream.pipelines ADD COLUMN definition text;

-- A pipeline's query: as written, or, once something it uses was renamed, as its view
-- _arroyo_stream."pipeline <name>" and that view's rule "writes" read now.
CREATE FUNCTION _arroyo_stream.pipeline_query(id int) RETURNS text
  AS 'MODULE_PATHNAME', 'arroyo_stream_pipeline_query' LANGUAGE C STABLE STRICT;

-- Pipelines and their status. Like pg_stat_activity, the query text and errors of other roles'
-- pipelines are shown only to superusers and members of pg_read_all_stats.
CREATE OR REPLACE VIEW @extschema@.stream_pipelines AS
SELECT p.name,
       coalesce(s.state, p.state) AS state,
       CASE WHEN v.visible THEN _arroyo_stream.pipeline_query(p.id) ELSE '<insufficient privilege>' END AS query,
       p.owner,
       coalesce(s.started_at, p.started_at) AS started_at,
       coalesce(s.rows_in, p.rows_in) AS rows_in,
       coalesce(s.rows_out, p.rows_out) AS rows_out,
       coalesce(s.bad_rows, p.bad_rows) AS bad_rows,
       coalesce(s.late_rows, p.late_rows) AS late_rows,
       s.watermark,
       coalesce(s.state_bytes, p.state_bytes) AS state_bytes,
       CASE WHEN v.visible THEN coalesce(s.last_error, p.last_error)
            WHEN coalesce(s.last_error, p.last_error) IS NOT NULL THEN '<insufficient privilege>'
       END AS last_error,
       s.pid,
       (SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.restart_lsn)::bigint
        FROM pg_catalog.pg_replication_slots r
        WHERE r.slot_name = 'arroyo_' || (SELECT d.oid FROM pg_catalog.pg_database d
                                          WHERE d.datname = pg_catalog.current_database())
                            || '_' || p.id) AS slot_lag_bytes,
       CASE WHEN v.visible THEN s.source_status
            WHEN s.source_status IS NOT NULL THEN '<insufficient privilege>'
       END AS source_status,
       (SELECT c.finished_at FROM _arroyo_stream.checkpoints c
        WHERE c.pipeline_id = p.id AND c.epoch = p.checkpoint_epoch) AS last_checkpoint_at
FROM _arroyo_stream.pipelines p
LEFT JOIN _arroyo_stream.live_status() s ON s.pipeline_id = p.id
CROSS JOIN LATERAL (
  SELECT pg_catalog.pg_has_role(p.owner, 'USAGE')
         OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE') AS visible) v;
GRANT SELECT ON @extschema@.stream_pipelines TO PUBLIC;
