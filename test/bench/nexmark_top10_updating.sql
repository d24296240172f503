-- The updating top-N: the 10 auctions with the most bids so far (row_number() OVER (ORDER BY
-- count DESC) … WHERE rn <= 10 over a non-windowed count), over 10 million Nexmark events
-- (9.2 million bids) -> blackhole (deletes and inserts as ranks change, every 100 ms). Its state
-- is the count per auction (the aggregate) plus a copy of every aggregate row in the top-N,
-- which refills the top when a member falls out: compare state_MiB with
-- nexmark_top10_updating_none (the count alone).
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 10000000 AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, channel text, url text,
                          date_time timestamptz, extra text) SERVER bench_nexmark
  OPTIONS (event_type 'bid', event_rate '0', message_count '10000000', start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE bench_out (auction bigint, num bigint, rn bigint) SERVER bench_blackhole;
SELECT stream_create('bench', $$SET update_aggregate_flush_interval = '100 milliseconds';
  INSERT INTO bench_out
  SELECT auction, num, rn FROM (
    SELECT auction, num, row_number() OVER (ORDER BY num DESC, auction) AS rn
    FROM (SELECT auction, count(*) AS num FROM bid GROUP BY auction) c) x
  WHERE rn <= 10$$);
