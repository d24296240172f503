-- Nexmark q18 (find last bid): each bidder's last bid on each auction, the top-N pattern
-- row_number() OVER (PARTITION BY bidder, auction ORDER BY date_time DESC, ...) ... WHERE rn = 1
-- over the bid stream -> blackhole (updating: a later bid retracts the previous one). Flink
-- orders by dateTime alone; price DESC and extra break ties between bids of the same millisecond,
-- so the result is deterministic.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q18.batch.sql)
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
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamptz, extra text)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
\if :{?validate}
-- A unique index on the whole row, so that each retraction finds its row by index.
CREATE TABLE bench_out (auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamptz, extra text, UNIQUE NULLS NOT DISTINCT (auction, bidder, price, channel, url, date_time, extra));
\else
CREATE FOREIGN TABLE bench_out (auction bigint, bidder bigint, price bigint, channel text, url text, date_time timestamptz, extra text) SERVER bench_blackhole;
\endif
SELECT stream_create('bench', $$SET update_aggregate_flush_interval = '100 milliseconds';
  INSERT INTO bench_out
  SELECT auction, bidder, price, channel, url, date_time, extra FROM (
    SELECT *, row_number() OVER (PARTITION BY bidder, auction
                                 ORDER BY date_time DESC, price DESC, extra) AS rn
    FROM bid) x
  WHERE rn <= 1$$);
