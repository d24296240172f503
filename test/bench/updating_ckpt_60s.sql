-- Checkpoint cost on throughput: impulse at full speed (20 million events) -> count(*) and
-- sum(counter) per counter % 100000 -> keyed table, checkpointing every 60 s (every changed
-- group's state and the table writes in one transaction each time).
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_impulse CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 20000000 AS events;
CREATE SERVER bench_impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE bench_src (counter bigint) SERVER bench_impulse
  OPTIONS (event_rate '0', message_count '20000000');
CREATE TABLE bench_out (k bigint PRIMARY KEY, n bigint, total numeric);
SELECT stream_create('bench', $$SET checkpoint_interval = '60 seconds';
  INSERT INTO bench_out
  SELECT counter % 100000, count(*), sum(counter) FROM bench_src GROUP BY counter % 100000$$);
