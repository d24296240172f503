-- arroyo_stream demo, run by scripts/demo.sh (psql -X -q -v ON_ERROR_STOP=1).
-- Idempotent: drops everything it creates first.  The extension itself is dropped and
-- re-created too, so that its SQL objects match the library that demo.sh just installed.
\set QUIET on
SET client_min_messages = warning;
SET statement_timeout = '120s';   -- a stuck pipeline fails the demo instead of hanging it

-- Clean up a previous run.
-- (A failure here, e.g. from an older build's catalog, only warns: DROP EXTENSION ... CASCADE
-- below removes what is left.)
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'arroyo_stream') THEN
        PERFORM stream_drop(name) FROM stream_pipelines
        WHERE name IN ('demo', 'demo_windows', 'demo_totals');
    END IF;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'demo cleanup: stream_drop(''demo'') failed: %', SQLERRM;
END
$$;
DROP TABLE IF EXISTS demo_results, demo_hourly, demo_totals;
DROP FOREIGN TABLE IF EXISTS demo_ticks;
DROP SERVER IF EXISTS demo_impulse CASCADE;
DROP EXTENSION IF EXISTS arroyo_stream CASCADE;

CREATE EXTENSION IF NOT EXISTS arroyo_stream;

-- A bounded source: 1000 ticks, as fast as possible, event time one minute apart.
CREATE SERVER demo_impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE demo_ticks (counter bigint, subtask_index int) SERVER demo_impulse
  OPTIONS (event_rate '0', message_count '1000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 minute');

-- The sink: an ordinary table.
CREATE TABLE demo_results (n bigint PRIMARY KEY, parity text, square bigint, minute_of_hour int);

\echo '== stream_create / stream_start / stream_wait'
SELECT stream_create('demo', $$INSERT INTO demo_results SELECT counter, CASE WHEN counter % 2 = 0 THEN 'even' ELSE 'odd' END, counter * counter, extract(minute FROM timestamptz '2026-01-01 00:00:00+00' + counter * interval '1 minute')::int FROM demo_ticks WHERE counter % 100 < 5$$);
SELECT stream_start('demo');
SELECT stream_wait('demo');   -- returns 'finished'

\echo '== the pipeline'
SELECT name, state, rows_in, rows_out, last_error FROM stream_pipelines WHERE name = 'demo';

\echo '== its output (first 20 rows)'
SELECT * FROM demo_results ORDER BY n LIMIT 20;

\echo '== rows by parity'
SELECT parity, count(*) FROM demo_results GROUP BY parity ORDER BY parity;

-- Dataflow semantics: a tumbling window over event time, emitted once the watermark passes.
CREATE TABLE demo_hourly (hour tstzrange, ticks bigint, first_tick bigint, last_tick bigint);
\echo '== a windowed pipeline: ticks per hour of event time'
SELECT stream_create('demo_windows', $$INSERT INTO demo_hourly
  SELECT tumble(interval '1 hour') AS w, count(*), min(counter), max(counter)
  FROM demo_ticks GROUP BY w$$);
SELECT stream_start('demo_windows');
SELECT stream_wait('demo_windows');
SELECT lower(hour) AS hour_start, ticks, first_tick, last_tick FROM demo_hourly ORDER BY hour LIMIT 5;

-- Updating semantics: an aggregate without a window, materialized into a keyed table.
CREATE TABLE demo_totals (last_digit bigint PRIMARY KEY, ticks bigint, total numeric);
\echo '== an updating pipeline: totals per last digit, kept up to date in a keyed table'
SELECT stream_create('demo_totals', $$INSERT INTO demo_totals
  SELECT counter % 10, count(*), sum(counter) FROM demo_ticks GROUP BY counter % 10$$);
SELECT stream_start('demo_totals');
SELECT stream_wait('demo_totals');
SELECT * FROM demo_totals ORDER BY last_digit;
SELECT name, state, rows_in, rows_out FROM stream_pipelines ORDER BY name;
