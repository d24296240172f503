#!/usr/bin/env bash
# The mqtt connector against a real mosquitto broker on loopback, checked with mosquitto's own
# clients (mosquitto_pub, mosquitto_sub). Ports: ARROYO_MQTT_TEST_PORT (default 55575) for
# PostgreSQL, +1 for the broker's plain listener (anonymous), +2 for its TLS listener (a test
# CA, a password file).
#
#   a. options are checked at CREATE SERVER / USER MAPPING / FOREIGN TABLE, naming the option;
#   b. a wildcard source (sensors/+/temp, QoS 1) with the topic as a metadata column;
#   c. a # source (QoS 0), raw_string;
#   d. sinks at QoS 0, 1 and 2 (an mqtt source into an mqtt sink, impulse into a sink), read
#      back with mosquitto_sub; sink.retain;
#   e. bad data: dropped and counted, or failing the pipeline naming the message; an oversized
#      message;
#   f. TLS and a user mapping's username/password; a wrong password fails; an untrusted
#      certificate is retried, the reason in source_status;
#   g. a persistent session (QoS 1): what is published while the pipeline is stopped arrives
#      after it starts again;
#   h. a broker restart mid-pipeline: reconnecting in source_status, then connected again, and
#      messages flow again.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${ARROYO_MQTT_TEST_PORT:-55575}
MQTT_PORT=$((PG_PORT + 1))
TLS_PORT=$((PG_PORT + 2))
POLL_TIMEOUT=40

for tool in mosquitto mosquitto_pub mosquitto_sub mosquitto_passwd openssl; do
    command -v "$tool" >/dev/null || arroyo_die "$tool is missing (scripts/install_deps.sh installs it)"
done

pg_test_instance mqtt "$PG_PORT"
WORK=$ARROYO_WORK_ROOT/tests/mqtt_broker
rm -rf "$WORK"
arroyo_work_dir "$WORK"

# A test CA and a certificate for 127.0.0.1 signed by it.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=arroyo-test-ca \
    -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$WORK/server.key" \
    -out "$WORK/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$WORK/san.ext"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -days 2 -extfile "$WORK/san.ext" -out "$WORK/server.pem" 2>/dev/null
chmod 644 "$WORK"/*.pem "$WORK/server.key"
mosquitto_passwd -c -b "$WORK/passwd" arroyo 's3cret pass' >/dev/null
chmod 644 "$WORK/passwd"

cat >"$WORK/mosquitto.conf" <<EOF
per_listener_settings true
persistence false
max_queued_messages 0
log_dest stdout
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
$(arroyo_is_root && echo "user root")
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
listener $TLS_PORT 127.0.0.1
cafile $WORK/ca.pem
certfile $WORK/server.pem
keyfile $WORK/server.key
allow_anonymous false
password_file $WORK/passwd
EOF

BROKER_PID=
# start_broker: starts mosquitto and waits until it accepts connections.
start_broker() {
    stdbuf -oL mosquitto -c "$WORK/mosquitto.conf" >>"$WORK/broker.log" 2>&1 &
    BROKER_PID=$!
    wait_for "the broker" broker_ready
}
broker_ready() {
    last=$(mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" -t probe -m x 2>&1) && return 0
    kill -0 "$BROKER_PID" 2>/dev/null || arroyo_die "mosquitto exited: $(tail -5 "$WORK/broker.log")"
    return 1
}
stop_broker() {
    if [[ -n $BROKER_PID ]]; then
        kill "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
        BROKER_PID=
    fi
}
arroyo_on_exit stop_broker

SUB_PIDS=()
# subscribe NAME TOPIC QOS [mosquitto_sub args...]: collects TOPIC's messages as "topic payload"
# lines in $WORK/NAME.out; returns once the subscription is acknowledged.
subscribe() {
    local name=$1 topic=$2 qos=$3
    shift 3
    stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t "$topic" -q "$qos" -d -F 'MSG %t %p' "$@" \
        >"$WORK/$name.raw" 2>&1 &
    SUB_PIDS+=($!)
    wait_for "$name's subscription" has_suback "$WORK/$name.raw"
}
has_suback() { grep -q SUBACK "$1" 2>/dev/null; }
kill_subscribers() {
    local pid
    for pid in "${SUB_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
}
arroyo_on_exit kill_subscribers
# received NAME: the messages collected so far.
received() { grep '^MSG ' "$WORK/$1.raw" | sed 's/^MSG //' || true; }
received_count_is() {
    last=$(received "$1" | wc -l)
    [[ $last -eq $2 ]]
}

pub() { mosquitto_pub -h 127.0.0.1 -p "$MQTT_PORT" "$@"; }

q() {
    pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"
}
# q_error SQL: the error message of SQL, which must fail.
q_error() {
    local out
    if out=$(pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1" 2>&1); then
        arroyo_die "expected an error from: $1"
    fi
    printf '%s\n' "$out" | sed -n 's/^.*ERROR:  //p'
}
expect() {
    if [[ $3 != "$2" ]]; then
        arroyo_die "$1: expected '$2', got '$3'"
    fi
    echo "ok: $1"
}
query_is() {
    last=$(q "$1" 2>&1) || return 1
    [[ $last == "$2" ]]
}
status_matches() {
    last=$(q "SELECT coalesce(source_status, '<null>') FROM stream_pipelines WHERE name = '$1'" 2>&1) ||
        return 1
    [[ $last =~ $2 ]]
}
wait_connected() {
    wait_for "$1 to connect" status_matches "$1" "^connected \\(connection ${2:-1}\\)$"
}

start_broker
URL=tcp://127.0.0.1:$MQTT_PORT
q "CREATE EXTENSION arroyo_stream;
   CREATE SERVER mq FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'mqtt', url '$URL');" \
    >/dev/null

# --- a. options --------------------------------------------------------------------------------
arroyo_log "a. options checked at DDL time"
expect "url is required" 'missing required option "url" for connector "mqtt" servers' \
    "$(q_error "CREATE SERVER m1 FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'mqtt')")"
expect "a bad url" 'invalid value for option "url": "http://127.0.0.1"' \
    "$(q_error "CREATE SERVER m1 FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'mqtt', url 'http://127.0.0.1')")"
expect "tls.ca needs ssl://" 'option "tls.ca" applies only to ssl:// and mqtts:// urls' \
    "$(q_error "CREATE SERVER m1 FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'mqtt', url '$URL', \"tls.ca\" '/x.pem')")"
expect "no password on a server" 'option "password" is a credential and belongs in a user mapping' \
    "$(q_error "CREATE SERVER m1 FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'mqtt', url '$URL', password 'x')" | head -1)"
expect "user mappings take username and password only" 'unknown option "token" for connector "mqtt" user mappings' \
    "$(q_error "CREATE USER MAPPING FOR CURRENT_USER SERVER mq OPTIONS (token 'x')" | head -1)"
expect "topic is required" 'missing required option "topic" for connector "mqtt" tables' \
    "$(q_error "CREATE FOREIGN TABLE t1 (v int) SERVER mq OPTIONS (type 'source')")"
expect "a bad qos" 'invalid value for option "qos": "3"' \
    "$(q_error "CREATE FOREIGN TABLE t1 (v int) SERVER mq OPTIONS (type 'source', topic 'a', qos '3')")"
expect "no wildcard in a sink's topic" 'invalid value for option "topic": "a/+"' \
    "$(q_error "CREATE FOREIGN TABLE t1 (v int) SERVER mq OPTIONS (type 'sink', topic 'a/+')")"
expect "# only as the last level" 'invalid value for option "topic": "a/#/b"' \
    "$(q_error "CREATE FOREIGN TABLE t1 (v int) SERVER mq OPTIONS (type 'source', topic 'a/#/b')")"
expect "sink.retain on a source" 'option "sink.retain" applies only to sink tables' \
    "$(q_error "CREATE FOREIGN TABLE t1 (v int) SERVER mq OPTIONS (type 'source', topic 'a', \"sink.retain\" 'true')")"
expect "a metadata column's type" 'metadata column "t" must be of type text' \
    "$(q_error "CREATE FOREIGN TABLE t1 (v int, t int OPTIONS (metadata 'topic')) SERVER mq OPTIONS (type 'source', topic 'a')")"
expect "unknown metadata" 'invalid value for option "metadata": "partition"' \
    "$(q_error "CREATE FOREIGN TABLE t1 (v int, t text OPTIONS (metadata 'partition')) SERVER mq OPTIONS (type 'source', topic 'a')")"
q "CREATE SERVER mq_files FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'mqtt', url 'ssl://127.0.0.1:1', \"tls.ca\" '/etc/ssl/certs/ca-certificates.crt');
   CREATE ROLE mqtt_user LOGIN;
   GRANT USAGE ON FOREIGN SERVER mq_files, mq TO mqtt_user;
   GRANT CREATE ON SCHEMA public TO mqtt_user;" >/dev/null
expect "TLS files need pg_read_server_files" \
    'must be superuser or have privileges of the pg_read_server_files role to use an mqtt server with options "tls.ca", "tls.cert" or "tls.key"' \
    "$(q_error "SET ROLE mqtt_user; CREATE FOREIGN TABLE t1 (v int) SERVER mq_files OPTIONS (type 'source', topic 'a')")"
expect "without TLS files a user's table is fine" "" \
    "$(q "SET ROLE mqtt_user; CREATE FOREIGN TABLE t1 (v int) SERVER mq OPTIONS (type 'sink', topic 'a'); DROP FOREIGN TABLE t1")"
q "REVOKE USAGE ON FOREIGN SERVER mq_files, mq FROM mqtt_user; REVOKE CREATE ON SCHEMA public FROM mqtt_user;
   DROP ROLE mqtt_user; DROP SERVER mq_files" >/dev/null

# --- b. a wildcard source with the topic column ------------------------------------------------
arroyo_log "b. sensors/+/temp at QoS 1, the topic as a metadata column"
q "CREATE FOREIGN TABLE temps (sensor_topic text OPTIONS (metadata 'topic'), v int)
     SERVER mq OPTIONS (type 'source', topic 'sensors/+/temp', qos 'AtLeastOnce');
   CREATE TABLE temps_out (topic text, v int);
   SELECT stream_create('temps', 'INSERT INTO temps_out SELECT sensor_topic, v FROM temps');
   SELECT stream_start('temps');" >/dev/null
wait_connected temps
pub -q 1 -t sensors/a/temp -m '{"v": 1}'
pub -q 1 -t sensors/a/hum -m '{"v": 100}'
pub -q 1 -t sensors/a/b/temp -m '{"v": 101}'
pub -q 1 -t sensors/b/temp -m '{"v": 2}'
wait_for "temps' rows" query_is "SELECT count(*) FROM temps_out" 2
expect "temps' rows" "sensors/a/temp|1
sensors/b/temp|2" "$(q "SELECT topic, v FROM temps_out ORDER BY v")"
expect "temps' counters" "running|2|0" \
    "$(q "SELECT state, rows_in, bad_rows FROM stream_pipelines WHERE name = 'temps'")"

# stream_preview: its own client id and a clean session; a retained message arrives at once.
pub -q 1 -r -t sensors/p/temp -m '{"v": 42}'
expect "a preview of temps" 'insert|{"sensor_topic":"sensors/p/temp","v":42}' \
    "$(q "SELECT op || '|' || \"row\" FROM stream_preview('SELECT sensor_topic, v FROM temps', 1, '30 s')")"
# (mosquitto's log reaches the file when its stdout buffer is flushed: wait for it.)
preview_logged() {
    last=$(grep -oE 'as arroyo-mqtt_preview_[0-9]+_[0-9]+_[0-9]+ \(p2, c[01], k30\)' \
        "$WORK/broker.log" | sed -E 's/preview_[0-9_]+ /preview /' || true)
    [[ -n $last ]]
}
wait_for "the preview's connection in the broker's log" preview_logged
expect "the preview's session was clean" "as arroyo-mqtt_preview (p2, c1, k30)" "$last"
pub -q 1 -r -t sensors/p/temp -n # clears the retained message
wait_for "temps to see the retained message" query_is "SELECT count(*) FROM temps_out" 3
q "DELETE FROM temps_out WHERE v = 42" >/dev/null

# --- c. a # source at QoS 0, raw_string --------------------------------------------------------
arroyo_log "c. # at QoS 0, raw_string"
q "CREATE FOREIGN TABLE everything (t text OPTIONS (metadata 'topic'), body text)
     SERVER mq OPTIONS (type 'source', topic 'raw/#', qos '0', format 'raw_string');
   CREATE TABLE everything_out (t text, body text);
   SELECT stream_create('everything', 'INSERT INTO everything_out SELECT t, body FROM everything');
   SELECT stream_start('everything');" >/dev/null
wait_connected everything
pub -t raw -m 'the parent level'
pub -t raw/x/y -m 'hello'
pub -t rawer -m 'not matched'
pub -t raw/z -m 'wörld'
wait_for "everything's rows" query_is "SELECT count(*) FROM everything_out" 3
expect "everything's rows" "raw|the parent level
raw/x/y|hello
raw/z|wörld" "$(q "SELECT t, body FROM everything_out ORDER BY t")"
q "SELECT stream_drop('everything')" >/dev/null

# --- d. sinks at QoS 0, 1 and 2 ----------------------------------------------------------------
arroyo_log "d. sinks: mqtt to mqtt at QoS 2, impulse to mqtt at QoS 1 and 0, retain"
subscribe q2 'out/q2' 2
subscribe q1 'out/q1' 1
subscribe q0 'out/q0' 0
q "CREATE FOREIGN TABLE orders (id int, item text)
     SERVER mq OPTIONS (type 'source', topic 'orders/#', qos 'ExactlyOnce');
   CREATE FOREIGN TABLE out_q2 (id int, item text, doubled int)
     SERVER mq OPTIONS (type 'sink', topic 'out/q2', qos 'ExactlyOnce');
   SELECT stream_create('relay', 'INSERT INTO out_q2 SELECT id, upper(item), id * 2 FROM orders');
   SELECT stream_start('relay');" >/dev/null
wait_connected relay
for i in 1 2 3; do pub -q 2 -t "orders/$i" -m "{\"id\": $i, \"item\": \"thing $i\"}"; done
wait_for "3 messages on out/q2" received_count_is q2 3
expect "out/q2's messages" 'out/q2 {"id":1,"item":"THING 1","doubled":2}
out/q2 {"id":2,"item":"THING 2","doubled":4}
out/q2 {"id":3,"item":"THING 3","doubled":6}' "$(received q2)"
q "SELECT stream_drop('relay')" >/dev/null

q "CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
   CREATE FOREIGN TABLE ticks (counter bigint) SERVER imp
     OPTIONS (event_rate '10000', message_count '500');
   CREATE FOREIGN TABLE out_q1 (counter bigint) SERVER mq
     OPTIONS (type 'sink', topic 'out/q1', qos '1', format 'json');
   CREATE FOREIGN TABLE out_q0 (n text) SERVER mq
     OPTIONS (type 'sink', topic 'out/q0', qos 'AtMostOnce', format 'raw_string', \"sink.retain\" 'true');
   SELECT stream_create('to_q1', 'INSERT INTO out_q1 SELECT counter FROM ticks');
   SELECT stream_create('to_q0', \$\$INSERT INTO out_q0 SELECT 'n' || counter FROM ticks\$\$);
   SELECT stream_start('to_q1'); SELECT stream_start('to_q0');" >/dev/null
wait_for "500 messages on out/q1" received_count_is q1 500
wait_for "500 messages on out/q0" received_count_is q0 500
expect "out/q1's messages, in order" "$(for i in $(seq 0 499); do echo "out/q1 {\"counter\":$i}"; done)" \
    "$(received q1)"
expect "out/q0's messages, in order" "$(for i in $(seq 0 499); do echo "out/q0 n$i"; done)" \
    "$(received q0)"
wait_for "to_q1 to finish" query_is "SELECT state, rows_out FROM stream_pipelines WHERE name = 'to_q1'" \
    "finished|500"
# sink.retain: a new subscriber gets the last message.
expect "the retained message" "out/q0 n499" \
    "$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t out/q0 -C 1 -W 10 -F '%t %p')"
expect "out/q1 kept no retained message" "" \
    "$(mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -t out/q1 -W 1 -F '%t %p' 2>/dev/null || true)"
q "SELECT stream_drop('to_q1'); SELECT stream_drop('to_q0')" >/dev/null

# --- e. bad data -------------------------------------------------------------------------------
arroyo_log "e. bad data: drop and count, or fail naming the message"
q "CREATE SERVER mq_small FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'mqtt', url '$URL', max_packet_size '64');
   CREATE FOREIGN TABLE bad_drop (id int) SERVER mq_small
     OPTIONS (type 'source', topic 'bad', qos '1', bad_data 'drop');
   CREATE FOREIGN TABLE bad_fail (id int) SERVER mq
     OPTIONS (type 'source', topic 'bad', qos '1');
   CREATE TABLE bad_out (id int);
   CREATE TABLE bad_fail_out (id int);
   SELECT stream_create('bad_drop', 'INSERT INTO bad_out SELECT id FROM bad_drop');
   SELECT stream_create('bad_fail', 'INSERT INTO bad_fail_out SELECT id FROM bad_fail');
   SELECT stream_start('bad_drop'); SELECT stream_start('bad_fail');" >/dev/null
wait_connected bad_drop
wait_connected bad_fail
pub -q 1 -t bad -m '{"id": 1}'
pub -q 1 -t bad -m 'not json'
pub -q 1 -t bad -m "{\"id\": 3, \"pad\": \"$(printf 'x%.0s' $(seq 1 80))\"}"
pub -q 1 -t bad -m '{"id": "four"}'
pub -q 1 -t bad -m '{"id": 5}'
wait_for "bad_drop's counters" query_is \
    "SELECT state, rows_in, bad_rows FROM stream_pipelines WHERE name = 'bad_drop'" "running|2|3"
wait_for "bad_fail to fail" query_is "SELECT state FROM stream_pipelines WHERE name = 'bad_fail'" failed
expect "bad_fail's error" \
    "bad data in message 2 on topic \"bad\" from $URL: JSON document is not an object" \
    "$(q "SELECT last_error FROM stream_pipelines WHERE name = 'bad_fail'")"
wait_for "bad_drop's rows" query_is "SELECT string_agg(id::text, ',' ORDER BY id) FROM bad_out" "1,5"
q "SELECT stream_drop('bad_drop'); SELECT stream_drop('bad_fail')" >/dev/null

# --- f. TLS and credentials from a user mapping -------------------------------------------------
arroyo_log "f. TLS with a test CA, username and password from a user mapping"
TLS_URL=ssl://127.0.0.1:$TLS_PORT
q "CREATE SERVER mqs FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'mqtt', url '$TLS_URL', \"tls.ca\" '$WORK/ca.pem', client_prefix 'secure');
   CREATE USER MAPPING FOR CURRENT_USER SERVER mqs
     OPTIONS (username 'arroyo', password 's3cret pass');
   CREATE SERVER mqs_wrong FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'mqtt', url '$TLS_URL', \"tls.ca\" '$WORK/ca.pem');
   CREATE USER MAPPING FOR CURRENT_USER SERVER mqs_wrong
     OPTIONS (username 'arroyo', password 'wrong');
   CREATE SERVER mqs_untrusted FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'mqtt', url '$TLS_URL');
   CREATE FOREIGN TABLE secure_in (id int) SERVER mqs
     OPTIONS (type 'source', topic 'secure/#', qos '2');
   CREATE FOREIGN TABLE wrong_in (id int) SERVER mqs_wrong
     OPTIONS (type 'source', topic 'secure/#', qos '2');
   CREATE FOREIGN TABLE untrusted_in (id int) SERVER mqs_untrusted
     OPTIONS (type 'source', topic 'secure/#');
   CREATE TABLE secure_out (src text, id int);
   SELECT stream_create('secure', \$\$INSERT INTO secure_out SELECT 'ok', id FROM secure_in\$\$);
   SELECT stream_create('wrong', \$\$INSERT INTO secure_out SELECT 'wrong', id FROM wrong_in\$\$);
   SELECT stream_create('untrusted',
     \$\$INSERT INTO secure_out SELECT 'untrusted', id FROM untrusted_in\$\$);
   SELECT stream_start('secure'); SELECT stream_start('wrong'); SELECT stream_start('untrusted');" \
    >/dev/null
wait_connected secure
mosquitto_pub -h 127.0.0.1 -p "$TLS_PORT" --cafile "$WORK/ca.pem" -u arroyo -P 's3cret pass' \
    -q 2 -t secure/one -m '{"id": 7}'
wait_for "secure's row" query_is "SELECT src, id FROM secure_out" "ok|7"
wait_for "wrong to fail" query_is "SELECT state FROM stream_pipelines WHERE name = 'wrong'" failed
expect "wrong's error" \
    "MQTT client for $TLS_URL stopped: the broker refused the connection: Connection Refused: not authorised" \
    "$(q "SELECT last_error FROM stream_pipelines WHERE name = 'wrong'")"
wait_for "untrusted to retry" status_matches untrusted \
    '^reconnecting \(attempt [0-9]+ in [0-9.]+ s\): A TLS error occurred \(.*certificate verify failed\)$'
echo "ok: an untrusted certificate is retried: $last"
expect "untrusted still runs, no rows" "running|0" \
    "$(q "SELECT state, rows_in FROM stream_pipelines WHERE name = 'untrusted'")"
if grep -q 's3cret' "$PGTEST_DIR/server.log"; then arroyo_die "the password is in the server log"; fi
q "SELECT stream_drop('secure'); SELECT stream_drop('wrong'); SELECT stream_drop('untrusted')" \
    >/dev/null

# --- g. a persistent session -------------------------------------------------------------------
arroyo_log "g. QoS 1: what is published while the pipeline is stopped arrives after its restart"
q "SELECT stream_stop('temps')" >/dev/null
pub -q 1 -t sensors/c/temp -m '{"v": 3}'
q "SELECT stream_start('temps')" >/dev/null
wait_for "the message sent while stopped" query_is "SELECT count(*) FROM temps_out" 3
expect "temps' rows" "sensors/a/temp|1
sensors/b/temp|2
sensors/c/temp|3" "$(q "SELECT topic, v FROM temps_out ORDER BY v")"
wait_connected temps

# --- h. a broker restart, a worker terminated ---------------------------------------------------
arroyo_log "h. a broker restart mid-pipeline: reconnect with backoff, status, messages flow again"
stop_broker
wait_for "temps to notice" status_matches temps '^reconnecting \(attempt [0-9]+ in [0-9.]+ s\): '
echo "ok: while the broker is down: $last"
start_broker
wait_connected temps 2
pub -q 1 -t sensors/d/temp -m '{"v": 4}'
wait_for "the message after the restart" query_is "SELECT count(*) FROM temps_out" 4
expect "temps after the broker restart" "running|sensors/d/temp|4" \
    "$(q "SELECT state, topic, v FROM temps_out, stream_pipelines WHERE name = 'temps' AND v = 4")"
# Sinks across a broker restart: QoS 1 resends what was not acknowledged, QoS 0 waits for the
# connection; both pipelines finish (every commit saw its acknowledgements).
subscribe r1 'restart/q1' 1
q "CREATE FOREIGN TABLE slow_ticks (counter bigint) SERVER imp
     OPTIONS (event_rate '400', message_count '4000');
   CREATE FOREIGN TABLE restart_q1 (counter bigint) SERVER mq
     OPTIONS (type 'sink', topic 'restart/q1', qos '1');
   CREATE FOREIGN TABLE restart_q0 (counter bigint) SERVER mq
     OPTIONS (type 'sink', topic 'restart/q0', qos '0');
   SELECT stream_create('restart_q1', 'INSERT INTO restart_q1 SELECT counter FROM slow_ticks');
   SELECT stream_create('restart_q0', 'INSERT INTO restart_q0 SELECT counter FROM slow_ticks');
   SELECT stream_start('restart_q1'); SELECT stream_start('restart_q0');" >/dev/null
received_at_least() {
    last=$(received "$1" | wc -l)
    [[ $last -ge $2 ]]
}
wait_for "the sinks to be publishing" received_at_least r1 200
stop_broker
start_broker
wait_for "restart_q1 to finish" query_is \
    "SELECT state, rows_out FROM stream_pipelines WHERE name = 'restart_q1'" "finished|4000"
wait_for "restart_q0 to finish" query_is \
    "SELECT state, rows_out FROM stream_pipelines WHERE name = 'restart_q0'" "finished|4000"
last_is() {
    last=$(received "$1" | tail -1)
    [[ $last == "$2" ]]
}
# mosquitto_sub reconnects and subscribes again after the restart (it lost what came between).
wait_for "the last message on restart/q1" last_is r1 'restart/q1 {"counter":3999}'
echo "ok: restart/q1's subscriber got $(received r1 | wc -l) of the 4000 messages, the last one last"
q "SELECT stream_drop('restart_q1'); SELECT stream_drop('restart_q0')" >/dev/null

temps_pid=$(q "SELECT pid FROM stream_pipelines WHERE name = 'temps'")
q "SELECT pg_terminate_backend($temps_pid)" >/dev/null
wait_for "temps to be resumed" query_is \
    "SELECT state, pid IS NOT NULL AND pid <> $temps_pid FROM stream_pipelines WHERE name = 'temps'" \
    "running|t"
wait_connected temps
pub -q 1 -t sensors/e/temp -m '{"v": 5}'
wait_for "the message after the resume" query_is "SELECT count(*) FROM temps_out" 5
q "SELECT stream_drop('temps')" >/dev/null
if grep -qE 'terminated by signal|server process .* was terminated' "$PGTEST_DIR/server.log"; then
    arroyo_die "a server process crashed: $(grep -E 'terminated by signal' "$PGTEST_DIR/server.log")"
fi
echo "ok: no server process crashed"

# --- i. backpressure ---------------------------------------------------------------------------
arroyo_log "i. backpressure: a blocked pipeline stops reading; nothing is lost (QoS 1)"
# A trigger blocks the pipeline's inserts on an advisory lock this test holds; 20 000 messages
# of 10 kB (200 MB) are published meanwhile. The worker holds at most its batch and the queue
# (8192 messages, 16 MiB); the rest waits in the broker (max_queued_messages 0: no limit).
q "CREATE FOREIGN TABLE flood (seq int, pad text) SERVER mq
     OPTIONS (type 'source', topic 'flood', qos '1');
   CREATE TABLE flood_out (seq int, len int);
   CREATE FUNCTION wait_for_gate() RETURNS trigger LANGUAGE plpgsql AS
     \$\$BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END\$\$;
   CREATE TRIGGER gate BEFORE INSERT ON flood_out FOR EACH ROW EXECUTE FUNCTION wait_for_gate();
   SELECT stream_create('flood', 'INSERT INTO flood_out SELECT seq, length(pad) FROM flood');
   SELECT stream_start('flood');" >/dev/null
wait_connected flood
gate_fifo=$WORK/gate
mkfifo "$gate_fifo"
pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "SELECT pg_advisory_lock(4242)" \
    -c "\\! read line < '$gate_fifo'" -c "SELECT pg_advisory_unlock(4242)" >/dev/null &
gate_pid=$!
# (Opened read-write, the fifo never blocks: after the gate was released, nobody reads it.)
arroyo_on_exit "{ exec 3<>'$gate_fifo' && echo go >&3; } 2>/dev/null; kill $gate_pid 2>/dev/null || true"
wait_for "the gate" query_is "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted" 1
pad=$(printf 'x%.0s' $(seq 1 10000))
seq 1 20000 | sed "s/.*/{\"seq\": &, \"pad\": \"$pad\"}/" | pub -q 1 -t flood -l
worker_pid=$(q "SELECT pid FROM stream_pipelines WHERE name = 'flood'")
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$worker_pid/status")
echo "all 20000 published to a blocked pipeline; its worker's RSS is ${rss_kb} kB"
((rss_kb <= 120000)) || arroyo_die "the blocked worker grew to $rss_kb kB"
echo go >"$gate_fifo"
wait "$gate_pid"
wait_for "all 20000 messages" query_is \
    "SELECT count(*), count(DISTINCT seq), min(seq), max(seq), min(len), max(len) FROM flood_out" \
    "20000|20000|1|20000|10000|10000"
expect "flood's counters" "running|20000|0" \
    "$(q "SELECT state, rows_in, bad_rows FROM stream_pipelines WHERE name = 'flood'")"
q "SELECT stream_drop('flood')" >/dev/null

echo "PASS"
