-- Body of parallel_agg_p1 / parallel_agg_p2 (psql variable :parallelism): 12 million events over
-- 1 million keys -> count(*) and sum(counter) per key (the updating_1m_keys query), flushes and
-- checkpoints every second, into `blackhole` (the engine's own cost: a table target's upserts
-- are bound by PostgreSQL's WAL), at :parallelism workers.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_impulse CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 12000000 AS events;
CREATE SERVER bench_impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE bench_src (counter bigint) SERVER bench_impulse
  OPTIONS (event_rate '0', message_count '12000000');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE bench_out (k bigint, n bigint, total numeric) SERVER bench_blackhole;
SELECT stream_create('bench', format($$SET parallelism = %s; INSERT INTO bench_out
  SELECT counter %% 1000000, count(*), sum(counter) FROM bench_src GROUP BY counter %% 1000000$$,
  :parallelism));
