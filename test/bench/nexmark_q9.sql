-- Nexmark q9 (winning bids): each auction's highest bid within its lifetime, with the auction
-- and bid columns — an inner join of auctions and bids (append-only: both inputs are), then
-- the top-N pattern row_number() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.date_time)
-- ... WHERE rn = 1 (a top-1 per auction that keeps one row per auction), over 2 million events
-- -> blackhole. Every auction and bid is kept by the join: it has no window (as in q4).
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 2000000 AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE auction (id bigint, seller bigint, category bigint, initial_bid bigint,
                              date_time timestamptz, expires timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'auction', event_rate '0', message_count '2000000',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count '2000000',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE bench_out (id bigint, seller bigint, category bigint, bidder bigint,
                                price bigint, bid_time timestamptz) SERVER bench_blackhole;
SELECT stream_create('bench', $$SET update_aggregate_flush_interval = '100 milliseconds';
  INSERT INTO bench_out
  SELECT id, seller, category, bidder, price, bid_time FROM (
    SELECT a.id, a.seller, a.category, b.bidder, b.price, b.date_time AS bid_time,
           row_number() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.date_time) AS rn
    FROM auction a JOIN bid b ON a.id = b.auction
     AND b.date_time BETWEEN a.date_time AND a.expires) x
  WHERE rn = 1$$);
