-- arroyo_stream 0.3.0: streaming SQL pipelines running as background workers.
\echo Use "CREATE EXTENSION arroyo_stream" to load this file. \quit

-- Fails early, with a clear message, when the library was not preloaded.
CREATE FUNCTION @extschema@.arroyo_stream_check_preload() RETURNS void
  AS 'MODULE_PATHNAME', 'arroyo_stream_check_preload' LANGUAGE C STRICT;
SELECT @extschema@.arroyo_stream_check_preload();
DROP FUNCTION @extschema@.arroyo_stream_check_preload();

-- The extension's own catalog; reachable only through the functions below.
CREATE SCHEMA _arroyo_stream;
REVOKE ALL ON SCHEMA _arroyo_stream FROM PUBLIC;

CREATE TABLE _arroyo_stream.pipelines (
  id          serial PRIMARY KEY,
  name        text NOT NULL UNIQUE CHECK (name <> ''),
  query       text NOT NULL,
  owner       regrole NOT NULL,
  search_path text NOT NULL,  -- the creator's search_path: names in the query resolve with it
  state       text NOT NULL DEFAULT 'created'
              CHECK (state IN ('created', 'running', 'finished', 'stopped', 'failed')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  finished_at timestamptz,
  rows_in     bigint NOT NULL DEFAULT 0,
  rows_out    bigint NOT NULL DEFAULT 0,
  bad_rows    bigint NOT NULL DEFAULT 0,
  late_rows   bigint NOT NULL DEFAULT 0,
  state_bytes bigint NOT NULL DEFAULT 0,
  last_error  text,
  checkpoint_epoch bigint NOT NULL DEFAULT 0,  -- the last checkpoint committed (0: none)
  -- worker starts since the pipeline last made progress (a checkpoint, a minute of running,
  -- or stream_start): a worker that keeps dying before that is not restarted forever
  unprogressed_starts int NOT NULL DEFAULT 0,
  -- the query deparsed from the pipeline's view and rule at stream_create (see pipeline_query)
  definition  text
);
REVOKE ALL ON _arroyo_stream.pipelines FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('_arroyo_stream.pipelines', '');
SELECT pg_catalog.pg_extension_config_dump('_arroyo_stream.pipelines_id_seq', '');

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

-- Live status of this database's running pipeline workers (shared memory).
CREATE FUNCTION _arroyo_stream.live_status(
  OUT pipeline_id int, OUT state text, OUT pid int, OUT started_at timestamptz,
  OUT rows_in bigint, OUT rows_out bigint, OUT bad_rows bigint, OUT late_rows bigint,
  OUT watermark timestamptz, OUT last_error text, OUT state_bytes bigint,
  OUT source_status text)
  RETURNS SETOF record AS 'MODULE_PATHNAME', 'arroyo_stream_live_status' LANGUAGE C STRICT;

-- The foreign data wrapper behind every source and sink.
CREATE FUNCTION @extschema@.arroyo_stream_fdw_handler() RETURNS fdw_handler
  AS 'MODULE_PATHNAME', 'arroyo_stream_fdw_handler' LANGUAGE C STRICT;
CREATE FUNCTION @extschema@.arroyo_stream_fdw_validator(text[], oid) RETURNS void
  AS 'MODULE_PATHNAME', 'arroyo_stream_fdw_validator' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER arroyo_stream
  HANDLER @extschema@.arroyo_stream_fdw_handler
  VALIDATOR @extschema@.arroyo_stream_fdw_validator;

-- Pipeline lifecycle.
CREATE FUNCTION @extschema@.stream_create(name text, query text) RETURNS void
  AS 'MODULE_PATHNAME', 'arroyo_stream_create' LANGUAGE C STRICT;
CREATE FUNCTION @extschema@.stream_start(name text) RETURNS void
  AS 'MODULE_PATHNAME', 'arroyo_stream_start' LANGUAGE C STRICT;
CREATE FUNCTION @extschema@.stream_stop(name text) RETURNS void
  AS 'MODULE_PATHNAME', 'arroyo_stream_stop' LANGUAGE C STRICT;
CREATE FUNCTION @extschema@.stream_drop(name text) RETURNS void
  AS 'MODULE_PATHNAME', 'arroyo_stream_drop' LANGUAGE C STRICT;
CREATE FUNCTION @extschema@.stream_wait(name text, timeout interval DEFAULT '30 seconds')
  RETURNS text AS 'MODULE_PATHNAME', 'arroyo_stream_wait' LANGUAGE C STRICT;

-- Time windows, used as GROUP BY keys in pipelines; their value is the window's [start, end).
CREATE FUNCTION @extschema@.tumble(width interval) RETURNS tstzrange
  AS 'MODULE_PATHNAME', 'arroyo_stream_window_marker' LANGUAGE C VOLATILE;
CREATE FUNCTION @extschema@.hop(slide interval, width interval) RETURNS tstzrange
  AS 'MODULE_PATHNAME', 'arroyo_stream_window_marker' LANGUAGE C VOLATILE;
CREATE FUNCTION @extschema@.session(gap interval) RETURNS tstzrange
  AS 'MODULE_PATHNAME', 'arroyo_stream_window_marker' LANGUAGE C VOLATILE;

-- The current row's event time, inside a pipeline.
CREATE FUNCTION @extschema@.row_time() RETURNS timestamptz
  AS 'MODULE_PATHNAME', 'arroyo_stream_row_time' LANGUAGE C VOLATILE;

-- A pipeline's query: as written, or, once something it uses was renamed, as its view
-- _arroyo_stream."pipeline <name>" and that view's rule "writes" read now.
CREATE FUNCTION _arroyo_stream.pipeline_query(id int) RETURNS text
  AS 'MODULE_PATHNAME', 'arroyo_stream_pipeline_query' LANGUAGE C STABLE STRICT;

-- Pipelines and their status. Like pg_stat_activity, the query text and errors of other roles'
-- pipelines are shown only to superusers and members of pg_read_all_stats.
CREATE VIEW @extschema@.stream_pipelines AS
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

-- The last 100 checkpoints of every pipeline.
CREATE VIEW @extschema@.stream_checkpoints AS
SELECT p.name AS pipeline, c.epoch, c.finished_at AS "time", c.bytes,
       pg_catalog.make_interval(secs => c.duration_ms / 1000) AS duration
FROM _arroyo_stream.checkpoints c
JOIN _arroyo_stream.pipelines p ON p.id = c.pipeline_id;
GRANT SELECT ON @extschema@.stream_checkpoints TO PUBLIC;
