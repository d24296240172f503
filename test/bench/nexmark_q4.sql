-- Nexmark q4 (average price per category): each auction's highest bid within its lifetime (an
-- interval join of auctions and bids, under an aggregate), averaged per category (an aggregate of
-- that aggregate) -> keyed table.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q4.batch.sql)
-- instead of the blackhole.
\if :{?events}
\else
\set events 2000000
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
CREATE FOREIGN TABLE auction (id bigint, category bigint, date_time timestamptz, expires timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'auction', event_rate '0', message_count :'events',
                                start_time :'start_time');
CREATE FOREIGN TABLE bid (auction bigint, price bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
CREATE TABLE bench_out (category bigint, avg_final numeric, UNIQUE NULLS NOT DISTINCT (category));
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT category, avg(final) FROM (
    SELECT a.id, a.category, max(b.price) AS final
    FROM auction a JOIN bid b ON a.id = b.auction
     AND b.date_time BETWEEN a.date_time AND a.expires
    GROUP BY a.id, a.category) q
  GROUP BY category$$);
