-- Body of parallel_window_p1 / _p2 (psql variable :parallelism): impulse at full speed (40
-- million events, 1 µs of event time apart) -> tumble(interval '1 second') count, sum and
-- avg grouped by counter % 10000 -> regular table, at :parallelism workers.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_impulse CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 40000000 AS events;
CREATE SERVER bench_impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE bench_src (counter bigint) SERVER bench_impulse
  OPTIONS (event_rate '0', message_count '40000000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 microsecond');
CREATE TABLE bench_out (w tstzrange, k bigint, n bigint, total numeric, av numeric);
SELECT stream_create('bench', format($$SET parallelism = %s; INSERT INTO bench_out
  SELECT tumble(interval '1 second') AS w, counter %% 10000, count(*), sum(counter), avg(counter)
  FROM bench_src GROUP BY w, counter %% 10000$$, :parallelism));
