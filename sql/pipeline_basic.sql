-- A bounded impulse through a filter and a projection into a table, with date/time functions.
CREATE SERVER impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE ticks (counter bigint, subtask_index int) SERVER impulse
  OPTIONS (event_rate '0', message_count '1000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 minute');
CREATE TABLE results (
  n bigint PRIMARY KEY,
  parity text,
  ts timestamptz,
  hour_start timestamptz,
  minute_part double precision,
  minute_extract numeric,
  from_epoch timestamptz,
  subtask int,
  event_time timestamptz
);
SELECT stream_create('basic', $$
  INSERT INTO results
  SELECT counter,
         CASE WHEN counter % 2 = 0 THEN 'even' ELSE 'odd' END,
         timestamptz '2026-01-01 00:00:00+00' + counter * interval '1 minute',
         date_trunc('hour', timestamptz '2026-01-01 00:00:00+00' + counter * interval '1 minute'),
         date_part('minute', timestamptz '2026-01-01 00:00:00+00' + counter * interval '1 minute'),
         extract(minute FROM timestamptz '2026-01-01 00:00:00+00' + counter * interval '1 minute'),
         to_timestamp(1767225600 + counter * 60),
         subtask_index,
         row_time()
  FROM ticks
  WHERE counter % 100 < 3 AND counter >= 100
$$);
SELECT name, state, rows_in, rows_out, last_error, pid FROM stream_pipelines;
SELECT stream_start('basic');
SELECT stream_wait('basic');
SELECT name, state, rows_in, rows_out, bad_rows, last_error, pid FROM stream_pipelines;
SELECT n, parity, ts AT TIME ZONE 'UTC' AS ts, hour_start AT TIME ZONE 'UTC' AS hour_start,
       minute_part, minute_extract, from_epoch = ts AS epoch_ok, subtask, event_time = ts AS time_ok
FROM results ORDER BY n;
-- A finished pipeline started again resumes from its last checkpoint: its source has ended
-- there, so nothing is read again and it finishes at once.
TRUNCATE results;
SELECT stream_start('basic');
SELECT stream_wait('basic');
SELECT count(*), sum(n) FROM results;
SELECT stream_drop('basic');
SELECT count(*) FROM stream_pipelines;

-- A pipeline's query text may start with SET statements.
CREATE TABLE evens (n bigint);
SELECT stream_create('evens', $$SET checkpoint_interval = '100 milliseconds';
  INSERT INTO evens SELECT counter FROM ticks WHERE counter % 2 = 0$$);
SELECT stream_start('evens');
SELECT stream_wait('evens');
SELECT count(*), min(n), max(n) FROM evens;
SELECT stream_drop('evens');
DROP SERVER impulse CASCADE;
DROP TABLE results, evens;
