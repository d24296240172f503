-- The non-windowed count of nexmark_top10_updating without its top-N (its state_MiB and rate,
-- to compare): bids per auction over 10 million Nexmark events -> blackhole, every 100 ms.
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
CREATE FOREIGN TABLE bench_out (auction bigint, num bigint) SERVER bench_blackhole;
SELECT stream_create('bench', $$SET update_aggregate_flush_interval = '100 milliseconds';
  INSERT INTO bench_out SELECT auction, count(*) AS num FROM bid GROUP BY auction$$);
