-- single_file -> schemaless JSON (one jsonb column takes each whole message) -> a lateral
-- jsonb_array_elements over the message's array -> projection -> blackhole: 500 000 messages
-- of 8 items each (about 330 bytes), written by COPY into the benchmark's work directory first.
-- Events are messages; rows_out is the items. Measures set-returning functions in FROM and
-- the unstructured json decoding.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_files CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_meta;
CREATE TABLE bench_meta AS SELECT 500000 AS events;
\getenv work_root ARROYO_WORK_ROOT
\set path :work_root '/bench-sql/json_unnest.json'
COPY (SELECT json_build_object('order', i, 'user', 'user-' || (i % 9973),
                               'items', (SELECT json_agg(json_build_object('sku', (i * 7 + j) % 1000,
                                                                           'qty', 1 + j % 3))
                                         FROM generate_series(1, 8) j))
      FROM generate_series(1, 500000) AS i) TO :'path';
CREATE SERVER bench_files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE orders_in (doc jsonb)
  SERVER bench_files OPTIONS (path :'path', type 'source', format 'json');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE nowhere (order_id bigint, user_name text, sku int, qty int, pos bigint)
  SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO nowhere
  SELECT (doc->>'order')::bigint, doc->>'user', (item->>'sku')::int, (item->>'qty')::int, pos
  FROM orders_in, LATERAL jsonb_array_elements(doc->'items') WITH ORDINALITY AS i(item, pos)$$);
