-- The top-N pattern over an append-only stream, per key: each bidder's 3 highest bids, over 10
-- million Nexmark events (9.2 million bids) -> blackhole (an updating result: a bid entering a
-- bidder's top 3 retracts the one it pushes out). The operator keeps at most 3 bids per bidder
-- (those that can still rank), so state_bytes is O(3 x bidders), not O(bids): compare the
-- state with the number of bidders and bids, printed by the report.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 10000000 AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, date_time timestamptz)
  SERVER bench_nexmark
  OPTIONS (event_type 'bid', event_rate '0', message_count '10000000', start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE bench_out (bidder bigint, price bigint, auction bigint, rn bigint)
  SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT bidder, price, auction, rn FROM (
    SELECT bidder, price, auction,
           row_number() OVER (PARTITION BY bidder ORDER BY price DESC, auction) AS rn
    FROM bid) x
  WHERE rn <= 3$$);
