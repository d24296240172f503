-- impulse at full speed (10 million events, 1 µs of event time apart) -> hop(interval '1 second', interval '1 minute')
-- count and sum grouped by counter % 1000 -> regular table.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_impulse CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 10000000 AS events;
CREATE SERVER bench_impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE bench_src (counter bigint) SERVER bench_impulse
  OPTIONS (event_rate '0', message_count '10000000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 microsecond');
CREATE TABLE bench_out (w tstzrange, k bigint, n bigint, total numeric);
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT hop(interval '1 second', interval '1 minute') AS w, counter % 1000, count(*), sum(counter)
  FROM bench_src GROUP BY w, counter % 1000$$);
