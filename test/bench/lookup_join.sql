-- Lookup join: the bids of 10 million Nexmark events (9 200 000 bids) each enriched with its
-- bidder's row of a 1 000 000-row table, looked up by primary key (JOIN LATERAL) -> blackhole.
-- The same bids are first loaded into a table (not timed), for the baseline: the batch join
-- PostgreSQL runs over the same rows. lookup_join.report.sql counts the index probes.
SELECT stream_drop(name) FROM stream_pipelines WHERE name IN ('bench', 'bench_load');
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_meta, bench_people, bench_bids;
CREATE TABLE bench_meta AS SELECT 10000000 AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, channel text, url text,
                          date_time timestamptz, extra text) SERVER bench_nexmark
  OPTIONS (event_type 'bid', event_rate '0', message_count '10000000', start_time '2026-01-01 00:00:00+00');
-- Nexmark's person ids start at 1000; every bidder has a row.
CREATE TABLE bench_people (id bigint PRIMARY KEY, name text, city text, state text);
INSERT INTO bench_people
  SELECT g, 'person ' || g, 'city ' || g % 5000, 'state ' || g % 50 FROM generate_series(1000, 1000999) g;
VACUUM ANALYZE bench_people;
-- The same bids in a table, for the baseline.
CREATE UNLOGGED TABLE bench_bids (auction bigint, bidder bigint, price bigint);
SELECT stream_create('bench_load', $$INSERT INTO bench_bids SELECT auction, bidder, price FROM bid$$);
SELECT stream_start('bench_load');
SELECT stream_wait('bench_load', '1 hour');
SELECT stream_drop('bench_load');
VACUUM ANALYZE bench_bids;
CREATE FOREIGN TABLE bench_out (auction bigint, price bigint, name text, city text)
  SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out SELECT b.auction, b.price, p.name, p.city
  FROM bid b JOIN LATERAL (SELECT name, city FROM bench_people p WHERE p.id = b.bidder) p ON true$$);
