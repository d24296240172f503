-- Nexmark q3 (an updating join): auctions of category 10 with their sellers living in OR, ID
-- or CA, over 20 million events (person : auction : bid = 1 : 3 : 46) -> blackhole. Every
-- matching person and auction is kept (no window), so state grows with the input.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 20000000 AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE auction (id bigint, seller bigint, category bigint, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'auction', event_rate '0', message_count '20000000',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE person (id bigint, name text, city text, state text, date_time timestamptz)
  SERVER bench_nexmark OPTIONS (event_type 'person', event_rate '0', message_count '20000000',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE bench_out (name text, city text, state text, id bigint) SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT p.name, p.city, p.state, a.id FROM auction a JOIN person p ON a.seller = p.id
  WHERE a.category = 10 AND p.state IN ('OR', 'ID', 'CA')$$);
