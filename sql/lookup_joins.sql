-- Lookup joins: a stream joined with a LATERAL subquery over regular tables (and foreign tables
-- of postgres_fdw), each event matched with the rows visible when it is processed. Results are
-- compared with PostgreSQL's batch LATERAL query over the same rows (the looked-up tables do
-- not change while those pipelines run).
\getenv abs_srcdir PG_ABS_SRCDIR
\set orders_path :abs_srcdir '/data/join_orders.json'
\set customers_path :abs_srcdir '/data/join_customers.json'
\set VERBOSITY default
SET timezone = 'UTC';
-- Its own schema and servers: earlier tests leave objects of the same names behind.
CREATE SCHEMA lookup_test;
SET search_path = lookup_test, public;
CREATE SERVER lookup_files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE SERVER lookup_imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
-- Orders: cust 1, 2, 1, 3, 9 (no such customer), NULL, 2, 4.
CREATE FOREIGN TABLE orders (id int, cust int, amount numeric, ts timestamptz) SERVER lookup_files
  OPTIONS (path :'orders_path', type 'source', event_time_field 'ts');
CREATE TABLE orders_b (id int, cust int, amount numeric, ts timestamptz);
INSERT INTO orders_b VALUES (1, 1, 10, '2026-03-01 00:00:01+00'), (2, 2, 20, '2026-03-01 00:00:02+00'),
  (3, 1, 5, '2026-03-01 00:00:03+00'), (4, 3, 7, '2026-03-01 00:00:04+00'),
  (5, 9, 1, '2026-03-01 00:00:05+00'), (6, NULL, 2, '2026-03-01 00:00:06+00'),
  (7, 2, 30, '2026-03-01 00:00:12+00'), (8, 4, 4, '2026-03-01 00:00:13+00');
CREATE TABLE customers (id int PRIMARY KEY, name text, region text);
INSERT INTO customers VALUES (1, 'anne', 'east'), (2, 'bob', 'west'), (3, 'cy', 'east'),
  (4, 'dee', NULL);
-- Several rows per customer, no index.
CREATE TABLE addresses (cust int, city text);
INSERT INTO addresses VALUES (1, 'paris'), (1, 'lyon'), (2, 'rome'), (NULL, 'nowhere');
CREATE FUNCTION same(target text, batch text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE differ bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM ((TABLE %s EXCEPT ALL (%s)) UNION ALL ((%s) EXCEPT ALL TABLE %s)) d',
                 target, batch, batch, target) INTO differ;
  RETURN differ = 0;
END $$;
-- Waits (up to 60 s) until a query counts at least n; returns whether it did.
CREATE FUNCTION wait_count(q text, n bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE c bigint;
BEGIN
  FOR i IN 1..3000 LOOP
    EXECUTE q INTO c;
    IF c >= n THEN RETURN true; END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
  RETURN false;
END $$;

-- 1. INNER: an order without a customer (9) or with a NULL key has no row.
CREATE TABLE inner_l (id int, cust int, name text);
SELECT stream_create('inner_l', $$INSERT INTO inner_l SELECT o.id, o.cust, c.name FROM orders o
  JOIN LATERAL (SELECT name FROM customers c WHERE c.id = o.cust) c ON true$$);
SELECT stream_start('inner_l');
SELECT stream_wait('inner_l');
SELECT * FROM inner_l ORDER BY id;
SELECT same('inner_l', $$SELECT o.id, o.cust, c.name FROM orders_b o
  JOIN LATERAL (SELECT name FROM customers c WHERE c.id = o.cust) c ON true$$) AS inner_l_matches;

-- 2. LEFT: every order, NULL-padded when nothing matches (no customer 9, a NULL key).
CREATE TABLE left_l (id int, name text, region text);
SELECT stream_create('left_l', $$INSERT INTO left_l SELECT o.id, c.name, c.region FROM orders o
  LEFT JOIN LATERAL (SELECT name, region FROM customers c WHERE c.id = o.cust) c ON true$$);
SELECT stream_start('left_l');
SELECT stream_wait('left_l');
SELECT * FROM left_l ORDER BY id;
SELECT same('left_l', $$SELECT o.id, c.name, c.region FROM orders_b o
  LEFT JOIN LATERAL (SELECT name, region FROM customers c WHERE c.id = o.cust) c ON true$$) AS left_l_matches;

-- 3. Several matches per event, from a table without an index (each batch scans it: said at
-- stream_create); a NULL key matches nothing with =, and the NULL row with IS NOT DISTINCT FROM.
CREATE TABLE many_l (id int, city text);
SELECT stream_create('many_l', $$INSERT INTO many_l SELECT o.id, a.city FROM orders o
  LEFT JOIN LATERAL (SELECT city FROM addresses a WHERE a.cust IS NOT DISTINCT FROM o.cust) a ON true$$);
SELECT stream_start('many_l');
SELECT stream_wait('many_l');
SELECT * FROM many_l ORDER BY id, city;
SELECT same('many_l', $$SELECT o.id, a.city FROM orders_b o
  LEFT JOIN LATERAL (SELECT city FROM addresses a WHERE a.cust IS NOT DISTINCT FROM o.cust) a ON true$$) AS many_l_matches;

-- 4. Conditions that are not equalities (scans), the comma form with WHERE over both sides,
-- CROSS JOIN LATERAL, a subquery without a reference to the stream.
CREATE TABLE cond_l (id int, name text);
SELECT stream_create('cond_l', $$INSERT INTO cond_l SELECT o.id, c.name FROM orders o,
  LATERAL (SELECT id, name FROM customers c WHERE c.id < o.cust AND length(c.name) > 2) c
  WHERE o.amount > c.id$$);
SELECT stream_start('cond_l');
SELECT stream_wait('cond_l');
SELECT * FROM cond_l ORDER BY id, name;
SELECT same('cond_l', $$SELECT o.id, c.name FROM orders_b o,
  LATERAL (SELECT id, name FROM customers c WHERE c.id < o.cust AND length(c.name) > 2) c
  WHERE o.amount > c.id$$) AS cond_l_matches;
CREATE TABLE cross_l (id int, n bigint, last_city text);
SELECT stream_create('cross_l', $$INSERT INTO cross_l SELECT o.id, x.n, x.last_city FROM orders o
  CROSS JOIN LATERAL (SELECT count(*) AS n, max(city) AS last_city FROM addresses) x$$);
SELECT stream_start('cross_l');
SELECT stream_wait('cross_l');
SELECT count(*), min(n), max(last_city) FROM cross_l;
SELECT same('cross_l', $$SELECT o.id, x.n, x.last_city FROM orders_b o
  CROSS JOIN LATERAL (SELECT count(*) AS n, max(city) AS last_city FROM addresses) x$$) AS cross_l_matches;

-- 5. Any subquery PostgreSQL can plan: per event an aggregate, the top row, a join, two keys.
CREATE TABLE sub_l (id int, n bigint, top_city text, region text);
SELECT stream_create('sub_l', $$INSERT INTO sub_l SELECT o.id, agg.n, top.city, j.region FROM orders o
  JOIN LATERAL (SELECT count(*) AS n FROM addresses a WHERE a.cust = o.cust) agg ON true
  LEFT JOIN LATERAL (SELECT city FROM addresses a WHERE a.cust = o.cust ORDER BY city LIMIT 1) top ON true
  LEFT JOIN LATERAL (SELECT c.region FROM customers c JOIN addresses a ON a.cust = c.id
                     WHERE c.id = o.cust AND a.city <> 'lyon' AND o.amount >= 5) j ON true$$);
SELECT stream_start('sub_l');
SELECT stream_wait('sub_l');
SELECT * FROM sub_l ORDER BY id;
SELECT same('sub_l', $$SELECT o.id, agg.n, top.city, j.region FROM orders_b o
  JOIN LATERAL (SELECT count(*) AS n FROM addresses a WHERE a.cust = o.cust) agg ON true
  LEFT JOIN LATERAL (SELECT city FROM addresses a WHERE a.cust = o.cust ORDER BY city LIMIT 1) top ON true
  LEFT JOIN LATERAL (SELECT c.region FROM customers c JOIN addresses a ON a.cust = c.id
                     WHERE c.id = o.cust AND a.city <> 'lyon' AND o.amount >= 5) j ON true$$) AS sub_l_matches;

-- A lookup using the columns of the lookup before it.
CREATE TABLE chain_l (id int, city text, name text);
SELECT stream_create('chain_l', $$INSERT INTO chain_l SELECT o.id, a.city, c.name FROM orders o
  JOIN LATERAL (SELECT cust, city FROM addresses a WHERE a.cust = o.cust) a ON true
  LEFT JOIN LATERAL (SELECT name FROM customers c WHERE c.id = a.cust AND c.name <> 'bob') c ON true$$);
SELECT stream_start('chain_l');
SELECT stream_wait('chain_l');
SELECT * FROM chain_l ORDER BY id, city;
SELECT same('chain_l', $$SELECT o.id, a.city, c.name FROM orders_b o
  JOIN LATERAL (SELECT cust, city FROM addresses a WHERE a.cust = o.cust) a ON true
  LEFT JOIN LATERAL (SELECT name FROM customers c WHERE c.id = a.cust AND c.name <> 'bob') c ON true$$)
  AS chain_l_matches;

-- A versioned table looked up as of each event's time: row_time() inside the subquery is the
-- event's time (the orders' ts).
CREATE TABLE tiers (cust int, tier text, valid_from timestamptz, valid_to timestamptz);
INSERT INTO tiers VALUES (1, 'basic', '-infinity', '2026-03-01 00:00:03+00'),
  (1, 'gold', '2026-03-01 00:00:03+00', 'infinity'), (2, 'basic', '-infinity', 'infinity');
CREATE TABLE tiered (id int, tier text);
SELECT stream_create('tiered', $$INSERT INTO tiered SELECT o.id, t.tier FROM orders o
  LEFT JOIN LATERAL (SELECT tier FROM tiers t WHERE t.cust = o.cust
                     AND t.valid_from <= row_time() AND row_time() < t.valid_to) t ON true$$);
SELECT stream_start('tiered');
SELECT stream_wait('tiered');
SELECT * FROM tiered ORDER BY id;
SELECT same('tiered', $$SELECT o.id, t.tier FROM orders_b o
  LEFT JOIN LATERAL (SELECT tier FROM tiers t WHERE t.cust = o.cust
                     AND t.valid_from <= o.ts AND o.ts < t.valid_to) t ON true$$) AS tiered_matches;

-- 6. An aggregate over a lookup (an updating result, keyed by region).
CREATE TABLE by_region (region text UNIQUE NULLS NOT DISTINCT, orders bigint, total numeric);
SELECT stream_create('by_region', $$INSERT INTO by_region SELECT c.region, count(*), sum(o.amount)
  FROM orders o LEFT JOIN LATERAL (SELECT region FROM customers c WHERE c.id = o.cust) c ON true
  GROUP BY c.region$$);
SELECT stream_start('by_region');
SELECT stream_wait('by_region');
SELECT * FROM by_region ORDER BY region;
SELECT same('by_region', $$SELECT c.region, count(*), sum(o.amount)
  FROM orders_b o LEFT JOIN LATERAL (SELECT region FROM customers c WHERE c.id = o.cust) c ON true
  GROUP BY c.region$$) AS by_region_matches;

-- 7. Refused at stream_create, naming the construct.
CREATE FOREIGN TABLE customers_changes (id int NOT NULL, name text, region text) SERVER lookup_files
  OPTIONS (path :'customers_path', type 'source', format 'debezium_json', primary_key 'id');
CREATE TABLE bad (id int, name text);
SELECT stream_create('bad', $$INSERT INTO bad SELECT o.id, c.name FROM orders o
  RIGHT JOIN LATERAL (SELECT name FROM customers c WHERE c.id = o.cust) c ON true$$);
SELECT stream_create('bad', $$INSERT INTO bad SELECT o.id, c.name FROM orders o
  LEFT JOIN LATERAL (SELECT id, name FROM customers c WHERE c.id = o.cust) c ON c.id > 1$$);
SELECT stream_create('bad', $$INSERT INTO bad SELECT o.id, c.name FROM orders o
  JOIN LATERAL (SELECT max(o.amount)::text AS name FROM customers c) c ON true$$);
SELECT stream_create('bad', $$INSERT INTO bad SELECT o.id, c.name FROM orders o
  JOIN LATERAL (SELECT name FROM customers_changes c WHERE c.id = o.cust) c ON true$$);
SELECT stream_create('bad', $$INSERT INTO bad SELECT c.id, x.city FROM customers_changes c
  JOIN LATERAL (SELECT city FROM addresses a WHERE a.cust = c.id) x ON true$$);
SELECT stream_create('bad', $$INSERT INTO bad SELECT c.id, c.name FROM LATERAL (SELECT id, name FROM customers) c$$);
SELECT stream_create('bad', $$SET lookup.cache.ttl = '10 s';
  INSERT INTO bad SELECT o.id, c.name FROM orders o
  JOIN LATERAL (SELECT name FROM customers c WHERE c.id = o.cust) c ON true$$);
SELECT stream_create('bad', $$SET lookup.cache.max_rows = 0;
  INSERT INTO bad SELECT o.id, c.name FROM orders o
  JOIN LATERAL (SELECT name FROM customers c WHERE c.id = o.cust) c ON true$$);
CREATE TEMP TABLE temp_customers (id int, name text);
SELECT stream_create('bad', $$INSERT INTO bad SELECT o.id, c.name FROM orders o
  JOIN LATERAL (SELECT name FROM temp_customers c WHERE c.id = o.cust) c ON true$$);
SELECT count(*) FROM stream_pipelines WHERE name = 'bad';

-- 8. The table changes while the pipeline runs: each event is matched with the row visible
-- when it was processed, and later changes retract nothing. Events arrive 50 a second; once
-- some have their old row, both rows change in one transaction; the events after it see the
-- new rows.
CREATE FOREIGN TABLE ticks (counter bigint, subtask_index int) SERVER lookup_imp OPTIONS (event_rate '50');
CREATE TABLE prices (k int PRIMARY KEY, price text);
INSERT INTO prices VALUES (0, 'old 0'), (1, 'old 1');
CREATE TABLE priced (counter bigint, price text);
SELECT stream_create('priced', $$INSERT INTO priced SELECT t.counter, p.price FROM ticks t
  JOIN LATERAL (SELECT price FROM prices p WHERE p.k = t.counter % 2) p ON true$$);
SELECT stream_start('priced');
SELECT wait_count('SELECT count(*) FROM priced', 5) AS old_rows_seen;
UPDATE prices SET price = replace(price, 'old', 'new');
SELECT wait_count($$SELECT count(*) FROM priced WHERE price LIKE 'new%'$$, 5) AS new_rows_seen;
SELECT stream_stop('priced');
-- Every event exactly once, with its own key's row: the old one before the change, the new
-- one after it.
SELECT count(*) = count(DISTINCT counter) AND count(*) = max(counter) + 1 AS each_event_once,
       bool_and(price LIKE '%' || (counter % 2)) AS own_key,
       max(counter) FILTER (WHERE price LIKE 'old%') < min(counter) FILTER (WHERE price LIKE 'new%')
         AS old_then_new
FROM priced;

-- 9. Privileges: the owner must be able to read the looked-up table, at stream_create and while
-- the pipeline runs (a revoked privilege fails it, with the error in stream_pipelines).
CREATE ROLE regress_lookup_owner LOGIN;
CREATE TABLE priv_out (counter bigint, price text);
GRANT USAGE ON SCHEMA lookup_test TO regress_lookup_owner;
GRANT SELECT ON ticks TO regress_lookup_owner;
GRANT INSERT ON priv_out TO regress_lookup_owner;
SET ROLE regress_lookup_owner;
SELECT stream_create('priv', $$INSERT INTO priv_out SELECT t.counter, p.price FROM ticks t
  JOIN LATERAL (SELECT price FROM prices p WHERE p.k = t.counter % 2) p ON true$$);
RESET ROLE;
GRANT SELECT ON prices TO regress_lookup_owner;
SET ROLE regress_lookup_owner;
SELECT stream_create('priv', $$INSERT INTO priv_out SELECT t.counter, p.price FROM ticks t
  JOIN LATERAL (SELECT price FROM prices p WHERE p.k = t.counter % 2) p ON true$$);
SELECT stream_start('priv');
RESET ROLE;
SELECT wait_count('SELECT count(*) FROM priv_out', 1) AS running;
REVOKE SELECT ON prices FROM regress_lookup_owner;
SELECT wait_count($$SELECT count(*) FROM stream_pipelines WHERE name = 'priv' AND state = 'failed'$$, 1) AS failed;
SELECT state, last_error FROM stream_pipelines WHERE name = 'priv';
SELECT stream_drop('priv');

-- 10. A foreign table of postgres_fdw: enrichment from another database, with and without the
-- cache. Uncached, a remote change is seen by the events after it; cached (lookup.cache.ttl),
-- a key's rows are kept, so the events after the change still get the cached row.
CREATE EXTENSION postgres_fdw;
\set regress_db :DBNAME
CREATE DATABASE regress_lookup_remote;
\c regress_lookup_remote
CREATE TABLE rates (k int PRIMARY KEY, rate text);
INSERT INTO rates VALUES (0, 'old 0'), (1, 'old 1');
\c :regress_db
SET timezone = 'UTC';
SET search_path = lookup_test, public;
\set VERBOSITY default
-- (the server's socket directory varies: the generated statement is not echoed)
\set ECHO none
SELECT format('CREATE SERVER lookup_remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname %L, port %L%s)',
              'regress_lookup_remote', current_setting('port'),
              CASE WHEN :'HOST' LIKE '/%' THEN format(', host %L', :'HOST') ELSE '' END) \gexec
\set ECHO all
CREATE USER MAPPING FOR CURRENT_USER SERVER lookup_remote;
CREATE FOREIGN TABLE remote_rates (k int, rate text) SERVER lookup_remote
  OPTIONS (schema_name 'public', table_name 'rates');
-- The cache is keyed by the values the subquery takes from the stream: subtask_index, always 0.
CREATE TABLE rated (counter bigint, rate text, missing text);
SELECT stream_create('rated', $$INSERT INTO rated SELECT t.counter, r.rate, m.rate FROM ticks t
  LEFT JOIN LATERAL (SELECT rate FROM remote_rates r WHERE r.k = t.subtask_index) r ON true
  LEFT JOIN LATERAL (SELECT rate FROM remote_rates r WHERE r.k = t.subtask_index + 5) m ON true$$);
CREATE TABLE rated_cached (counter bigint, rate text, missing text);
SELECT stream_create('rated_cached', $$SET lookup.cache.ttl = '1 hour'; SET lookup.cache.max_rows = 100;
  INSERT INTO rated_cached SELECT t.counter, r.rate, m.rate FROM ticks t
  LEFT JOIN LATERAL (SELECT rate FROM remote_rates r WHERE r.k = t.subtask_index) r ON true
  LEFT JOIN LATERAL (SELECT rate FROM remote_rates r WHERE r.k = t.subtask_index + 5) m ON true$$);
SELECT stream_start('rated');
SELECT stream_start('rated_cached');
SELECT wait_count('SELECT count(*) FROM rated', 5) AND wait_count('SELECT count(*) FROM rated_cached', 5)
  AS both_running;
\c regress_lookup_remote
UPDATE rates SET rate = replace(rate, 'old', 'new');
\c :regress_db
SET timezone = 'UTC';
SET search_path = lookup_test, public;
\set VERBOSITY default
SELECT (SELECT count(*) FROM rated_cached) AS cached_before \gset
SELECT wait_count($$SELECT count(*) FROM rated WHERE rate LIKE 'new%'$$, 5) AS uncached_sees_new;
SELECT wait_count('SELECT count(*) FROM rated_cached', :cached_before + 20) AS cached_ran_on;
SELECT stream_stop('rated');
SELECT stream_stop('rated_cached');
SELECT count(*) = max(counter) + 1 AS each_event_once, bool_and(missing IS NULL) AS padded,
       max(counter) FILTER (WHERE rate = 'old 0') < min(counter) FILTER (WHERE rate = 'new 0')
         AS old_then_new
FROM rated;
SELECT count(*) = max(counter) + 1 AS each_event_once, bool_and(missing IS NULL) AS padded,
       count(*) FILTER (WHERE rate = 'old 0') = count(*) AS all_cached_old
FROM rated_cached;
SELECT stream_drop('rated');
SELECT stream_drop('rated_cached');
DROP FOREIGN TABLE remote_rates;
DROP USER MAPPING FOR CURRENT_USER SERVER lookup_remote;
DROP SERVER lookup_remote;
DROP EXTENSION postgres_fdw;
DROP DATABASE regress_lookup_remote WITH (FORCE);

SELECT count(stream_drop(name)) AS dropped FROM stream_pipelines
WHERE name IN ('inner_l', 'left_l', 'many_l', 'cond_l', 'cross_l', 'sub_l', 'chain_l', 'tiered', 'by_region',
               'priced');
DROP OWNED BY regress_lookup_owner;
DROP ROLE regress_lookup_owner;
DROP SCHEMA lookup_test CASCADE;
DROP SERVER lookup_files, lookup_imp CASCADE;
RESET search_path;
