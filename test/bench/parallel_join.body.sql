-- Body of parallel_join_p1 / _p2 (psql variable :parallelism): two impulse streams of 2
-- million events each, joined on their counters (an updating inner join keeping both sides)
-- under an updating aggregate by counter % 1000, at :parallelism workers.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_impulse CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 4000000 AS events;
CREATE SERVER bench_impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE bench_a (counter bigint) SERVER bench_impulse
  OPTIONS (event_rate '0', message_count '2000000');
CREATE FOREIGN TABLE bench_b (counter bigint) SERVER bench_impulse
  OPTIONS (event_rate '0', message_count '2000000');
CREATE TABLE bench_out (k bigint PRIMARY KEY, n bigint, total numeric);
SELECT stream_create('bench', format($$SET parallelism = %s; INSERT INTO bench_out
  SELECT a.counter %% 1000, count(*), sum(b.counter)
  FROM bench_a a JOIN bench_b b ON b.counter = a.counter GROUP BY 1$$, :parallelism));
