-- debezium_json sources: Debezium change events as an updating stream.
\getenv abs_srcdir PG_ABS_SRCDIR
\set VERBOSITY default
SET timezone = 'UTC';
\set customers_path :abs_srcdir '/data/debezium_customers.json'
\set orders_path :abs_srcdir '/data/debezium_orders.json'
\set out_path :abs_srcdir '/results/debezium_customers_out.json'
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');

-- Events in both forms (the first, with schema and payload, as Debezium's JsonConverter writes
-- it), ops c, r, u, d, and tombstones; through an aggregate into a keyed table.
CREATE FOREIGN TABLE customers (id int NOT NULL, first_name text, last_name text, email text)
  SERVER files OPTIONS (path :'customers_path', type 'source', format 'debezium_json',
                        primary_key 'id');
CREATE TABLE customer_names (id int PRIMARY KEY, name text);
SELECT stream_create('customers', $$INSERT INTO customer_names
  SELECT id, max(first_name || ' ' || last_name) FROM customers GROUP BY id$$);
SELECT stream_start('customers');
SELECT stream_wait('customers');
SELECT state, rows_in, bad_rows, last_error FROM stream_pipelines WHERE name = 'customers';
SELECT * FROM customer_names ORDER BY id;

-- Round trip: the result out again as Debezium envelopes (one flush at the end: each key's
-- final row as a "c"; see updating.sql for "u" and "d").
CREATE FOREIGN TABLE customers_out (id int, name text) SERVER files
  OPTIONS (path :'out_path', type 'sink', format 'debezium_json');
SELECT stream_create('round_trip', $$SET update_aggregate_flush_interval = '1 hour';
  INSERT INTO customers_out SELECT id, max(first_name) FROM customers GROUP BY id$$);
SELECT stream_start('round_trip');
SELECT stream_wait('round_trip');
SELECT line::jsonb->>'op' AS op, line::jsonb->'before' AS before, line::jsonb->'after' AS after
FROM regexp_split_to_table(rtrim(pg_read_file(:'out_path'), E'\n'), E'\n') line ORDER BY line;

-- Debezium's value encodings: decimals as strings or numbers, timestamps as epoch millis,
-- micros or nanos, dates as days since 1970; bad events dropped and counted.
CREATE FOREIGN TABLE orders (id int, store int NOT NULL, amount numeric, placed timestamp, day date,
                             placed_tz timestamptz)
  SERVER files OPTIONS (path :'orders_path', type 'source', format 'debezium_json',
                        primary_key 'id', bad_data 'drop');
CREATE TABLE store_totals (store int PRIMARY KEY, orders bigint, amount numeric, first_placed timestamp,
                           last_day date, last_tz timestamptz);
SELECT stream_create('orders', $$INSERT INTO store_totals
  SELECT store, count(*), sum(amount), min(placed), max(day), max(placed_tz) FROM orders GROUP BY store$$);
SELECT stream_start('orders');
SELECT stream_wait('orders');
SELECT state, rows_in, bad_rows, last_error FROM stream_pipelines WHERE name = 'orders';
SELECT * FROM store_totals ORDER BY store;
-- With bad_data 'fail' (the default), a bad event fails the pipeline naming the line. (A new
-- pipeline: started again, 'orders' would resume after the end of the file it has read.)
ALTER FOREIGN TABLE orders OPTIONS (DROP bad_data);
SELECT stream_drop('orders');
TRUNCATE store_totals;
SELECT stream_create('orders', $$INSERT INTO store_totals
  SELECT store, count(*), sum(amount), min(placed), max(day), max(placed_tz) FROM orders GROUP BY store$$);
SELECT stream_start('orders');
SELECT stream_wait('orders');
SELECT state, replace(last_error, :'abs_srcdir', '<srcdir>') AS last_error FROM stream_pipelines WHERE name = 'orders';

-- Options.
CREATE FOREIGN TABLE bad (id int) SERVER files
  OPTIONS (path '/tmp/x.json', type 'source', format 'debezium_json', primary_key 'nope');
CREATE FOREIGN TABLE bad (id int) SERVER files
  OPTIONS (path '/tmp/x.json', type 'source', primary_key 'id');
-- A debezium source is updating: an append-only sink cannot take it.
CREATE FOREIGN TABLE plain_out (id int) SERVER files OPTIONS (path '/tmp/x.json', type 'sink');
SELECT stream_create('bad', 'INSERT INTO plain_out SELECT id FROM customers');

SELECT stream_drop(name) FROM stream_pipelines ORDER BY name;
DROP SERVER files CASCADE;
DROP TABLE customer_names, store_totals;
