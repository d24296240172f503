-- Window functions (OVER): top-N per time window, window functions per closed window, the
-- updating top-N (also ORDER BY … LIMIT n) and event-time OVER per key. Every result is
-- compared with PostgreSQL's batch query over the same rows.
\getenv abs_srcdir PG_ABS_SRCDIR
\set events_path :abs_srcdir '/data/window_events.json'
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER wf_files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE wf_events (driver text, ts timestamptz, price int)
  SERVER wf_files OPTIONS (path :'events_path', type 'source', event_time_field 'ts',
                        watermark_delay '5 seconds');
-- The same rows, for the batch queries.
CREATE TABLE wf_events_batch (driver text, ts timestamptz, price int);
SELECT stream_create('wf_copy_events', 'INSERT INTO wf_events_batch SELECT * FROM wf_events');
SELECT stream_start('wf_copy_events');
SELECT stream_wait('wf_copy_events');
SELECT count(*), count(DISTINCT ts) FROM wf_events_batch;
CREATE FUNCTION wf_same(target text, batch text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE differ bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %s)) d',
                 target, batch, batch, target) INTO differ;
  RETURN differ = 0;
END $$;
-- The windowed counts, as a batch query (windows aligned to the Unix epoch).
CREATE VIEW wf_minute_counts AS
  SELECT tstzrange(date_bin('1 minute', ts, 'epoch'), date_bin('1 minute', ts, 'epoch') + interval '1 minute') AS w,
         driver, count(*) AS n, sum(price) AS total
  FROM wf_events_batch GROUP BY 1, 2;

-- 1. Top 3 drivers per minute: one top-N operator keeping 3 rows per window.
CREATE TABLE wf_top_drivers (w tstzrange, driver text, n bigint, rn bigint);
SELECT stream_create('wf_top_drivers', $$INSERT INTO wf_top_drivers
  SELECT w, driver, n, rn FROM (
    SELECT w, driver, n, row_number() OVER (PARTITION BY w ORDER BY n DESC, driver) AS rn
    FROM (SELECT tumble(interval '1 minute') AS w, driver, count(*) AS n
          FROM wf_events GROUP BY w, driver) c) ranked
  WHERE rn <= 3$$);
SELECT stream_start('wf_top_drivers');
SELECT stream_wait('wf_top_drivers');
SELECT lower(w), driver, n, rn FROM wf_top_drivers ORDER BY w, rn;
SELECT wf_same('wf_top_drivers', $$SELECT * FROM (SELECT w, driver, n,
  row_number() OVER (PARTITION BY w ORDER BY n DESC, driver) AS rn FROM wf_minute_counts) r
  WHERE rn <= 3$$) AS top_drivers_match;
-- rank() keeps the ties of the last place, dense_rank() the first N distinct values.
CREATE TABLE wf_ranked_totals (w tstzrange, driver text, n bigint, r bigint, kind text);
SELECT stream_create('wf_ranked_totals', $$INSERT INTO wf_ranked_totals
  SELECT w, driver, n, r, 'rank' FROM (
    SELECT w, driver, n, rank() OVER (PARTITION BY w ORDER BY n) AS r
    FROM (SELECT tumble(interval '1 minute') AS w, driver, count(*) AS n
          FROM wf_events GROUP BY w, driver) c) x
  WHERE r < 3$$);
SELECT stream_create('wf_dense_totals', $$INSERT INTO wf_ranked_totals
  SELECT w, driver, n, r, 'dense' FROM (
    SELECT w, driver, n, dense_rank() OVER (PARTITION BY w ORDER BY n DESC) AS r
    FROM (SELECT tumble(interval '1 minute') AS w, driver, count(*) AS n
          FROM wf_events GROUP BY w, driver) c) x
  WHERE r = 1$$);
SELECT stream_start('wf_ranked_totals'), stream_start('wf_dense_totals');
SELECT stream_wait('wf_ranked_totals'), stream_wait('wf_dense_totals');
SELECT wf_same('wf_ranked_totals', $$
  SELECT * FROM (SELECT w, driver, n, rank() OVER (PARTITION BY w ORDER BY n) AS r, 'rank'
                 FROM wf_minute_counts) x WHERE r < 3
  UNION ALL
  SELECT * FROM (SELECT w, driver, n, dense_rank() OVER (PARTITION BY w ORDER BY n DESC), 'dense'
                 FROM wf_minute_counts) x WHERE dense_rank = 1$$) AS ranked_match;
SELECT kind, count(*) FROM wf_ranked_totals GROUP BY kind ORDER BY kind;

-- 2. Every window function, evaluated by PostgreSQL's executor when the window closes.
CREATE TABLE wf_per_window (w tstzrange, driver text, n bigint, rn bigint, r bigint, dr bigint,
  pr float8, cd float8, tile int, running numeric, share numeric, prev text, nxt text,
  top text, third text);
SELECT stream_create('wf_per_window', $$INSERT INTO wf_per_window
  SELECT w, driver, n, row_number() OVER (PARTITION BY w ORDER BY n, driver),
         rank() OVER (PARTITION BY w ORDER BY n), dense_rank() OVER (PARTITION BY w ORDER BY n),
         percent_rank() OVER (PARTITION BY w ORDER BY n), cume_dist() OVER (PARTITION BY w ORDER BY n),
         ntile(2) OVER (PARTITION BY w ORDER BY n, driver),
         sum(total) OVER (PARTITION BY w ORDER BY n, driver),
         round(total / sum(total) OVER (PARTITION BY w), 4),
         lag(driver) OVER (PARTITION BY w ORDER BY driver),
         lead(driver) OVER (PARTITION BY w ORDER BY driver),
         first_value(driver) OVER (PARTITION BY w ORDER BY total DESC, driver),
         nth_value(driver, 3) OVER (PARTITION BY w ORDER BY driver ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
  FROM (SELECT tumble(interval '1 minute') AS w, driver, count(*) AS n, sum(price) AS total
        FROM wf_events GROUP BY w, driver) c$$);
SELECT stream_start('wf_per_window');
SELECT stream_wait('wf_per_window');
SELECT lower(w), driver, n, rn, r, dr, round(pr::numeric, 3) AS pr, round(cd::numeric, 3) AS cd,
       tile, running, share, prev, nxt, top, third
FROM wf_per_window ORDER BY w, rn;
SELECT wf_same('wf_per_window', $$
  SELECT w, driver, n, row_number() OVER (PARTITION BY w ORDER BY n, driver),
         rank() OVER (PARTITION BY w ORDER BY n), dense_rank() OVER (PARTITION BY w ORDER BY n),
         percent_rank() OVER (PARTITION BY w ORDER BY n), cume_dist() OVER (PARTITION BY w ORDER BY n),
         ntile(2) OVER (PARTITION BY w ORDER BY n, driver),
         sum(total) OVER (PARTITION BY w ORDER BY n, driver),
         round(total / sum(total) OVER (PARTITION BY w), 4),
         lag(driver) OVER (PARTITION BY w ORDER BY driver),
         lead(driver) OVER (PARTITION BY w ORDER BY driver),
         first_value(driver) OVER (PARTITION BY w ORDER BY total DESC, driver),
         nth_value(driver, 3) OVER (PARTITION BY w ORDER BY driver ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
  FROM wf_minute_counts$$) AS per_window_match;

-- 3. The updating top-N: the two busiest drivers so far; rows enter and leave the target.
CREATE TABLE wf_busiest (driver text, n bigint, rn bigint);
SELECT stream_create('wf_busiest', $$SET update_aggregate_flush_interval = '1 millisecond';
  INSERT INTO wf_busiest SELECT driver, n, rn FROM (
    SELECT driver, n, row_number() OVER (ORDER BY n DESC, driver) AS rn
    FROM (SELECT driver, count(*) AS n FROM wf_events GROUP BY driver) c) x
  WHERE rn <= 2$$);
SELECT stream_start('wf_busiest');
SELECT stream_wait('wf_busiest');
SELECT * FROM wf_busiest ORDER BY rn;
SELECT wf_same('wf_busiest', $$SELECT * FROM (SELECT driver, n, row_number() OVER (ORDER BY n DESC, driver) AS rn
  FROM (SELECT driver, count(*) AS n FROM wf_events_batch GROUP BY driver) c) x WHERE rn <= 2$$)
  AS busiest_match;
-- Over a join (Nexmark q9's shape: the best later offer of the same driver within 20 s).
CREATE TABLE wf_best_next (ats timestamptz, driver text, price int, bts timestamptz);
SELECT stream_create('wf_best_next', $$INSERT INTO wf_best_next
  SELECT ats, driver, price, bts FROM (
    SELECT a.ts AS ats, a.driver, b.price, b.ts AS bts,
           row_number() OVER (PARTITION BY a.ts ORDER BY b.price DESC, b.ts) AS rn
    FROM wf_events a JOIN wf_events b
      ON b.driver = a.driver AND b.ts BETWEEN a.ts + interval '1 millisecond' AND a.ts + interval '20 seconds') x
  WHERE rn = 1$$);
SELECT stream_start('wf_best_next');
SELECT stream_wait('wf_best_next');
SELECT count(*) FROM wf_best_next;
SELECT wf_same('wf_best_next', $$SELECT ats, driver, price, bts FROM (
    SELECT a.ts AS ats, a.driver, b.price, b.ts AS bts,
           row_number() OVER (PARTITION BY a.ts ORDER BY b.price DESC, b.ts) AS rn
    FROM wf_events_batch a JOIN wf_events_batch b
      ON b.driver = a.driver AND b.ts BETWEEN a.ts + interval '1 millisecond' AND a.ts + interval '20 seconds') x
  WHERE rn = 1$$) AS best_next_match;
-- ORDER BY … LIMIT n: the same operator with one partition (here over the raw rows).
CREATE TABLE wf_priciest (driver text, ts timestamptz, price int);
SELECT stream_create('wf_priciest', $$INSERT INTO wf_priciest
  SELECT driver, ts, price FROM wf_events ORDER BY price DESC, ts LIMIT 4$$);
SELECT stream_start('wf_priciest');
SELECT stream_wait('wf_priciest');
SELECT * FROM wf_priciest ORDER BY price DESC, ts;
SELECT wf_same('wf_priciest', $$SELECT driver, ts, price FROM wf_events_batch ORDER BY price DESC, ts LIMIT 4$$)
  AS priciest_match;
-- Ordered by an expression the select list does not show, over an aggregate.
CREATE TABLE wf_big_spenders (driver text);
SELECT stream_create('wf_big_spenders', $$INSERT INTO wf_big_spenders
  SELECT driver FROM wf_events GROUP BY driver ORDER BY sum(price) DESC LIMIT 2$$);
SELECT stream_start('wf_big_spenders');
SELECT stream_wait('wf_big_spenders');
SELECT * FROM wf_big_spenders ORDER BY driver;
SELECT wf_same('wf_big_spenders', $$SELECT driver FROM wf_events_batch GROUP BY driver
  ORDER BY sum(price) DESC LIMIT 2$$) AS big_spenders_match;
-- FETCH FIRST … WITH TIES keeps the ties of the last row.
CREATE TABLE wf_cheapest (price int, driver text);
SELECT stream_create('wf_cheapest', $$INSERT INTO wf_cheapest
  SELECT price, driver FROM wf_events ORDER BY price FETCH FIRST 2 ROWS WITH TIES$$);
SELECT stream_start('wf_cheapest');
SELECT stream_wait('wf_cheapest');
SELECT wf_same('wf_cheapest', $$SELECT price, driver FROM wf_events_batch ORDER BY price FETCH FIRST 2 ROWS WITH TIES$$)
  AS cheapest_match;

-- 4. Event-time OVER per key: rows in event-time order once the watermark passes them.
CREATE TABLE wf_ticks_over (driver text, ts timestamptz, price int, prev int, nxt int,
  first_price int, last3 bigint, last10s bigint, lag2 int);
SELECT stream_create('wf_ticks_over', $$INSERT INTO wf_ticks_over
  SELECT driver, ts, price,
         lag(price) OVER (PARTITION BY driver ORDER BY ts),
         lead(price) OVER (PARTITION BY driver ORDER BY ts),
         first_value(price) OVER (PARTITION BY driver ORDER BY ts),
         sum(price) OVER (PARTITION BY driver ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
         count(*) OVER (PARTITION BY driver ORDER BY ts RANGE BETWEEN interval '10 seconds' PRECEDING AND CURRENT ROW),
         lag(price, 2, -1) OVER (PARTITION BY driver ORDER BY ts)
  FROM wf_events$$);
SELECT stream_start('wf_ticks_over');
SELECT stream_wait('wf_ticks_over');
SELECT * FROM wf_ticks_over WHERE driver = 'a' ORDER BY ts LIMIT 8;
SELECT wf_same('wf_ticks_over', $$
  SELECT driver, ts, price,
         lag(price) OVER (PARTITION BY driver ORDER BY ts),
         lead(price) OVER (PARTITION BY driver ORDER BY ts),
         first_value(price) OVER (PARTITION BY driver ORDER BY ts),
         sum(price) OVER (PARTITION BY driver ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
         count(*) OVER (PARTITION BY driver ORDER BY ts RANGE BETWEEN interval '10 seconds' PRECEDING AND CURRENT ROW),
         lag(price, 2, -1) OVER (PARTITION BY driver ORDER BY ts)
  FROM wf_events_batch$$) AS ticks_over_match;
-- Without PARTITION BY: one key; the price change since the previous event.
CREATE TABLE wf_changes (ts timestamptz, change int);
SELECT stream_create('wf_changes', $$INSERT INTO wf_changes
  SELECT ts, price - lag(price) OVER (ORDER BY ts) FROM wf_events$$);
SELECT stream_start('wf_changes');
SELECT stream_wait('wf_changes');
SELECT wf_same('wf_changes', $$SELECT ts, price - lag(price) OVER (ORDER BY ts) FROM wf_events_batch$$)
  AS changes_match;
SELECT name, state, late_rows, last_error FROM stream_pipelines WHERE last_error IS NOT NULL AND name LIKE 'wf\_%';

-- 5. What is refused, naming what is missing.
CREATE TABLE wf_refused (driver text, x bigint);
SELECT stream_create('wf_r1', $$INSERT INTO wf_refused
  SELECT driver, row_number() OVER (PARTITION BY driver ORDER BY ts) FROM wf_events$$);
SELECT stream_create('wf_r2', $$INSERT INTO wf_refused
  SELECT driver, sum(price) OVER (PARTITION BY driver ORDER BY ts) FROM wf_events$$);
SELECT stream_create('wf_r3', $$INSERT INTO wf_refused
  SELECT driver, sum(price) OVER (PARTITION BY driver ORDER BY price) FROM wf_events$$);
SELECT stream_create('wf_r4', $$INSERT INTO wf_refused
  SELECT driver, rank() OVER (ORDER BY count(*)) FROM wf_events GROUP BY driver$$);
SELECT stream_create('wf_r5', $$INSERT INTO wf_refused
  SELECT driver, rank() OVER (ORDER BY n) FROM (SELECT driver, count(*) AS n FROM wf_events GROUP BY driver) c$$);
SELECT stream_create('wf_r6', $$INSERT INTO wf_refused SELECT driver, price FROM wf_events ORDER BY price$$);
SELECT stream_create('wf_r7', $$INSERT INTO wf_refused SELECT driver, price FROM wf_events LIMIT 3$$);
SELECT stream_create('wf_r8', $$INSERT INTO wf_refused
  SELECT driver, sum(price) OVER (PARTITION BY driver ORDER BY ts ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM wf_events$$);
SELECT stream_create('wf_r9', $$INSERT INTO wf_refused
  SELECT driver, sum(price) OVER (PARTITION BY driver ORDER BY ts GROUPS 1 PRECEDING) FROM wf_events$$);
SELECT stream_create('wf_r10', $$INSERT INTO wf_refused SELECT driver, price FROM wf_events ORDER BY price LIMIT 3 OFFSET 1$$);

-- 6. State is checkpointed and restored exactly: pipelines stopped twice while they hold rows
-- (stream_stop checkpoints, stream_start restores), then compared with the batch queries.
CREATE SERVER wr_imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE wr_src (counter bigint,
  ts timestamptz GENERATED ALWAYS AS (to_timestamp(1767225600 + counter / 1000.0)) STORED)
  SERVER wr_imp OPTIONS (event_rate '1000', message_count '3000', start_time '2026-01-01 00:00:00+00',
                         event_time_interval '1 millisecond', event_time_field 'ts',
                         watermark_delay '0 seconds');
CREATE TABLE wr_rows AS
  SELECT counter, to_timestamp(1767225600 + counter / 1000.0) AS ts
  FROM generate_series(0::bigint, 2999) counter;
CREATE FUNCTION wr_wait_rows(p text, n bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..3000 LOOP
    IF (SELECT rows_in >= n FROM stream_pipelines WHERE name = p) THEN RETURN; END IF;
    PERFORM pg_sleep(0.01);
  END LOOP;
  RAISE EXCEPTION 'pipeline % did not read % rows in 30 s', p, n;
END $$;
CREATE TABLE wr_top (k bigint, total numeric, rn bigint);
SELECT stream_create('wr_top', $$SET update_aggregate_flush_interval = '10 milliseconds';
  INSERT INTO wr_top SELECT k, total, rn FROM (
    SELECT k, total, row_number() OVER (ORDER BY total DESC, k) AS rn
    FROM (SELECT counter % 11 AS k, sum(counter % 13) AS total FROM wr_src GROUP BY 1) c) x
  WHERE rn <= 3$$);
CREATE TABLE wr_win (w tstzrange, k bigint, n bigint, r bigint);
SELECT stream_create('wr_win', $$INSERT INTO wr_win SELECT w, k, n, r FROM (
    SELECT w, k, n, rank() OVER (PARTITION BY w ORDER BY n DESC) AS r
    FROM (SELECT tumble(interval '700 milliseconds') AS w, counter % 7 AS k, count(*) AS n
          FROM wr_src WHERE counter % 3 <> 0 GROUP BY 1, 2) c) x
  WHERE r <= 2$$);
CREATE TABLE wr_lag (counter bigint, prev bigint, nxt bigint, first bigint, last3 numeric, recent bigint);
SELECT stream_create('wr_lag', $$INSERT INTO wr_lag
  SELECT counter, lag(counter) OVER w, lead(counter, 2) OVER w, first_value(counter) OVER w,
         sum(counter) OVER (PARTITION BY counter % 5 ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
         count(*) OVER (PARTITION BY counter % 5 ORDER BY ts RANGE BETWEEN interval '20 milliseconds' PRECEDING AND CURRENT ROW)
  FROM wr_src WINDOW w AS (PARTITION BY counter % 5 ORDER BY ts)$$);
SELECT stream_start('wr_top'), stream_start('wr_win'), stream_start('wr_lag');
SELECT wr_wait_rows('wr_top', 700), wr_wait_rows('wr_win', 700), wr_wait_rows('wr_lag', 700);
SELECT stream_stop('wr_top'), stream_stop('wr_win'), stream_stop('wr_lag');
SELECT count(*) > 0 AS state_checkpointed FROM stream_checkpoints WHERE pipeline IN ('wr_top', 'wr_win', 'wr_lag');
SELECT stream_start('wr_top'), stream_start('wr_win'), stream_start('wr_lag');
SELECT wr_wait_rows('wr_top', 1900), wr_wait_rows('wr_win', 1900), wr_wait_rows('wr_lag', 1900);
SELECT stream_stop('wr_top'), stream_stop('wr_win'), stream_stop('wr_lag');
SELECT stream_start('wr_top'), stream_start('wr_win'), stream_start('wr_lag');
SELECT name, stream_wait(name) AS state FROM stream_pipelines WHERE name LIKE 'wr\_%' ORDER BY name;
SELECT wf_same('wr_top', $$SELECT k, total, rn FROM (
    SELECT k, total, row_number() OVER (ORDER BY total DESC, k) AS rn
    FROM (SELECT counter % 11 AS k, sum(counter % 13) AS total FROM wr_rows GROUP BY 1) c) x
  WHERE rn <= 3$$) AS wr_top_match;
SELECT wf_same('wr_win', $$SELECT w, k, n, r FROM (
    SELECT w, k, n, rank() OVER (PARTITION BY w ORDER BY n DESC) AS r
    FROM (SELECT tstzrange(date_bin('700 milliseconds', ts, 'epoch'), date_bin('700 milliseconds', ts, 'epoch') + interval '700 milliseconds') AS w,
                 counter % 7 AS k, count(*) AS n
          FROM wr_rows WHERE counter % 3 <> 0 GROUP BY 1, 2) c) x
  WHERE r <= 2$$) AS wr_win_match;
SELECT wf_same('wr_lag', $$SELECT counter, lag(counter) OVER w, lead(counter, 2) OVER w, first_value(counter) OVER w,
         sum(counter) OVER (PARTITION BY counter % 5 ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
         count(*) OVER (PARTITION BY counter % 5 ORDER BY ts RANGE BETWEEN interval '20 milliseconds' PRECEDING AND CURRENT ROW)
  FROM wr_rows WINDOW w AS (PARTITION BY counter % 5 ORDER BY ts)$$) AS wr_lag_match;
SELECT count(*) AS lag_rows, count(nxt) AS with_lead FROM wr_lag;

SELECT count(stream_drop(name)) AS dropped FROM stream_pipelines WHERE name LIKE 'wf\_%' OR name LIKE 'wr\_%';
DROP SERVER wf_files CASCADE;
DROP SERVER wr_imp CASCADE;
DROP VIEW wf_minute_counts;
DROP TABLE wf_events_batch, wf_big_spenders, wf_best_next, wf_top_drivers, wf_ranked_totals, wf_per_window, wf_busiest, wf_priciest, wf_cheapest,
  wf_ticks_over, wf_changes, wf_refused, wr_rows, wr_top, wr_win, wr_lag;
DROP FUNCTION wf_same, wr_wait_rows;
