-- arroyo_stream 0.5.0 -> 0.6.0 (also how 0.6.0 installs: CREATE EXTENSION runs 0.3.0's script,
-- then 0.3.0--0.4.0, 0.4.0--0.5.0 and this one). Each feature's SQL objects follow, in sections.
\echo Use "ALTER EXTENSION arroyo_stream UPDATE TO '0.6.0'" to load this file. \quit

-- ==== Parallelism (issue 21) ====

-- The workers of this database's pipelines that run as several (SET parallelism), live.
CREATE FUNCTION _arroyo_stream.live_workers(
  OUT pipeline_id int, OUT worker int, OUT pid int, OUT rows_in bigint, OUT rows_out bigint,
  OUT state_bytes bigint, OUT watermark timestamptz, OUT busy_us bigint)
  RETURNS SETOF record AS 'MODULE_PATHNAME', 'arroyo_stream_live_workers' LANGUAGE C STRICT;

-- The number of workers a pipeline's query asks for (its SET parallelism; 1 without one).
CREATE FUNCTION _arroyo_stream.query_parallelism(query text) RETURNS int
  AS 'MODULE_PATHNAME', 'arroyo_stream_query_parallelism' LANGUAGE C STRICT STABLE;

-- One row per worker of each running pipeline: rows read (its share of the sources) and
-- written, state, watermark and time spent, so that skew between workers shows.
CREATE VIEW @extschema@.stream_workers AS
SELECT p.name AS pipeline, w.worker, w.pid, w.rows_in, w.rows_out, w.state_bytes, w.watermark,
       pg_catalog.make_interval(secs => w.busy_us / 1000000.0) AS busy_time
FROM _arroyo_stream.pipelines p
JOIN _arroyo_stream.live_workers() w ON w.pipeline_id = p.id;
GRANT SELECT ON @extschema@.stream_workers TO PUBLIC;

-- stream_pipelines gains the parallelism (at the end).
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
       c.finished_at AS last_checkpoint_at,
       pg_catalog.clock_timestamp() - s.watermark AS lag,
       pg_catalog.make_interval(secs => c.duration_ms / 1000) AS last_checkpoint_duration,
       _arroyo_stream.query_parallelism(p.query) AS parallelism
FROM _arroyo_stream.pipelines p
LEFT JOIN _arroyo_stream.live_status() s ON s.pipeline_id = p.id
LEFT JOIN _arroyo_stream.checkpoints c ON c.pipeline_id = p.id AND c.epoch = p.checkpoint_epoch
CROSS JOIN LATERAL (
  SELECT pg_catalog.pg_has_role(p.owner, 'USAGE')
         OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE') AS visible) v;
