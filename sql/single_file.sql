-- single_file: newline-delimited JSON in, JSON out.
\getenv abs_srcdir PG_ABS_SRCDIR
\set orders_path :abs_srcdir '/data/orders.json'
\set bad_path :abs_srcdir '/data/bad_lines.json'
\set out_path :abs_srcdir '/results/single_file_out.json'
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE orders (id int, customer text, amount numeric, paid boolean, ts timestamptz,
                             tags jsonb, meta json, missing text)
  SERVER files OPTIONS (path :'orders_path', type 'source', format 'json');
CREATE TABLE orders_copy (LIKE orders);
SELECT stream_create('load_orders', 'INSERT INTO orders_copy SELECT * FROM orders');
SELECT stream_start('load_orders');
SELECT stream_wait('load_orders');
SELECT name, state, rows_in, rows_out, bad_rows, last_error FROM stream_pipelines;
SELECT id, customer, amount, paid, ts AT TIME ZONE 'UTC' AS ts_utc, tags, meta, missing
FROM orders_copy ORDER BY id;

-- A sink writes one JSON object per row, with PostgreSQL's JSON rendering of each type.
CREATE FOREIGN TABLE orders_out (id int, customer text, amount numeric, paid boolean,
                                 ts timestamptz, tags jsonb, note text)
  SERVER files OPTIONS (path :'out_path', type 'sink');
SELECT stream_create('export', $$INSERT INTO orders_out
  SELECT id, upper(customer), amount * 2, paid, ts, tags, NULL FROM orders WHERE id <> 3$$);
SELECT stream_start('export');
SELECT stream_wait('export');
SELECT name, state, rows_out FROM stream_pipelines WHERE name = 'export';
SELECT pg_read_file(:'out_path');
-- Round trip: what the sink wrote, the source reads back.
CREATE FOREIGN TABLE orders_back (id int, customer text, amount numeric, ts timestamptz, tags jsonb)
  SERVER files OPTIONS (path :'out_path', type 'source');
CREATE TABLE back_copy (id int, customer text, amount numeric, ts timestamptz, tags jsonb);
SELECT stream_create('back', 'INSERT INTO back_copy SELECT * FROM orders_back');
SELECT stream_start('back');
SELECT stream_wait('back');
SELECT b.id, b.customer, b.amount, b.ts = o.ts AS same_ts, b.tags
FROM back_copy b JOIN orders_copy o USING (id) ORDER BY id;

-- Malformed lines: bad_data 'fail' (the default) fails the pipeline naming file and line.
CREATE FOREIGN TABLE bad (id int, amount numeric) SERVER files
  OPTIONS (path :'bad_path', type 'source');
CREATE TABLE bad_copy (id int, amount numeric);
SELECT stream_create('bad_fail', 'INSERT INTO bad_copy SELECT * FROM bad');
SELECT stream_start('bad_fail');
SELECT stream_wait('bad_fail');
SELECT state, replace(last_error, :'abs_srcdir', '<srcdir>') AS last_error
FROM stream_pipelines WHERE name = 'bad_fail';
SELECT count(*) FROM bad_copy;
-- bad_data 'drop' drops and counts them.
ALTER FOREIGN TABLE bad OPTIONS (ADD bad_data 'drop');
SELECT stream_start('bad_fail');
SELECT stream_wait('bad_fail');
SELECT state, rows_in, rows_out, bad_rows, last_error FROM stream_pipelines WHERE name = 'bad_fail';
SELECT * FROM bad_copy ORDER BY id;

-- A missing file fails the pipeline with the operating system's reason.
CREATE FOREIGN TABLE nofile (id int) SERVER files
  OPTIONS (path '/tmp/arroyo_stream_no_such_file.json', type 'source');
CREATE TABLE nofile_copy (id int);
SELECT stream_create('nofile', 'INSERT INTO nofile_copy SELECT * FROM nofile');
SELECT stream_start('nofile');
SELECT stream_wait('nofile');
SELECT state, last_error FROM stream_pipelines WHERE name = 'nofile';

SELECT stream_drop(name) FROM stream_pipelines ORDER BY name;
DROP SERVER files CASCADE;
DROP TABLE orders_copy, back_copy, bad_copy, nofile_copy;
