-- Nexmark q8 (monitor new users, a windowed join): people who opened an auction in the 10-second
-- window they registered in -> blackhole. Each window's rows are freed when the watermark passes
-- its end.
-- psql variables (test/nexmark_test.sh sets them): events, the length of the event sequence;
-- start_time; validate, to write into a table (the batch query's twin in nexmark_q8.batch.sql)
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
CREATE FOREIGN TABLE auction (seller bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'auction', event_rate '0', message_count :'events',
                                start_time :'start_time');
CREATE FOREIGN TABLE person (id bigint, name text, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'person', event_rate '0', message_count :'events',
                                start_time :'start_time');
\if :{?validate}
CREATE TABLE bench_out (id bigint, name text, starttime timestamptz);
\else
CREATE FOREIGN TABLE bench_out (id bigint, name text, starttime timestamptz) SERVER bench_blackhole;
\endif
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT p.id, p.name, lower(p.w)
  FROM (SELECT id, name, tumble(interval '10 seconds') AS w FROM person GROUP BY 1, 2, 3) p
  JOIN (SELECT seller, tumble(interval '10 seconds') AS w FROM auction GROUP BY 1, 2) a
    ON p.id = a.seller AND p.w = a.w$$);
