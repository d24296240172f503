-- updating_1m_keys into `blackhole` instead of a table: the same 3 million events over 1 million
-- keys, count(*) and sum(counter) per key, flushes and checkpoints, without the target table's
-- upserts — the aggregate's own cost.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_impulse CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 3000000 AS events;
CREATE SERVER bench_impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE bench_src (counter bigint) SERVER bench_impulse
  OPTIONS (event_rate '0', message_count '3000000');
CREATE FOREIGN TABLE bench_out (k bigint, n bigint, total numeric) SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT counter % 1000000, count(*), sum(counter) FROM bench_src GROUP BY counter % 1000000$$);
