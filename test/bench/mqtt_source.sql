-- mqtt -> JSON decode -> filter + projection -> blackhole: the live stream of mqtt_source.setup's
-- publisher (mosquitto_pub at QoS 1, about 110-byte JSON messages, as fast as the broker takes
-- them) through a QoS 1 subscription. An MQTT source never ends: bench_meta.stop_at_events
-- makes the runner stop the pipeline once rows_in reaches 500 000. The publisher bounds the
-- rate: the baseline (mqtt_source.baseline.sql) is mosquitto_sub reading 500 000 messages of
-- the same stream at QoS 1.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_mqtt CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP TABLE IF EXISTS bench_meta;
CREATE TABLE bench_meta AS SELECT 500000 AS events, true AS stop_at_events;
\set url 'tcp://127.0.0.1:' :aux_port
CREATE SERVER bench_mqtt FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'mqtt', url :'url');
CREATE FOREIGN TABLE mqtt_in (id bigint, user_name text, kind text, amount numeric,
                              ts timestamptz)
  SERVER bench_mqtt OPTIONS (type 'source', topic 'bench/in', qos 'AtLeastOnce', format 'json');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE FOREIGN TABLE nowhere (user_name text, id bigint, amount numeric, minute timestamptz)
  SERVER bench_blackhole;
SELECT stream_create('bench', $$INSERT INTO nowhere
  SELECT user_name, id, amount * 1.1, date_trunc('minute', ts)
  FROM mqtt_in WHERE kind = 'buy'$$);
