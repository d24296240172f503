-- sse: 500 000 Server-Sent Events (about 60 bytes of JSON data each) from test/http_server.py
-- on loopback (started by sse.setup) -> a filter and a projection -> regular table. A stream
-- never ends: bench_meta.stop_at_events makes the runner stop the pipeline once rows_in
-- reaches events. The baseline: curl reading the same stream, counting its data lines.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_sse CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 500000 AS events, true AS stop_at_events;
CREATE SERVER bench_sse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'sse');
\set endpoint 'http://127.0.0.1:' :aux_port '/sse/bench?n=500000'
CREATE FOREIGN TABLE bench_events (id bigint, name text, price float8)
  SERVER bench_sse OPTIONS (endpoint :'endpoint', format 'json');
CREATE TABLE bench_out (id bigint, name text);
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT id, upper(name) FROM bench_events WHERE price >= 0$$);
