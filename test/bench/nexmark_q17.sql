-- Nexmark q17 (auction statistics per day): bids in three price ranks and min, max, avg and sum
-- of the price per auction and day -> keyed table.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q17.batch.sql)
-- instead of the blackhole.
\if :{?events}
\else
\set events 10000000
\endif
\if :{?start_time}
\else
\set start_time '2026-01-01 00:00:00+00'
\endif
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP SERVER IF EXISTS bench_files CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT :events::bigint AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE bid (auction bigint, price bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
CREATE TABLE bench_out (auction bigint, day text, total_bids bigint, rank1_bids bigint, rank2_bids bigint, rank3_bids bigint, min_price bigint, max_price bigint, avg_price numeric, sum_price numeric, UNIQUE NULLS NOT DISTINCT (auction, day));
SELECT stream_create('bench', $$SET update_aggregate_flush_interval = '100 milliseconds';
  INSERT INTO bench_out
  SELECT auction, to_char(date_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
         count(*) AS total_bids,
         count(*) FILTER (WHERE price < 10000) AS rank1_bids,
         count(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
         count(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
         min(price), max(price), avg(price), sum(price)
  FROM bid GROUP BY 1, 2$$);
