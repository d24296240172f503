-- impulse at full speed (10 million events) -> filter + projection -> regular table.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_impulse CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 10000000 AS events;
CREATE SERVER bench_impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE bench_src (counter bigint, subtask_index int) SERVER bench_impulse
  OPTIONS (event_rate '0', message_count '10000000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 millisecond');
CREATE TABLE bench_out (n bigint, bucket int, label text, minute timestamptz);
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT counter, (counter % 1000)::int, 'item-' || (counter % 10),
         date_trunc('minute', row_time())
  FROM bench_src WHERE counter % 4 = 0$$);
