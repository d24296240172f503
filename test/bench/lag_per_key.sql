-- lag() per key in event-time order (event-time OVER, evaluated by PostgreSQL's WindowAgg as the
-- watermark passes the rows): each bid's price change since the bidder's previous bid, over 10
-- million Nexmark bids -> blackhole.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 10000000 AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, channel text, url text,
                          date_time timestamptz, extra text) SERVER bench_nexmark
  OPTIONS (event_type 'bid', event_rate '0', message_count '10000000', start_time '2026-01-01 00:00:00+00',
           event_time_field 'date_time', watermark_delay '0 seconds');
CREATE FOREIGN TABLE bench_out (bidder bigint, date_time timestamptz, change bigint) SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT bidder, date_time, price - lag(price) OVER (PARTITION BY bidder ORDER BY date_time)
  FROM bid$$);
