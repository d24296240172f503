#!/usr/bin/env bash
# The websocket connector against a real websocket server on loopback: test/websocket_server.py
# (python3-websockets), which speaks Coinbase's message shapes and checks what the client sends.
# Ports: ARROYO_WEBSOCKET_PORT (default 55450) for PostgreSQL, the next four for the servers.
#
#   a. the seed's example: Coinbase-shaped ticker messages with explicit times, avg(price) over
#      hop(5 s, 1 min) into a table; the exact 24 windows; headers and the subscription arrive;
#   a2. schemaless json: a source whose only column is jsonb gets each whole message;
#   b. indexed subscription messages are sent in order;
#   c. disconnects (a close frame, a dropped TCP connection) are retried and the subscription
#      re-sent every time; every message arrives once;
#   d. bad input: non-JSON, binary garbage, a message over max_message_size, a non-object,
#      a bad value: dropped and counted, or failing the pipeline with a message naming it;
#   e. a refused subscription: the error message is a row, the close is in source_status,
#      and the retries back off exponentially;
#   f. TLS: wss:// to a plain server, a self-signed certificate, a wrong host name all fail
#      (and are retried); with tls_ca_file the certificate is trusted; a missing file fails;
#   g. nobody listening, then a server appears: the source connects;
#   h. a server that accepts TCP and never answers: the handshake times out and is retried;
#   i. backpressure: a blocked pipeline stops the server's sends; nothing is lost;
#   j. event time defaults to ingestion time;
#   k. a worker terminated while connected exits cleanly, and the supervisor resumes it: it
#      connects afresh (a websocket cannot replay what was sent while no worker listened);
#   l. a server restart: the pipeline comes back, connects and subscribes afresh (no replay:
#      the server's messages arrive again); nothing ever crashed the server.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${ARROYO_WEBSOCKET_PORT:-55450}
WS_PORT=$((PG_PORT + 1))     # ws://
TLS_PORT=$((PG_PORT + 2))    # wss:// with a self-signed certificate for 127.0.0.1
SILENT_PORT=$((PG_PORT + 3)) # accepts TCP, never answers
LATE_PORT=$((PG_PORT + 4))   # nobody at first, a second server later
POLL_TIMEOUT=40

pg_test_instance websocket "$PG_PORT"
WORK=$ARROYO_WORK_ROOT/tests/websocket_server
rm -rf "$WORK"
arroyo_work_dir "$WORK"
LOG=$WORK/server.log

# A self-signed certificate for 127.0.0.1 only (so "localhost" does not match it).
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    2>/dev/null
chmod 644 "$WORK/cert.pem"

# start_server PORT... : runs test/websocket_server.py with the given arguments, logging to
# $LOG; waits for its "ready" line.
start_server() {
    local before
    before=$(grep -c '^ready$' "$LOG" 2>/dev/null || true)
    "$PYTHON" "$ARROYO_ROOT/test/websocket_server.py" --log "$LOG" "$@" \
        >>"$WORK/server.out" 2>&1 &
    local pid=$!
    arroyo_on_exit "kill $pid 2>/dev/null || true"
    last=
    wait_for "the websocket server on $*" server_ready "${before:-0}"
}
server_ready() {
    last=$(grep -c '^ready$' "$LOG" 2>/dev/null || true)
    [[ ${last:-0} -gt $1 ]]
}

q() {
    pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"
}


expect() {
    if [[ $3 != "$2" ]]; then
        arroyo_die "$1: expected '$2', got '$3'"
    fi
    echo "ok: $1"
}

# Condition: query Q returns exactly WANT.
query_is() {
    last=$(q "$1" 2>&1) || return 1
    [[ $last == "$2" ]]
}

# Condition: pipeline NAME's source_status matches the extended regex RE.
status_matches() {
    last=$(q "SELECT coalesce(source_status, '<null>') FROM stream_pipelines WHERE name = '$1'" 2>&1) ||
        return 1
    [[ $last =~ $2 ]]
}

# server_log_count PATTERN: lines of the server's log matching the fixed string PATTERN.
server_log_count() {
    grep -cF -- "$1" "$LOG" || true
}

start_server --port "$WS_PORT" --tls-port "$TLS_PORT" --cert "$WORK/cert.pem" \
    --key "$WORK/key.pem" --silent-port "$SILENT_PORT"
postmaster_start=$(q "SELECT pg_postmaster_start_time()")
WS=ws://127.0.0.1:$WS_PORT
SUBSCRIBE='{"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}'

q "CREATE EXTENSION arroyo_stream;
   CREATE SERVER ws FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'websocket');" >/dev/null

# --- a. the seed's example ---------------------------------------------------------------------
arroyo_log "a. Coinbase-shaped ticker, avg(price) over hop(5 s, 1 min)"
# First, the server's check itself: a wrong subscription is reported (and refused).
q "CREATE FOREIGN TABLE coinbase_eur (type text, price text, product_id text, time timestamptz)
     SERVER ws OPTIONS (endpoint '$WS/coinbase', event_time_field 'time',
       subscription_message '{\"type\": \"subscribe\", \"product_ids\": [\"BTC-EUR\"], \"channels\": [\"ticker\"]}');
   CREATE TABLE eur_rows (type text, message text);
   SELECT stream_create('eur', \$\$INSERT INTO eur_rows SELECT type, price FROM coinbase_eur\$\$);
   SELECT stream_start('eur');" >/dev/null
wait_for "the server to refuse BTC-EUR" status_matches eur \
    '^reconnecting \(attempt [0-9]+ in [0-9.]+ s\): the server closed the connection \(code 1008: unexpected subscription message\)$'
q "SELECT stream_drop('eur')" >/dev/null
bad_subscriptions=$(server_log_count "BAD SUBSCRIPTION")
[[ $bad_subscriptions -ge 1 ]] || arroyo_die "the server did not notice a wrong subscription"
echo "ok: the server refuses a wrong subscription ($bad_subscriptions times)"

q "CREATE FOREIGN TABLE coinbase (type text, price text, product_id text, time timestamptz)
     SERVER ws OPTIONS (endpoint '$WS/coinbase', subscription_message '$SUBSCRIBE',
       headers 'Authorization: Bearer sekrit, X-Other: y',
       format 'json', event_time_field 'time', watermark_delay '5 seconds');
   CREATE TABLE btc_minute (w tstzrange, avg_price float8, ticks bigint);
   SELECT stream_create('btc', \$\$INSERT INTO btc_minute
     SELECT hop(interval '5 seconds', interval '1 minute') AS w, avg(price::float8), count(*)
     FROM coinbase WHERE type = 'ticker' GROUP BY w\$\$);
   SELECT stream_start('btc');" >/dev/null
# The server's last message (a heartbeat at 00:03:00) moves the watermark to 00:02:55, past the
# end of every window holding a tick: all 24 windows are emitted while the pipeline runs.
wait_for "24 windows" query_is "SELECT count(*) FROM btc_minute" 24
expected_windows="2025-12-31 23:59:05+00|2026-01-01 00:00:05+00|101|2
2025-12-31 23:59:10+00|2026-01-01 00:00:10+00|102|3
2025-12-31 23:59:15+00|2026-01-01 00:00:15+00|104|4
2025-12-31 23:59:20+00|2026-01-01 00:00:20+00|104|4
2025-12-31 23:59:25+00|2026-01-01 00:00:25+00|104|4
2025-12-31 23:59:30+00|2026-01-01 00:00:30+00|104|4
2025-12-31 23:59:35+00|2026-01-01 00:00:35+00|104|4
2025-12-31 23:59:40+00|2026-01-01 00:00:40+00|104|4
2025-12-31 23:59:45+00|2026-01-01 00:00:45+00|104|4
2025-12-31 23:59:50+00|2026-01-01 00:00:50+00|104|4
2025-12-31 23:59:55+00|2026-01-01 00:00:55+00|104|4
2026-01-01 00:00:00+00|2026-01-01 00:01:00+00|104|4
2026-01-01 00:00:05+00|2026-01-01 00:01:05+00|111.33333333333333|3
2026-01-01 00:00:10+00|2026-01-01 00:01:10+00|115|2
2026-01-01 00:00:15+00|2026-01-01 00:01:15+00|120|1
2026-01-01 00:00:20+00|2026-01-01 00:01:20+00|120|1
2026-01-01 00:00:25+00|2026-01-01 00:01:25+00|120|1
2026-01-01 00:00:30+00|2026-01-01 00:01:30+00|120|1
2026-01-01 00:00:35+00|2026-01-01 00:01:35+00|120|1
2026-01-01 00:00:40+00|2026-01-01 00:01:40+00|120|1
2026-01-01 00:00:45+00|2026-01-01 00:01:45+00|120|1
2026-01-01 00:00:50+00|2026-01-01 00:01:50+00|120|1
2026-01-01 00:00:55+00|2026-01-01 00:01:55+00|120|1
2026-01-01 00:01:00+00|2026-01-01 00:02:00+00|120|1"
expect "the 24 hop windows" "$expected_windows" \
    "$(q "SELECT lower(w), upper(w), avg_price, ticks FROM btc_minute ORDER BY lower(w)")"
# 12 messages: the subscriptions acknowledgement (no time: counted in rows_in, then dropped and
# counted in bad_rows), five tickers, six heartbeats.
wait_for "btc's counters" query_is \
    "SELECT state, rows_in, bad_rows, late_rows, watermark, source_status
     FROM stream_pipelines WHERE name = 'btc'" \
    "running|12|1|0|2026-01-01 00:02:55+00|connected (connection 1)"
echo "ok: btc's counters and watermark"
expect "the server saw the headers" 1 \
    "$(server_log_count "ws /coinbase #$((bad_subscriptions + 1)): connected [Authorization: Bearer sekrit] [X-Other: y]")"
expect "the server accepted the subscription" 1 \
    "$(server_log_count "ws /coinbase #$((bad_subscriptions + 1)): subscription 0 ok")"
q "SELECT stream_stop('btc')" >/dev/null
expect "btc after stream_stop" "stopped|24" \
    "$(q "SELECT state, (SELECT count(*) FROM btc_minute) FROM stream_pipelines WHERE name = 'btc'")"

# --- a2. schemaless json: the whole message in one jsonb column ---------------------------------
arroyo_log "a2. schemaless json: each whole message in a jsonb column"
q "CREATE FOREIGN TABLE coinbase_raw (msg jsonb)
     SERVER ws OPTIONS (endpoint '$WS/coinbase', subscription_message '$SUBSCRIBE');
   CREATE TABLE raw_types (type text UNIQUE NULLS NOT DISTINCT, n bigint, max_price numeric);
   SELECT stream_create('raw', \$\$INSERT INTO raw_types
     SELECT msg->>'type', count(*), max((msg->>'price')::numeric) FROM coinbase_raw GROUP BY 1\$\$);
   SELECT stream_start('raw');" >/dev/null
# The same 12 messages as btc's, whatever their shape: the subscriptions acknowledgement too.
wait_for "raw's 12 messages" query_is "SELECT sum(n) FROM raw_types" 12
expect "messages per type" "heartbeat|6|
subscriptions|1|
ticker|5|120.00" "$(q "SELECT type, n, max_price FROM raw_types ORDER BY type")"
q "SELECT stream_drop('raw')" >/dev/null

# --- b. indexed subscription messages ----------------------------------------------------------
arroyo_log "b. subscription_messages.0 and .1, in order"
q "CREATE FOREIGN TABLE multi (id int) SERVER ws OPTIONS (endpoint '$WS/multi',
     \"subscription_messages.0\" '{\"type\": \"subscribe\", \"channels\": [\"a\"]}',
     \"subscription_messages.1\" '{\"type\": \"subscribe\", \"channels\": [\"b\"]}');
   CREATE TABLE multi_out (id int);
   SELECT stream_create('multi', 'INSERT INTO multi_out SELECT id FROM multi');
   SELECT stream_start('multi');" >/dev/null
wait_for "multi's row" query_is "SELECT string_agg(id::text, ',') FROM multi_out" 1
expect "both subscriptions, in order" "2" \
    "$(grep -cE '^ws /multi #1: subscription [01] ok$' "$LOG")"
q "SELECT stream_drop('multi')" >/dev/null

# --- c. reconnects -----------------------------------------------------------------------------
arroyo_log "c. a close frame and a dropped connection: reconnect, subscribe again"
q "CREATE FOREIGN TABLE rc (id int) SERVER ws
     OPTIONS (endpoint '$WS/reconnect', subscription_message '$SUBSCRIBE');
   CREATE TABLE rc_out (id int);
   SELECT stream_create('rc', 'INSERT INTO rc_out SELECT id FROM rc');
   SELECT stream_start('rc');" >/dev/null
wait_for "ids 1-9" query_is "SELECT string_agg(id::text, ',' ORDER BY id) FROM rc_out" \
    "1,2,3,4,5,6,7,8,9"
wait_for "rc on its third connection" status_matches rc '^connected \(connection 3\)$'
expect "subscriptions of the 3 connections" 3 "$(grep -cE '^ws /reconnect #[123]: subscription 0 ok$' "$LOG")"
expect "rc's counters" "running|9|0" \
    "$(q "SELECT state, rows_in, bad_rows FROM stream_pipelines WHERE name = 'rc'")"
q "SELECT stream_drop('rc')" >/dev/null

# --- d. bad input ------------------------------------------------------------------------------
arroyo_log "d. bad messages: dropped and counted, or failing with a message naming them"
q "CREATE FOREIGN TABLE bad_drop (id int) SERVER ws
     OPTIONS (endpoint '$WS/bad', bad_data 'drop', max_message_size '1048576');
   CREATE FOREIGN TABLE bad_fail (id int) SERVER ws
     OPTIONS (endpoint '$WS/bad', max_message_size '1048576');
   CREATE FOREIGN TABLE bad_raw (value varchar(15)) SERVER ws
     OPTIONS (endpoint '$WS/bad', format 'raw_string', bad_data 'drop', max_message_size '1048576');
   CREATE FOREIGN TABLE bad_raw_fail (value text) SERVER ws
     OPTIONS (endpoint '$WS/bad', format 'raw_string', max_message_size '1048576');
   CREATE FOREIGN TABLE huge_fail (id int) SERVER ws
     OPTIONS (endpoint '$WS/huge', max_message_size '1048576');
   CREATE TABLE bad_out (id int);
   CREATE TABLE raw_out (value text);
   SELECT stream_create('bad_drop', 'INSERT INTO bad_out SELECT id FROM bad_drop');
   SELECT stream_create('bad_fail', 'INSERT INTO bad_out SELECT id FROM bad_fail');
   SELECT stream_create('bad_raw', 'INSERT INTO raw_out SELECT value FROM bad_raw');
   SELECT stream_create('bad_raw_fail', 'INSERT INTO raw_out SELECT value FROM bad_raw_fail');
   SELECT stream_create('huge_fail', 'INSERT INTO bad_out SELECT id FROM huge_fail');
   SELECT stream_start('bad_drop');" >/dev/null
# json: {"id": 1}, the binary frame holding {"id": 2}, the fragmented {"id": 4} and {"id": 5}
# are rows; non-JSON text, binary garbage, the 2 MiB message, [1, 2] and {"id": "three"} are not.
wait_for "bad_drop's counters" query_is \
    "SELECT state, rows_in, bad_rows FROM stream_pipelines WHERE name = 'bad_drop'" "running|4|5"
# (The counters are published as rows are read; the rows are visible once their transaction
# commits.)
wait_for "bad_drop's rows to be committed" query_is "SELECT count(*) FROM bad_out" 4
expect "bad_drop's rows" "1,2,4,5" "$(q "SELECT string_agg(id::text, ',' ORDER BY id) FROM bad_out")"
q "SELECT stream_stop('bad_drop'); TRUNCATE bad_out; SELECT stream_start('bad_fail')" >/dev/null
wait_for "bad_fail to fail" query_is "SELECT state FROM stream_pipelines WHERE name = 'bad_fail'" failed
expect "bad_fail's error" \
    "bad data in message 2 from $WS/bad: JSON document is not an object" \
    "$(q "SELECT last_error FROM stream_pipelines WHERE name = 'bad_fail'")"
q "SELECT stream_start('bad_raw')" >/dev/null
# raw_string into varchar(15): any UTF-8 text of up to 15 characters is a row; the binary
# garbage (a NUL byte), the 2 MiB message and "this is not JSON" (16 characters) are not.
wait_for "bad_raw's counters" query_is \
    "SELECT state, rows_in, bad_rows FROM stream_pipelines WHERE name = 'bad_raw'" "running|6|3"
wait_for "bad_raw's rows to be committed" query_is "SELECT count(*) FROM raw_out" 6
expect "bad_raw's rows" '[1, 2]
{"id": "three"}
{"id": 1}
{"id": 2}
{"id": 4}
{"id": 5}' "$(q "SELECT value FROM raw_out ORDER BY value COLLATE \"C\"")"
q "SELECT stream_stop('bad_raw'); SELECT stream_start('bad_raw_fail')" >/dev/null
wait_for "bad_raw_fail to fail" query_is \
    "SELECT state FROM stream_pipelines WHERE name = 'bad_raw_fail'" failed
expect "bad_raw_fail's error" \
    "bad data in binary message 3 from $WS/bad: column \"value\": invalid byte sequence for encoding \"UTF8\": 0x00" \
    "$(q "SELECT last_error FROM stream_pipelines WHERE name = 'bad_raw_fail'")"
q "SELECT stream_start('huge_fail')" >/dev/null
wait_for "huge_fail to fail" query_is "SELECT state FROM stream_pipelines WHERE name = 'huge_fail'" failed
expect "huge_fail's error" \
    "bad data in message 2 from $WS/huge: message of 2097172 bytes exceeds max_message_size (1048576 bytes)" \
    "$(q "SELECT last_error FROM stream_pipelines WHERE name = 'huge_fail'")"

# --- e. a refused subscription -----------------------------------------------------------------
arroyo_log "e. a refused subscription: a row, the close code in source_status, backoff"
q "CREATE FOREIGN TABLE refuse (type text, message text, reason text) SERVER ws
     OPTIONS (endpoint '$WS/refuse', subscription_message '$SUBSCRIBE');
   CREATE TABLE refuse_out (type text, message text, reason text);
   SELECT stream_create('refuse', 'INSERT INTO refuse_out SELECT * FROM refuse');
   SELECT stream_start('refuse');" >/dev/null
# Four refusals: retried after 0.5, 1, 2, then 4 s.
wait_for "the fourth refusal" status_matches refuse \
    '^reconnecting \(attempt 5 in 4 s\): the server closed the connection \(code 1008: subscription refused\)$'
wait_for "four error rows" query_is \
    "SELECT count(*), min(type), min(message), min(reason) FROM refuse_out" \
    "4|error|Failed to subscribe|BTC-XYZ is not a valid product"
expect "connections refused by the server" 4 "$(grep -cE '^ws /refuse #[0-9]+: refused$' "$LOG")"
expect "refuse still runs" running "$(q "SELECT state FROM stream_pipelines WHERE name = 'refuse'")"
q "SELECT stream_drop('refuse')" >/dev/null

# --- f. TLS ------------------------------------------------------------------------------------
arroyo_log "f. TLS: verified by default; tls_ca_file trusts a private CA"
q "CREATE FOREIGN TABLE tls_plain (id int) SERVER ws OPTIONS (endpoint 'wss://127.0.0.1:$WS_PORT/ingest');
   CREATE FOREIGN TABLE tls_self (id int) SERVER ws OPTIONS (endpoint 'wss://127.0.0.1:$TLS_PORT/ingest');
   CREATE FOREIGN TABLE tls_name (id int) SERVER ws
     OPTIONS (endpoint 'wss://localhost:$TLS_PORT/ingest', tls_ca_file '$WORK/cert.pem');
   CREATE FOREIGN TABLE tls_ok (id int) SERVER ws
     OPTIONS (endpoint 'wss://127.0.0.1:$TLS_PORT/ingest', tls_ca_file '$WORK/cert.pem');
   CREATE FOREIGN TABLE tls_nofile (id int) SERVER ws
     OPTIONS (endpoint 'wss://127.0.0.1:$TLS_PORT/ingest', tls_ca_file '$WORK/missing.pem');
   CREATE TABLE tls_out (src text, id int);
   SELECT stream_create('tls_plain', \$\$INSERT INTO tls_out SELECT 'plain', id FROM tls_plain\$\$);
   SELECT stream_create('tls_self', \$\$INSERT INTO tls_out SELECT 'self', id FROM tls_self\$\$);
   SELECT stream_create('tls_name', \$\$INSERT INTO tls_out SELECT 'name', id FROM tls_name\$\$);
   SELECT stream_create('tls_ok', \$\$INSERT INTO tls_out SELECT 'ok', id FROM tls_ok\$\$);
   SELECT stream_create('tls_nofile', \$\$INSERT INTO tls_out SELECT 'nofile', id FROM tls_nofile\$\$);
   SELECT stream_start(name) FROM unnest(array['tls_plain', 'tls_self', 'tls_name', 'tls_ok',
                                                'tls_nofile']) name;" >/dev/null
retrying='^reconnecting \(attempt ([2-9]|[1-9][0-9]+) in [0-9.]+ s\): '
wait_for "tls_plain's error" status_matches tls_plain \
    "${retrying}TLS handshake with 127.0.0.1:$WS_PORT failed: the server did not complete a TLS handshake\$"
wait_for "tls_self's error" status_matches tls_self \
    "${retrying}TLS handshake with 127.0.0.1:$TLS_PORT failed: certificate verify failed: self-signed certificate\$"
wait_for "tls_name's error" status_matches tls_name \
    "${retrying}TLS handshake with localhost:$TLS_PORT failed: certificate verify failed: hostname mismatch\$"
wait_for "tls_ok's rows" query_is "SELECT string_agg(id::text, ',' ORDER BY id) FROM tls_out" "1,2"
wait_for "tls_ok connected" status_matches tls_ok '^connected \(connection 1\)$'
wait_for "tls_nofile to fail" query_is "SELECT state FROM stream_pipelines WHERE name = 'tls_nofile'" failed
expect "tls_nofile's error" \
    "could not read the file of option \"tls_ca_file\": \"$WORK/missing.pem\": No such file or directory" \
    "$(q "SELECT last_error FROM stream_pipelines WHERE name = 'tls_nofile'")"
expect "the servers' sources are only tls_ok's" "ok" "$(q "SELECT string_agg(DISTINCT src, ',') FROM tls_out")"
q "SELECT stream_drop(name) FROM unnest(array['tls_plain', 'tls_self', 'tls_name', 'tls_ok',
                                              'tls_nofile']) name" >/dev/null

# --- g. nobody listening, then a server ---------------------------------------------------------
arroyo_log "g. connection refused until a server starts"
q "CREATE FOREIGN TABLE late (id int) SERVER ws OPTIONS (endpoint 'ws://127.0.0.1:$LATE_PORT/ingest');
   CREATE TABLE late_out (id int);
   SELECT stream_create('late', 'INSERT INTO late_out SELECT id FROM late');
   SELECT stream_start('late');" >/dev/null
wait_for "late's connection error" status_matches late \
    "${retrying}could not connect to 127.0.0.1:$LATE_PORT: Unable to connect\$"
start_server --port "$LATE_PORT"
wait_for "late's rows" query_is "SELECT string_agg(id::text, ',' ORDER BY id) FROM late_out" "1,2"
wait_for "late connected" status_matches late '^connected \(connection 1\)$'
q "SELECT stream_drop('late')" >/dev/null

# --- h. a server that never answers -------------------------------------------------------------
arroyo_log "h. a TCP server that never answers the upgrade: timed out after 10 s, retried"
q "CREATE FOREIGN TABLE silent (id int) SERVER ws OPTIONS (endpoint 'ws://127.0.0.1:$SILENT_PORT/');
   CREATE TABLE silent_out (id int);
   SELECT stream_create('silent', 'INSERT INTO silent_out SELECT id FROM silent');
   SELECT stream_start('silent');" >/dev/null
wait_for "silent's status" status_matches silent '^connecting \(attempt 1\)$'
wait_for "silent's timeout" status_matches silent \
    '^reconnecting \(attempt 2 in 0.5 s\): the connection closed before the websocket handshake completed \(the limit is 10 s\)$'
q "SELECT stream_drop('silent')" >/dev/null

# --- i. backpressure ---------------------------------------------------------------------------
arroyo_log "i. backpressure: a blocked pipeline stops the server; nothing is lost"
# The flood is 20 000 messages of 10 kB (200 MB). A trigger blocks the sink on an advisory
# lock this test holds, so the pipeline reads nothing while it is held.
q "CREATE FOREIGN TABLE flood (seq int, pad text) SERVER ws
     OPTIONS (endpoint '$WS/flood?n=20000&size=10000');
   CREATE TABLE flood_out (seq int, len int);
   CREATE FUNCTION wait_for_gate() RETURNS trigger LANGUAGE plpgsql AS
     \$\$BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END\$\$;
   CREATE TRIGGER gate BEFORE INSERT ON flood_out FOR EACH ROW EXECUTE FUNCTION wait_for_gate();
   SELECT stream_create('flood', 'INSERT INTO flood_out SELECT seq, length(pad) FROM flood');" >/dev/null
gate_fifo=$WORK/gate
mkfifo "$gate_fifo"
# A session holding the gate until a line arrives on the fifo.
pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "SELECT pg_advisory_lock(4242)" \
    -c "\\! read line < '$gate_fifo'" -c "SELECT pg_advisory_unlock(4242)" >/dev/null &
gate_pid=$!
wait_for "the gate" query_is "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted" 1
q "SELECT stream_start('flood')" >/dev/null
flood_sent() {
    cat "$LOG.flood" 2>/dev/null | tr -d ' ' || true
}
# Stalled: the count the server has sent stays put for 2 s.
stalled() {
    local a b
    a=$(flood_sent)
    sleep 2
    b=$(flood_sent)
    last="$a -> $b"
    [[ -n $a && $a == "$b" ]]
}
wait_for "the server to stall" stalled
sent=$(flood_sent)
worker_pid=$(q "SELECT pid FROM stream_pipelines WHERE name = 'flood'")
rss_kb=$(awk '/^VmRSS/ {print $2}' "/proc/$worker_pid/status")
echo "server stalled after $sent of 20000 messages; worker RSS ${rss_kb} kB"
# The queue holds at most 16 MiB, the worker's batch 1024 messages (10 MB), the sockets a few MB.
((sent <= 6000)) || arroyo_die "no backpressure: the server sent $sent messages to a blocked pipeline"
((rss_kb <= 120000)) || arroyo_die "the blocked worker grew to $rss_kb kB"
echo "go" >"$gate_fifo"
wait "$gate_pid"
wait_for "all 20000 messages" query_is \
    "SELECT count(*), count(DISTINCT seq), min(seq), max(seq), min(len), max(len) FROM flood_out" \
    "20000|20000|1|20000|10000|10000"
expect "flood's counters" "running|20000|0" \
    "$(q "SELECT state, rows_in, bad_rows FROM stream_pipelines WHERE name = 'flood'")"
q "SELECT stream_drop('flood')" >/dev/null

# --- j. ingestion time ---------------------------------------------------------------------------
arroyo_log "j. without event_time_field, event time is the time a message arrived"
q "CREATE FOREIGN TABLE ingest (id int) SERVER ws OPTIONS (endpoint '$WS/ingest');
   CREATE TABLE ingest_out (id int, t timestamptz);
   SELECT stream_create('ingest', 'INSERT INTO ingest_out SELECT id, row_time() FROM ingest');
   SELECT stream_start('ingest');" >/dev/null
wait_for "ingest's rows" query_is "SELECT count(*) FROM ingest_out" 2
expect "row_time() between the start and now" "t" \
    "$(q "SELECT bool_and(t BETWEEN p.started_at AND now()) FROM ingest_out, stream_pipelines p
          WHERE p.name = 'ingest'")"

# --- k. a terminated worker; no crash -------------------------------------------------------------
arroyo_log "k. pg_terminate_backend on a connected worker"
ingest_pid=$(q "SELECT pid FROM stream_pipelines WHERE name = 'ingest'")
expect "pg_terminate_backend" t \
    "$(q "SELECT pg_terminate_backend(pid) FROM stream_pipelines WHERE name = 'ingest'")"
wait_for "ingest to be resumed by a new worker" query_is \
    "SELECT state, pid IS NOT NULL AND pid <> $ingest_pid FROM stream_pipelines WHERE name = 'ingest'" \
    "running|t"
wait_for "ingest's rows from its second connection" query_is "SELECT count(*) FROM ingest_out" 4
q "SELECT stream_drop('ingest')" >/dev/null
expect "the postmaster never restarted" "$postmaster_start" "$(q "SELECT pg_postmaster_start_time()")"

# --- l. a server restart -------------------------------------------------------------------------
arroyo_log "l. pg_ctl restart with a connected websocket pipeline"
q "CREATE TABLE again_out (id int);
   SELECT stream_create('again', 'INSERT INTO again_out SELECT id FROM multi');
   SELECT stream_start('again');" >/dev/null
wait_for "again's first row" query_is "SELECT count(*) FROM again_out" 1
subscribed_before=$(grep -cE '^ws /multi #[0-9]+: subscription 1 ok$' "$LOG")
as_pg_user "$(pg_bindir)/pg_ctl" -D "$PGTEST_DIR" -l "$PGTEST_DIR/server.log" -w -t 60 \
    -m fast restart >/dev/null
wait_for "again to subscribe again" query_is \
    "SELECT count(*) FROM again_out" 2
expect "subscriptions after the restart" $((subscribed_before + 1)) \
    "$(grep -cE '^ws /multi #[0-9]+: subscription 1 ok$' "$LOG")"
wait_for "again connected" status_matches again '^connected \(connection 1\)$'
q "SELECT stream_drop('again')" >/dev/null
if grep -E "terminated by signal|server process .* was terminated|all server processes terminated" \
    "$PGTEST_DIR/server.log"; then
    arroyo_die "a backend crashed (see $PGTEST_DIR/server.log)"
fi
echo "ok: no backend crashed"
echo "PASS websocket_test"
