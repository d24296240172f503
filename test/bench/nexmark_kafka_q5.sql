-- Nexmark q5 over Kafka (see nexmark_kafka_q0.sql; as nexmark_q5.sql): the auctions with the
-- most bids in each 10-second window sliding every 2 seconds -> blackhole.
\ir nexmark_kafka.load.sql
CREATE FOREIGN TABLE bench_out (w tstzrange, auction bigint, num bigint) SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT c.w, c.auction, c.num
  FROM (SELECT hop(interval '2 seconds', interval '10 seconds') AS w, auction, count(*) AS num
        FROM bid GROUP BY 1, 2) c
  JOIN (SELECT w, max(num) AS maxn
        FROM (SELECT hop(interval '2 seconds', interval '10 seconds') AS w, auction,
                     count(*) AS num FROM bid GROUP BY 1, 2) x GROUP BY w) m
    ON c.w = m.w AND c.num >= m.maxn$$);
