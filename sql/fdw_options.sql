-- Options are validated by the server's connector at CREATE / ALTER time, naming the option.
\set VERBOSITY default
-- Servers: the connector is required and must exist.
CREATE SERVER bad_srv FOREIGN DATA WRAPPER arroyo_stream;
CREATE SERVER bad_srv FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nope');
CREATE SERVER bad_srv FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse', foo 'bar');
CREATE FOREIGN DATA WRAPPER other_fdw;
ALTER FOREIGN DATA WRAPPER arroyo_stream OPTIONS (foo 'bar');

CREATE SERVER impulse_srv FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');

-- impulse tables: event_rate is required; values are checked; columns are fixed.
CREATE FOREIGN TABLE imp_a (counter bigint) SERVER impulse_srv;
CREATE FOREIGN TABLE imp_a (counter bigint) SERVER impulse_srv OPTIONS (event_rate 'fast');
CREATE FOREIGN TABLE imp_a (counter bigint) SERVER impulse_srv OPTIONS (event_rate '-1');
CREATE FOREIGN TABLE imp_a (counter bigint) SERVER impulse_srv OPTIONS (event_rate '10', message_count 'x');
CREATE FOREIGN TABLE imp_a (counter bigint) SERVER impulse_srv OPTIONS (event_rate '10', start_time 'yesterday-ish');
CREATE FOREIGN TABLE imp_a (counter bigint) SERVER impulse_srv OPTIONS (event_rate '10', event_time_interval '-1 second');
CREATE FOREIGN TABLE imp_a (counter bigint) SERVER impulse_srv OPTIONS (event_rate '10', colour 'red');
CREATE FOREIGN TABLE imp_a (counter bigint, extra text) SERVER impulse_srv OPTIONS (event_rate '10');
CREATE FOREIGN TABLE imp_a (counter int) SERVER impulse_srv OPTIONS (event_rate '10');
CREATE FOREIGN TABLE imp_a (counter bigint OPTIONS (metadata 'key')) SERVER impulse_srv OPTIONS (event_rate '10');
-- Nothing was left behind by the failures.
SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid WHERE c.relname = 'imp_a';

CREATE FOREIGN TABLE imp_a (counter bigint, subtask_index int) SERVER impulse_srv
  OPTIONS (event_rate '0', message_count '10', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second');
-- ALTER is validated too.
ALTER FOREIGN TABLE imp_a OPTIONS (SET event_rate 'many');
ALTER FOREIGN TABLE imp_a OPTIONS (DROP event_rate);
ALTER FOREIGN TABLE imp_a ADD COLUMN other int;
ALTER FOREIGN TABLE imp_a OPTIONS (SET message_count '20');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'imp_a'::regclass;
-- Changing a server's connector re-validates its tables.
ALTER SERVER impulse_srv OPTIONS (SET connector 'single_file');
ALTER SERVER impulse_srv OPTIONS (ADD foo 'bar');

-- single_file tables.
CREATE SERVER file_srv FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE f_a (x int) SERVER file_srv OPTIONS (type 'source');
CREATE FOREIGN TABLE f_a (x int) SERVER file_srv OPTIONS (path '/tmp/x.json');
CREATE FOREIGN TABLE f_a (x int) SERVER file_srv OPTIONS (path '/tmp/x.json', type 'both');
CREATE FOREIGN TABLE f_a (x int) SERVER file_srv OPTIONS (path 'relative.json', type 'source');
CREATE FOREIGN TABLE f_a (x int) SERVER file_srv OPTIONS (path '/tmp/x.json', type 'source', format 'avro');
CREATE FOREIGN TABLE f_a (x int) SERVER file_srv OPTIONS (path '/tmp/x.json', type 'source', bad_data 'ignore');
CREATE FOREIGN TABLE f_a (x int) SERVER file_srv OPTIONS (path '/tmp/x.json', type 'source', bad_data 'drop');
DROP FOREIGN TABLE f_a;

-- User mappings take no options for these connectors.
CREATE USER MAPPING FOR CURRENT_USER SERVER impulse_srv OPTIONS (password 'x');

-- Streams are read by pipelines, not by queries.
SELECT * FROM imp_a;

DROP SERVER impulse_srv CASCADE;
DROP SERVER file_srv CASCADE;
DROP FOREIGN DATA WRAPPER other_fdw;
