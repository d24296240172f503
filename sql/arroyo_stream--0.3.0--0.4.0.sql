-- arroyo_stream 0.3.0 -> 0.4.0 (also how 0.4.0 installs: CREATE EXTENSION runs 0.3.0's script,
-- then this one). Each feature's SQL objects follow, in sections.
\echo Use "ALTER EXTENSION arroyo_stream UPDATE TO '0.4.0'" to load this file. \quit

-- ==== Observability: stream_explain, stream_operators, stream_pipelines.lag (issue 20) ====

-- The dataflow a query (or an existing pipeline, by name) plans to, without creating anything.
CREATE FUNCTION @extschema@.stream_explain(query text, format text DEFAULT 'text')
  RETURNS SETOF text AS 'MODULE_PATHNAME', 'arroyo_stream_explain' LANGUAGE C STRICT;

-- Live per-operator counters of this database's running pipelines (shared memory).
CREATE FUNCTION _arroyo_stream.live_operators(
  OUT pipeline_id int, OUT node int, OUT kind text, OUT rows_in bigint, OUT rows_out bigint,
  OUT late_rows bigint, OUT bad_rows bigint, OUT state_bytes bigint, OUT state_keys bigint,
  OUT watermark timestamptz, OUT busy_us bigint)
  RETURNS SETOF record AS 'MODULE_PATHNAME', 'arroyo_stream_live_operators' LANGUAGE C STRICT;

-- The per-operator counters of each pipeline's last run, recorded when its worker ended.
CREATE TABLE _arroyo_stream.operator_stats (
  pipeline_id int NOT NULL REFERENCES _arroyo_stream.pipelines (id) ON DELETE CASCADE,
  node        int NOT NULL,
  kind        text NOT NULL,
  rows_in     bigint NOT NULL,
  rows_out    bigint NOT NULL,
  late_rows   bigint NOT NULL,
  bad_rows    bigint NOT NULL,
  state_bytes bigint NOT NULL,
  state_keys  bigint,
  watermark   timestamptz,
  busy_us     bigint NOT NULL,
  PRIMARY KEY (pipeline_id, node)
);
REVOKE ALL ON _arroyo_stream.operator_stats FROM PUBLIC;

-- One row per (pipeline, plan node): live while a worker runs, else the last run's.
CREATE VIEW @extschema@.stream_operators AS
SELECT p.name AS pipeline, o.node, o.kind, o.rows_in, o.rows_out, o.late_rows, o.bad_rows,
       o.state_bytes, o.state_keys, o.watermark,
       pg_catalog.make_interval(secs => o.busy_us / 1000000.0) AS busy_time
FROM _arroyo_stream.pipelines p
JOIN (SELECT * FROM _arroyo_stream.live_operators()
      UNION ALL
      SELECT s.pipeline_id, s.node, s.kind, s.rows_in, s.rows_out, s.late_rows, s.bad_rows,
             s.state_bytes, s.state_keys, s.watermark, s.busy_us
      FROM _arroyo_stream.operator_stats s
      WHERE s.pipeline_id NOT IN (SELECT l.pipeline_id FROM _arroyo_stream.live_status() l)) o
  ON o.pipeline_id = p.id;
GRANT SELECT ON @extschema@.stream_operators TO PUBLIC;

-- stream_pipelines gains the event-time lag and the last checkpoint's duration (at the end).
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
       pg_catalog.make_interval(secs => c.duration_ms / 1000) AS last_checkpoint_duration
FROM _arroyo_stream.pipelines p
LEFT JOIN _arroyo_stream.live_status() s ON s.pipeline_id = p.id
LEFT JOIN _arroyo_stream.checkpoints c ON c.pipeline_id = p.id AND c.epoch = p.checkpoint_epoch
CROSS JOIN LATERAL (
  SELECT pg_catalog.pg_has_role(p.owner, 'USAGE')
         OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE') AS visible) v;

-- REST API (issue 20 item 4): bearer tokens of the API worker. A role makes its own token with
-- stream_api_token_create(name); only the token's SHA-256 hash is kept. Tokens are not dumped
-- (no pg_extension_config_dump): role oids differ in another cluster; make new ones there.
CREATE TABLE _arroyo_stream.api_tokens (
  role       oid NOT NULL,
  role_name  name NOT NULL,  -- checked with the oid at each request, against a reused oid
  name       text NOT NULL CHECK (name <> ''),
  hash       bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (role, name)
);
REVOKE ALL ON _arroyo_stream.api_tokens FROM PUBLIC;
CREATE FUNCTION @extschema@.stream_api_token_create(name text) RETURNS text
  AS 'MODULE_PATHNAME', 'arroyo_stream_api_token_create' LANGUAGE C STRICT VOLATILE;
CREATE FUNCTION @extschema@.stream_api_token_revoke(name text, role regrole DEFAULT NULL)
  RETURNS void AS 'MODULE_PATHNAME', 'arroyo_stream_api_token_revoke' LANGUAGE C VOLATILE;
-- The tokens of the roles whose privileges the current user has (never their hashes).
CREATE VIEW @extschema@.stream_api_tokens WITH (security_barrier) AS
SELECT r.oid::regrole AS role, t.name, t.created_at
FROM _arroyo_stream.api_tokens t
JOIN pg_catalog.pg_roles r ON r.oid = t.role AND r.rolname = t.role_name
WHERE pg_catalog.pg_has_role(r.oid, 'USAGE');
GRANT SELECT ON @extschema@.stream_api_tokens TO PUBLIC;
