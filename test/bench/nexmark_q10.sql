-- Nexmark q10 (log to file system): every bid with its day and minute as text -> a single_file
-- sink (newline-delimited JSON in the data directory, nexmark_q10.json). Flink's version
-- partitions the files by (dt, hm); a single_file sink writes one file, so that part is left out.
-- psql variables (test/nexmark_test.sh sets them): events, start_time. The report
-- (nexmark_q10.report.sql) counts the file's lines and empties it; the test compares them
-- with nexmark_q10.batch.sql.
\if :{?events}
\else
\set events 1000000
\endif
\if :{?start_time}
\else
\set start_time '2026-01-01 00:00:00+00'
\endif
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP SERVER IF EXISTS bench_files CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT :events::bigint AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');

-- The file sink appends: start from an empty file in the data directory (COPY TO truncates).
SELECT current_setting('data_directory') || '/nexmark_q10.json' AS q10_path \gset
COPY (SELECT WHERE false) TO :'q10_path';
CREATE SERVER bench_files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE bench_out (auction bigint, bidder bigint, price bigint, date_time timestamptz,
                                extra text, dt text, hm text)
  SERVER bench_files OPTIONS (path :'q10_path', type 'sink');
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamptz, extra text)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT auction, bidder, price, date_time, extra,
         to_char(date_time AT TIME ZONE 'UTC', 'YYYY-MM-DD'), to_char(date_time AT TIME ZONE 'UTC', 'HH24:MI')
  FROM bid$$);
