-- Body of parallel_agg_p1 / parallel_agg_p2 (psql variable :parallelism): 4 million events over
-- 1 million keys -> count(*) and sum(counter) per key (the updating_1m_keys query), at
-- :parallelism workers.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_impulse CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 4000000 AS events;
CREATE SERVER bench_impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE bench_src (counter bigint) SERVER bench_impulse
  OPTIONS (event_rate '0', message_count '4000000');
CREATE TABLE bench_out (k bigint PRIMARY KEY, n bigint, total numeric);
SELECT stream_create('bench', format($$SET parallelism = %s; INSERT INTO bench_out
  SELECT counter %% 1000000, count(*), sum(counter) FROM bench_src GROUP BY counter %% 1000000$$,
  :parallelism));
