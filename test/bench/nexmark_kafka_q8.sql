-- Nexmark q8 over Kafka (see nexmark_kafka_q0.sql; as nexmark_q8.sql): people who opened an
-- auction in the 10-second window they registered in, persons and auctions read from their
-- topics -> blackhole.
\ir nexmark_kafka.load.sql
CREATE FOREIGN TABLE bench_out (id bigint, name text, starttime timestamptz) SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT p.id, p.name, lower(p.w)
  FROM (SELECT id, name, tumble(interval '10 seconds') AS w FROM person GROUP BY 1, 2, 3) p
  JOIN (SELECT seller, tumble(interval '10 seconds') AS w FROM auction GROUP BY 1, 2) a
    ON p.id = a.seller AND p.w = a.w$$);
