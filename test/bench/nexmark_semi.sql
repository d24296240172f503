-- Subqueries as semi and anti joins: the bids on auctions of category 10 that no person of
-- OR, ID or CA opened (IN, then NOT IN over a filtered stream), over 10 million events
-- (person : auction : bid = 1 : 3 : 46) -> blackhole. Both joins keep their sides' rows.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 10000000 AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count '10000000',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE auction (id bigint, seller bigint, category bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'auction', event_rate '0', message_count '10000000',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE person (id bigint, name text, city text, state text, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'person', event_rate '0', message_count '10000000',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE bench_out (auction bigint, bidder bigint, price bigint) SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT b.auction, b.bidder, b.price FROM bid b
  WHERE b.auction IN (SELECT id FROM auction WHERE category = 10)
    AND b.bidder NOT IN (SELECT id FROM person WHERE state IN ('OR', 'ID', 'CA'))$$);
