-- stream_create validates everything up front and leaves nothing behind on error.
\set VERBOSITY default
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE src (counter bigint, subtask_index int) SERVER imp
  OPTIONS (event_rate '0', message_count '10');
CREATE FOREIGN TABLE src2 (counter bigint) SERVER imp OPTIONS (event_rate '0', message_count '5');
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE out_file (n bigint) SERVER files OPTIONS (path '/tmp/arroyo_never_written.json', type 'sink');
CREATE TABLE target (n bigint NOT NULL, label text);
CREATE TABLE lookup (n bigint);

-- Not an INSERT … SELECT.
SELECT stream_create('p', 'SELECT counter FROM src');
SELECT stream_create('p', 'INSERT INTO target VALUES (1, ''a'')');
SELECT stream_create('p', 'INSERT INTO target SELECT 1, ''a''');
SELECT stream_create('p', 'DELETE FROM target');
SELECT stream_create('p', '');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src; INSERT INTO target SELECT counter FROM src');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src; SET checkpoint_interval = ''1s''');
SELECT stream_create('', 'INSERT INTO target SELECT counter FROM src');
-- Syntax, unknown relations and columns, types that do not fit.
SELECT stream_create('p', 'INSERT INTO target SELEC counter FROM src');
SELECT stream_create('p', 'INSERT INTO missing SELECT counter FROM src');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM missing');
SELECT stream_create('p', 'INSERT INTO target SELECT nope FROM src');
SELECT stream_create('p', 'INSERT INTO target (n, nope) SELECT counter, 1 FROM src');
SELECT stream_create('p', 'INSERT INTO target SELECT now(), 1 FROM src');
SELECT stream_create('p', 'INSERT INTO target SELECT counter, 1, 2 FROM src');
SELECT stream_create('p', 'INSERT INTO target SELECT no_such_function(counter) FROM src');
-- Constructs not supported (yet), named.
SELECT stream_create('p', 'INSERT INTO out_file SELECT count(*) FROM src');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src GROUP BY counter');
SELECT stream_create('p', 'INSERT INTO target SELECT a.counter FROM src a JOIN src2 b ON a.counter < b.counter');
SELECT stream_create('p', 'INSERT INTO target SELECT a.counter FROM src a, src2 b');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src ORDER BY counter');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src LIMIT 3');
SELECT stream_create('p', 'INSERT INTO target SELECT DISTINCT ON (counter) counter FROM src');
SELECT stream_create('p', 'INSERT INTO target SELECT row_number() OVER () FROM src');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src WHERE counter IN (SELECT n FROM lookup) OR counter > 3');
SELECT stream_create('p', 'WITH s AS (SELECT counter FROM src) INSERT INTO target SELECT counter FROM s');
SELECT stream_create('p', 'INSERT INTO target SELECT generate_series(1, counter) FROM src GROUP BY generate_series(1, counter)');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src UNION SELECT counter FROM src2');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src EXCEPT ALL SELECT counter FROM src2');
SELECT stream_create('p', 'INSERT INTO target SELECT tableoid::int8 FROM src');
SELECT stream_create('p', 'INSERT INTO target SELECT x FROM generate_series(1, 3) x');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src ON CONFLICT DO NOTHING');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src RETURNING n');
-- Regular tables are read through their changes (see cdc.sql), which needs a primary key or
-- REPLICA IDENTITY FULL; sinks are not sources; sources are not targets.
SELECT stream_create('p', 'INSERT INTO target SELECT n FROM lookup');
SELECT stream_create('p', 'INSERT INTO target SELECT n FROM out_file');
SELECT stream_create('p', 'INSERT INTO src2 SELECT counter FROM src');
-- Settings.
SELECT stream_create('p', 'SET batch_size = 4; INSERT INTO target SELECT counter FROM src');
SELECT stream_create('p', 'SET checkpoint_interval = ''soon''; INSERT INTO target SELECT counter FROM src');
SELECT stream_create('p', 'SET checkpoint_interval = ''-1 s''; INSERT INTO target SELECT counter FROM src');
-- Nothing was created by any of the above.
SELECT count(*) FROM stream_pipelines;

-- Names are unique; unknown names are reported.
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src');
SELECT stream_create('p', 'INSERT INTO target SELECT counter FROM src');
SELECT stream_start('nope');
SELECT stream_stop('nope');
SELECT stream_drop('nope');
SELECT stream_wait('nope');
-- A pipeline that never ran: waiting returns its state after the timeout; stop is harmless.
SELECT stream_wait('p', '50 milliseconds');
SELECT stream_stop('p');
SELECT name, state FROM stream_pipelines;
SELECT stream_drop('p');
DROP SERVER imp CASCADE;
DROP SERVER files CASCADE;
DROP TABLE target, lookup;
