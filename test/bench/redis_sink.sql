-- Impulse -> projection -> JSON encode -> Redis strings: 1 000 000 rows, each a
-- SET bench:<counter> '{"counter":…,"label":"n…"}', pipelined, to redis-server on :aux_port
-- (started by redis_sink.setup). The baseline is redis-cli --pipe sending the same commands.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_redis CASCADE;
DROP SERVER IF EXISTS bench_redis_ticks CASCADE;
DROP TABLE IF EXISTS bench_meta;
CREATE TABLE bench_meta AS SELECT 1000000 AS events;
CREATE SERVER bench_redis_ticks FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE bench_ticks (counter bigint) SERVER bench_redis_ticks
  OPTIONS (event_rate '0', message_count '1000000');
\set address 'redis://127.0.0.1:' :aux_port
CREATE SERVER bench_redis FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'redis', address :'address');
CREATE FOREIGN TABLE bench_kv (counter bigint, label text) SERVER bench_redis
  OPTIONS (type 'sink', target 'string', "target.key_prefix" 'bench:', "target.key_column" 'counter');
SELECT stream_create('bench', $$INSERT INTO bench_kv SELECT counter, 'n' || counter FROM bench_ticks$$);
