-- single_file -> JSON decode -> filter + projection -> blackhole: 1 000 000 lines of JSON (the
-- shape of kafka_json's messages, about 110 bytes each) written by COPY into the benchmark's
-- work directory first. The source ends at end of file, so the pipeline finishes. Measures the
-- file source and the json format's decoding, without a sink's cost.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_files CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_meta;
CREATE TABLE bench_meta AS SELECT 1000000 AS events;
\getenv work_root ARROYO_WORK_ROOT
\set path :work_root '/bench-sql/single_file_json.json'
COPY (SELECT json_build_object('id', i, 'user_name', 'user-' || (i % 9973),
                               'kind', (ARRAY['view', 'cart', 'buy'])[1 + i % 3],
                               'amount', round((i % 100000) / 100.0, 2),
                               'ts', timestamptz '2026-01-01 00:00:00+00' + i * interval '1 ms')
      FROM generate_series(1, 1000000) AS i) TO :'path';
CREATE SERVER bench_files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE file_in (id bigint, user_name text, kind text, amount numeric, ts timestamptz)
  SERVER bench_files OPTIONS (path :'path', type 'source', format 'json');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE nowhere (user_name text, id bigint, amount numeric, minute timestamptz)
  SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO nowhere
  SELECT user_name, id, amount * 1.1, date_trunc('minute', ts)
  FROM file_in WHERE kind = 'buy'$$);
