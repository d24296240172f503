-- Included by test/bench/nexmark_kafka_qN.sql: fills the topics of nexmark_kafka.setup's broker
-- (on :aux_port) with :events Nexmark events as JSON objects, one message per event, every
-- column of its kind (the generator's own tables, through the kafka sink, keyed by date_time so
-- that they spread evenly over the partitions), untimed;
-- then defines the Kafka source tables bid, auction and person reading them back
-- (event_time_field 'date_time', stopping at the end offsets they have at the start).
\if :{?events}
\else
\set events 1000000
\endif
\set kafka_boot '127.0.0.1:' :aux_port
SELECT stream_drop(name) FROM stream_pipelines WHERE name IN ('bench', 'load_bid', 'load_auction', 'load_person');
DROP SERVER IF EXISTS bench_nexmark CASCADE;
DROP SERVER IF EXISTS bench_blackhole CASCADE;
DROP SERVER IF EXISTS bench_kafka CASCADE;
DROP TABLE IF EXISTS bench_meta, bench_out;
CREATE TABLE bench_meta AS SELECT :events::bigint AS events;
CREATE SERVER bench_nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE SERVER bench_blackhole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
CREATE SERVER bench_kafka FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers :'kafka_boot', "linger.ms" '20');
CREATE FOREIGN TABLE gen_bid (auction bigint, bidder bigint, price bigint, channel text, url text,
                              date_time timestamptz, extra text)
  SERVER bench_nexmark OPTIONS (event_type 'bid', event_rate '0', message_count :'events',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE gen_auction (id bigint, item_name text, description text, initial_bid bigint,
  reserve bigint, date_time timestamptz, expires timestamptz, seller bigint, category bigint,
  extra text)
  SERVER bench_nexmark OPTIONS (event_type 'auction', event_rate '0', message_count :'events',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE gen_person (id bigint, name text, email_address text, credit_card text,
  city text, state text, date_time timestamptz, extra text)
  SERVER bench_nexmark OPTIONS (event_type 'person', event_rate '0', message_count :'events',
                                start_time '2026-01-01 00:00:00+00');
CREATE FOREIGN TABLE out_bid (auction bigint, bidder bigint, price bigint, channel text, url text,
                              date_time timestamptz, extra text)
  SERVER bench_kafka OPTIONS (type 'sink', topic 'nexmark_bid', format 'json',
                              "sink.key_field" 'date_time');
CREATE FOREIGN TABLE out_auction (id bigint, item_name text, description text, initial_bid bigint,
  reserve bigint, date_time timestamptz, expires timestamptz, seller bigint, category bigint,
  extra text)
  SERVER bench_kafka OPTIONS (type 'sink', topic 'nexmark_auction', format 'json',
                              "sink.key_field" 'date_time');
CREATE FOREIGN TABLE out_person (id bigint, name text, email_address text, credit_card text,
  city text, state text, date_time timestamptz, extra text)
  SERVER bench_kafka OPTIONS (type 'sink', topic 'nexmark_person', format 'json',
                              "sink.key_field" 'date_time');
SELECT stream_create('load_' || k, format('INSERT INTO out_%s SELECT * FROM gen_%s', k, k))
FROM unnest(ARRAY['bid', 'auction', 'person']) k;
SELECT stream_start('load_' || k) FROM unnest(ARRAY['bid', 'auction', 'person']) k;
SELECT stream_wait('load_' || k, '30 minutes') FROM unnest(ARRAY['bid', 'auction', 'person']) k;
SELECT stream_drop('load_' || k) FROM unnest(ARRAY['bid', 'auction', 'person']) k;
-- The sources. A generous watermark_delay: the unkeyed sink spread consecutive events over the
-- partitions, which the source reads at their own paces.
CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, channel text, url text,
                          date_time timestamptz, extra text)
  SERVER bench_kafka OPTIONS (type 'source', topic 'nexmark_bid', format 'json',
                              "source.offset" 'earliest', "source.stop_at" 'latest',
                              event_time_field 'date_time', watermark_delay '1 minute');
CREATE FOREIGN TABLE auction (id bigint, item_name text, description text, initial_bid bigint,
  reserve bigint, date_time timestamptz, expires timestamptz, seller bigint, category bigint,
  extra text)
  SERVER bench_kafka OPTIONS (type 'source', topic 'nexmark_auction', format 'json',
                              "source.offset" 'earliest', "source.stop_at" 'latest',
                              event_time_field 'date_time', watermark_delay '1 minute');
CREATE FOREIGN TABLE person (id bigint, name text, email_address text, credit_card text,
  city text, state text, date_time timestamptz, extra text)
  SERVER bench_kafka OPTIONS (type 'source', topic 'nexmark_person', format 'json',
                              "source.offset" 'earliest', "source.stop_at" 'latest',
                              event_time_field 'date_time', watermark_delay '1 minute');
