-- Nexmark q7 (highest bid): the bids whose price is the highest of their 10-second window,
-- a join of the bid stream with a windowed aggregate of itself, over 5 million events ->
-- blackhole. The bids are kept until the end (the join is keyed by price, without a window).
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 5000000 AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count '5000000',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE bench_out (auction bigint, price bigint, bidder bigint, date_time timestamptz)
  SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT b.auction, b.price, b.bidder, b.date_time
  FROM bid b JOIN (SELECT tumble(interval '10 seconds') AS w, max(price) AS maxprice
                   FROM bid GROUP BY 1) m
    ON b.price = m.maxprice AND b.date_time >= lower(m.w) AND b.date_time < upper(m.w)$$);
