-- RabbitMQ -> JSON decode -> filter + projection -> JSON encode -> RabbitMQ: 100 000 messages
-- preloaded into queue bench_in by rabbitmq_json.setup's broker on :aux_port; a third of them
-- are purchases, published to exchange bench_x (publisher confirms before each commit). The
-- source acks after each checkpoint commits (prefetch 10000). A queue never ends:
-- bench_meta.stop_at_events makes the runner stop the pipeline once rows_in reaches events.
-- The baseline (rabbitmq_json.baseline.sql) is an independent client (python3-pika) alone
-- taking the same 100 000 messages from queue bench_base with the same prefetch.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP TABLE IF EXISTS bench_meta;
CREATE TABLE bench_meta AS SELECT 100000 AS events, true AS stop_at_events;
CREATE SERVER bench_rabbit FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'rabbitmq', host '127.0.0.1', port :'aux_port');
CREATE FOREIGN TABLE rabbit_in (id bigint, user_name text, kind text, amount numeric)
  SERVER bench_rabbit OPTIONS (type 'source', queue 'bench_in', format 'json', prefetch '10000');
CREATE FOREIGN TABLE rabbit_out (user_name text, id bigint, amount numeric)
  SERVER bench_rabbit OPTIONS (type 'sink', exchange 'bench_x', routing_key 'k', format 'json');
SELECT stream_create('bench', $$INSERT INTO rabbit_out
  SELECT user_name, id, amount * 1.1 FROM rabbit_in WHERE kind = 'buy'$$);
