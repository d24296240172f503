-- Checkpoints: stop and start resume where the pipeline stopped; a checkpoint that is missing,
-- damaged or no longer matches the query fails the pipeline clearly; stream_drop removes it.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
-- Waits (up to 30 s) until a pipeline has read at least `n` rows.
CREATE FUNCTION ck_wait_rows(p text, n bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..3000 LOOP
    IF (SELECT rows_in >= n FROM stream_pipelines WHERE name = p) THEN RETURN; END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
  RAISE EXCEPTION 'pipeline % did not read % rows in 30 s', p, n;
END $$;

-- Stopped while running, started again: every window and every key exactly once.
CREATE FOREIGN TABLE ck_ticks (counter bigint) SERVER imp
  OPTIONS (event_rate '3000', message_count '9000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 millisecond');
CREATE TABLE ck_windows (w tstzrange, k bigint, n bigint, total numeric, mean numeric,
                         listed bigint[], PRIMARY KEY (w, k));
CREATE TABLE ck_keys (k bigint PRIMARY KEY, n bigint, total numeric, hi bigint);
SELECT stream_create('ck_windows', $$SET checkpoint_interval = '200 milliseconds';
  INSERT INTO ck_windows
  SELECT tumble(interval '1 second'), counter % 2, count(*), sum(counter), avg(counter),
         array_agg(counter) FILTER (WHERE counter % 1000 < 2)
  FROM ck_ticks GROUP BY 1, 2$$);
SELECT stream_create('ck_keys', $$INSERT INTO ck_keys
  SELECT counter % 5, count(*), sum(counter), max(counter) FROM ck_ticks GROUP BY 1$$);
SELECT stream_start('ck_windows'), stream_start('ck_keys');
SELECT ck_wait_rows('ck_windows', 1000), ck_wait_rows('ck_keys', 1000);
SELECT stream_stop('ck_windows'), stream_stop('ck_keys');
SELECT name, state, last_error, last_checkpoint_at IS NOT NULL AS checkpointed
FROM stream_pipelines ORDER BY name;
SELECT pipeline, count(*) > 0 AS some, bool_and(bytes >= 0 AND duration >= '0') AS sane
FROM stream_checkpoints GROUP BY pipeline ORDER BY pipeline;
SELECT stream_start('ck_windows'), stream_start('ck_keys');
SELECT stream_wait('ck_windows'), stream_wait('ck_keys');
SELECT lower(w) AS w_start, k, n, total, mean,
       (SELECT array_agg(x ORDER BY x) FROM unnest(listed) x) AS listed
FROM ck_windows ORDER BY w, k;
SELECT * FROM ck_keys ORDER BY k;
-- The same, computed in one batch.
SELECT c % 5 AS k, count(*), sum(c), max(c) FROM generate_series(0::bigint, 8999) c
GROUP BY 1 ORDER BY 1;

-- Bad states. A pipeline stopped with state in its windows (1 hour windows never fire here).
CREATE FOREIGN TABLE ck_endless (counter bigint) SERVER imp
  OPTIONS (event_rate '2000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 millisecond');
CREATE TABLE ck_hours (w tstzrange, k bigint, n bigint, note text);
SELECT stream_create('ck_hours', $$INSERT INTO ck_hours
  SELECT tumble(interval '1 hour'), counter % 3, count(*) FROM ck_endless GROUP BY 1, 2$$);
SELECT stream_start('ck_hours');
SELECT ck_wait_rows('ck_hours', 500);
SELECT stream_stop('ck_hours');
SELECT count(*) > 0 AS has_state FROM _arroyo_stream.state s
  JOIN _arroyo_stream.pipelines p ON p.id = s.pipeline_id WHERE p.name = 'ck_hours';

-- A column the pipeline writes cannot be retyped (the pipeline's rule depends on it).
ALTER TABLE ck_hours ALTER COLUMN n TYPE numeric;
-- The target changed in a column the pipeline does not write: the checkpoint no longer
-- matches the query; the error names both sides.
ALTER TABLE ck_hours ALTER COLUMN note TYPE varchar(10);
SELECT stream_start('ck_hours');
SELECT stream_wait('ck_hours');
SELECT state, regexp_replace(last_error, 'checkpoint \d+', 'checkpoint N') AS last_error
FROM stream_pipelines WHERE name = 'ck_hours';
-- Undone, the pipeline resumes; a renamed target does not stop it from resuming either.
ALTER TABLE ck_hours ALTER COLUMN note TYPE text;
ALTER TABLE ck_hours RENAME TO ck_hours_renamed;
SELECT stream_start('ck_hours');
SELECT pg_sleep(0.3);
SELECT state, last_error FROM stream_pipelines WHERE name = 'ck_hours';
SELECT stream_stop('ck_hours');
ALTER TABLE ck_hours_renamed RENAME TO ck_hours;

-- A damaged entry: the pipeline fails naming what cannot be read; nothing is reset.
UPDATE _arroyo_stream.state s SET value = '\x0102'
FROM _arroyo_stream.pipelines p
WHERE p.id = s.pipeline_id AND p.name = 'ck_hours' AND s.node >= 0 AND s.part > -9223372036854775807;
SELECT stream_start('ck_hours');
SELECT stream_wait('ck_hours');
SELECT state, last_error FROM stream_pipelines WHERE name = 'ck_hours';
SELECT count(*) AS rows_written FROM ck_hours;

-- A missing checkpoint.
DELETE FROM _arroyo_stream.checkpoints c USING _arroyo_stream.pipelines p
WHERE p.id = c.pipeline_id AND p.name = 'ck_hours';
SELECT stream_start('ck_hours');
SELECT stream_wait('ck_hours');
SELECT state, regexp_replace(last_error, 'checkpoint \d+', 'checkpoint N') AS last_error
FROM stream_pipelines WHERE name = 'ck_hours';

-- Checkpoints stay durable where the owner's settings turn synchronous_commit off: the worker
-- keeps it at least 'local'.
ALTER ROLE CURRENT_USER SET synchronous_commit = off;
CREATE FOREIGN TABLE ck_one (counter bigint) SERVER imp OPTIONS (event_rate '0', message_count '1');
CREATE TABLE ck_setting (s text);
SELECT stream_create('ck_setting', $$INSERT INTO ck_setting
  SELECT current_setting('synchronous_commit') FROM ck_one$$);
SELECT stream_start('ck_setting');
SELECT stream_wait('ck_setting');
SELECT * FROM ck_setting;
ALTER ROLE CURRENT_USER RESET synchronous_commit;
SELECT stream_drop('ck_setting');
DROP TABLE ck_setting;

-- stream_drop removes a pipeline's state and checkpoints.
SELECT stream_drop('ck_hours'), stream_drop('ck_windows'), stream_drop('ck_keys');
SELECT (SELECT count(*) FROM _arroyo_stream.state) AS state_rows,
       (SELECT count(*) FROM _arroyo_stream.checkpoints) AS checkpoint_rows,
       (SELECT count(*) FROM stream_checkpoints) AS visible;
DROP TABLE ck_windows, ck_keys, ck_hours;
DROP FUNCTION ck_wait_rows;
DROP SERVER imp CASCADE;
