-- The windowed count of nexmark_top3 without its top-N (its state_bytes and rate, to compare):
-- bids per auction per 1-minute window over 10 million Nexmark bids -> blackhole.
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
CREATE FOREIGN TABLE bench_out (w tstzrange, auction bigint, num bigint) SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT tumble(interval '1 minute') AS w, auction, count(*) AS num FROM bid GROUP BY w, auction$$);
