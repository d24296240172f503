-- Runtime errors fail only their own pipeline, with the message in stream_pipelines.
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE ten (counter bigint, subtask_index int) SERVER imp
  OPTIONS (event_rate '0', message_count '10');
CREATE FOREIGN TABLE slow (counter bigint) SERVER imp OPTIONS (event_rate '20');
CREATE TABLE sink_a (n bigint NOT NULL, q numeric);
CREATE TABLE sink_slow (n bigint);

-- A long-running pipeline that must survive the failures below.
SELECT stream_create('steady', 'INSERT INTO sink_slow SELECT counter FROM slow');
SELECT stream_start('steady');
SELECT stream_start('steady');
SELECT stream_wait('steady', '100 milliseconds');

-- Division by zero.
SELECT stream_create('divide', 'INSERT INTO sink_a SELECT counter, 10 / (counter - 5) FROM ten');
SELECT stream_start('divide');
SELECT stream_wait('divide');
SELECT name, state, last_error, pid FROM stream_pipelines WHERE name = 'divide';
-- The failed transaction left nothing behind.
SELECT count(*) FROM sink_a;

-- A constraint violation in the target.
SELECT stream_create('nulls', 'INSERT INTO sink_a SELECT nullif(counter, 7), 0 FROM ten');
SELECT stream_start('nulls');
SELECT stream_wait('nulls');
SELECT name, state, last_error FROM stream_pipelines WHERE name = 'nulls';

-- An error raised by a user-defined function; fixing the function lets it run again.
CREATE FUNCTION checked(n bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  IF n = 3 THEN RAISE EXCEPTION 'counter % is unlucky', n USING DETAIL = 'three is right out'; END IF;
  RETURN n;
END $$;
SELECT stream_create('udf', 'INSERT INTO sink_a SELECT checked(counter), counter FROM ten');
SELECT stream_start('udf');
SELECT stream_wait('udf');
SELECT name, state, last_error FROM stream_pipelines WHERE name = 'udf';
CREATE OR REPLACE FUNCTION checked(n bigint) RETURNS bigint LANGUAGE sql AS 'SELECT n * 100';
SELECT stream_start('udf');
SELECT stream_wait('udf');
SELECT name, state, rows_in, rows_out, last_error FROM stream_pipelines WHERE name = 'udf';
SELECT n, q FROM sink_a ORDER BY n;

-- The steady pipeline is still running and making progress.
SELECT state, pid IS NOT NULL AS has_pid FROM stream_pipelines WHERE name = 'steady';
DO $$ BEGIN
  FOR i IN 1..600 LOOP EXIT WHEN (SELECT count(*) FROM sink_slow) > 0; PERFORM pg_sleep(0.05); END LOOP;
END $$;
SELECT count(*) > 0 AS progressing FROM sink_slow;
-- It shows up in pg_stat_activity as a background worker.
SELECT backend_type, application_name FROM pg_stat_activity
WHERE pid = (SELECT pid FROM stream_pipelines WHERE name = 'steady');
SELECT stream_stop('steady');
SELECT name, state, pid FROM stream_pipelines WHERE name = 'steady';
SELECT stream_wait('steady');
-- What it wrote is committed and stays; it is idle now.
SELECT count(*) AS before FROM sink_slow \gset
SELECT pg_sleep(0.3);
SELECT count(*) = :before AS unchanged FROM sink_slow;
SELECT rows_out = :before AS counted FROM stream_pipelines WHERE name = 'steady';

-- Dropping a running pipeline stops it first.
SELECT stream_start('steady');
SELECT stream_drop('steady');
SELECT name, state FROM stream_pipelines ORDER BY name;

-- The source of pipelines cannot be dropped while they exist; CASCADE drops them with it
-- (sql/pipeline_dependencies.sql covers every kind of object).
DROP FOREIGN TABLE ten;
DROP FOREIGN TABLE ten CASCADE;
SELECT stream_start('divide');
DROP SERVER imp CASCADE;
DROP TABLE sink_a, sink_slow;
DROP FUNCTION checked;
