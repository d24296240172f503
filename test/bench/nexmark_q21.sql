-- Nexmark q21 (add channel id): the channel id of each bid -- a fixed number for the four known
-- channels, else extracted from the URL by a regular expression (Flink's REGEXP_EXTRACT as
-- substring(... FROM regex)) -> blackhole.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q21.batch.sql)
-- instead of the blackhole.
\if :{?events}
\else
\set events 20000000
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
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, channel text, url text)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time :'start_time');
\if :{?validate}
CREATE TABLE bench_out (auction bigint, bidder bigint, price bigint, channel text, channel_id text);
\else
CREATE FOREIGN TABLE bench_out (auction bigint, bidder bigint, price bigint, channel text, channel_id text) SERVER bench_blackhole;
\endif
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT auction, bidder, price, channel,
         CASE lower(channel) WHEN 'apple' THEN '0' WHEN 'google' THEN '1'
                             WHEN 'facebook' THEN '2' WHEN 'baidu' THEN '3'
              ELSE substring(url FROM '(?:&|^)channel_id=([^&]*)') END
  FROM bid
  WHERE substring(url FROM '(?:&|^)channel_id=([^&]*)') IS NOT NULL
     OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu')$$);
