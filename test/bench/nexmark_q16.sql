-- Nexmark q16 (channel statistics per day): q15 per channel and day, with the latest minute seen
-- (max of the HH:MI text) -> keyed table.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q16.batch.sql)
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
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, channel text, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
CREATE TABLE bench_out (channel text, day text, minute text, total_bids bigint, rank1_bids bigint, rank2_bids bigint, rank3_bids bigint, total_bidders bigint, rank1_bidders bigint, rank2_bidders bigint, rank3_bidders bigint, total_auctions bigint, rank1_auctions bigint, rank2_auctions bigint, rank3_auctions bigint, UNIQUE NULLS NOT DISTINCT (channel, day));
SELECT stream_create('bench', $$SET update_aggregate_flush_interval = '100 milliseconds';
  INSERT INTO bench_out
  SELECT channel, to_char(date_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
         max(to_char(date_time AT TIME ZONE 'UTC', 'HH24:MI')),
         count(*) AS total_bids,
         count(*) FILTER (WHERE price < 10000) AS rank1_bids,
         count(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
         count(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
         count(DISTINCT bidder) AS total_bidders,
         count(DISTINCT bidder) FILTER (WHERE price < 10000) AS rank1_bidders,
         count(DISTINCT bidder) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bidders,
         count(DISTINCT bidder) FILTER (WHERE price >= 1000000) AS rank3_bidders,
         count(DISTINCT auction) AS total_auctions,
         count(DISTINCT auction) FILTER (WHERE price < 10000) AS rank1_auctions,
         count(DISTINCT auction) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_auctions,
         count(DISTINCT auction) FILTER (WHERE price >= 1000000) AS rank3_auctions
  FROM bid GROUP BY 1, 2$$);
