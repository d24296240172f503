-- NATS JetStream -> JSON decode -> filter + projection -> JSON encode -> JetStream: 200 000
-- messages preloaded into stream BENCH_IN by nats_json.setup's nats-server on :aux_port; a
-- third of them are purchases, published to stream BENCH_OUT (each acknowledged by the stream,
-- with its Nats-Msg-Id). The source stops at the stream's end at start (source.stop_at
-- 'latest'), so the pipeline finishes. The baseline (nats_json.baseline.sql) is the independent
-- Python client alone reading the same messages through a pull consumer.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP TABLE IF EXISTS bench_meta;
\set nats_servers '127.0.0.1:' :aux_port
CREATE TABLE bench_meta AS SELECT 200000 AS events;
CREATE SERVER bench_nats FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'nats', servers :'nats_servers');
CREATE FOREIGN TABLE nats_in (id bigint, user_name text, kind text, amount numeric,
                              ts timestamptz)
  SERVER bench_nats OPTIONS (type 'source', stream 'BENCH_IN', format 'json',
                             "source.stop_at" 'latest');
CREATE FOREIGN TABLE nats_out (user_name text, id bigint, amount numeric, minute timestamptz)
  SERVER bench_nats OPTIONS (type 'sink', subject 'bench.out', stream 'BENCH_OUT',
                             format 'json');
SELECT stream_create('bench', $$INSERT INTO nats_out
  SELECT user_name, id, amount * 1.1, date_trunc('minute', ts)
  FROM nats_in WHERE kind = 'buy'$$);
