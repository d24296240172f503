-- Kafka -> JSON decode -> filter + projection -> JSON encode -> Kafka: 1 000 000 messages
-- preloaded into topic bench_in (32 partitions) by kafka_json.setup's broker on :aux_port; a
-- third of them are purchases, written to topic bench_out keyed by user. The source stops at
-- the offsets the topic had at start (source.stop_at 'latest'), so the pipeline finishes.
-- The baseline (kafka_json.baseline.sql) is kcat alone reading the same topic: the ceiling.
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
                              "sink.key_field" 'user_name');
-- At :parallelism workers (kafka_json_p2 sets 2; default 1).
\if :{?parallelism}
\else
\set parallelism 1
\endif
SELECT stream_create('bench', format($$SET parallelism = %s; INSERT INTO kafka_out
  SELECT user_name, id, amount * 1.1, date_trunc('minute', ts)
  FROM kafka_in WHERE kind = 'buy'$$, :parallelism));
