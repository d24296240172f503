-- Joins: updating joins (INNER, LEFT, RIGHT, FULL on equality keys and further conditions) over
-- append-only and updating inputs, windowed joins, and what is refused. Every result is also
-- compared with PostgreSQL's batch query over the same rows. (Which input a pipeline reads
-- first varies, so only final results are shown.)
\getenv abs_srcdir PG_ABS_SRCDIR
\set orders_path :abs_srcdir '/data/join_orders.json'
\set customers_path :abs_srcdir '/data/join_customers.json'
\set clicks_path :abs_srcdir '/data/join_clicks.json'
\set out_path :abs_srcdir '/results/join_debezium_out.json'
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE ten (counter bigint, subtask_index int) SERVER imp
  OPTIONS (event_rate '0', message_count '10', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second');
CREATE FOREIGN TABLE five (counter bigint, subtask_index int) SERVER imp
  OPTIONS (event_rate '0', message_count '5', start_time '2026-01-01 00:00:00+00',
           event_time_interval '2 seconds');
CREATE TABLE ten_b AS SELECT counter, 0 AS subtask_index FROM generate_series(0::bigint, 9) counter;
CREATE TABLE five_b AS SELECT counter, 0 AS subtask_index FROM generate_series(0::bigint, 4) counter;
-- Orders (append-only, with event time) and customers (Debezium changes: c, u, d).
CREATE FOREIGN TABLE orders (id int, cust int, amount numeric, ts timestamptz) SERVER files
  OPTIONS (path :'orders_path', type 'source', event_time_field 'ts');
CREATE FOREIGN TABLE customers (id int NOT NULL, name text, region text) SERVER files
  OPTIONS (path :'customers_path', type 'source', format 'debezium_json', primary_key 'id');
CREATE TABLE orders_b (id int, cust int, amount numeric, ts timestamptz);
INSERT INTO orders_b VALUES (1, 1, 10, '2026-03-01 00:00:01+00'), (2, 2, 20, '2026-03-01 00:00:02+00'),
  (3, 1, 5, '2026-03-01 00:00:03+00'), (4, 3, 7, '2026-03-01 00:00:04+00'),
  (5, 9, 1, '2026-03-01 00:00:05+00'), (6, NULL, 2, '2026-03-01 00:00:06+00'),
  (7, 2, 30, '2026-03-01 00:00:12+00'), (8, 4, 4, '2026-03-01 00:00:13+00');
-- The customers' final rows (after the changes).
CREATE TABLE customers_b (id int, name text, region text);
INSERT INTO customers_b VALUES (1, 'anne', 'east'), (2, 'bob', 'east'), (5, 'eve', 'west');
CREATE FUNCTION same(target text, batch text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE differ bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %s)) d',
                 target, batch, batch, target) INTO differ;
  RETURN differ = 0;
END $$;

-- 1. Joins of two append-only streams: each kind, keys on expressions, a condition beyond the
-- keys. An inner join of append-only inputs is append-only; outer joins retract the
-- NULL-padded rows their matches replace, so their rows are stored as a multiset.
CREATE TABLE inner_j (a bigint, b bigint);
SELECT stream_create('inner_j', $$INSERT INTO inner_j SELECT t.counter, f.counter FROM ten t JOIN five f
  ON t.counter = f.counter * 2$$);
SELECT stream_start('inner_j');
SELECT stream_wait('inner_j');
SELECT * FROM inner_j ORDER BY a;
CREATE TABLE left_j (a bigint, b bigint);
SELECT stream_create('left_j', $$INSERT INTO left_j SELECT t.counter, f.counter FROM ten t LEFT JOIN five f
  ON t.counter = f.counter + 3 AND f.counter <> 1$$);
SELECT stream_start('left_j');
SELECT stream_wait('left_j');
SELECT * FROM left_j ORDER BY a;
SELECT same('left_j', $$SELECT t.counter, f.counter FROM ten_b t LEFT JOIN five_b f
  ON t.counter = f.counter + 3 AND f.counter <> 1$$) AS left_j_matches;
CREATE TABLE right_j (a bigint, b bigint);
SELECT stream_create('right_j', $$INSERT INTO right_j SELECT t.counter, f.counter FROM ten t RIGHT JOIN five f
  ON t.counter % 3 = f.counter$$);
SELECT stream_start('right_j');
SELECT stream_wait('right_j');
SELECT * FROM right_j ORDER BY b, a;
SELECT same('right_j', $$SELECT t.counter, f.counter FROM ten_b t RIGHT JOIN five_b f
  ON t.counter % 3 = f.counter$$) AS right_j_matches;
CREATE TABLE full_j (a bigint, b bigint);
SELECT stream_create('full_j', $$INSERT INTO full_j SELECT t.counter, f.counter FROM ten t FULL JOIN five f
  ON t.counter = f.counter + 7$$);
SELECT stream_start('full_j');
SELECT stream_wait('full_j');
SELECT * FROM full_j ORDER BY a NULLS LAST, b;
-- USING, a comma join with its condition in WHERE, a self-join, three inputs.
CREATE TABLE using_j (counter bigint, t_sub int, f_sub int);
SELECT stream_create('using_j', $$INSERT INTO using_j SELECT counter, t.subtask_index, f.subtask_index
  FROM ten t FULL JOIN five f USING (counter)$$);
SELECT stream_start('using_j');
SELECT stream_wait('using_j');
SELECT same('using_j', $$SELECT counter, t.subtask_index, f.subtask_index
  FROM ten_b t FULL JOIN five_b f USING (counter)$$) AS using_j_matches;
CREATE TABLE three_j (a bigint, b bigint, c bigint);
SELECT stream_create('three_j', $$INSERT INTO three_j SELECT x.counter, y.counter, z.counter
  FROM ten x, ten y, five z WHERE x.counter = y.counter + 1 AND z.counter = y.counter$$);
SELECT stream_start('three_j');
SELECT stream_wait('three_j');
SELECT * FROM three_j ORDER BY a;

-- 2. Updating joins: orders with customers read from Debezium changes (renames, a deleted
-- customer, one added after its orders), aggregated into a keyed table: an incrementally
-- maintained view of the join.
CREATE TABLE region_totals (region text UNIQUE NULLS NOT DISTINCT, orders bigint, total numeric);
SELECT stream_create('region_totals', $$SET update_aggregate_flush_interval = '1 millisecond';
  INSERT INTO region_totals SELECT c.region, count(*), sum(o.amount)
  FROM orders o LEFT JOIN customers c ON c.id = o.cust GROUP BY c.region$$);
SELECT stream_start('region_totals');
SELECT stream_wait('region_totals');
SELECT * FROM region_totals ORDER BY region NULLS LAST;
SELECT same('region_totals', $$SELECT c.region, count(*), sum(o.amount)
  FROM orders_b o LEFT JOIN customers_b c ON c.id = o.cust GROUP BY c.region$$) AS region_totals_match;
-- Without an aggregate, into a table keyed on the order: each retraction deletes the stored
-- row equal to it (found through the primary key).
CREATE TABLE order_names (order_id int PRIMARY KEY, name text);
SELECT stream_create('order_names', $$INSERT INTO order_names SELECT o.id, c.name
  FROM orders o LEFT JOIN customers c ON c.id = o.cust$$);
SELECT stream_start('order_names');
SELECT stream_wait('order_names');
SELECT * FROM order_names ORDER BY order_id;
SELECT same('order_names', $$SELECT o.id, c.name FROM orders_b o LEFT JOIN customers_b c
  ON c.id = o.cust$$) AS order_names_match;
-- FULL JOIN: customers without orders too.
CREATE TABLE everyone (order_id int, customer text);
SELECT stream_create('everyone', $$INSERT INTO everyone SELECT o.id, c.name
  FROM orders o FULL JOIN customers c ON c.id = o.cust$$);
SELECT stream_start('everyone');
SELECT stream_wait('everyone');
SELECT * FROM everyone ORDER BY order_id NULLS LAST, customer;
-- Out as Debezium changes: replaying them (+after, -before) gives the batch join.
CREATE FOREIGN TABLE named_orders_out (order_id int, name text) SERVER files
  OPTIONS (path :'out_path', type 'sink', format 'debezium_json');
SELECT stream_create('named_orders_out', $$INSERT INTO named_orders_out SELECT o.id, c.name
  FROM orders o JOIN customers c ON c.id = o.cust$$);
SELECT stream_start('named_orders_out');
SELECT stream_wait('named_orders_out');
CREATE TABLE replayed AS
  SELECT (r->>'order_id')::int AS order_id, r->>'name' AS name
  FROM (SELECT line::jsonb AS e FROM regexp_split_to_table(rtrim(pg_read_file(:'out_path'), E'\n'), E'\n') line) l,
       LATERAL (SELECT e->'after' AS r, 1 AS sign WHERE e->'after' <> 'null'
                UNION ALL SELECT e->'before', -1 WHERE e->'before' <> 'null') x
  GROUP BY 1, 2 HAVING sum(sign) = 1;
SELECT * FROM replayed ORDER BY order_id;
SELECT same('replayed', $$SELECT o.id, c.name FROM orders_b o JOIN customers_b c ON c.id = o.cust$$)
  AS replayed_match;
-- An aggregate under a join: each order with its customer's order count so far.
CREATE TABLE with_counts (id int, n bigint);
SELECT stream_create('with_counts', $$INSERT INTO with_counts SELECT o.id, x.n
  FROM orders o JOIN (SELECT cust, count(*) AS n FROM orders GROUP BY cust) x ON x.cust = o.cust$$);
SELECT stream_start('with_counts');
SELECT stream_wait('with_counts');
SELECT * FROM with_counts ORDER BY id;

-- 3. Windowed joins: two windowed aggregates joined on their windows. A window's rows wait for
-- the watermark to pass its end; then an outer join's unmatched rows are emitted, once.
CREATE TABLE per_window (w_start timestamptz, tens bigint, fives bigint);
SELECT stream_create('per_window', $$INSERT INTO per_window SELECT lower(coalesce(a.w, b.w)), a.n, b.n
  FROM (SELECT tumble(interval '4 seconds') AS w, count(*) AS n FROM ten GROUP BY 1) a
  FULL JOIN (SELECT tumble(interval '4 seconds') AS w, count(*) AS n FROM five
             WHERE counter < 3 GROUP BY 1) b ON a.w = b.w$$);
SELECT stream_start('per_window');
SELECT stream_wait('per_window');
SELECT * FROM per_window ORDER BY 1;
SELECT rows_out FROM stream_pipelines WHERE name = 'per_window';

-- 4. Interval joins: bounds on the difference of the two event times. A row is kept until the
-- other side's watermark rules out a later match; an outer join then emits it NULL-padded, once
-- (append-only: each order below is written once, never retracted).
CREATE FOREIGN TABLE clicks (id int, cust int, ts timestamptz) SERVER files
  OPTIONS (path :'clicks_path', type 'source', event_time_field 'ts');
CREATE TABLE clicks_b (id int, cust int, ts timestamptz);
INSERT INTO clicks_b VALUES (1, 1, '2026-03-01 00:00:00+00'), (2, 2, '2026-03-01 00:00:03+00'),
  (3, 1, '2026-03-01 00:00:09+00'), (4, 3, '2026-03-01 00:00:20+00'), (5, 4, '2026-03-01 00:00:30+00');
CREATE TABLE click_orders (click int, ord int);
SELECT stream_create('click_orders', $$INSERT INTO click_orders SELECT c.id, o.id
  FROM clicks c RIGHT JOIN orders o
  ON o.cust = c.cust AND o.ts BETWEEN c.ts AND c.ts + interval '5 seconds'$$);
SELECT stream_start('click_orders');
SELECT stream_wait('click_orders');
SELECT * FROM click_orders ORDER BY ord, click;
SELECT rows_out FROM stream_pipelines WHERE name = 'click_orders';
SELECT same('click_orders', $$SELECT c.id, o.id FROM clicks_b c RIGHT JOIN orders_b o
  ON o.cust = c.cust AND o.ts BETWEEN c.ts AND c.ts + interval '5 seconds'$$) AS click_orders_match;
-- Counted in windows of the joined rows' event time (the later of the two rows').
CREATE TABLE click_windows (w_start timestamptz PRIMARY KEY, pairs bigint, unmatched bigint);
SELECT stream_create('click_windows', $$INSERT INTO click_windows
  SELECT lower(tumble(interval '10 seconds')), count(o.id), count(*) - count(o.id)
  FROM clicks c LEFT JOIN orders o ON o.cust = c.cust AND o.ts BETWEEN c.ts - interval '1 second'
  AND c.ts + interval '5 seconds' GROUP BY tumble(interval '10 seconds')$$);
SELECT stream_start('click_windows');
SELECT stream_wait('click_windows');
SELECT * FROM click_windows ORDER BY 1;

-- 5. Refused at stream_create, naming the construct.
CREATE TABLE pairs (a bigint, b bigint);
SELECT stream_create('bad', $$INSERT INTO pairs SELECT t.counter, f.counter FROM ten t JOIN five f
  ON t.counter < f.counter$$);
SELECT stream_create('bad', $$INSERT INTO pairs SELECT t.counter, f.counter FROM ten t CROSS JOIN five f$$);
SELECT stream_create('bad', $$INSERT INTO pairs SELECT a.n, b.n
  FROM (SELECT tumble(interval '4 seconds') AS w, count(*) AS n FROM ten GROUP BY 1) a
  JOIN (SELECT tumble(interval '8 seconds') AS w, count(*) AS n FROM five GROUP BY 1) b ON a.w = b.w$$);
CREATE TABLE texts (a bigint, b text);
SELECT stream_create('bad', $$INSERT INTO texts SELECT t.counter, f::text FROM ten t
  JOIN five f ON t.counter = f.counter$$);
SELECT stream_create('bad', $$INSERT INTO pairs SELECT t.counter, f.counter FROM ten t
  JOIN five f ON t.counter = f.counter AND random() < 0.5 LEFT JOIN LATERAL (SELECT 1 AS one) x ON x.one > 0$$);
-- One table twice is one change stream, read once.
CREATE TABLE plain (k bigint PRIMARY KEY);
SELECT stream_create('self', $$INSERT INTO pairs SELECT a.k, b.k FROM plain a JOIN plain b ON a.k = b.k + 1$$);
SELECT count(stream_drop(name)) AS dropped FROM stream_pipelines;

-- 6. Two regular tables: the pipeline's one replication slot decodes both, and its results stay
-- equal to the batch join as either table changes — in transactions changing one table or
-- both, rolled back ones too — and across a stop (changes made meanwhile wait in the slot).
-- One table is read by key (its primary key), the other with whole old rows (FULL).
CREATE FUNCTION wait_same_j(target text, batch text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..600 LOOP
    IF same(target, batch) THEN RETURN true; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;
CREATE TABLE shop_customers (id int PRIMARY KEY, name text NOT NULL, region text);
CREATE TABLE shop_orders (id int PRIMARY KEY, customer_id int, amount numeric);
ALTER TABLE shop_orders REPLICA IDENTITY FULL;
INSERT INTO shop_customers VALUES (1, 'ann', 'east'), (2, 'bob', 'west'), (3, 'cy', 'east');
INSERT INTO shop_orders VALUES (1, 1, 10), (2, 1, 5), (3, 2, 7), (4, 9, 100), (5, NULL, 1);
CREATE TABLE name_totals (name text PRIMARY KEY, total numeric, n bigint);
SELECT stream_create('name_totals', $$INSERT INTO name_totals SELECT c.name, sum(o.amount), count(*)
  FROM shop_orders o JOIN shop_customers c ON c.id = o.customer_id GROUP BY c.name$$);
CREATE TABLE all_orders (order_id int, customer text);
SELECT stream_create('all_orders', $$INSERT INTO all_orders SELECT o.id, c.name
  FROM shop_orders o FULL JOIN shop_customers c ON c.id = o.customer_id$$);
SELECT stream_start('name_totals'), stream_start('all_orders');
SELECT wait_same_j('name_totals', $$SELECT c.name, sum(o.amount), count(*)
  FROM shop_orders o JOIN shop_customers c ON c.id = o.customer_id GROUP BY c.name$$);
SELECT wait_same_j('all_orders', $$SELECT o.id, c.name
  FROM shop_orders o FULL JOIN shop_customers c ON c.id = o.customer_id$$);
UPDATE shop_orders SET customer_id = 3 WHERE id = 3;
UPDATE shop_customers SET name = 'ANN' WHERE id = 1;
BEGIN;
INSERT INTO shop_customers VALUES (9, 'zed', 'west');
DELETE FROM shop_orders WHERE id = 2;
COMMIT;
DELETE FROM shop_customers WHERE id = 2;
BEGIN;
INSERT INTO shop_orders VALUES (6, 3, 50);
UPDATE shop_customers SET name = 'nobody' WHERE id = 3;
ROLLBACK;
SELECT wait_same_j('name_totals', $$SELECT c.name, sum(o.amount), count(*)
  FROM shop_orders o JOIN shop_customers c ON c.id = o.customer_id GROUP BY c.name$$);
SELECT * FROM name_totals ORDER BY name;
SELECT wait_same_j('all_orders', $$SELECT o.id, c.name
  FROM shop_orders o FULL JOIN shop_customers c ON c.id = o.customer_id$$);
SELECT * FROM all_orders ORDER BY order_id, customer;
SELECT stream_stop('name_totals');
INSERT INTO shop_orders VALUES (7, 3, 1), (8, 9, 2);
UPDATE shop_customers SET region = 'north';
UPDATE shop_customers SET name = 'zoe' WHERE id = 9;
SELECT stream_start('name_totals');
SELECT wait_same_j('name_totals', $$SELECT c.name, sum(o.amount), count(*)
  FROM shop_orders o JOIN shop_customers c ON c.id = o.customer_id GROUP BY c.name$$);
SELECT * FROM name_totals ORDER BY name;
-- One slot per pipeline, whatever the number of tables it reads.
SELECT count(*) AS slots FROM pg_replication_slots
  WHERE slot_name LIKE 'arroyo\_' || (SELECT oid FROM pg_database WHERE datname = current_database()) || '\_%';
SELECT count(stream_drop(name)) AS dropped FROM stream_pipelines;
SELECT count(*) AS slots_left FROM pg_replication_slots
  WHERE slot_name LIKE 'arroyo\_' || (SELECT oid FROM pg_database WHERE datname = current_database()) || '\_%';

-- 7. updating_ttl: a key of an updating join that no row has touched for the TTL (event time,
-- against the watermark) is forgotten with its rows; what they produced stays. The one key
-- here is touched at seconds 0-4, then not until 25-27: by then its rows are gone, so the
-- rows of 25-27 pair only among themselves: 5 * 5 + 3 * 3 = 34 pairs, where the batch join
-- (no TTL) has 8 * 8 = 64.
CREATE FOREIGN TABLE timed (counter bigint) SERVER imp
  OPTIONS (event_rate '10', message_count '30', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second', watermark_delay '0 seconds');
CREATE TABLE ttl_pairs (n bigint);
SELECT stream_create('ttl_pairs', $$SET updating_ttl = '10 seconds';
  SET update_aggregate_flush_interval = '10 milliseconds';
  INSERT INTO ttl_pairs SELECT count(*) FROM timed l JOIN timed r ON l.counter / 100 = r.counter / 100
  WHERE (l.counter < 5 OR l.counter BETWEEN 25 AND 27) AND (r.counter < 5 OR r.counter BETWEEN 25 AND 27)$$);
SELECT stream_start('ttl_pairs');
SELECT stream_wait('ttl_pairs');
SELECT * FROM ttl_pairs;
SELECT count(*) FROM generate_series(0, 29) l JOIN generate_series(0, 29) r ON l / 100 = r / 100
  WHERE (l < 5 OR l BETWEEN 25 AND 27) AND (r < 5 OR r BETWEEN 25 AND 27);
SELECT count(stream_drop(name)) AS dropped FROM stream_pipelines;
