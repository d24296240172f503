-- impulse -> projection -> filesystem sink, Avro object container files: 1 000 000 rows
-- (kafka_json's shape) into files rolled at 16 MB and partitioned by kind (3 directories),
-- exactly once (files fsynced at each commit, renamed at the checkpoints). Measures the
-- filesystem sink with the avro format's encoding (a schema derived from the columns). The
-- directory is emptied first.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_imp CASCADE;
DROP SERVER IF EXISTS bench_fs CASCADE;
DROP TABLE IF EXISTS bench_meta;
CREATE TABLE bench_meta AS SELECT 1000000 AS events;
\getenv work_root ARROYO_WORK_ROOT
\set path :work_root '/bench-sql/filesystem_avro'
SELECT format('COPY (SELECT 1) TO PROGRAM %L', 'rm -rf ' || quote_ident(:'path')) \gexec
CREATE SERVER bench_imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE ticks (counter bigint) SERVER bench_imp
  OPTIONS (event_rate '0', message_count '1000000');
CREATE SERVER bench_fs FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'filesystem');
CREATE FOREIGN TABLE files_out (id bigint, user_name text, kind text, amount numeric,
                                ts timestamptz)
  SERVER bench_fs OPTIONS (path :'path', type 'sink', format 'avro',
                           "rolling_policy.file_size" '16MB', "partitioning.fields" 'kind');
SELECT stream_create('bench', $$INSERT INTO files_out
  SELECT counter, 'user-' || (counter % 9973), (ARRAY['view', 'cart', 'buy'])[1 + counter % 3],
         round((counter % 100000) / 100.0, 2),
         timestamptz '2026-01-01 00:00:00+00' + counter * interval '1 ms'
  FROM ticks$$);
