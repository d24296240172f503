-- kafka: server, user mapping, table and column options are validated at DDL time, naming the
-- option. No broker is needed for any of this (the test/kafka_test.sh shell test runs one).
\set VERBOSITY default
-- Servers: bootstrap_servers is required; other options are librdkafka client properties.
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'kafka');
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'kafka', bootstrap_servers '');
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'b:9092', colour 'red');
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'b:9092', "message.timeout.ms" 'soon');
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'b:9092', "security.protocol" 'carrier_pigeon');
-- Properties the connector sets itself, or that load code or run commands, are refused.
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'b:9092', "group.id" 'g');
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'b:9092', "enable.auto.commit" 'true');
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'b:9092', "bootstrap.servers" 'b:9092');
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'b:9092', "plugin.library.paths" '/tmp/x.so');
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'b:9092', "sasl.kerberos.kinit.cmd" 'rm -rf /');
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'b:9092', error_cb 'x');
-- Credentials belong in user mappings (the value is never shown).
CREATE SERVER k_bad FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'b:9092', "sasl.password" 'not-shown');

CREATE SERVER k FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'broker-1:9092,broker-2:9092',
           "client.id" 'arroyo', "security.protocol" 'sasl_ssl', "sasl.mechanism" 'SCRAM-SHA-256',
           "compression.codec" 'gzip', "message.timeout.ms" '30000');
ALTER SERVER k OPTIONS (ADD "isolation.level" 'read_committed');
ALTER SERVER k OPTIONS (ADD "linger.ms" '5');

-- User mappings hold credentials only.
CREATE USER MAPPING FOR CURRENT_USER SERVER k OPTIONS ("client.id" 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER k
  OPTIONS ("sasl.username" 'alice', "sasl.password" 'not-shown');
ALTER USER MAPPING FOR CURRENT_USER SERVER k OPTIONS (ADD "ssl.truststore.password" 'x');

-- Tables.
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (topic 'orders');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'no spaces');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', format 'protobuf');
CREATE FOREIGN TABLE k_dbz (id int) SERVER k OPTIONS (type 'source', topic 'orders', format 'debezium_json', primary_key 'id');
DROP FOREIGN TABLE k_dbz;
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', primary_key 'id');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', format 'debezium_json', primary_key 'nope');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', "source.offset" 'middle');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', "source.read_mode" 'dirty');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', "source.group_id" '');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', "source.max_message_bytes" '0');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', "source.max_message_bytes" '2000000000');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', "source.stop_at" 'eof');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', "sink.key_field" 'id');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'sink', topic 'orders', bad_data 'drop');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'sink', topic 'orders', "source.offset" 'earliest');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'sink', topic 'orders', "sink.key_field" 'nope');
CREATE FOREIGN TABLE k_eo (id int) SERVER k OPTIONS (type 'sink', topic 'orders', "sink.commit_mode" 'exactly_once');
DROP FOREIGN TABLE k_eo;
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'sink', topic 'orders', "sink.commit_mode" 'whenever');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', event_time_field 'id');
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', "json.timestamp_format" 'iso');
-- Client properties go on the server, not the table.
CREATE FOREIGN TABLE k_t (id int) SERVER k OPTIONS (type 'source', topic 'orders', "fetch.max.bytes" '1000');

-- Metadata columns (sources only), with their types.
CREATE FOREIGN TABLE k_t (id int, h text OPTIONS (metadata 'headers')) SERVER k OPTIONS (type 'source', topic 'orders');
CREATE FOREIGN TABLE k_t (id int, p bigint OPTIONS (metadata 'partition')) SERVER k OPTIONS (type 'source', topic 'orders');
CREATE FOREIGN TABLE k_t (id int, o int OPTIONS (metadata 'offset')) SERVER k OPTIONS (type 'source', topic 'orders');
CREATE FOREIGN TABLE k_t (id int, t timestamp OPTIONS (metadata 'timestamp')) SERVER k OPTIONS (type 'source', topic 'orders');
CREATE FOREIGN TABLE k_t (id int, k int OPTIONS (metadata 'key')) SERVER k OPTIONS (type 'source', topic 'orders');
CREATE FOREIGN TABLE k_t (id int, t varchar OPTIONS (metadata 'topic')) SERVER k OPTIONS (type 'source', topic 'orders');
CREATE FOREIGN TABLE k_t (id int, p int OPTIONS (metadata 'partition', other 'x')) SERVER k OPTIONS (type 'source', topic 'orders');
CREATE FOREIGN TABLE k_t (id int, p int OPTIONS (metadata 'partition') GENERATED ALWAYS AS (id + 1) STORED)
  SERVER k OPTIONS (type 'source', topic 'orders');
CREATE FOREIGN TABLE k_t (id int, p int OPTIONS (metadata 'partition')) SERVER k OPTIONS (type 'sink', topic 'orders');

-- raw_string: exactly one text column besides metadata columns.
CREATE FOREIGN TABLE k_t (a text, b text) SERVER k OPTIONS (type 'source', topic 'lines', format 'raw_string');
CREATE FOREIGN TABLE k_t (a int) SERVER k OPTIONS (type 'source', topic 'lines', format 'raw_string');
CREATE FOREIGN TABLE k_t (a text) SERVER k OPTIONS (type 'source', topic 'lines', format 'raw_string', "json.timestamp_format" 'unix_millis');
CREATE FOREIGN TABLE k_t (a text, b text) SERVER k OPTIONS (type 'sink', topic 'lines', format 'raw_string');
-- Nothing was left behind by the failures.
SELECT count(*) FROM pg_class WHERE relname = 'k_t';

-- Valid tables.
CREATE FOREIGN TABLE k_orders (id int, amount numeric, ts timestamptz,
    part int OPTIONS (metadata 'partition'), off bigint OPTIONS (metadata 'offset'),
    kts timestamptz OPTIONS (metadata 'timestamp'), k bytea OPTIONS (metadata 'key'),
    t text OPTIONS (metadata 'topic'))
  SERVER k OPTIONS (type 'source', topic 'orders', format 'json', "source.offset" 'earliest',
    "source.group_id" 'readers', "source.read_mode" 'read_uncommitted', bad_data 'drop',
    "source.max_message_bytes" '65536', "source.stop_at" 'latest', event_time_field 'ts',
    watermark_delay '5 seconds', "json.timestamp_format" 'unix_millis');
CREATE FOREIGN TABLE k_lines (line varchar(100), k text OPTIONS (metadata 'key'))
  SERVER k OPTIONS (type 'source', topic 'lines', format 'raw_string');
CREATE FOREIGN TABLE k_out (id int, total numeric) SERVER k
  OPTIONS (type 'sink', topic 'totals', "sink.key_field" 'id', "sink.commit_mode" 'at_least_once');
-- ALTER is validated too.
ALTER FOREIGN TABLE k_out OPTIONS (SET "sink.key_field" 'missing');
ALTER FOREIGN TABLE k_lines ADD COLUMN extra text;
ALTER FOREIGN TABLE k_lines ALTER COLUMN line OPTIONS (ADD metadata 'offset');
-- A sink is not a source, and a source is not a sink.
SELECT stream_create('k_p', 'INSERT INTO k_orders (id) SELECT id FROM k_out');
CREATE TABLE k_target (id int);
SELECT stream_create('k_p', 'INSERT INTO k_out SELECT id, amount FROM k_orders');

-- Client properties that read server files need pg_read_server_files.
CREATE SERVER k_files FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers 'b:9092', "ssl.ca.location" '/etc/ssl/certs/ca.pem');
CREATE FOREIGN TABLE k_secure (id int) SERVER k_files OPTIONS (type 'source', topic 'orders');
CREATE ROLE regress_kafka_user LOGIN;
GRANT SELECT ON k_secure, k_orders TO regress_kafka_user;
GRANT INSERT ON k_target TO regress_kafka_user;
SET ROLE regress_kafka_user;
SELECT stream_create('k_user', 'INSERT INTO k_target SELECT id FROM k_secure');
SELECT stream_create('k_user', 'INSERT INTO k_target SELECT id FROM k_orders');
RESET ROLE;
SELECT name, state FROM stream_pipelines ORDER BY name;

SELECT stream_drop(name) FROM stream_pipelines;
DROP TABLE k_target;
DROP USER MAPPING FOR CURRENT_USER SERVER k;
DROP SERVER k CASCADE;
DROP SERVER k_files CASCADE;
DROP ROLE regress_kafka_user;
