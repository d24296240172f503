-- Top 3 auctions by bids per 1-minute window (the top-N pattern: row_number() OVER (PARTITION BY
-- the window ORDER BY count DESC) ... WHERE rn <= 3, one operator keeping 3 rows per window), over
-- 10 million Nexmark bids (1000 s of event time) -> blackhole. Compare state_bytes with
-- nexmark_top3_none (the same windowed count without the top-N).
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
CREATE FOREIGN TABLE bench_out (w tstzrange, auction bigint, num bigint, rn bigint) SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT w, auction, num, rn FROM (
    SELECT w, auction, num, row_number() OVER (PARTITION BY w ORDER BY num DESC, auction) AS rn
    FROM (SELECT tumble(interval '1 minute') AS w, auction, count(*) AS num
          FROM bid GROUP BY w, auction) c) x
  WHERE rn <= 3$$);
