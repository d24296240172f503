-- Nexmark q9 (winning bids): each auction's highest bid within its lifetime, with every auction
-- and bid column -- an inner join of auctions and bids (append-only: both inputs are), then the
-- top-N pattern row_number() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.date_time) ...
-- WHERE rn = 1 -> blackhole (updating: a winner is retracted when a higher bid arrives). The join
-- keeps every auction and bid: it has no window.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q9.batch.sql)
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
CREATE FOREIGN TABLE auction (id bigint, item_name text, description text, initial_bid bigint, reserve bigint, date_time timestamptz, expires timestamptz, seller bigint, category bigint, extra text)
  SERVER bench_nexmark OPTIONS (event_type 'auction', event_rate '0', message_count :'events',
                                start_time :'start_time');
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, date_time timestamptz, extra text)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
\if :{?validate}
-- A unique index on the whole row, so that each retraction finds its row by index.
CREATE TABLE bench_out (id bigint, item_name text, description text, initial_bid bigint, reserve bigint, date_time timestamptz, expires timestamptz, seller bigint, category bigint, extra text, auction bigint, bidder bigint, price bigint, bid_date_time timestamptz, bid_extra text, UNIQUE NULLS NOT DISTINCT (id, item_name, description, initial_bid, reserve, date_time, expires, seller, category, extra, auction, bidder, price, bid_date_time, bid_extra));
\else
CREATE FOREIGN TABLE bench_out (id bigint, item_name text, description text, initial_bid bigint, reserve bigint, date_time timestamptz, expires timestamptz, seller bigint, category bigint, extra text, auction bigint, bidder bigint, price bigint, bid_date_time timestamptz, bid_extra text) SERVER bench_blackhole;
\endif
SELECT stream_create('bench', $$SET update_aggregate_flush_interval = '100 milliseconds';
  INSERT INTO bench_out
  SELECT id, item_name, description, initial_bid, reserve, date_time, expires, seller, category,
         extra, auction, bidder, price, bid_date_time, bid_extra FROM (
    SELECT a.*, b.auction, b.bidder, b.price, b.date_time AS bid_date_time, b.extra AS bid_extra,
           row_number() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.date_time) AS rn
    FROM auction a JOIN bid b ON a.id = b.auction
     AND b.date_time BETWEEN a.date_time AND a.expires) x
  WHERE rn = 1$$);
