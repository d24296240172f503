-- Nexmark q0 over Kafka: every bid of :events Nexmark events (default 1 000 000), read as JSON
-- from the loopback broker (nexmark_kafka.setup; loaded by nexmark_kafka.load.sql, untimed),
-- decoded into all 7 columns -> blackhole. Comparable with engines reading Nexmark from Kafka.
\ir nexmark_kafka.load.sql
CREATE FOREIGN TABLE bench_out (auction bigint, bidder bigint, price bigint, channel text, url text,
                                date_time timestamptz, extra text) SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT auction, bidder, price, channel, url, date_time, extra FROM bid$$);
