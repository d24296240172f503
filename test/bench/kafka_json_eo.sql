-- kafka_json with sink.commit_mode 'exactly_once' (a transactional producer; each checkpoint
-- stores its output in the checkpoint before the Kafka transaction delivers it), to compare with
-- kafka_json (at_least_once). Otherwise the same: 1 000 000 messages
-- preloaded into topic bench_in (32 partitions) by kafka_json.setup's broker on :aux_port; a
-- third of them are purchases, written to topic bench_out keyed by user. The source stops at
-- the offsets the topic had at start (source.stop_at 'latest'), so the pipeline finishes.
-- No baseline: kafka_json has it (kcat alone).
SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'bench';
DROP TABLE IF EXISTS bench_meta;
\set kafka_boot '127.0.0.1:' :aux_port
CREATE TABLE bench_meta AS SELECT 1000000 AS events;
CREATE SERVER bench_kafka FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers :'kafka_boot', "linger.ms" '20');
CREATE FOREIGN TABLE kafka_in (id bigint, user_name text, kind text, amount numeric,
                               ts timestamptz)
  SERVER bench_kafka OPTIONS (type 'source', topic 'bench_in', format 'json',
                              "source.offset" 'earliest', "source.stop_at" 'latest');
CREATE FOREIGN TABLE kafka_out (user_name text, id bigint, amount numeric, minute timestamptz)
  SERVER bench_kafka OPTIONS (type 'sink', topic 'bench_out', format 'json',
                              "sink.key_field" 'user_name', "sink.commit_mode" 'exactly_once');
SELECT stream_create('bench', $$INSERT INTO kafka_out
  SELECT user_name, id, amount * 1.1, date_trunc('minute', ts)
  FROM kafka_in WHERE kind = 'buy'$$);
