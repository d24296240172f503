-- Nexmark q4 (average closing price per category): each auction's highest bid within its
-- lifetime (an updating join of auctions and bids, under an aggregate), averaged per category
-- (an aggregate of that aggregate), over 2 million events -> keyed table. Every auction and bid
-- is kept: the join has no window.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 2000000 AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE FOREIGN TABLE auction (id bigint, category bigint, date_time timestamptz, expires timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'auction', event_rate '0', message_count '2000000',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE bid (auction bigint, price bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count '2000000',
                                start_time '2026-01-01 00:00:00+00');
CREATE TABLE bench_out (category bigint UNIQUE NULLS NOT DISTINCT, avg_final numeric);
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT category, avg(final) FROM (
    SELECT a.id, a.category, max(b.price) AS final
    FROM auction a JOIN bid b ON a.id = b.auction
     AND b.date_time BETWEEN a.date_time AND a.expires
    GROUP BY a.id, a.category) q
  GROUP BY category$$);
