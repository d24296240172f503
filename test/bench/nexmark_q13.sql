-- Nexmark q13 (bounded side input join): every bid enriched with the row of a regular 10 000-row
-- table whose key is auction % 10000 (a lookup join, JOIN LATERAL, by primary key) -> blackhole.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q13.batch.sql)
-- instead of the blackhole.
\if :{?events}
\else
\set events 10000000
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
DROP TABLE IF EXISTS side_input;
CREATE TABLE side_input (key bigint PRIMARY KEY, value text);
INSERT INTO side_input SELECT k, 'value-' || k FROM generate_series(0, 9999) k;
ANALYZE side_input;
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
\if :{?validate}
CREATE TABLE bench_out (auction bigint, bidder bigint, price bigint, date_time timestamptz, value text);
\else
CREATE FOREIGN TABLE bench_out (auction bigint, bidder bigint, price bigint, date_time timestamptz, value text) SERVER bench_blackhole;
\endif
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT b.auction, b.bidder, b.price, b.date_time, s.value
  FROM bid b JOIN LATERAL (SELECT value FROM side_input s WHERE s.key = b.auction % 10000) s ON true$$);
