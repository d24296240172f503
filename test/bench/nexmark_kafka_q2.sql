-- Nexmark q2 over Kafka (see nexmark_kafka_q0.sql): the bids whose auction % 123 = 0 -> blackhole.
\ir nexmark_kafka.load.sql
CREATE FOREIGN TABLE bench_out (auction bigint, price bigint) SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT auction, price FROM bid WHERE auction % 123 = 0$$);
