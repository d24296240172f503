-- Nexmark q14 (calculation with a UDF): bids priced between 1 100 000 and 55 000 000 (0.908 *
-- price between 10^6 and 5 * 10^7), with a time-of-day label and count_char(extra, 'c'), a user-
-- defined SQL function -> blackhole.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q14.batch.sql)
-- instead of the blackhole.
\if :{?events}
\else
\set events 20000000
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
-- The UDF: how many times c occurs in s.
CREATE OR REPLACE FUNCTION count_char(s text, c text) RETURNS bigint
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN (length(s) - length(replace(s, c, ''))) / length(c);
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, date_time timestamptz, extra text)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
\if :{?validate}
CREATE TABLE bench_out (auction bigint, bidder bigint, price numeric, bid_time_type text, date_time timestamptz, extra text, c_counts bigint);
\else
CREATE FOREIGN TABLE bench_out (auction bigint, bidder bigint, price numeric, bid_time_type text, date_time timestamptz, extra text, c_counts bigint) SERVER bench_blackhole;
\endif
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT auction, bidder, 0.908 * price,
         CASE WHEN extract(hour FROM date_time AT TIME ZONE 'UTC') BETWEEN 8 AND 18 THEN 'dayTime'
              WHEN extract(hour FROM date_time AT TIME ZONE 'UTC') <= 6
                OR extract(hour FROM date_time AT TIME ZONE 'UTC') >= 20 THEN 'nightTime'
              ELSE 'otherTime' END,
         date_time, extra, count_char(extra, 'c')
  FROM bid WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000$$);
