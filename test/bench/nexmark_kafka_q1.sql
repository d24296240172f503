-- Nexmark q1 over Kafka (see nexmark_kafka_q0.sql): price * 0.908 -> blackhole.
\ir nexmark_kafka.load.sql
CREATE FOREIGN TABLE bench_out (auction bigint, bidder bigint, price numeric, date_time timestamptz,
                                extra text) SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT auction, bidder, 0.908 * price, date_time, extra FROM bid$$);
