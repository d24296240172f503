-- websocket: 1 000 000 Coinbase-shaped ticker messages (about 375 bytes of JSON each, 1000 per
-- second of event time) from test/websocket_server.py on loopback (started by websocket.setup)
-- -> the seed's avg(price) over hop(interval '5 seconds', interval '1 minute') -> regular table.
-- A websocket never ends: bench_meta.stop_at_events makes the runner stop the pipeline once
-- rows_in reaches events.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_ws CASCADE;
DROP TABLE IF EXISTS bench_out, bench_meta;
CREATE TABLE bench_meta AS SELECT 1000000 AS events, true AS stop_at_events;
CREATE SERVER bench_ws FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'websocket');
\set endpoint 'ws://127.0.0.1:' :aux_port '/bench?n=1000000'
CREATE FOREIGN TABLE coinbase (type text, price text, product_id text, time timestamptz)
  SERVER bench_ws OPTIONS (endpoint :'endpoint',
    subscription_message '{"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}',
    format 'json', event_time_field 'time', watermark_delay '5 seconds');
CREATE TABLE bench_out (w tstzrange, avg_price float8, ticks bigint);
SELECT stream_create('bench', $$INSERT INTO bench_out
  SELECT hop(interval '5 seconds', interval '1 minute') AS w, avg(price::float8), count(*)
  FROM coinbase WHERE type = 'ticker' GROUP BY w$$);
