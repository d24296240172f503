-- Limits on input: nesting depth (json.max_depth), line size (max_line_size), exact numbers
-- from debezium_json, and options that would overflow later rejected at CREATE.
\getenv abs_srcdir PG_ABS_SRCDIR
\set VERBOSITY default
SET timezone = 'UTC';
\set numbers_path :abs_srcdir '/data/debezium_numbers.json'
\set nested_path :abs_srcdir '/results/input_limits_nested.json'
\set long_path :abs_srcdir '/results/input_limits_long.json'
CREATE SERVER limit_files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');

-- Debezium numbers reach numeric columns with every digit sent (12.50 stays 12.50, integers
-- beyond 64 bits fit numeric(30), 1e-400 is not 0), floats keep full precision; an epoch of
-- -2^63 is nanoseconds (no overflow); 31 digits for a numeric(30) are bad data.
CREATE FOREIGN TABLE dbz_numbers (id int NOT NULL, amount numeric, big numeric(30), ratio float8,
                                  placed timestamp)
  SERVER limit_files OPTIONS (path :'numbers_path', type 'source', format 'debezium_json',
                              primary_key 'id', bad_data 'drop');
CREATE TABLE dbz_numbers_out (id int PRIMARY KEY, amount numeric, big numeric(30),
                              ratio float8, placed timestamp);
SELECT stream_create('dbz_numbers', $$INSERT INTO dbz_numbers_out
  SELECT id, max(amount), max(big), max(ratio), max(placed) FROM dbz_numbers GROUP BY id$$);
SELECT stream_start('dbz_numbers');
SELECT stream_wait('dbz_numbers');
SELECT state, rows_in, bad_rows, last_error FROM stream_pipelines WHERE name = 'dbz_numbers';
SET extra_float_digits = 1;
SELECT id, CASE WHEN id = 4 THEN 'exactly 1e-400: ' || (amount = 1e-400 AND amount > 0)
                ELSE amount::text END AS amount, big::text, ratio::text, placed
FROM dbz_numbers_out ORDER BY id;
RESET extra_float_digits;

-- Nesting: 100 000 nested arrays, in a field nobody reads, in a json column, in an array
-- column, and nested objects; each is one bad row, counted. At the limit a document is fine:
-- 999 arrays in the row's object are 1000 levels.
COPY (SELECT line FROM (VALUES
  (1, '{"id": 1, "unused": ' || repeat('[', 100000) || repeat(']', 100000) || '}'),
  (2, '{"id": 2, "doc": ' || repeat('[', 100000) || repeat(']', 100000) || '}'),
  (3, '{"id": 3, "arr": ' || repeat('[', 100000) || repeat(']', 100000) || '}'),
  (4, '{"id": 4, "unused": ' || repeat('{"a":', 100000) || '1' || repeat('}', 100000) || '}'),
  (5, '{"id": 5, "doc": ' || repeat('[', 999) || repeat(']', 999) || '}'),
  (6, '{"id": 6, "doc": ' || repeat('[', 1000) || repeat(']', 1000) || '}'),
  (7, '{"id": 7, "unused": ' || repeat('[', 100000) || '}'),
  (8, '{"id": 8, "arr": [[1, 2], [3, 4]], "doc": {"k": [1, {"m": null}]}}')) AS l(n, line)
  ORDER BY n) TO :'nested_path';
CREATE FOREIGN TABLE nested (id int, doc jsonb, arr int[])
  SERVER limit_files OPTIONS (path :'nested_path', type 'source', bad_data 'drop');
CREATE TABLE nested_out (id int, depth int, arr int[], doc jsonb);
SELECT stream_create('nested', $$INSERT INTO nested_out
  SELECT id, length(doc::text) / 2, arr, CASE WHEN id = 8 THEN doc END FROM nested$$);
SELECT stream_start('nested');
SELECT stream_wait('nested');
SELECT state, rows_in, bad_rows, last_error FROM stream_pipelines WHERE name = 'nested';
SELECT * FROM nested_out ORDER BY id;
-- With bad_data 'fail', the message names the limit; a smaller json.max_depth applies.
ALTER FOREIGN TABLE nested OPTIONS (DROP bad_data, ADD "json.max_depth" '3');
SELECT stream_drop('nested');
SELECT stream_create('nested', 'INSERT INTO nested_out SELECT id, 0, arr, doc FROM nested');
SELECT stream_start('nested');
SELECT stream_wait('nested');
SELECT state, replace(last_error, :'abs_srcdir', '<srcdir>') AS last_error
FROM stream_pipelines WHERE name = 'nested';
SELECT stream_drop('nested');

-- Lines longer than max_line_size are bad data, skipped without being kept in memory; the
-- lines after them are read.
COPY (SELECT line FROM (VALUES
  (1, '{"id": 1}'),
  (2, '{"id": 2, "pad": "' || repeat('x', 5000) || '"}'),
  (3, '{"id": 3}'),
  (4, '{"id": 4, "pad": "' || repeat('y', 3000000) || '"}'),
  (5, '{"id": 5}')) AS l(n, line) ORDER BY n) TO :'long_path';
CREATE FOREIGN TABLE long_lines (id int)
  SERVER limit_files OPTIONS (path :'long_path', type 'source', bad_data 'drop',
                              max_line_size '1000');
CREATE TABLE long_out (id int);
SELECT stream_create('long_lines', 'INSERT INTO long_out SELECT id FROM long_lines');
SELECT stream_start('long_lines');
SELECT stream_wait('long_lines');
SELECT state, rows_in, bad_rows, last_error FROM stream_pipelines WHERE name = 'long_lines';
SELECT * FROM long_out ORDER BY id;
ALTER FOREIGN TABLE long_lines OPTIONS (DROP bad_data);
SELECT stream_drop('long_lines');
SELECT stream_create('long_lines', 'INSERT INTO long_out SELECT id FROM long_lines');
SELECT stream_start('long_lines');
SELECT stream_wait('long_lines');
SELECT state, replace(last_error, :'abs_srcdir', '<srcdir>') AS last_error
FROM stream_pipelines WHERE name = 'long_lines';
SELECT stream_drop('long_lines');

-- Options that would overflow later are rejected when the table is created, naming them.
CREATE FOREIGN TABLE bad_opt (id int) SERVER limit_files
  OPTIONS (path '/tmp/x', type 'source', "json.max_depth" '0');
CREATE FOREIGN TABLE bad_opt (id int) SERVER limit_files
  OPTIONS (path '/tmp/x', type 'source', "json.max_depth" '1000001');
CREATE FOREIGN TABLE bad_opt (id int) SERVER limit_files
  OPTIONS (path '/tmp/x', type 'source', max_line_size '-1');
CREATE FOREIGN TABLE bad_opt (id int) SERVER limit_files
  OPTIONS (path '/tmp/x', type 'source', max_line_size '2000000000');
CREATE FOREIGN TABLE bad_opt (id int) SERVER limit_files
  OPTIONS (path '/tmp/x', type 'source', watermark_delay '100000000 years');
CREATE SERVER limit_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE FOREIGN TABLE bad_opt (auction bigint) SERVER limit_nexmark
  OPTIONS (event_type 'bid', event_rate '0', start_time 'infinity');
CREATE FOREIGN TABLE bad_opt (auction bigint) SERVER limit_nexmark
  OPTIONS (event_type 'bid', event_rate '0', start_time '-infinity');
CREATE FOREIGN TABLE bad_opt (auction bigint) SERVER limit_nexmark
  OPTIONS (event_type 'bid', event_rate '0', start_time '294276-12-31 00:00:00+00');
CREATE FOREIGN TABLE bad_opt (auction bigint) SERVER limit_nexmark
  OPTIONS (event_type 'bid', event_rate '-1');
CREATE FOREIGN TABLE bad_opt (auction bigint) SERVER limit_nexmark
  OPTIONS (event_type 'bid', event_rate '0', message_count '99999999999999999999');
CREATE FOREIGN TABLE bad_opt (auction bigint) SERVER limit_nexmark
  OPTIONS (event_type 'bid', event_rate '0', idle_timeout '2147483647 months');
CREATE SERVER limit_impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE bad_opt (counter bigint) SERVER limit_impulse
  OPTIONS (event_rate '0', event_time_interval '20000 years');
-- The last year allowed works: a nexmark sequence starting there has valid times.
CREATE FOREIGN TABLE late_bids (auction bigint, date_time timestamptz) SERVER limit_nexmark
  OPTIONS (event_type 'bid', event_rate '0', message_count '50',
           start_time '9999-12-31 23:59:59+00');
CREATE TABLE late_out (auction bigint, date_time timestamptz);
SELECT stream_create('late', 'INSERT INTO late_out SELECT * FROM late_bids');
SELECT stream_start('late');
SELECT stream_wait('late');
SELECT count(*), min(date_time), max(date_time) FROM late_out;
SELECT stream_drop('late');
SELECT stream_drop('dbz_numbers');
