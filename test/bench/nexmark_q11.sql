-- Nexmark q11 (user sessions): bids per bidder per session, a session ending after 10 seconds
-- without a bid from that bidder (session windows of event time) -> blackhole.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q11.batch.sql)
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
CREATE FOREIGN TABLE bid (bidder bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
\if :{?validate}
CREATE TABLE bench_out (bidder bigint, bid_count bigint, starttime timestamptz, endtime timestamptz);
\else
CREATE FOREIGN TABLE bench_out (bidder bigint, bid_count bigint, starttime timestamptz, endtime timestamptz) SERVER bench_blackhole;
\endif
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT bidder, bid_count, lower(w), upper(w) FROM (
    SELECT bidder, count(*) AS bid_count, session(interval '10 seconds') AS w
    FROM bid GROUP BY bidder, w) s$$);
