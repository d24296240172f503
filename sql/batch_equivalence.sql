-- Results equal PostgreSQL's batch answer over the same rows (issue 13): each case here gave a
-- different answer before, and each pipeline's target is compared with the batch query.
\getenv abs_srcdir PG_ABS_SRCDIR
\set disorder_path :abs_srcdir '/data/disorder.json'
\set retracted_path :abs_srcdir '/data/debezium_retracted.json'
\set scale_path :abs_srcdir '/data/debezium_scale.json'
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE ticks (counter bigint, subtask_index int) SERVER imp
  OPTIONS (event_rate '0', message_count '100', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second');
-- The same rows as a regular table, for the batch queries.
CREATE TABLE ticks_batch AS
  SELECT counter, 0 AS subtask_index,
         timestamptz '2026-01-01 00:00:00+00' + counter * interval '1 second' AS ts
  FROM generate_series(0::bigint, 99) counter;
CREATE FUNCTION same(target text, batch text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE differ bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %s)) d',
                 target, batch, batch, target) INTO differ;
  RETURN differ = 0;
END $$;

-- 1. DISTINCT, ORDER BY inside the call and WITHIN GROUP, without a window and in windows.
CREATE TABLE distinct_counts (k bigint PRIMARY KEY, d5 bigint, dsub bigint, dsum numeric,
  listed text, p90 float8, arr bigint[], r50 bigint);
SELECT stream_create('distinct_counts', $$INSERT INTO distinct_counts
  SELECT counter % 2 AS k, count(DISTINCT counter % 5), count(DISTINCT subtask_index),
         sum(DISTINCT counter % 7), string_agg(counter::text, ',' ORDER BY counter DESC),
         percentile_cont(0.9) WITHIN GROUP (ORDER BY counter),
         array_agg(DISTINCT counter % 4 ORDER BY counter % 4 DESC),
         rank(50) WITHIN GROUP (ORDER BY counter)
  FROM ticks GROUP BY k$$);
SELECT stream_start('distinct_counts');
SELECT stream_wait('distinct_counts');
SELECT k, d5, dsub, dsum, p90, arr, r50 FROM distinct_counts ORDER BY k;
SELECT same('distinct_counts', $$
  SELECT counter % 2 AS k, count(DISTINCT counter % 5), count(DISTINCT subtask_index),
         sum(DISTINCT counter % 7), string_agg(counter::text, ',' ORDER BY counter DESC),
         percentile_cont(0.9) WITHIN GROUP (ORDER BY counter),
         array_agg(DISTINCT counter % 4 ORDER BY counter % 4 DESC),
         rank(50) WITHIN GROUP (ORDER BY counter)
  FROM ticks_batch GROUP BY k$$) AS distinct_counts_match;
-- Over an updating input (an aggregate of an aggregate: its rows are retracted and replaced).
CREATE TABLE by_size (cnt bigint PRIMARY KEY, keys bigint, key_list text, median float8);
SELECT stream_create('by_size', $$SET update_aggregate_flush_interval = '1 millisecond';
  INSERT INTO by_size
  SELECT cnt, count(DISTINCT k), string_agg(k::text, ',' ORDER BY k),
         percentile_cont(0.5) WITHIN GROUP (ORDER BY k)
  FROM (SELECT counter % 7 AS k, count(*) AS cnt FROM ticks GROUP BY 1) x GROUP BY cnt$$);
SELECT stream_start('by_size');
SELECT stream_wait('by_size');
SELECT * FROM by_size ORDER BY cnt;
SELECT same('by_size', $$
  SELECT cnt, count(DISTINCT k), string_agg(k::text, ',' ORDER BY k),
         percentile_cont(0.5) WITHIN GROUP (ORDER BY k)
  FROM (SELECT counter % 7 AS k, count(*) AS cnt FROM ticks_batch GROUP BY 1) x GROUP BY cnt$$)
  AS by_size_match;
-- In a window; array_agg(DISTINCT) keeps one NULL, as PostgreSQL does.
CREATE TABLE window_sorted (w tstzrange, n bigint, listed text, med float8, arr bigint[]);
SELECT stream_create('window_sorted', $$INSERT INTO window_sorted
  SELECT tumble(interval '30 seconds') AS w, count(DISTINCT counter % 4),
         string_agg(counter::text, ',' ORDER BY counter DESC),
         percentile_disc(0.5) WITHIN GROUP (ORDER BY counter),
         array_agg(DISTINCT CASE WHEN counter % 3 = 0 THEN NULL ELSE counter % 3 END)
  FROM ticks GROUP BY w$$);
SELECT stream_start('window_sorted');
SELECT stream_wait('window_sorted');
SELECT lower(w), n, med, arr FROM window_sorted ORDER BY w;
SELECT same('window_sorted', $$
  SELECT tstzrange(date_bin('30 seconds', ts, 'epoch'), date_bin('30 seconds', ts, 'epoch') + interval '30 seconds'),
         count(DISTINCT counter % 4), string_agg(counter::text, ',' ORDER BY counter DESC),
         percentile_disc(0.5) WITHIN GROUP (ORDER BY counter),
         array_agg(DISTINCT CASE WHEN counter % 3 = 0 THEN NULL ELSE counter % 3 END)
  FROM ticks_batch GROUP BY 1$$) AS window_sorted_match;

-- 2. The NULL group is one group: one row, updated in place across many flushes.
CREATE FOREIGN TABLE paced (counter bigint) SERVER imp
  OPTIONS (event_rate '2000', message_count '100', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second');
CREATE TABLE null_groups (k bigint UNIQUE NULLS NOT DISTINCT, n bigint);
CREATE TABLE null_groups_plain (k bigint UNIQUE, n bigint);
SELECT stream_create('null_groups', $$SET update_aggregate_flush_interval = '1 millisecond';
  INSERT INTO null_groups SELECT nullif(counter % 3, 0), count(*) FROM paced GROUP BY 1$$);
SELECT stream_create('null_groups_plain', $$SET update_aggregate_flush_interval = '1 millisecond';
  INSERT INTO null_groups_plain SELECT nullif(counter % 3, 0), count(*) FROM paced GROUP BY 1$$);
SELECT stream_start('null_groups'), stream_start('null_groups_plain');
SELECT stream_wait('null_groups'), stream_wait('null_groups_plain');
SELECT * FROM null_groups ORDER BY k;
SELECT * FROM null_groups_plain ORDER BY k;
-- A key that can be NULL cannot go into a primary key: refused when the pipeline is created.
CREATE TABLE null_pk (k bigint PRIMARY KEY, n bigint);
SELECT stream_create('null_pk', $$INSERT INTO null_pk SELECT nullif(counter % 3, 0), count(*) FROM paced GROUP BY 1$$);
SELECT stream_create('null_pk', $$INSERT INTO null_pk SELECT coalesce(nullif(counter % 3, 0), -1), count(*) FROM paced GROUP BY 1$$);

-- 3. Windows are aligned to the Unix epoch: a 7-day window starts on a Thursday (1970-01-01
-- was one), a 7-second window where date_bin(..., 'epoch') puts it.
CREATE FOREIGN TABLE days (counter bigint) SERVER imp
  OPTIONS (event_rate '0', message_count '30', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 day');
CREATE TABLE weeks (w tstzrange, n bigint);
SELECT stream_create('weeks', $$INSERT INTO weeks
  SELECT tumble(interval '7 days') AS w, count(*) FROM days GROUP BY w$$);
CREATE TABLE sevens (w tstzrange, n bigint);
SELECT stream_create('sevens', $$INSERT INTO sevens
  SELECT hop(interval '7 seconds', interval '14 seconds') AS w, count(*) FROM ticks GROUP BY w$$);
SELECT stream_start('weeks'), stream_start('sevens');
SELECT stream_wait('weeks'), stream_wait('sevens');
SELECT lower(w), to_char(lower(w), 'Dy') AS weekday, n FROM weeks ORDER BY w;
SELECT same('sevens', $$
  SELECT tstzrange(s, s + interval '14 seconds'), count(*)
  FROM ticks_batch, LATERAL (VALUES (date_bin('7 seconds', ts, 'epoch')),
                                    (date_bin('7 seconds', ts, 'epoch') - interval '7 seconds')) v(s)
  GROUP BY s$$) AS sevens_match;

-- 4. Late rows, by Flink's rule: a row is late only when every window it belongs to has been
-- emitted. With a 5-second delay, the rows at 0:03, 0:15, 0:16 and 0:33 arrive behind the
-- watermark but their windows are still open; those at 0:04 and 0:27 come after theirs closed.
CREATE FOREIGN TABLE disorder (k text, ts timestamptz, v int) SERVER files
  OPTIONS (path :'disorder_path', type 'source', event_time_field 'ts',
           watermark_delay '5 seconds');
CREATE TABLE disorder_windows (w tstzrange, k text, n bigint, vs text);
SELECT stream_create('disorder', $$INSERT INTO disorder_windows
  SELECT tumble(interval '10 seconds') AS w, k, count(*), string_agg(v::text, ',' ORDER BY v)
  FROM disorder GROUP BY w, k$$);
SELECT stream_start('disorder');
SELECT stream_wait('disorder');
SELECT to_char(lower(w), 'MI:SS') AS w, k, n, vs FROM disorder_windows ORDER BY w, k;
SELECT late_rows, bad_rows FROM stream_pipelines WHERE name = 'disorder';

-- 6. A bigint grouping key written into an int key column (an assignment cast); a cast that
-- can merge keys is refused, naming both types.
CREATE TABLE int_keys (k int PRIMARY KEY, n bigint);
SELECT stream_create('int_keys', $$INSERT INTO int_keys SELECT counter % 3, count(*) FROM ticks GROUP BY 1$$);
SELECT stream_start('int_keys');
SELECT stream_wait('int_keys');
SELECT * FROM int_keys ORDER BY k;
CREATE TABLE rounded_keys (k int PRIMARY KEY, n bigint);
SELECT stream_create('rounded_keys', $$INSERT INTO rounded_keys SELECT counter / 10.0, count(*) FROM ticks GROUP BY 1$$);

-- 7. An aggregate without GROUP BY has one row: over no rows, and after every row is
-- retracted (a Debezium file whose rows are all deleted in the end).
CREATE TABLE nothing (n bigint, s numeric);
SELECT stream_create('nothing', $$INSERT INTO nothing SELECT count(*), sum(counter) FROM ticks WHERE counter > 500$$);
CREATE FOREIGN TABLE retracted (id int, store int, amount numeric) SERVER files
  OPTIONS (path :'retracted_path', type 'source', format 'debezium_json', primary_key 'id');
CREATE TABLE all_retracted (n bigint, s numeric, stores bigint);
SELECT stream_create('all_retracted', $$SET update_aggregate_flush_interval = '1 millisecond';
  INSERT INTO all_retracted SELECT count(*), sum(amount), count(DISTINCT store) FROM retracted$$);
SELECT stream_start('nothing'), stream_start('all_retracted');
SELECT stream_wait('nothing'), stream_wait('all_retracted');
SELECT * FROM nothing;
SELECT * FROM all_retracted;

-- numeric's inverse transition function refuses to retract the last value with the largest
-- scale (379.09) while others remain: the group is recomputed from its rows.
CREATE FOREIGN TABLE scaled (id int, store int NOT NULL, amount numeric) SERVER files
  OPTIONS (path :'scale_path', type 'source', format 'debezium_json', primary_key 'id');
CREATE TABLE scaled_sums (store int PRIMARY KEY, s numeric, a numeric, v numeric);
SELECT stream_create('scaled', $$SET update_aggregate_flush_interval = '1 millisecond';
  INSERT INTO scaled_sums SELECT store, sum(amount), avg(amount), var_samp(amount) FROM scaled GROUP BY store$$);
SELECT stream_start('scaled');
SELECT stream_wait('scaled');
SELECT * FROM scaled_sums;

-- Sorted aggregates (DISTINCT, ORDER BY, WITHIN GROUP) keep their rows through a checkpoint:
-- stopped mid-run and started again, they end with the batch answer.
CREATE FOREIGN TABLE slow (counter bigint) SERVER imp
  OPTIONS (event_rate '600', message_count '3000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second');
CREATE TABLE slow_batch AS
  SELECT counter, timestamptz '2026-01-01 00:00:00+00' + counter * interval '1 second' AS ts
  FROM generate_series(0::bigint, 2999) counter;
CREATE TABLE sorted_w (w tstzrange, listed text, med float8, d bigint);
CREATE TABLE sorted_u (k bigint PRIMARY KEY, listed text, med float8, d bigint, arr bigint[]);
SELECT stream_create('sorted_w', $$SET checkpoint_interval = '10 milliseconds';
  INSERT INTO sorted_w SELECT tumble(interval '1 hour') AS w, string_agg(counter::text, ',' ORDER BY counter DESC),
         percentile_cont(0.5) WITHIN GROUP (ORDER BY counter), count(DISTINCT counter % 7)
  FROM slow GROUP BY w$$);
SELECT stream_create('sorted_u', $$SET checkpoint_interval = '10 milliseconds';
  INSERT INTO sorted_u SELECT counter % 3, string_agg(counter::text, ',' ORDER BY counter DESC),
         percentile_cont(0.5) WITHIN GROUP (ORDER BY counter), count(DISTINCT counter % 7),
         array_agg(DISTINCT counter % 5 ORDER BY counter % 5 DESC)
  FROM slow GROUP BY 1$$);
CREATE FUNCTION wait_rows_in(p text, n bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..3000 LOOP
    IF (SELECT rows_in >= n OR state <> 'running' FROM stream_pipelines WHERE name = p) THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
  RETURN false;
END $$;
SELECT stream_start('sorted_w'), stream_start('sorted_u');
SELECT wait_rows_in('sorted_w', 1000), wait_rows_in('sorted_u', 1000);
SELECT stream_stop('sorted_w'), stream_stop('sorted_u');
SELECT state, rows_in < 3000 AS midway FROM stream_pipelines WHERE name IN ('sorted_w', 'sorted_u');
SELECT stream_start('sorted_w'), stream_start('sorted_u');
SELECT stream_wait('sorted_w'), stream_wait('sorted_u');
SELECT same('sorted_w', $$
  SELECT tstzrange(date_bin('1 hour', ts, 'epoch'), date_bin('1 hour', ts, 'epoch') + interval '1 hour'),
         string_agg(counter::text, ',' ORDER BY counter DESC),
         percentile_cont(0.5) WITHIN GROUP (ORDER BY counter), count(DISTINCT counter % 7)
  FROM slow_batch GROUP BY 1$$) AS sorted_w_match;
SELECT same('sorted_u', $$
  SELECT counter % 3, string_agg(counter::text, ',' ORDER BY counter DESC),
         percentile_cont(0.5) WITHIN GROUP (ORDER BY counter), count(DISTINCT counter % 7),
         array_agg(DISTINCT counter % 5 ORDER BY counter % 5 DESC)
  FROM slow_batch GROUP BY 1$$) AS sorted_u_match;

SELECT name, state, last_error FROM stream_pipelines WHERE state <> 'finished' ORDER BY name;
SELECT stream_drop(name) FROM stream_pipelines ORDER BY name;
DROP SERVER imp CASCADE;
DROP SERVER files CASCADE;
DROP TABLE ticks_batch, distinct_counts, by_size, window_sorted, null_groups, null_groups_plain,
  null_pk, weeks, sevens, disorder_windows, int_keys, rounded_keys, nothing, all_retracted,
  scaled_sums, slow_batch, sorted_w, sorted_u;
DROP FUNCTION same(text, text);
DROP FUNCTION wait_rows_in(text, bigint);
