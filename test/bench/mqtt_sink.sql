-- impulse at full speed (200 000 events) -> JSON encode -> mqtt sink at QoS 1 (AtLeastOnce) to a
-- mosquitto broker on :aux_port (mqtt_sink.setup); every message is acknowledged (PUBACK)
-- before the pipeline's transactions commit. The baseline (mqtt_sink.baseline.sql) is
-- mosquitto_pub alone publishing the same 200 000 JSON messages at QoS 1 to the same broker.
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP SERVER IF EXISTS bench_mqtt CASCADE;
DROP SERVER IF EXISTS bench_mqtt_impulse CASCADE;
DROP TABLE IF EXISTS bench_meta;
CREATE TABLE bench_meta AS SELECT 200000 AS events;
\set url 'tcp://127.0.0.1:' :aux_port
CREATE SERVER bench_mqtt FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'mqtt', url :'url');
CREATE SERVER bench_mqtt_impulse FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE mqtt_ticks (counter bigint) SERVER bench_mqtt_impulse
  OPTIONS (event_rate '0', message_count '200000');
CREATE FOREIGN TABLE mqtt_out (counter bigint) SERVER bench_mqtt
  OPTIONS (type 'sink', topic 'bench/out', qos 'AtLeastOnce', format 'json');
SELECT stream_create('bench', 'INSERT INTO mqtt_out SELECT counter FROM mqtt_ticks');
