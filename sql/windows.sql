-- Event time, watermarks and windows (Dataflow semantics).
\getenv abs_srcdir PG_ABS_SRCDIR
\set clicks_path :abs_srcdir '/data/clicks.json'
\set sessions_path :abs_srcdir '/data/sessions.json'
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');

-- Tumbling windows over an impulse's event-time schedule, many aggregates at once.
CREATE FOREIGN TABLE ticks (counter bigint) SERVER imp
  OPTIONS (event_rate '0', message_count '100', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second');
CREATE TABLE tumbled (w tstzrange, parity bigint, cnt bigint, total numeric, mean numeric,
  lo bigint, hi bigint, listed text, arr bigint[], sd numeric, distinct_mod5 bigint,
  threes bigint, all_small boolean, span interval);
SELECT stream_create('tumbled', $$INSERT INTO tumbled
  SELECT tumble(interval '30 seconds') AS w, counter % 2, count(*), sum(counter), avg(counter),
         min(counter), max(counter), string_agg(counter::text, ','), array_agg(counter),
         round(stddev(counter), 6), count(DISTINCT counter % 5),
         count(*) FILTER (WHERE counter % 3 = 0), bool_and(counter < 50),
         max(row_time()) - min(row_time())
  FROM ticks GROUP BY w, counter % 2$$);
SELECT stream_start('tumbled');
SELECT stream_wait('tumbled');
SELECT name, state, rows_in, rows_out, late_rows, bad_rows, last_error FROM stream_pipelines;
SELECT lower(w) AT TIME ZONE 'UTC' AS w_start, upper(w) AT TIME ZONE 'UTC' AS w_end,
       lower_inc(w), upper_inc(w), parity, cnt, total, mean, lo, hi, listed, arr, sd,
       distinct_mod5, threes, all_small, span
FROM tumbled ORDER BY w, parity;

-- Out-of-order events from a file: event_time_field with watermark_delay; events behind the
-- watermark are dropped and counted; an event without a time is bad data.
CREATE FOREIGN TABLE clicks (uid text, ts timestamptz, v int)
  SERVER files OPTIONS (path :'clicks_path', type 'source', event_time_field 'ts',
                        watermark_delay '5 seconds', bad_data 'drop');
CREATE TABLE click_windows (window_start timestamptz, window_end timestamptz, uid text,
                            clicks bigint, vs text);
-- (A window must be a GROUP BY key itself, not a column of a subquery.)
SELECT stream_create('clicks', $$INSERT INTO click_windows
  SELECT lower(w), upper(w), uid, count(*), string_agg(v::text, ',')
  FROM (SELECT tumble(interval '10 seconds') AS w, uid, v FROM clicks) x GROUP BY w, uid$$);
SELECT stream_create('clicks', $$INSERT INTO click_windows
  SELECT lower(tumble(interval '10 seconds')), upper(tumble(interval '10 seconds')), uid,
         count(*), string_agg(v::text, ',')
  FROM clicks GROUP BY tumble(interval '10 seconds'), uid$$);
SELECT stream_start('clicks');
SELECT stream_wait('clicks');
SELECT state, rows_in, rows_out, late_rows, bad_rows, last_error FROM stream_pipelines
WHERE name = 'clicks';
SELECT window_start AT TIME ZONE 'UTC' AS window_start, window_end AT TIME ZONE 'UTC' AS window_end,
       uid, clicks, vs FROM click_windows ORDER BY window_start, uid;

-- Hopping windows agree with the same computation done by plain SQL over the same events.
CREATE FOREIGN TABLE clicks_in_order (uid text, ts timestamptz, v int)
  SERVER files OPTIONS (path :'clicks_path', type 'source', event_time_field 'ts',
                        watermark_delay '1 minute', bad_data 'drop');
CREATE TABLE all_clicks (uid text, ts timestamptz, v int);
SELECT stream_create('copy_clicks', 'INSERT INTO all_clicks SELECT * FROM clicks_in_order WHERE ts IS NOT NULL');
SELECT stream_start('copy_clicks');
SELECT stream_wait('copy_clicks');
CREATE TABLE hopped (w tstzrange, uid text, n bigint, total bigint, mean numeric);
SELECT stream_create('hopped', $$INSERT INTO hopped
  SELECT hop(interval '5 seconds', interval '20 seconds') AS w, uid, count(*), sum(v), avg(v)
  FROM clicks_in_order GROUP BY w, uid$$);
SELECT stream_start('hopped');
SELECT stream_wait('hopped');
SELECT state, late_rows, rows_out FROM stream_pipelines WHERE name = 'hopped';
-- The batch computation: every 5-second-aligned window of 20 seconds holding an event.
CREATE TEMP TABLE expected_hops AS
SELECT tstzrange(s, s + interval '20 seconds') AS w, uid, count(*) AS n, sum(v) AS total,
       avg(v) AS mean
FROM all_clicks,
     generate_series(to_timestamp(floor(extract(epoch FROM ts) / 5) * 5) - interval '15 seconds',
                     to_timestamp(floor(extract(epoch FROM ts) / 5) * 5), interval '5 seconds') s
GROUP BY s, uid;
SELECT count(*) AS windows FROM expected_hops;
(SELECT * FROM hopped EXCEPT SELECT * FROM expected_hops)
UNION ALL
(SELECT * FROM expected_hops EXCEPT SELECT * FROM hopped);
-- A hop with an aggregate that has no combine function (array_agg) keeps windows, not panes.
CREATE TABLE hopped_arrays (w tstzrange, vs int[]);
SELECT stream_create('hopped_arrays', $$INSERT INTO hopped_arrays
  SELECT hop(interval '10 seconds', interval '20 seconds') AS w, array_agg(v ORDER BY v)
  FROM clicks_in_order GROUP BY w$$);
SELECT stream_start('hopped_arrays');
SELECT stream_wait('hopped_arrays');
SELECT lower(w) AT TIME ZONE 'UTC' AS w_start, (SELECT array_agg(x ORDER BY x) FROM unnest(vs) x) AS vs
FROM hopped_arrays ORDER BY w;

-- Session windows, with event time computed by a generated column; sessions merge when a
-- late-arriving event bridges them.
CREATE FOREIGN TABLE visits (uid text, epoch bigint, page text,
  ts timestamptz GENERATED ALWAYS AS (to_timestamp(epoch)) STORED)
  SERVER files OPTIONS (path :'sessions_path', type 'source', event_time_field 'ts',
                        watermark_delay '30 seconds');
CREATE TABLE sessions (uid text, first_seen timestamptz, session_end timestamptz,
                       pages text, n bigint);
SELECT stream_create('sessions', $$INSERT INTO sessions
  SELECT uid, lower(session(interval '10 seconds')), upper(session(interval '10 seconds')),
         string_agg(page, ' > ' ORDER BY epoch), count(*)
  FROM visits GROUP BY session(interval '10 seconds'), uid$$);
SELECT stream_start('sessions');
SELECT stream_wait('sessions');
SELECT uid, extract(epoch FROM first_seen) AS first_seen, extract(epoch FROM session_end) AS session_end,
       pages, n FROM sessions ORDER BY uid, first_seen;

-- Windowed results into a single_file sink: one JSON object per window.
\set windows_out :abs_srcdir '/results/windows_out.json'
CREATE FOREIGN TABLE window_file (window_start timestamptz, window_end bigint, uid text, clicks bigint)
  SERVER files OPTIONS (path :'windows_out', type 'sink');
SELECT stream_create('to_file', $$INSERT INTO window_file
  SELECT lower(tumble(interval '20 seconds')), extract(epoch FROM upper(tumble(interval '20 seconds')))::bigint,
         uid, count(*)
  FROM clicks GROUP BY tumble(interval '20 seconds'), uid HAVING uid <> 'b'$$);
SELECT stream_start('to_file');
SELECT stream_wait('to_file');
SELECT state, late_rows, rows_out FROM stream_pipelines WHERE name = 'to_file';
SELECT line FROM regexp_split_to_table(rtrim(pg_read_file(:'windows_out'), E'\n'), E'\n') line
ORDER BY line;

-- HAVING, expressions over aggregates, date/time functions on window bounds, CREATE AGGREGATE.
CREATE FUNCTION sum_squares_step(bigint, bigint) RETURNS bigint LANGUAGE sql IMMUTABLE
  AS 'SELECT coalesce($1, 0) + $2 * $2';
CREATE AGGREGATE sum_squares(bigint) (SFUNC = sum_squares_step, STYPE = bigint);
CREATE TABLE minute_stats (minute_no double precision, hour_start timestamptz, big_sum bigint,
                           ratio numeric, squares bigint, first_second numeric, last_event timestamptz);
SELECT stream_create('minute_stats', $$INSERT INTO minute_stats
  SELECT date_part('minute', lower(tumble(interval '20 seconds'))),
         date_trunc('hour', upper(tumble(interval '20 seconds'))), sum(counter) * 10,
         round(sum(counter)::numeric / count(*), 2), sum_squares(counter),
         min(extract(second FROM row_time())), to_timestamp(max(extract(epoch FROM row_time())))
  FROM ticks GROUP BY tumble(interval '20 seconds')
  HAVING count(*) = 20 AND sum(counter) > 200$$);
SELECT stream_start('minute_stats');
SELECT stream_wait('minute_stats');
SELECT * FROM minute_stats ORDER BY minute_no, big_sum;

-- An idle input stops holding the watermark back: a fast source and a slow one whose event
-- times stay in the first window. While the slow one is idle (between its events, longer than
-- its idle_timeout), the fast one's watermark closes windows; the slow one's later events are
-- then behind the watermark, dropped and counted.
CREATE FOREIGN TABLE fast (counter bigint) SERVER imp
  OPTIONS (event_rate '20', start_time '2026-01-01 00:00:00+00', event_time_interval '1 second');
CREATE FOREIGN TABLE slow (counter bigint) SERVER imp
  OPTIONS (event_rate '2', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 millisecond', idle_timeout '100 milliseconds');
CREATE TABLE idle_out (w tstzrange, n bigint);
SELECT stream_create('idle', $$SET checkpoint_interval = '100 milliseconds';
  INSERT INTO idle_out SELECT tumble(interval '10 seconds') AS w, count(*)
  FROM (SELECT counter FROM fast UNION ALL SELECT counter FROM slow) s GROUP BY w$$);
SELECT stream_start('idle');
DO $$ BEGIN
  FOR i IN 1..600 LOOP
    EXIT WHEN (SELECT count(*) FROM idle_out) > 0
          AND (SELECT late_rows FROM stream_pipelines WHERE name = 'idle') > 0;
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
SELECT count(*) > 0 AS windows_closed FROM idle_out;
SELECT state, late_rows > 0 AS late_counted, watermark >= '2026-01-01 00:00:10+00' AS watermark_moved
FROM stream_pipelines WHERE name = 'idle';
SELECT stream_stop('idle');

-- Errors, at CREATE FOREIGN TABLE or stream_create.
CREATE FOREIGN TABLE bad_et (v int) SERVER files OPTIONS (path '/tmp/x.json', type 'source', event_time_field 'nope');
CREATE FOREIGN TABLE bad_et (v int) SERVER files OPTIONS (path '/tmp/x.json', type 'source', event_time_field 'v');
CREATE FOREIGN TABLE bad_et (v int) SERVER files OPTIONS (path '/tmp/x.json', type 'source', watermark_delay 'soon');
SELECT stream_create('e', 'INSERT INTO tumbled (w) SELECT tumble(interval ''1 minute'') FROM ticks');
SELECT stream_create('e', 'INSERT INTO tumbled (w, cnt) SELECT tumble(interval ''1 minute''), count(*) FROM ticks GROUP BY counter');
SELECT stream_create('e', 'INSERT INTO tumbled (cnt) SELECT count(*) FROM ticks GROUP BY tumble(interval ''1 minute''), hop(interval ''1 minute'', interval ''2 minutes'')');
SELECT stream_create('e', 'INSERT INTO tumbled (cnt) SELECT count(*) FROM ticks GROUP BY tumble(interval ''0 seconds'')');
SELECT stream_create('e', 'INSERT INTO tumbled (cnt) SELECT count(*) FROM ticks GROUP BY tumble(interval ''-1 minute'')');
SELECT stream_create('e', 'INSERT INTO tumbled (cnt) SELECT count(*) FROM ticks GROUP BY hop(interval ''40 seconds'', interval ''1 minute'')');
SELECT stream_create('e', 'INSERT INTO tumbled (cnt) SELECT count(*) FROM ticks GROUP BY tumble(interval ''1 month'')');
SELECT stream_create('e', 'INSERT INTO tumbled (cnt) SELECT count(*) FROM ticks GROUP BY session(now() - now())');
SELECT stream_create('e', 'INSERT INTO tumbled (cnt) SELECT count(*) FROM ticks GROUP BY counter');
SELECT stream_create('e', 'INSERT INTO tumbled (cnt) SELECT count(*) FROM ticks WHERE tumble(interval ''1 minute'') IS NOT NULL GROUP BY tumble(interval ''1 minute'')');
SELECT stream_create('e', 'INSERT INTO tumbled (cnt) SELECT percentile_disc(random()) WITHIN GROUP (ORDER BY counter) FROM ticks GROUP BY tumble(interval ''1 minute'')');
SELECT tumble(interval '1 minute');
SELECT count(*) FROM stream_pipelines WHERE name = 'e';

SELECT stream_drop(name) FROM stream_pipelines ORDER BY name;
DROP SERVER imp CASCADE;
DROP SERVER files CASCADE;
DROP TABLE tumbled, click_windows, all_clicks, hopped, hopped_arrays, sessions, minute_stats, idle_out;
DROP AGGREGATE sum_squares(bigint);
DROP FUNCTION sum_squares_step;
