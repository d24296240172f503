-- Pipelines running as several workers (SET parallelism, issue 21): results equal the batch
-- query and the same pipeline run as one worker.
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER par_imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE par_ticks (counter bigint) SERVER par_imp
  OPTIONS (event_rate '0', message_count '20000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '10 milliseconds');
CREATE TABLE par_batch AS
  SELECT counter, timestamptz '2026-01-01 00:00:00+00' + counter * interval '10 milliseconds' AS ts
  FROM generate_series(0::bigint, 19999) counter;
CREATE FUNCTION par_same(target text, batch text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE differ bigint; n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %s)) d',
                 target, batch, batch, target) INTO differ;
  EXECUTE format('SELECT count(*) FROM %s', target) INTO n;
  RETURN format('%s rows, %s differing', n, differ);
END $$;

-- The setting's values.
SELECT stream_create('par_bad', 'SET parallelism = 0; INSERT INTO par_batch SELECT counter, now() FROM par_ticks');
SELECT stream_create('par_bad', 'SET parallelism = 33; INSERT INTO par_batch SELECT counter, now() FROM par_ticks');
SELECT stream_create('par_bad', $$SET parallelism = 'two'; INSERT INTO par_batch SELECT counter, now() FROM par_ticks$$);

-- A regular table's changes: decoded by worker 0, aggregated by key in both workers.
CREATE TABLE par_changes (id int PRIMARY KEY, k int NOT NULL, v int);
INSERT INTO par_changes SELECT i, i % 50, i FROM generate_series(1, 3000) i;
CREATE TABLE par_changes_out (k int PRIMARY KEY, n bigint, s bigint);
SELECT stream_create('par_cdc', $$SET parallelism = 2;
  INSERT INTO par_changes_out SELECT k, count(*), sum(v) FROM par_changes GROUP BY k$$);
SELECT stream_start('par_cdc');
-- Waits until the target equals the batch query (at most 60 s); returns par_same's answer.
CREATE FUNCTION par_wait_same(target text, batch text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE answer text;
BEGIN
  FOR i IN 1 .. 1200 LOOP
    answer := par_same(target, batch);
    EXIT WHEN answer LIKE '% 0 differing';
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN answer;
END $$;
SELECT par_wait_same('par_changes_out', 'SELECT k, count(*), sum(v) FROM par_changes GROUP BY k') AS snapshot;
UPDATE par_changes SET v = v + 1 WHERE id % 7 = 0;
DELETE FROM par_changes WHERE id % 11 = 0;
INSERT INTO par_changes SELECT i, i % 53, i FROM generate_series(3001, 5000) i;
UPDATE par_changes SET k = k + 1 WHERE id % 13 = 0;
SELECT par_wait_same('par_changes_out', 'SELECT k, count(*), sum(v) FROM par_changes GROUP BY k') AS changes;
SELECT name, state, parallelism FROM stream_pipelines WHERE name = 'par_cdc';
SELECT stream_drop('par_cdc');

-- An updating aggregate by key, a global aggregate, a tumbling window, a join under an
-- aggregate and a top-N, each at 2 or 3 workers; k_one is the keyed aggregate at one worker.
CREATE TABLE k_two (k bigint PRIMARY KEY, n bigint, s numeric, lo bigint, hi bigint);
CREATE TABLE k_one (LIKE k_two INCLUDING ALL);
CREATE TABLE g_three (n bigint, s numeric, d bigint);
CREATE TABLE w_three (w tstzrange, k bigint, n bigint, s numeric, PRIMARY KEY (w, k));
CREATE TABLE j_two (k bigint PRIMARY KEY, n bigint, m bigint);
CREATE TABLE t_two (k bigint, n bigint, rn bigint);
SELECT stream_create('k_two', $$SET parallelism = 2; INSERT INTO k_two
  SELECT counter % 97, count(*), sum(counter), min(counter), max(counter) FROM par_ticks GROUP BY 1$$);
SELECT stream_create('k_one', $$INSERT INTO k_one
  SELECT counter % 97, count(*), sum(counter), min(counter), max(counter) FROM par_ticks GROUP BY 1$$);
SELECT stream_create('g_three', $$SET parallelism = 3; INSERT INTO g_three
  SELECT count(*), sum(counter), count(DISTINCT counter % 10) FROM par_ticks$$);
SELECT stream_create('w_three', $$SET parallelism = 3; INSERT INTO w_three
  SELECT tumble(interval '10 seconds'), counter % 4, count(*), sum(counter) FROM par_ticks GROUP BY 1, 2$$);
SELECT stream_create('j_two', $$SET parallelism = 2; INSERT INTO j_two
  SELECT a.counter % 5, count(*), count(b.counter)
  FROM par_ticks a LEFT JOIN par_ticks b ON b.counter = a.counter * 2 GROUP BY 1$$);
SELECT stream_create('t_two', $$SET parallelism = 2; INSERT INTO t_two SELECT k, n, rn FROM (
  SELECT k, n, row_number() OVER (ORDER BY n DESC, k) AS rn
  FROM (SELECT counter % 11 AS k, count(*) AS n FROM par_ticks WHERE counter % 3 <> 0 GROUP BY 1) c) x
  WHERE rn <= 3$$);
SELECT line FROM stream_explain('k_two') line WHERE line LIKE 'Settings%' OR line LIKE 'Workers%';
SELECT name, parallelism FROM stream_pipelines WHERE name IN ('k_two', 'k_one', 'g_three', 'w_three', 'j_two', 't_two') ORDER BY name;
SELECT stream_start(n) FROM unnest('{k_two,k_one,g_three,w_three,j_two,t_two}'::text[]) n;
SELECT n, stream_wait(n, '120 seconds') FROM unnest('{k_two,k_one,g_three,w_three,j_two,t_two}'::text[]) n;
SELECT name, rows_in, last_error FROM stream_pipelines WHERE name IN ('k_two', 'k_one', 'g_three', 'w_three', 'j_two', 't_two') ORDER BY name;
SELECT par_same('k_two', $$SELECT counter % 97, count(*), sum(counter), min(counter), max(counter) FROM par_batch GROUP BY 1$$) AS k_two;
SELECT par_same('k_two', 'TABLE k_one') AS k_two_equals_one_worker;
SELECT par_same('g_three', $$SELECT count(*), sum(counter), count(DISTINCT counter % 10) FROM par_batch$$) AS g_three;
SELECT par_same('w_three', $$SELECT tstzrange(date_bin('10 seconds', ts, timestamptz '2026-01-01 00:00:00+00'),
                                              date_bin('10 seconds', ts, timestamptz '2026-01-01 00:00:00+00') + interval '10 seconds'),
                                    counter % 4, count(*), sum(counter) FROM par_batch GROUP BY 1, 2$$) AS w_three;
SELECT par_same('j_two', $$SELECT a.counter % 5, count(*), count(b.counter)
  FROM par_batch a LEFT JOIN par_batch b ON b.counter = a.counter * 2 GROUP BY 1$$) AS j_two;
SELECT par_same('t_two', $$SELECT k, n, rn FROM (SELECT k, n, row_number() OVER (ORDER BY n DESC, k) AS rn
  FROM (SELECT counter % 11 AS k, count(*) AS n FROM par_batch WHERE counter % 3 <> 0 GROUP BY 1) c) x
  WHERE rn <= 3$$) AS t_two;
-- Two-phase window aggregation: a hop window with avg and a FILTER at 2 workers (each sends
-- its partial states per pane), a keyless tumble at 3 (every worker's partials gathered into
-- worker 0). The window nodes count every input row, not the partials.
CREATE TABLE h_two (w tstzrange, k bigint, n bigint, a numeric, e bigint);
CREATE TABLE g_tumble (w tstzrange, n bigint, s numeric);
SELECT stream_create('h_two', $$SET parallelism = 2; INSERT INTO h_two
  SELECT hop(interval '5 seconds', interval '20 seconds'), counter % 7, count(*), avg(counter),
         count(*) FILTER (WHERE counter % 2 = 0) FROM par_ticks GROUP BY 1, 2$$);
SELECT stream_create('g_tumble', $$SET parallelism = 3; INSERT INTO g_tumble
  SELECT tumble(interval '30 seconds'), count(*), sum(counter) FROM par_ticks GROUP BY 1$$);
SELECT line FROM stream_explain('h_two') line WHERE line LIKE 'Workers%';
SELECT stream_start(n) FROM unnest('{h_two,g_tumble}'::text[]) n;
SELECT n, stream_wait(n, '120 seconds') FROM unnest('{h_two,g_tumble}'::text[]) n;
SELECT par_same('h_two', $$SELECT tstzrange(s, s + interval '20 seconds'), counter % 7, count(*),
                                 avg(counter), count(*) FILTER (WHERE counter % 2 = 0)
  FROM par_batch, generate_series(date_bin('5 seconds', ts, timestamptz '2026-01-01 00:00:00+00')
                                    - interval '15 seconds',
                                  date_bin('5 seconds', ts, timestamptz '2026-01-01 00:00:00+00'),
                                  interval '5 seconds') s
  GROUP BY 1, 2$$) AS h_two;
SELECT par_same('g_tumble', $$SELECT tstzrange(date_bin('30 seconds', ts, timestamptz '2026-01-01 00:00:00+00'),
                                               date_bin('30 seconds', ts, timestamptz '2026-01-01 00:00:00+00') + interval '30 seconds'),
                                     count(*), sum(counter) FROM par_batch GROUP BY 1$$) AS g_tumble;
SELECT pipeline, kind, rows_in FROM stream_operators
WHERE pipeline IN ('h_two', 'g_tumble') AND kind = 'window aggregate' ORDER BY pipeline;
SELECT name, rows_in, late_rows FROM stream_pipelines WHERE name IN ('h_two', 'g_tumble') ORDER BY name;
SELECT stream_drop(n) FROM unnest('{h_two,g_tumble}'::text[]) n;
DROP TABLE h_two, g_tumble;
-- Every worker's checkpoint entries are kept apart, and the two-phase commits left nothing.
SELECT count(DISTINCT s.node / 1048576) AS workers_with_state
FROM _arroyo_stream.state s JOIN _arroyo_stream.pipelines p ON p.id = s.pipeline_id
WHERE p.name = 'k_two' AND s.node >= 0;
SELECT count(*) AS prepared_left FROM pg_prepared_xacts;
-- No worker is left once they finished.
SELECT count(*) AS workers_left FROM stream_workers;
SELECT stream_drop(n) FROM unnest('{k_two,k_one,g_three,w_three,j_two,t_two}'::text[]) n;
DROP TABLE k_two, k_one, g_three, w_three, j_two, t_two, par_changes, par_changes_out, par_batch;
DROP FUNCTION par_wait_same, par_same;
DROP SERVER par_imp CASCADE;
