-- Schemaless JSON (json.unstructured): a json source whose only column is json or jsonb gets
-- each whole message, whatever its shape; a json sink of that shape writes the value as the
-- message itself. Checked through single_file (test/kafka_test.sh checks Kafka).
\getenv abs_srcdir PG_ABS_SRCDIR
\set in_path :abs_srcdir '/data/unstructured.json'
\set out_path :abs_srcdir '/results/unstructured_out.json'
\set VERBOSITY default
SET timezone = 'UTC';
CREATE SERVER uj_files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE uj_events (doc jsonb) SERVER uj_files
  OPTIONS (path :'in_path', type 'source', bad_data 'drop');
-- Each message as it came (a malformed line is bad data, here dropped).
CREATE TABLE uj_docs (doc jsonb, kind text);
SELECT stream_create('uj_docs', $$INSERT INTO uj_docs SELECT doc, jsonb_typeof(doc) FROM uj_events$$);
SELECT stream_start('uj_docs');
SELECT stream_wait('uj_docs');
SELECT rows_in, rows_out, bad_rows FROM stream_pipelines WHERE name = 'uj_docs';
SELECT kind, doc FROM uj_docs ORDER BY doc::text;
-- PostgreSQL's JSON operators do the rest: fields, nested fields, arrays through
-- jsonb_array_elements, into a sink whose only column is jsonb (one message per value).
CREATE FOREIGN TABLE uj_out (msg jsonb) SERVER uj_files OPTIONS (path :'out_path', type 'sink');
SELECT stream_create('uj_out', $$INSERT INTO uj_out
  SELECT CASE WHEN i IS NULL THEN doc->'user' ELSE jsonb_build_object('user', doc->'user'->'id', 'item', i) END
  FROM uj_events LEFT JOIN LATERAL jsonb_array_elements(doc->'items') i ON true
  WHERE doc->>'type' = 'click'$$);
SELECT stream_start('uj_out');
SELECT stream_wait('uj_out');
SELECT pg_read_file(:'out_path');
-- A json column, typed: the message's text kept as it came; and a domain over jsonb whose
-- check makes a message bad data.
CREATE DOMAIN uj_object AS jsonb CHECK (jsonb_typeof(VALUE) = 'object');
CREATE FOREIGN TABLE uj_objects (o uj_object) SERVER uj_files
  OPTIONS (path :'in_path', type 'source', bad_data 'drop');
CREATE TABLE uj_typed (j json);
CREATE FOREIGN TABLE uj_texts (j json) SERVER uj_files OPTIONS (path :'in_path', type 'source', bad_data 'drop');
SELECT stream_create('uj_typed', $$INSERT INTO uj_typed SELECT j FROM uj_texts WHERE j::text LIKE '%view%'$$);
SELECT stream_start('uj_typed');
SELECT stream_wait('uj_typed');
SELECT j::text FROM uj_typed ORDER BY 1;
CREATE TABLE uj_object_rows (o jsonb);
SELECT stream_create('uj_object_rows', $$INSERT INTO uj_object_rows SELECT o FROM uj_objects$$);
SELECT stream_start('uj_object_rows');
SELECT stream_wait('uj_object_rows');
SELECT rows_in, bad_rows FROM stream_pipelines WHERE name = 'uj_object_rows';
-- With bad_data 'fail' (the default), a malformed line fails the pipeline, naming it.
CREATE FOREIGN TABLE uj_strict (doc jsonb) SERVER uj_files OPTIONS (path :'in_path', type 'source');
CREATE TABLE uj_strict_rows (doc jsonb);
SELECT stream_create('uj_strict', $$INSERT INTO uj_strict_rows SELECT doc FROM uj_strict$$);
SELECT stream_start('uj_strict');
SELECT stream_wait('uj_strict');
SELECT regexp_replace(last_error, '"[^"]*/', '"…/') AS last_error FROM stream_pipelines WHERE name = 'uj_strict';
-- json.unstructured 'false' keeps the keyed decoding (the column takes the key "doc"), and
-- 'true' needs one json or jsonb column.
CREATE FOREIGN TABLE uj_keyed (type jsonb) SERVER uj_files
  OPTIONS (path :'in_path', type 'source', bad_data 'drop', "json.unstructured" 'false');
CREATE TABLE uj_keyed_rows (t jsonb);
SELECT stream_create('uj_keyed', $$INSERT INTO uj_keyed_rows SELECT type FROM uj_keyed$$);
SELECT stream_start('uj_keyed');
SELECT stream_wait('uj_keyed');
SELECT t, count(*) FROM uj_keyed_rows GROUP BY t ORDER BY t;
CREATE FOREIGN TABLE uj_bad1 (doc text) SERVER uj_files
  OPTIONS (path :'in_path', type 'source', "json.unstructured" 'true');
CREATE FOREIGN TABLE uj_bad2 (doc jsonb, n int) SERVER uj_files
  OPTIONS (path :'in_path', type 'source', "json.unstructured" 'true');
CREATE FOREIGN TABLE uj_bad3 (doc jsonb) SERVER uj_files
  OPTIONS (path :'in_path', type 'source', format 'debezium_json', "json.unstructured" 'true');
CREATE FOREIGN TABLE uj_bad4 (doc jsonb) SERVER uj_files
  OPTIONS (path :'in_path', type 'source', "json.unstructured" 'yes');

SELECT count(stream_drop(name)) AS dropped FROM stream_pipelines WHERE name LIKE 'uj\_%';
SET client_min_messages = warning;
DROP SERVER uj_files CASCADE;
DROP TABLE uj_docs, uj_typed, uj_object_rows, uj_strict_rows, uj_keyed_rows;
DROP DOMAIN uj_object;
RESET client_min_messages;
