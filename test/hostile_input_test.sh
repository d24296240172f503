#!/usr/bin/env bash
# Hostile input through every connector that decodes JSON: no message may make a worker die
# by a signal or the server restart. test/hostile_input.py makes the messages — a good row, then
# nesting bombs (100 000 nested arrays or objects, in a field nobody reads, in a jsonb column,
# in an int[] column, unclosed), a 100 MB line, 10^6 keys in one object, invalid UTF-8 in a
# key and in a value, NUL bytes (raw, escaped, after the object), numbers of 10^6 digits, then
# a good row — and sends them
#   a. as lines of a single_file source,
#   b. as websocket messages (from a server of its own in hostile_input.py), read by a json
#      table and by a raw_string table (where only the messages that are not UTF-8, hold a NUL
#      byte or exceed max_message_size are bad data, and every other one is a row, byte for byte),
#   c. as Kafka messages (through test/kafka_broker, which keeps at most 5 MB a partition:
#      without the 100 MB message — kafka_test covers source.max_message_bytes — and with
#      2*10^5 keys instead of 10^6),
# each to a pipeline with bad_data 'drop': the two good rows arrive exactly, every other
# message is one bad row. Finally: a connection opened before the first message still works
# (a crash would have made the postmaster drop it and reinitialize), the postmaster's start
# time is unchanged, and the server log shows no process terminated by a signal.
# Ports: ARROYO_HOSTILE_PORT (default 55520) for PostgreSQL, +1 websocket, +2 Kafka broker.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/kafka_broker/broker.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka_broker/broker.sh"

PG_PORT=${ARROYO_HOSTILE_PORT:-55520}
WS_PORT=$((PG_PORT + 1))
BROKER_PORT=$((PG_PORT + 2))
BOOT=127.0.0.1:$BROKER_PORT
POLL_TIMEOUT=180
HOSTILE=("$PYTHON" "$ARROYO_ROOT/test/hostile_input.py")

pg_test_instance hostile "$PG_PORT"
LOG=$PGTEST_DIR/server.log
WORK=$ARROYO_WORK_ROOT/tests/hostile_work
rm -rf "$WORK"
arroyo_work_dir "$WORK"

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }
expect() {
    expect_eq "$@"
    echo "ok: $1"
}
counters_are() { # PIPELINE "rows_in|bad_rows"
    last=$(q "SELECT rows_in || '|' || bad_rows FROM stream_pipelines WHERE name = '$1'") &&
        [[ $last == "$2" ]]
}

# The connection that must survive: psql reading commands from a FIFO.
mkfifo "$WORK/watch.in"
pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq <"$WORK/watch.in" >"$WORK/watch.out" 2>&1 &
watch_pid=$!
exec {WATCH}>"$WORK/watch.in"
arroyo_on_exit "exec ${WATCH}>&-; kill $watch_pid 2>/dev/null || true"
echo "SELECT 'before|' || pg_backend_pid();" >&"$WATCH"
watch_says() { last=$(grep "^$1|" "$WORK/watch.out" || true) && [[ -n $last ]]; }
wait_for "the watching connection" watch_says before
watch_pid_before=${last#before|}
postmaster_start=$(q "SELECT pg_postmaster_start_time()")

mapfile -t all_messages < <("${HOSTILE[@]}" list --skip keys_2e5)
bad_all=$((${#all_messages[@]} - 2))
echo "messages: ${all_messages[*]}"

q "CREATE EXTENSION arroyo_stream;
   CREATE TABLE good_rows (source text, id int, name text, n numeric);" >/dev/null
GOOD="1|first|1.50
99|last|12345678901234567890.000000001"
good_rows_of() { q "SELECT id, name, n FROM good_rows WHERE source = '$1' ORDER BY id"; }
COLUMNS="id int, name text, n numeric, doc jsonb, arr int[]"

# --- a. single_file ---------------------------------------------------------------------------
arroyo_log "a. single_file"
"${HOSTILE[@]}" file "$WORK/hostile.json" --skip keys_2e5
chmod 644 "$WORK/hostile.json"
q "CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
   CREATE FOREIGN TABLE file_in ($COLUMNS) SERVER files
     OPTIONS (path '$WORK/hostile.json', type 'source', bad_data 'drop');
   SELECT stream_create('file', \$\$INSERT INTO good_rows
     SELECT 'file', id, name, n FROM file_in\$\$);
   SELECT stream_start('file');" >/dev/null
expect "the file pipeline ends" finished "$(q "SELECT stream_wait('file', '180 seconds')")"
expect "file: 2 rows, every hostile line a bad row" "2|$bad_all" \
    "$(q "SELECT rows_in || '|' || bad_rows FROM stream_pipelines WHERE name = 'file'")"
expect "file: the good rows, exactly" "$GOOD" "$(good_rows_of file)"
rm -f "$WORK/hostile.json"

# --- b. websocket -----------------------------------------------------------------------------
arroyo_log "b. websocket"
"${HOSTILE[@]}" serve "$WS_PORT" "$WORK/ws.log" --skip keys_2e5 >"$WORK/ws.out" 2>&1 &
ws_pid=$!
arroyo_on_exit "kill $ws_pid 2>/dev/null || true"
ws_ready() { grep -qx ready "$WORK/ws.log" 2>/dev/null; }
wait_for "the hostile websocket server" ws_ready
# max_message_size 64 MiB: every message but the 100 MB one reaches the decoder. The server
# sends every message to each client: ws_raw reads them too, in format raw_string (the format
# layer's, shared with Kafka), where a message is bad data only if it is not UTF-8 or holds a
# NUL byte (utf8_key, utf8_value, nul_raw, nul_after) or is over max_message_size (huge_100mb).
q "CREATE SERVER ws FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'websocket');
   CREATE FOREIGN TABLE ws_in ($COLUMNS) SERVER ws
     OPTIONS (endpoint 'ws://127.0.0.1:$WS_PORT/', bad_data 'drop',
              max_message_size '67108864');
   CREATE FOREIGN TABLE ws_raw (line text) SERVER ws
     OPTIONS (endpoint 'ws://127.0.0.1:$WS_PORT/', format 'raw_string', bad_data 'drop',
              max_message_size '67108864');
   CREATE TABLE raw_lengths (n int);
   SELECT stream_create('ws', \$\$INSERT INTO good_rows SELECT 'ws', id, name, n FROM ws_in\$\$);
   SELECT stream_create('ws_raw', 'INSERT INTO raw_lengths SELECT octet_length(line) FROM ws_raw');
   SELECT stream_start('ws');
   SELECT stream_start('ws_raw');" >/dev/null
wait_for "the websocket pipeline to read every message" counters_are ws "2|$bad_all"
expect "websocket: the good rows, exactly" "$GOOD" "$(good_rows_of ws)"
expect "websocket: the pipeline still runs" running \
    "$(q "SELECT state FROM stream_pipelines WHERE name = 'ws'")"
raw_bad=5
wait_for "the raw_string pipeline to read every message" counters_are ws_raw \
    "$((${#all_messages[@]} - raw_bad))|$raw_bad"
expect "raw_string: one row per UTF-8 message, its bytes exactly" \
    "$("${HOSTILE[@]}" lengths --skip keys_2e5,huge_100mb,utf8_key,utf8_value,nul_raw,nul_after)" \
    "$(q "SELECT string_agg(n::text, ',' ORDER BY n) FROM raw_lengths")"
expect "raw_string: the pipeline still runs" running \
    "$(q "SELECT state FROM stream_pipelines WHERE name = 'ws_raw'")"
q "SELECT stream_drop('ws'); SELECT stream_drop('ws_raw')" >/dev/null
kill "$ws_pid" 2>/dev/null || true

# --- c. Kafka ---------------------------------------------------------------------------------
arroyo_log "c. Kafka"
kafka_broker_build "$WORK/broker"
kafka_broker_start "$WORK/broker" "$BROKER_PORT" --topic hostile:1
q "CREATE SERVER kafka FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'kafka', bootstrap_servers '$BOOT');
   CREATE FOREIGN TABLE kafka_in ($COLUMNS) SERVER kafka
     OPTIONS (type 'source', topic 'hostile', bad_data 'drop', \"source.offset\" 'earliest',
              \"source.max_message_bytes\" '67108864');
   SELECT stream_create('kafka', \$\$INSERT INTO good_rows
     SELECT 'kafka', id, name, n FROM kafka_in\$\$);
   SELECT stream_start('kafka');" >/dev/null
# One message at a time, each read before the next is sent: the test broker keeps at most 5 MB
# a partition, so 10^6 keys are sent as 2*10^5 (keys_2e5).
mapfile -t kafka_messages < <("${HOSTILE[@]}" list --skip huge_100mb,keys_1e6)
good=0 bad=0
for name in "${kafka_messages[@]}"; do
    "${HOSTILE[@]}" produce "$BOOT" hostile "$name"
    if [[ $name == good_* ]]; then good=$((good + 1)); else bad=$((bad + 1)); fi
    wait_for "the Kafka pipeline to read $name" counters_are kafka "$good|$bad"
done
expect "Kafka: 2 rows, every hostile message a bad row" "2|$((bad_all - 1))" "$good|$bad"
expect "Kafka: the pipeline still runs" running \
    "$(q "SELECT state FROM stream_pipelines WHERE name = 'kafka'")"
expect "Kafka: the good rows, exactly" "$GOOD" "$(good_rows_of kafka)"
q "SELECT stream_drop('kafka')" >/dev/null
kafka_broker_stop

# --- the server survived ----------------------------------------------------------------------
arroyo_log "no process died"
echo "SELECT 'after|' || pg_backend_pid();" >&"$WATCH"
wait_for "the connection opened before the test" watch_says after
expect "the connection opened before the test is the same backend" "$watch_pid_before" \
    "${last#after|}"
expect "the postmaster's start time" "$postmaster_start" "$(q "SELECT pg_postmaster_start_time()")"
crashes=$(grep -E "terminated by signal|was terminated by exception|terminating any other active server processes|all server processes terminated" "$LOG" || true)
expect "no server process terminated by a signal (server log)" "" "$crashes"
echo "PASS"
