-- Window functions (OVER): top-N per time window, window functions per closed window, the
-- updating top-N (also ORDER BY … LIMIT n) and event-time OVER per key. Every result is
-- compared with PostgreSQL's batch query over the same rows.
\getenv abs_srcdir PG_ABS_SRCDIR
\set events_path :abs_srcdir '/data/window_events.json'
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE events (driver text, ts timestamptz, price int)
  SERVER files OPTIONS (path :'events_path', type 'source', event_time_field 'ts',
                        watermark_delay '5 seconds');
-- The same rows, for the batch queries.
CREATE TABLE events_batch (driver text, ts timestamptz, price int);
SELECT stream_create('copy_events', 'INSERT INTO events_batch SELECT * FROM events');
SELECT stream_start('copy_events');
SELECT stream_wait('copy_events');
SELECT count(*), count(DISTINCT ts) FROM events_batch;
CREATE FUNCTION same(target text, batch text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE differ bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %s)) d',
                 target, batch, batch, target) INTO differ;
  RETURN differ = 0;
END $$;
-- The windowed counts, as a batch query (windows aligned to the Unix epoch).
CREATE VIEW minute_counts AS
  SELECT tstzrange(date_bin('1 minute', ts, 'epoch'), date_bin('1 minute', ts, 'epoch') + interval '1 minute') AS w,
         driver, count(*) AS n, sum(price) AS total
  FROM events_batch GROUP BY 1, 2;

-- 1. Top 3 drivers per minute: one top-N operator keeping 3 rows per window.
CREATE TABLE top_drivers (w tstzrange, driver text, n bigint, rn bigint);
SELECT stream_create('top_drivers', $$INSERT INTO top_drivers
  SELECT w, driver, n, rn FROM (
    SELECT w, driver, n, row_number() OVER (PARTITION BY w ORDER BY n DESC, driver) AS rn
    FROM (SELECT tumble(interval '1 minute') AS w, driver, count(*) AS n
          FROM events GROUP BY w, driver) c) ranked
  WHERE rn <= 3$$);
SELECT stream_start('top_drivers');
SELECT stream_wait('top_drivers');
SELECT lower(w), driver, n, rn FROM top_drivers ORDER BY w, rn;
SELECT same('top_drivers', $$SELECT * FROM (SELECT w, driver, n,
  row_number() OVER (PARTITION BY w ORDER BY n DESC, driver) AS rn FROM minute_counts) r
  WHERE rn <= 3$$) AS top_drivers_match;
-- rank() keeps the ties of the last place, dense_rank() the first N distinct values.
CREATE TABLE ranked_totals (w tstzrange, driver text, n bigint, r bigint, kind text);
SELECT stream_create('ranked_totals', $$INSERT INTO ranked_totals
  SELECT w, driver, n, r, 'rank' FROM (
    SELECT w, driver, n, rank() OVER (PARTITION BY w ORDER BY n) AS r
    FROM (SELECT tumble(interval '1 minute') AS w, driver, count(*) AS n
          FROM events GROUP BY w, driver) c) x
  WHERE r < 3$$);
SELECT stream_create('dense_totals', $$INSERT INTO ranked_totals
  SELECT w, driver, n, r, 'dense' FROM (
    SELECT w, driver, n, dense_rank() OVER (PARTITION BY w ORDER BY n DESC) AS r
    FROM (SELECT tumble(interval '1 minute') AS w, driver, count(*) AS n
          FROM events GROUP BY w, driver) c) x
  WHERE r = 1$$);
SELECT stream_start('ranked_totals'), stream_start('dense_totals');
SELECT stream_wait('ranked_totals'), stream_wait('dense_totals');
SELECT same('ranked_totals', $$
  SELECT * FROM (SELECT w, driver, n, rank() OVER (PARTITION BY w ORDER BY n) AS r, 'rank'
                 FROM minute_counts) x WHERE r < 3
  UNION ALL
  SELECT * FROM (SELECT w, driver, n, dense_rank() OVER (PARTITION BY w ORDER BY n DESC), 'dense'
                 FROM minute_counts) x WHERE dense_rank = 1$$) AS ranked_match;
SELECT kind, count(*) FROM ranked_totals GROUP BY kind ORDER BY kind;

-- 2. Every window function, evaluated by PostgreSQL's executor when the window closes.
CREATE TABLE per_window (w tstzrange, driver text, n bigint, rn bigint, r bigint, dr bigint,
  pr float8, cd float8, tile int, running numeric, share numeric, prev text, nxt text,
  top text, third text);
SELECT stream_create('per_window', $$INSERT INTO per_window
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
        FROM events GROUP BY w, driver) c$$);
SELECT stream_start('per_window');
SELECT stream_wait('per_window');
SELECT lower(w), driver, n, rn, r, dr, round(pr::numeric, 3) AS pr, round(cd::numeric, 3) AS cd,
       tile, running, share, prev, nxt, top, third
FROM per_window ORDER BY w, rn;
SELECT same('per_window', $$
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
  FROM minute_counts$$) AS per_window_match;

-- 3. The updating top-N: the two busiest drivers so far; rows enter and leave the target.
CREATE TABLE busiest (driver text, n bigint, rn bigint);
SELECT stream_create('busiest', $$SET update_aggregate_flush_interval = '1 millisecond';
  INSERT INTO busiest SELECT driver, n, rn FROM (
    SELECT driver, n, row_number() OVER (ORDER BY n DESC, driver) AS rn
    FROM (SELECT driver, count(*) AS n FROM events GROUP BY driver) c) x
  WHERE rn <= 2$$);
SELECT stream_start('busiest');
SELECT stream_wait('busiest');
SELECT * FROM busiest ORDER BY rn;
SELECT same('busiest', $$SELECT * FROM (SELECT driver, n, row_number() OVER (ORDER BY n DESC, driver) AS rn
  FROM (SELECT driver, count(*) AS n FROM events_batch GROUP BY driver) c) x WHERE rn <= 2$$)
  AS busiest_match;
-- ORDER BY … LIMIT n: the same operator with one partition (here over the raw rows).
CREATE TABLE priciest (driver text, ts timestamptz, price int);
SELECT stream_create('priciest', $$INSERT INTO priciest
  SELECT driver, ts, price FROM events ORDER BY price DESC, ts LIMIT 4$$);
SELECT stream_start('priciest');
SELECT stream_wait('priciest');
SELECT * FROM priciest ORDER BY price DESC, ts;
SELECT same('priciest', $$SELECT driver, ts, price FROM events_batch ORDER BY price DESC, ts LIMIT 4$$)
  AS priciest_match;
-- FETCH FIRST … WITH TIES keeps the ties of the last row.
CREATE TABLE cheapest (price int, driver text);
SELECT stream_create('cheapest', $$INSERT INTO cheapest
  SELECT price, driver FROM events ORDER BY price FETCH FIRST 2 ROWS WITH TIES$$);
SELECT stream_start('cheapest');
SELECT stream_wait('cheapest');
SELECT same('cheapest', $$SELECT price, driver FROM events_batch ORDER BY price FETCH FIRST 2 ROWS WITH TIES$$)
  AS cheapest_match;

-- 4. Event-time OVER per key: rows in event-time order once the watermark passes them.
CREATE TABLE ticks_over (driver text, ts timestamptz, price int, prev int, nxt int,
  first_price int, last3 bigint, last10s bigint, lag2 int);
SELECT stream_create('ticks_over', $$INSERT INTO ticks_over
  SELECT driver, ts, price,
         lag(price) OVER (PARTITION BY driver ORDER BY ts),
         lead(price) OVER (PARTITION BY driver ORDER BY ts),
         first_value(price) OVER (PARTITION BY driver ORDER BY ts),
         sum(price) OVER (PARTITION BY driver ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
         count(*) OVER (PARTITION BY driver ORDER BY ts RANGE BETWEEN interval '10 seconds' PRECEDING AND CURRENT ROW),
         lag(price, 2, -1) OVER (PARTITION BY driver ORDER BY ts)
  FROM events$$);
SELECT stream_start('ticks_over');
SELECT stream_wait('ticks_over');
SELECT * FROM ticks_over WHERE driver = 'a' ORDER BY ts LIMIT 8;
SELECT same('ticks_over', $$
  SELECT driver, ts, price,
         lag(price) OVER (PARTITION BY driver ORDER BY ts),
         lead(price) OVER (PARTITION BY driver ORDER BY ts),
         first_value(price) OVER (PARTITION BY driver ORDER BY ts),
         sum(price) OVER (PARTITION BY driver ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
         count(*) OVER (PARTITION BY driver ORDER BY ts RANGE BETWEEN interval '10 seconds' PRECEDING AND CURRENT ROW),
         lag(price, 2, -1) OVER (PARTITION BY driver ORDER BY ts)
  FROM events_batch$$) AS ticks_over_match;
-- Without PARTITION BY: one key; the price change since the previous event.
CREATE TABLE changes (ts timestamptz, change int);
SELECT stream_create('changes', $$INSERT INTO changes
  SELECT ts, price - lag(price) OVER (ORDER BY ts) FROM events$$);
SELECT stream_start('changes');
SELECT stream_wait('changes');
SELECT same('changes', $$SELECT ts, price - lag(price) OVER (ORDER BY ts) FROM events_batch$$)
  AS changes_match;
SELECT name, state, late_rows, last_error FROM stream_pipelines WHERE last_error IS NOT NULL;

-- 5. What is refused, naming what is missing.
CREATE TABLE refused (driver text, x bigint);
SELECT stream_create('r1', $$INSERT INTO refused
  SELECT driver, row_number() OVER (PARTITION BY driver ORDER BY ts) FROM events$$);
SELECT stream_create('r2', $$INSERT INTO refused
  SELECT driver, sum(price) OVER (PARTITION BY driver ORDER BY ts) FROM events$$);
SELECT stream_create('r3', $$INSERT INTO refused
  SELECT driver, sum(price) OVER (PARTITION BY driver ORDER BY price) FROM events$$);
SELECT stream_create('r4', $$INSERT INTO refused
  SELECT driver, rank() OVER (ORDER BY count(*)) FROM events GROUP BY driver$$);
SELECT stream_create('r5', $$INSERT INTO refused
  SELECT driver, rank() OVER (ORDER BY n) FROM (SELECT driver, count(*) AS n FROM events GROUP BY driver) c$$);
SELECT stream_create('r6', $$INSERT INTO refused SELECT driver, price FROM events ORDER BY price$$);
SELECT stream_create('r7', $$INSERT INTO refused SELECT driver, price FROM events LIMIT 3$$);
SELECT stream_create('r8', $$INSERT INTO refused
  SELECT driver, sum(price) OVER (PARTITION BY driver ORDER BY ts ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM events$$);
SELECT stream_create('r9', $$INSERT INTO refused
  SELECT driver, sum(price) OVER (PARTITION BY lower(driver) ORDER BY ts ROWS 1 PRECEDING) FROM events$$);
SELECT stream_create('r10', $$INSERT INTO refused SELECT driver, price FROM events ORDER BY price LIMIT 3 OFFSET 1$$);
