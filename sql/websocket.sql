-- websocket tables: options are checked at CREATE / ALTER time, naming the option. (Reading
-- real servers is tested by test/websocket_test.sh.)
\set VERBOSITY default
CREATE SERVER ws_srv FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'websocket');

-- endpoint: required, ws:// or wss://, a host, a valid port.
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv;
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'https://example.com/feed');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'example.com/feed');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws:///feed');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com:99999/');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com:/');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'wss://user:pw@example.com/');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/a b');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/#top');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://[::1/');

-- headers: 'Name: value' pairs separated by commas.
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'wss://example.com/', headers 'Authorization Bearer x');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'wss://example.com/', headers 'Authorization: Bearer x,, X-Other: y');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'wss://example.com/', headers 'Bad Name: x');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'wss://example.com/', headers 'X-Empty:');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'wss://example.com/', headers 'Host: other.example.com');

-- Subscription messages: one, or several indexed from 0 without gaps; not both.
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'ws://example.com/', subscription_message 'a', "subscription_messages.0" 'b');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'ws://example.com/', "subscription_messages.0" 'a', "subscription_messages.2" 'c');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'ws://example.com/', "subscription_messages.1" 'b');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'ws://example.com/', "subscription_messages.01" 'a');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'ws://example.com/', "subscription_messages.x" 'a');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'ws://example.com/', subscription_messages 'a');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv
  OPTIONS (endpoint 'ws://example.com/', subscription_message '');

-- Other options.
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', format 'avro');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', bad_data 'skip');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', type 'sink');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', colour 'red');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', max_message_size '0');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', max_message_size '1 MB');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', max_message_size '1073741824');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'wss://example.com/', tls_ca_file 'ca.pem');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', tls_ca_file '/etc/ssl/certs/ca-certificates.crt');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', watermark_delay 'soon');
CREATE FOREIGN TABLE ws_a (type text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', event_time_field 'type');
CREATE FOREIGN TABLE ws_a (type text OPTIONS (metadata 'key')) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/');

-- format 'raw_string' (the format layer's, shared with kafka): exactly one column besides
-- generated ones, of type text or varchar or a domain over them.
CREATE FOREIGN TABLE ws_a (value text, other text) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', format 'raw_string');
CREATE FOREIGN TABLE ws_a (value jsonb) SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', format 'raw_string');
CREATE FOREIGN TABLE ws_a (value text) SERVER ws_srv
  OPTIONS (endpoint 'ws://example.com/', format 'raw_string', "json.timestamp_format" 'unix_millis');
CREATE FOREIGN TABLE ws_raw (value text, n int GENERATED ALWAYS AS (length(value)) STORED)
  SERVER ws_srv OPTIONS (endpoint 'ws://example.com/', format 'raw_string');
CREATE FOREIGN TABLE ws_a (value text) SERVER ws_srv
  OPTIONS (endpoint 'ws://example.com/', format 'raw_string', "json.max_depth" '10');
CREATE FOREIGN TABLE ws_raw_varchar (line varchar(15)) SERVER ws_srv
  OPTIONS (endpoint 'ws://example.com/', format 'raw_string');
CREATE DOMAIN ws_short_text AS text CHECK (length(VALUE) < 100);
CREATE FOREIGN TABLE ws_raw_domain (line ws_short_text) SERVER ws_srv
  OPTIONS (endpoint 'ws://example.com/', format 'raw_string');
-- Nothing was left behind by the failures.
SELECT count(*) FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid WHERE c.relname = 'ws_a';

-- Accepted tables, the seed's example among them.
CREATE FOREIGN TABLE coinbase (type text, price text, product_id text, time timestamptz)
  SERVER ws_srv OPTIONS (
    endpoint 'wss://ws-feed.exchange.coinbase.com',
    subscription_message '{"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}',
    format 'json', event_time_field 'time', watermark_delay '5 seconds', bad_data 'drop');
CREATE FOREIGN TABLE ws_b (id int) SERVER ws_srv OPTIONS (
    endpoint 'ws://[::1]:8080/feed?x=1', headers 'Authorization: Bearer x, X-Other: y',
    "subscription_messages.0" '{"op": "auth"}', "subscription_messages.1" '{"op": "sub"}',
    max_message_size '65536', type 'source');
-- ALTER is validated too.
ALTER FOREIGN TABLE ws_b OPTIONS (ADD "subscription_messages.3" 'x');
ALTER FOREIGN TABLE ws_b OPTIONS (SET endpoint 'ftp://example.com/');
ALTER FOREIGN TABLE ws_b OPTIONS (ADD "subscription_messages.2" '{"op": "more"}');
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'ws_b'::regclass;

-- tls_ca_file makes the server read a file: pg_read_server_files, as for COPY.
CREATE ROLE regress_ws_user LOGIN;
GRANT USAGE ON FOREIGN SERVER ws_srv TO regress_ws_user;
GRANT CREATE ON SCHEMA public TO regress_ws_user;
SET ROLE regress_ws_user;
CREATE FOREIGN TABLE ws_ca (id int) SERVER ws_srv
  OPTIONS (endpoint 'wss://example.com/', tls_ca_file '/etc/ssl/certs/ca-certificates.crt');
CREATE FOREIGN TABLE ws_mine (id int) SERVER ws_srv OPTIONS (endpoint 'wss://example.com/');
RESET ROLE;
DROP FOREIGN TABLE ws_mine;
REVOKE USAGE ON FOREIGN SERVER ws_srv FROM regress_ws_user;
REVOKE CREATE ON SCHEMA public FROM regress_ws_user;
DROP ROLE regress_ws_user;

-- A source with no server behind it: the pipeline keeps running and says why in
-- stream_pipelines.source_status (port 1 on loopback refuses connections).
CREATE FOREIGN TABLE ws_nobody (id int) SERVER ws_srv OPTIONS (endpoint 'ws://127.0.0.1:1/');
CREATE TABLE ws_out (id int);
SELECT stream_create('ws_nobody', 'INSERT INTO ws_out SELECT id FROM ws_nobody');
SELECT name, state, source_status FROM stream_pipelines WHERE name = 'ws_nobody';
SELECT stream_start('ws_nobody');
DO $$
BEGIN
  FOR i IN 1..300 LOOP
    EXIT WHEN (SELECT source_status LIKE 'reconnecting%' FROM stream_pipelines
               WHERE name = 'ws_nobody');
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SELECT state, regexp_replace(source_status, 'attempt \d+ in [0-9.]+ s', 'attempt N in T s')
  AS source_status, last_error
FROM stream_pipelines WHERE name = 'ws_nobody';
SELECT stream_stop('ws_nobody');
SELECT state, rows_in, source_status FROM stream_pipelines WHERE name = 'ws_nobody';
SELECT stream_drop('ws_nobody');
