-- Nexmark q20 (expanded bids): every bid on an auction of category 10 joined with its auction's
-- columns (an inner join of two streams without a window: both sides kept) -> blackhole.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q20.batch.sql)
-- instead of the blackhole.
\if :{?events}
\else
\set events 5000000
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
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamptz, extra text)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
CREATE FOREIGN TABLE auction (id bigint, item_name text, description text, initial_bid bigint, reserve bigint, date_time timestamptz, expires timestamptz, seller bigint, category bigint, extra text)
  SERVER bench_nexmark OPTIONS (event_type 'auction', event_rate '0', message_count :'events',
                                start_time :'start_time');
\if :{?validate}
CREATE TABLE bench_out (auction bigint, bidder bigint, price bigint, channel text, url text, bid_date_time timestamptz, bid_extra text, item_name text, description text, initial_bid bigint, reserve bigint, auction_date_time timestamptz, expires timestamptz, seller bigint, category bigint, auction_extra text);
\else
CREATE FOREIGN TABLE bench_out (auction bigint, bidder bigint, price bigint, channel text, url text, bid_date_time timestamptz, bid_extra text, item_name text, description text, initial_bid bigint, reserve bigint, auction_date_time timestamptz, expires timestamptz, seller bigint, category bigint, auction_extra text) SERVER bench_blackhole;
\endif
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra,
         a.item_name, a.description, a.initial_bid, a.reserve, a.date_time, a.expires, a.seller,
         a.category, a.extra
  FROM bid b JOIN auction a ON b.auction = a.id
  WHERE a.category = 10$$);
