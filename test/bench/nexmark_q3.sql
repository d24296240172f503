-- Nexmark q3 (local item suggestion, an updating join): auctions of category 10 with their
-- sellers living in OR, ID or CA -> blackhole. Every matching person and auction is kept (no
-- window), so state grows with the input.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q3.batch.sql)
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
CREATE FOREIGN TABLE auction (id bigint, seller bigint, category bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'auction', event_rate '0', message_count :'events',
                                start_time :'start_time');
CREATE FOREIGN TABLE person (id bigint, name text, city text, state text, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'person', event_rate '0', message_count :'events',
                                start_time :'start_time');
\if :{?validate}
CREATE TABLE bench_out (name text, city text, state text, id bigint);
\else
CREATE FOREIGN TABLE bench_out (name text, city text, state text, id bigint) SERVER bench_blackhole;
\endif
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT p.name, p.city, p.state, a.id FROM auction a JOIN person p ON a.seller = p.id
  WHERE a.category = 10 AND p.state IN ('OR', 'ID', 'CA')$$);
