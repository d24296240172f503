-- arroyo_stream 0.1.0 -> 0.2.0: checkpoints (state, source positions, recovery).
\echo Use "ALTER EXTENSION arroyo_stream UPDATE TO '0.2.0'" to load this file. \quit

ALTER TABLE _arroyo_stream.pipelines ADD COLUMN checkpoint_epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE _arroyo_stream.pipelines ADD COLUMN unprogressed_starts int NOT NULL DEFAULT 0;

-- Checkpoints: every pipeline's operator state, source positions and sink bookkeeping, one row
-- per (node, part, key), rewritten incrementally in the pipeline's own transactions.
CREATE TABLE _arroyo_stream.state (
  pipeline_id int NOT NULL,
  node        int NOT NULL,     -- operator i is i; source i is -1 - i
  part        bigint NOT NULL,  -- entries dropped together (a window pane)
  key         bytea NOT NULL,
  value       bytea NOT NULL,
  PRIMARY KEY (pipeline_id, node, part, key)
) WITH (fillfactor = 80);  -- room for entries rewritten in place (HOT updates)
REVOKE ALL ON _arroyo_stream.state FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('_arroyo_stream.state', '');

CREATE TABLE _arroyo_stream.checkpoints (
  pipeline_id int NOT NULL,
  epoch       bigint NOT NULL,
  finished_at timestamptz NOT NULL,
  duration_ms float8 NOT NULL,
  bytes       bigint NOT NULL,  -- state bytes written (keys and values)
  fingerprint text NOT NULL,    -- the dataflow that wrote it: operators, types, source and sink
  PRIMARY KEY (pipeline_id, epoch)
);
REVOKE ALL ON _arroyo_stream.checkpoints FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('_arroyo_stream.checkpoints', '');

-- Pipelines and their status. Like pg_stat_activity, the query text and errors of other roles'
-- pipelines are shown only to superusers and members of pg_read_all_stats.
CREATE OR REPLACE VIEW @extschema@.stream_pipelines AS
SELECT p.name,
       coalesce(s.state, p.state) AS state,
       CASE WHEN v.visible THEN p.query ELSE '<insufficient privilege>' END AS query,
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

-- The last 100 checkpoints of every pipeline.
CREATE VIEW @extschema@.stream_checkpoints AS
SELECT p.name AS pipeline, c.epoch, c.finished_at AS "time", c.bytes,
       pg_catalog.make_interval(secs => c.duration_ms / 1000) AS duration
FROM _arroyo_stream.checkpoints c
JOIN _arroyo_stream.pipelines p ON p.id = c.pipeline_id;
GRANT SELECT ON @extschema@.stream_checkpoints TO PUBLIC;
