-- Subqueries, CTEs, DISTINCT, GROUPING SETS and updating sources written into tables.
\getenv abs_srcdir PG_ABS_SRCDIR
\set VERBOSITY default
SET timezone = 'UTC';
-- Its own schema and server: the tests before it leave objects behind.
CREATE SCHEMA subq;
SET search_path = subq, public;
\set customers_path :abs_srcdir '/data/debezium_customers.json'
CREATE SERVER subq_files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');

-- An updating source written straight into a table: Debezium's c/r/u/d.
CREATE FOREIGN TABLE customers (id int NOT NULL, first_name text, last_name text, email text)
  SERVER subq_files OPTIONS (path :'customers_path', type 'source', format 'debezium_json',
                        primary_key 'id');
CREATE TABLE customers_copy (id int PRIMARY KEY, first_name text, last_name text, email text);
SELECT stream_create('copy', 'INSERT INTO customers_copy SELECT * FROM customers');
SELECT stream_start('copy');
SELECT stream_wait('copy');
SELECT state, rows_in, bad_rows, last_error FROM stream_pipelines WHERE name = 'copy';
SELECT * FROM customers_copy ORDER BY id;
-- The key (primary_key 'id') reaches the target's primary key through a filter and a
-- projection: a "u" is one UPDATE of the row in place, a "d" one DELETE (a trigger logs them).
CREATE TABLE names_copy (name text, id int PRIMARY KEY);
CREATE TABLE names_log (n serial, op text, id int);
CREATE FUNCTION log_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO subq.names_log (op, id) VALUES (TG_OP, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
  RETURN NULL;
END $$;
CREATE TRIGGER names_log AFTER INSERT OR UPDATE OR DELETE ON names_copy
  FOR EACH ROW EXECUTE FUNCTION log_names();
SELECT stream_create('names', $$INSERT INTO names_copy
  SELECT first_name || ' ' || last_name, id FROM customers WHERE email LIKE '%.%'$$);
SELECT stream_start('names');
SELECT stream_wait('names');
SELECT state, last_error FROM stream_pipelines WHERE name = 'names';
SELECT * FROM names_copy ORDER BY id;
SELECT op, id FROM names_log ORDER BY n;
-- Without a unique index on the key, rows are matched whole (a "u" is a DELETE and an INSERT).
CREATE TABLE names_nokey (name text, id int);
SELECT stream_create('nokey', $$INSERT INTO names_nokey
  SELECT first_name, id FROM customers$$);
SELECT stream_start('nokey');
SELECT stream_wait('nokey');
SELECT * FROM names_nokey ORDER BY id;

-- Subqueries, WITH, DISTINCT and GROUPING SETS over an append-only stream (s_orders, with a
-- NULL cust) and a Debezium one (s_customers: c, u, d), each result compared with PostgreSQL's
-- batch query over the same rows (b_orders, b_customers: the final rows) and shown.
\set orders_path :abs_srcdir '/data/join_orders.json'
\set jcustomers_path :abs_srcdir '/data/join_customers.json'
CREATE FOREIGN TABLE s_orders (id int, cust int, amount numeric, ts timestamptz) SERVER subq_files
  OPTIONS (path :'orders_path', type 'source', event_time_field 'ts');
CREATE FOREIGN TABLE s_customers (id int NOT NULL, name text, region text) SERVER subq_files
  OPTIONS (path :'jcustomers_path', type 'source', format 'debezium_json', primary_key 'id');
CREATE TABLE b_orders (id int, cust int, amount numeric, ts timestamptz);
INSERT INTO b_orders VALUES (1, 1, 10, '2026-03-01 00:00:01+00'), (2, 2, 20, '2026-03-01 00:00:02+00'),
  (3, 1, 5, '2026-03-01 00:00:03+00'), (4, 3, 7, '2026-03-01 00:00:04+00'),
  (5, 9, 1, '2026-03-01 00:00:05+00'), (6, NULL, 2, '2026-03-01 00:00:06+00'),
  (7, 2, 30, '2026-03-01 00:00:12+00'), (8, 4, 4, '2026-03-01 00:00:13+00');
CREATE TABLE b_customers (id int, name text, region text);
INSERT INTO b_customers VALUES (1, 'anne', 'east'), (2, 'bob', 'east'), (5, 'eve', 'west');
-- prepare(): a target table shaped like the batch query's result, and the pipeline into it;
-- verify(): the pipeline's state and whether the table equals the batch query's result.
CREATE TABLE checks (name text PRIMARY KEY, batch text);
CREATE FUNCTION prepare(name text, query text, unique_key text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE batch text := replace(replace(query, 's_orders', 'b_orders'), 's_customers', 'b_customers');
BEGIN
  EXECUTE format('CREATE TABLE %I AS %s WITH NO DATA', name, batch);
  IF unique_key IS NOT NULL THEN
    EXECUTE format('ALTER TABLE %I ADD UNIQUE NULLS NOT DISTINCT (%s)', name, unique_key);
  END IF;
  PERFORM stream_create(name, format('INSERT INTO %I %s', name, query));
  INSERT INTO checks VALUES (name, batch);
END $$;
CREATE FUNCTION verify(name text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE batch text; differ bigint; st text; err text;
BEGIN
  SELECT c.batch INTO batch FROM checks c WHERE c.name = verify.name;
  EXECUTE format('SELECT count(*) FROM ((TABLE %I EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %I)) d',
                 name, batch, batch, name) INTO differ;
  SELECT p.state, p.last_error INTO st, err FROM stream_pipelines p WHERE p.name = verify.name;
  RETURN st || coalesce(' ' || err, '') || CASE WHEN differ = 0 THEN ', equals the batch result'
                                               ELSE ', differs from the batch result' END;
END $$;

-- IN (a semi join): each order whose customer exists now (customer 3 was deleted).
SELECT prepare('in_sub', $$SELECT id, cust FROM s_orders WHERE cust IN (SELECT id FROM s_customers)$$);
SELECT stream_start('in_sub');
SELECT stream_wait('in_sub');
SELECT verify('in_sub');
SELECT * FROM in_sub ORDER BY id;
-- NOT IN (an anti join with SQL's NULL rules): order 6 (cust NULL) is not in the result.
SELECT prepare('not_in', $$SELECT id, cust FROM s_orders WHERE cust NOT IN (SELECT id FROM s_customers)$$);
SELECT stream_start('not_in');
SELECT stream_wait('not_in');
SELECT verify('not_in');
SELECT * FROM not_in ORDER BY id;
-- NOT IN over a subquery with a NULL: never true.
SELECT prepare('not_in_null', $$SELECT id FROM s_orders
  WHERE cust NOT IN (SELECT CASE WHEN id = 5 THEN NULL ELSE id END FROM s_customers)$$);
SELECT stream_start('not_in_null');
SELECT stream_wait('not_in_null');
SELECT verify('not_in_null');
SELECT count(*) FROM not_in_null;
-- NOT IN over no rows: always true, for the NULL cust too.
SELECT prepare('not_in_empty', $$SELECT id FROM s_orders
  WHERE cust NOT IN (SELECT id FROM s_customers WHERE region = 'north')$$);
SELECT stream_start('not_in_empty');
SELECT stream_wait('not_in_empty');
SELECT verify('not_in_empty');
SELECT * FROM not_in_empty ORDER BY id;
-- Correlated EXISTS and NOT EXISTS, with a condition beyond the equality.
SELECT prepare('exists_sub', $$SELECT o.id, o.amount FROM s_orders o
  WHERE EXISTS (SELECT 1 FROM s_customers c WHERE c.id = o.cust AND c.region = 'east' AND o.amount > 5)$$);
SELECT stream_start('exists_sub');
SELECT stream_wait('exists_sub');
SELECT verify('exists_sub');
SELECT * FROM exists_sub ORDER BY id;
SELECT prepare('not_exists', $$SELECT o.id, o.cust FROM s_orders o
  WHERE NOT EXISTS (SELECT 1 FROM s_customers c WHERE c.id = o.cust)$$);
SELECT stream_start('not_exists');
SELECT stream_wait('not_exists');
SELECT verify('not_exists');
SELECT * FROM not_exists ORDER BY id;
-- Over two append-only inputs (the same file read once for both): a matched row is not kept.
-- Each customer's last order (no later one), and the orders of customers with a big order.
SELECT prepare('last_order', $$SELECT o.id, o.cust FROM s_orders o
  WHERE NOT EXISTS (SELECT 1 FROM s_orders i WHERE i.cust = o.cust AND i.id > o.id)$$);
SELECT stream_start('last_order');
SELECT stream_wait('last_order');
SELECT verify('last_order');
SELECT * FROM last_order ORDER BY id;
SELECT prepare('big_cust', $$SELECT id, cust FROM s_orders WHERE cust IN (SELECT cust FROM s_orders WHERE amount >= 10)$$);
SELECT stream_start('big_cust');
SELECT stream_wait('big_cust');
SELECT verify('big_cust');
SELECT * FROM big_cust ORDER BY id;
-- Uncorrelated EXISTS: all rows or none.
SELECT prepare('exists_any', $$SELECT id FROM s_orders WHERE EXISTS (SELECT 1 FROM s_customers WHERE region = 'west')$$);
SELECT stream_start('exists_any');
SELECT stream_wait('exists_any');
SELECT verify('exists_any');
SELECT count(*) FROM exists_any;
-- Scalar subqueries (aggregates without GROUP BY): in WHERE and in the select list.
SELECT prepare('above_avg', $$SELECT id, amount, amount - (SELECT min(amount) FROM s_orders) AS over_min
  FROM s_orders WHERE amount > (SELECT avg(amount) FROM s_orders)$$);
SELECT stream_start('above_avg');
SELECT stream_wait('above_avg');
SELECT verify('above_avg');
SELECT * FROM above_avg ORDER BY id;
-- Correlated scalar subqueries (equalities with the outer query): a LEFT JOIN with the aggregate
-- grouped by the inner columns; a customer without orders gets NULL, as in the batch query.
SELECT prepare('per_cust', $$SELECT o.id, (SELECT max(i.amount) FROM s_orders i WHERE i.cust = o.cust) AS cust_max,
    (SELECT min(c.name) FROM s_customers c WHERE o.cust = c.id AND c.region = 'east') AS east_name
  FROM s_orders o WHERE o.amount >= (SELECT avg(i.amount) FROM s_orders i WHERE i.cust = o.cust)$$);
SELECT stream_start('per_cust');
SELECT stream_wait('per_cust');
SELECT verify('per_cust');
SELECT * FROM per_cust ORDER BY id;
-- WITH: a CTE read twice (one plan, both joins' inputs), one CTE over another.
SELECT prepare('with_cte', $$WITH big AS (SELECT id, cust, amount FROM s_orders WHERE amount > 4),
       east AS (SELECT id FROM s_customers WHERE region = 'east')
  SELECT a.id, b.id AS other FROM big a JOIN big b ON a.cust = b.cust AND a.id < b.id
  WHERE a.cust IN (SELECT id FROM east)$$);
SELECT stream_start('with_cte');
SELECT stream_wait('with_cte');
SELECT verify('with_cte');
SELECT * FROM with_cte ORDER BY id;
-- SELECT DISTINCT: updating (a row while some input row has it; keyed by all its columns, as
-- GROUP BY them) and per window.
SELECT prepare('distinct_region', $$SELECT DISTINCT region FROM s_customers$$, 'region');
SELECT stream_start('distinct_region');
SELECT stream_wait('distinct_region');
SELECT verify('distinct_region');
SELECT * FROM distinct_region ORDER BY region;
SELECT prepare('distinct_window', $$SELECT DISTINCT tumble(interval '10 seconds') AS w, cust FROM s_orders$$);
SELECT stream_start('distinct_window');
SELECT stream_wait('distinct_window');
SELECT * FROM distinct_window ORDER BY w, cust;
SELECT prepare('distinct_agg', $$SELECT DISTINCT count(*) AS n FROM s_orders GROUP BY cust$$, 'n');
SELECT stream_start('distinct_agg');
SELECT stream_wait('distinct_agg');
SELECT verify('distinct_agg');
SELECT * FROM distinct_agg ORDER BY n;
-- GROUPING SETS, ROLLUP, CUBE and grouping(), updating and windowed.
SELECT prepare('rollup', $$SELECT cust, grouping(cust) AS g, count(*) AS n, sum(amount) AS total
  FROM s_orders GROUP BY ROLLUP (cust)$$);
SELECT stream_start('rollup');
SELECT stream_wait('rollup');
SELECT verify('rollup');
SELECT * FROM rollup ORDER BY g, cust NULLS FIRST;
SELECT prepare('cube', $$SELECT region, name, grouping(region, name) AS g, count(*) AS n
  FROM s_customers GROUP BY CUBE (region, name)$$);
SELECT stream_start('cube');
SELECT stream_wait('cube');
SELECT verify('cube');
SELECT * FROM cube ORDER BY g, region, name;
SELECT prepare('sets_window', $$SELECT tumble(interval '10 seconds') AS w, cust, count(*) AS n
  FROM s_orders GROUP BY GROUPING SETS ((w, cust), (w))$$);
SELECT stream_start('sets_window');
SELECT stream_wait('sets_window');
SELECT * FROM sets_window ORDER BY w, cust NULLS FIRST, n;

-- Retraction as the subquery's side changes: a regular table read by change data capture.
CREATE FUNCTION wait_same(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE differences bigint;
BEGIN
  FOR i IN 1..600 LOOP
    EXECUTE format('SELECT count(*) FROM ((%s EXCEPT ALL %s) UNION ALL (%s EXCEPT ALL %s)) d',
                   a, b, b, a) INTO differences;
    IF differences = 0 THEN RETURN true; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN false;
END $$;
CREATE TABLE blocked (n serial PRIMARY KEY, cust int);
INSERT INTO blocked (cust) VALUES (1), (3);
CREATE TABLE allowed_orders (id int);
CREATE TABLE vip_orders (id int);
SELECT stream_create('allowed', $$SET update_aggregate_flush_interval = '20 milliseconds';
  INSERT INTO allowed_orders SELECT id FROM s_orders WHERE cust NOT IN (SELECT cust FROM blocked)$$);
SELECT stream_create('vip', $$INSERT INTO vip_orders
  SELECT id FROM s_orders o WHERE EXISTS (SELECT 1 FROM blocked b WHERE b.cust = o.cust)$$);
SELECT stream_start('allowed');
SELECT stream_start('vip');
SELECT wait_same('TABLE allowed_orders', 'SELECT id FROM b_orders WHERE cust NOT IN (SELECT cust FROM blocked)');
SELECT wait_same('TABLE vip_orders', 'SELECT id FROM b_orders o WHERE EXISTS (SELECT 1 FROM blocked b WHERE b.cust = o.cust)');
SELECT * FROM allowed_orders ORDER BY id;
SELECT * FROM vip_orders ORDER BY id;
-- A NULL in the subquery: NOT IN is never true, every row is retracted; and back.
INSERT INTO blocked (cust) VALUES (NULL);
SELECT wait_same('TABLE allowed_orders', 'SELECT id FROM b_orders WHERE false');
DELETE FROM blocked WHERE cust IS NULL;
SELECT wait_same('TABLE allowed_orders', 'SELECT id FROM b_orders WHERE cust NOT IN (SELECT cust FROM blocked)');
-- A new match retracts rows of NOT IN and adds rows of EXISTS; an update moves them.
INSERT INTO blocked (cust) VALUES (2);
UPDATE blocked SET cust = 4 WHERE cust = 3;
SELECT wait_same('TABLE allowed_orders', 'SELECT id FROM b_orders WHERE cust NOT IN (SELECT cust FROM blocked)');
SELECT wait_same('TABLE vip_orders', 'SELECT id FROM b_orders o WHERE EXISTS (SELECT 1 FROM blocked b WHERE b.cust = o.cust)');
SELECT * FROM allowed_orders ORDER BY id;
SELECT * FROM vip_orders ORDER BY id;
-- Every row of the subquery gone: NOT IN is true for all, the NULL cust included.
DELETE FROM blocked;
SELECT wait_same('TABLE allowed_orders', 'SELECT id FROM b_orders');
SELECT wait_same('TABLE vip_orders', 'SELECT id FROM b_orders WHERE false');
SELECT name, state, last_error FROM stream_pipelines WHERE name IN ('allowed', 'vip') ORDER BY name;
SELECT stream_stop('allowed');
SELECT stream_stop('vip');

-- Refused, naming the construct.
CREATE TABLE refused (a int);
SELECT stream_create('bad', $$INSERT INTO refused SELECT id FROM s_orders o
  WHERE id > (SELECT count(*) FROM s_orders i WHERE i.cust = o.cust)$$);
SELECT stream_create('bad', $$INSERT INTO refused SELECT id FROM s_orders o
  WHERE amount > (SELECT avg(amount) FROM s_orders i WHERE i.cust < o.cust)$$);
SELECT stream_create('bad', $$INSERT INTO refused SELECT id FROM s_orders o
  WHERE cust NOT IN (SELECT id FROM s_customers c WHERE c.name = o.id::text)$$);
SELECT stream_create('bad', $$INSERT INTO refused SELECT id FROM s_orders o
  WHERE (cust, id) NOT IN (SELECT id, id FROM s_customers)$$);
SELECT stream_create('bad', $$INSERT INTO refused SELECT id FROM s_orders o
  WHERE cust IN (SELECT id FROM s_customers) OR amount > 10$$);
SELECT stream_create('bad', $$INSERT INTO refused SELECT id FROM s_orders
  WHERE amount > (SELECT amount FROM s_orders LIMIT 1)$$);
SELECT stream_create('bad', $$INSERT INTO refused SELECT DISTINCT ON (cust) id FROM s_orders$$);
SELECT stream_create('bad', $$WITH cheap AS (SELECT id FROM s_orders WHERE amount < 5)
  INSERT INTO refused SELECT id FROM cheap$$);
SELECT stream_create('bad', $$INSERT INTO refused WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r)
  SELECT id FROM s_orders$$);
SELECT stream_create('bad', $$INSERT INTO refused SELECT cust FROM s_orders GROUP BY cust
  HAVING count(*) > (SELECT count(*) FROM s_customers)$$);
SELECT stream_create('bad', $$INSERT INTO refused SELECT id FROM s_orders o
  WHERE EXISTS (SELECT max(c.id) FROM s_customers c WHERE c.id = o.cust)$$);

SELECT count(stream_drop(name)) FROM stream_pipelines
WHERE name IN (SELECT name FROM checks) OR name IN ('copy', 'names', 'nokey', 'allowed', 'vip');
SET client_min_messages = warning;
DROP SCHEMA subq CASCADE;
DROP SERVER subq_files;
