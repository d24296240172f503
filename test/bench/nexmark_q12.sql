-- Nexmark q12 (windows per bidder), adapted: bids per bidder in 10-second tumbling windows of
-- event time -> blackhole. Flink's q12 uses processing-time windows, whose result depends on the
-- machine's speed; event time makes it repeatable and checkable.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q12.batch.sql)
-- instead of the blackhole.
\if :{?events}
\else
\set events 50000000
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
CREATE FOREIGN TABLE bid (bidder bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
\if :{?validate}
CREATE TABLE bench_out (w tstzrange, bidder bigint, bid_count bigint);
\else
CREATE FOREIGN TABLE bench_out (w tstzrange, bidder bigint, bid_count bigint) SERVER bench_blackhole;
\endif
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT tumble(interval '10 seconds') AS w, bidder, count(*)
  FROM bid GROUP BY w, bidder$$);
