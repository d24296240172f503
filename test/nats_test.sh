#!/usr/bin/env bash
# The nats connector against a real nats-server (Debian's nats-server, JetStream on, file
# storage in a temporary directory) on loopback, checked with an independent client
# (test/nats_client.py: the NATS text protocol and JetStream's JSON API in Python's standard
# library). Ports: ARROYO_NATS_TEST_PORT (default 55580) for PostgreSQL, the next two for
# nats-server (the second one requires a user and password). Monitoring stays off.
#
#   a. option errors at CREATE SERVER / USER MAPPING / FOREIGN TABLE, each naming the option;
#   b. a core subject source and a core subject sink: what is published while the pipeline
#      runs goes through, checked by a subscriber of the independent client;
#   c. a JetStream stream source into a table, with a worker terminated and the nats-server
#      restarted in the middle: exact counts, no loss, no duplicate; source_status follows;
#   d. a JetStream sink: source.stop_at 'latest' ends the pipeline; the stream holds exactly the
#      rows, in order, with their Nats-Msg-Id headers; across a terminated worker and a
#      nats-server restart, the stream still holds every row once, in order;
#   e. bad_data 'drop' and 'fail'; a missing stream fails the pipeline naming it;
#   f. credentials from a user mapping; without them the source retries and says why; a
#      subscription the server's permissions refuse shows in source_status.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${ARROYO_NATS_TEST_PORT:-55580}
NATS_PORT=$((PG_PORT + 1))
AUTH_PORT=$((PG_PORT + 2))
POLL_TIMEOUT=40
command -v nats-server >/dev/null || PATH=$PATH:/usr/sbin
command -v nats-server >/dev/null || arroyo_die "nats-server is not installed (apt-get install nats-server)"

pg_test_instance nats "$PG_PORT"
LOG=$PGTEST_DIR/server.log
WORK=$ARROYO_WORK_ROOT/tests/nats_server
rm -rf "$WORK"
mkdir -p "$WORK"

nc_() { "$PYTHON" "$ARROYO_ROOT/test/nats_client.py" --port "$NATS_PORT" "$@"; }

# start_nats PORT [USER PASSWORD]: a nats-server with JetStream storing in $WORK/js-PORT (kept
# across restarts), requiring USER and PASSWORD if given; sets NATS_PID (killed at exit).
start_nats() {
    local port=$1 auth=()
    if (($# == 3)); then # the user may not subscribe to secret.>
        printf 'authorization { users = [ { user: "%s", password: "%s",
                   permissions: { subscribe: { deny: "secret.>" } } } ] }\n' "$2" "$3" \
            >"$WORK/auth-$port.conf"
        auth=(-c "$WORK/auth-$port.conf")
    fi
    nats-server -js -a 127.0.0.1 -p "$port" -sd "$WORK/js-$port" "${auth[@]}" \
        >>"$WORK/nats-$port.log" 2>&1 &
    NATS_PID=$!
    arroyo_on_exit "kill $NATS_PID 2>/dev/null || true; wait $NATS_PID 2>/dev/null || true"
    local creds=()
    if (($# == 3)); then
        creds=(--user "$2" --password "$3")
    fi
    wait_for "nats-server on $port" "$PYTHON" "$ARROYO_ROOT/test/nats_client.py" --port "$port" \
        "${creds[@]}" ready
}
stop_nats() { # PID
    kill "$1"
    wait "$1" 2>/dev/null || true
}

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }
expect() {
    expect_eq "$@"
    echo "ok: $1"
}
# q_error SQL: the error message SQL fails with (its ERROR line, without "ERROR:  ").
q_error() {
    local out
    if out=$(q "$1" 2>&1); then
        arroyo_die "expected an error from: $1"
    fi
    printf '%s\n' "$out" | sed -n 's/^ERROR:  //p' | head -n 1
}
count_at_least() { # TABLE N
    last=$(q "SELECT count(*) FROM $1") && ((last >= $2))
}
query_is() { # SQL EXPECTED
    last=$(q "$1") && [[ $last == "$2" ]]
}
count_is() { # TABLE N
    last=$(q "SELECT count(*) FROM $1") && [[ $last == "$2" ]]
}
state_is() { # PIPELINE STATE
    last=$(q "SELECT state FROM stream_pipelines WHERE name = '$1'") && [[ $last == "$2" ]]
}
status_matches() { # PIPELINE EXTENDED-REGEX
    last=$(q "SELECT coalesce(source_status, '<null>') FROM stream_pipelines WHERE name = '$1'") &&
        [[ $last =~ $2 ]]
}
file_lines_are() { # FILE N
    last=$(wc -l <"$1" 2>/dev/null || echo 0) && [[ $last == "$2" ]]
}
start_pipeline() { # NAME QUERY
    q "SELECT stream_create('$1', \$q\$$2\$q\$)" >/dev/null
    q "SELECT stream_start('$1')" >/dev/null
}
last_error() { q "SELECT last_error FROM stream_pipelines WHERE name = '$1'"; }

start_nats "$NATS_PORT"
MAIN_NATS_PID=$NATS_PID
postmaster_start=$(q "SELECT pg_postmaster_start_time()")
q "CREATE EXTENSION arroyo_stream;
   CREATE SERVER n FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'nats', servers 'nats://127.0.0.1:$NATS_PORT');" >/dev/null

# --- a. option errors ----------------------------------------------------------------------------
arroyo_log "a. option errors"
check_error() { # EXPECTED SQL
    expect "error: $1" "$1" "$(q_error "$2")"
}
check_error 'missing required option "servers" for connector "nats" servers' \
    "CREATE SERVER bad FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nats')"
check_error 'invalid value for option "servers": "http://127.0.0.1:4222"' \
    "CREATE SERVER bad FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nats', servers 'http://127.0.0.1:4222')"
check_error 'invalid value for option "servers": "nats://u:secret@127.0.0.1:4222"' \
    "CREATE SERVER bad FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nats', servers 'nats://u:secret@127.0.0.1:4222')"
check_error 'invalid value for option "servers": "127.0.0.1:99999"' \
    "CREATE SERVER bad FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nats', servers '127.0.0.1:99999')"
check_error 'option "auth.password" belongs in a user mapping' \
    "CREATE SERVER bad FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nats', servers '127.0.0.1:4222', \"auth.password\" 'x')"
check_error 'unknown option "tls" for connector "nats" servers' \
    "CREATE SERVER bad FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nats', servers '127.0.0.1:4222', tls 'on')"
check_error 'unknown option "password" for connector "nats" user mappings' \
    "CREATE USER MAPPING FOR CURRENT_USER SERVER n OPTIONS (password 'x')"
check_error 'missing required option "type" for connector "nats" tables' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (subject 'x')"
check_error 'nats source tables need option "subject" or "stream"' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'source')"
check_error 'options "subject" and "stream" cannot be combined on a source' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'source', subject 'a', stream 'S')"
check_error 'nats sink tables need option "subject"' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'sink', stream 'S')"
check_error 'invalid value for option "subject": "orders.>.x"' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'source', subject 'orders.>.x')"
check_error 'invalid value for option "subject": "orders.*"' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'sink', subject 'orders.*')"
check_error 'invalid value for option "subject": "a..b"' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'source', subject 'a..b')"
check_error 'invalid value for option "stream": "my.stream"' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'source', stream 'my.stream')"
check_error 'option "source.offset" applies only to JetStream sources (option "stream")' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'source', subject 'a', \"source.offset\" 'latest')"
check_error 'invalid value for option "consumer.filter_subjects": "a.x, a.y"' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'source', stream 'S', \"consumer.filter_subjects\" 'a.x, a.y')"
check_error 'invalid value for option "source.stop_at": "end"' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'source', stream 'S', \"source.stop_at\" 'end')"
check_error 'unknown option "consumer.ack_policy" for connector "nats" tables' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'source', stream 'S', \"consumer.ack_policy\" 'none')"
check_error 'option "source.stop_at" applies only to source tables' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'sink', subject 'a', \"source.stop_at\" 'latest')"
check_error 'option "bad_data" applies only to source tables' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'sink', subject 'a', bad_data 'drop')"
check_error 'option "auth.token" belongs in a user mapping' \
    "CREATE FOREIGN TABLE bad (id int) SERVER n OPTIONS (type 'sink', subject 'a', \"auth.token\" 't')"
check_error 'format "raw_string" needs exactly one column besides metadata and generated columns' \
    "CREATE FOREIGN TABLE bad (a text, b text) SERVER n OPTIONS (type 'source', subject 'a', format 'raw_string')"

# --- b. core subjects ----------------------------------------------------------------------------
arroyo_log "b. a core subject source and sink"
q "CREATE FOREIGN TABLE core_in (id int, name text) SERVER n OPTIONS (type 'source', subject 'core.in.*');
   CREATE FOREIGN TABLE core_out (id int, name text) SERVER n OPTIONS (type 'sink', subject 'core.out');" \
    >/dev/null
rm -f "$WORK/core_out" "$WORK/core_out.ready"
nc_ sub core.out 50 --out "$WORK/core_out" --timeout 60 &
sub_pid=$!
arroyo_on_exit "kill $sub_pid 2>/dev/null || true"
wait_for "the subscriber" test -f "$WORK/core_out.ready"
start_pipeline core "INSERT INTO core_out SELECT id, upper(name) FROM core_in WHERE id % 2 = 0"
wait_for "the core source to subscribe" status_matches core '^reading subject "core\.in\.\*"$'
nc_ pub core.in.a 100 --template '{"id": %d, "name": "n"}'
wait "$sub_pid" || arroyo_die "the subscriber did not get 50 messages (got $(wc -l <"$WORK/core_out"))"
expect "core sink messages" "$(seq 2 2 100 | awk '{printf "{\"id\":%d,\"name\":\"N\"}\n", $1}')" \
    "$(cat "$WORK/core_out")"
expect "core counters" "100|50|0" \
    "$(q "SELECT rows_in || '|' || rows_out || '|' || bad_rows FROM stream_pipelines WHERE name = 'core'")"
q "SELECT stream_drop('core')" >/dev/null

# --- c. JetStream source: a worker terminated, the server restarted ------------------------------
arroyo_log "c. JetStream source with a terminated worker and a nats-server restart"
nc_ stream-create ORDERS 'orders.>'
nc_ pub orders.new 1000 --js
q "CREATE FOREIGN TABLE js_in (id int) SERVER n OPTIONS (type 'source', stream 'ORDERS');
   CREATE TABLE js_rows (id int);" >/dev/null
start_pipeline jsread "INSERT INTO js_rows SELECT id FROM js_in"
wait_for "the first rows" count_at_least js_rows 1
worker=$(q "SELECT pid FROM stream_pipelines WHERE name = 'jsread'")
expect "pg_terminate_backend" t "$(q "SELECT pg_terminate_backend($worker)")"
nc_ pub orders.new 1000 --start 1001 --js
wait_for "a new worker" query_is \
    "SELECT state, pid IS NOT NULL AND pid <> $worker FROM stream_pipelines WHERE name = 'jsread'" \
    "running|t"
wait_for "2000 rows" count_is js_rows 2000
wait_for "the position in source_status" status_matches jsread \
    '^reading stream "ORDERS", next sequence 2001$'
stop_nats "$MAIN_NATS_PID"
wait_for "source_status to show the outage" status_matches jsread '^reconnecting \(attempt [0-9]+\)'
echo "ok: outage status: $last"
start_nats "$NATS_PORT"
MAIN_NATS_PID=$NATS_PID
nc_ pub orders.new 1000 --start 2001 --js
wait_for "3000 rows" count_is js_rows 3000
wait_for "the position after the restart" status_matches jsread \
    '^reading stream "ORDERS", next sequence 3001$'
expect "every message once" "3000|3000|1|3000" \
    "$(q "SELECT count(*) || '|' || count(DISTINCT id) || '|' || min(id) || '|' || max(id) FROM js_rows")"
q "SELECT stream_drop('jsread')" >/dev/null

# --- d. JetStream sink ---------------------------------------------------------------------------
arroyo_log "d. a JetStream sink fed by a bounded JetStream source"
nc_ stream-create OUT 'out.>'
q "CREATE FOREIGN TABLE js_all (id int) SERVER n
     OPTIONS (type 'source', stream 'ORDERS', \"source.stop_at\" 'latest');
   CREATE FOREIGN TABLE js_out (id int) SERVER n OPTIONS (type 'sink', subject 'out.rows', stream 'OUT');" \
    >/dev/null
start_pipeline jswrite "INSERT INTO js_out SELECT id FROM js_all WHERE id % 3 = 0"
expect "jswrite ends at the stream's end" finished "$(q "SELECT stream_wait('jswrite', '60 seconds')")"
expect "stream OUT's messages and last sequence" "1000 1000" "$(nc_ stream-info OUT)"
prefix=$(q "SELECT 'arroyo_stream-' || (SELECT system_identifier FROM pg_control_system()) || '-' ||
                   (SELECT oid FROM pg_database WHERE datname = current_database()) || '-' || p.id || '-'
            FROM _arroyo_stream.pipelines p WHERE p.name = 'jswrite'")
expect "stream OUT's payloads and message ids" \
    "$(seq 3 3 3000 | awk -v p="$prefix" '{printf "{\"id\":%d}|%s%d\n", $1, p, NR - 1}')" \
    "$(nc_ stream-read OUT --ids)"
q "SELECT stream_drop('jswrite')" >/dev/null

# --- d2. JetStream sink across a terminated worker and a nats-server restart ---------------------
arroyo_log "d2. a JetStream sink across a terminated worker and a nats-server restart"
stream_count_at_least() { # STREAM N
    last=$(nc_ stream-info "$1" 2>&1) && ((${last%% *} >= $2))
}
stream_count_is() { # STREAM N
    last=$(nc_ stream-info "$1" 2>&1) && [[ ${last%% *} == "$2" ]]
}
nc_ stream-create COPY 'copy.>'
q "CREATE FOREIGN TABLE js_copy (id int) SERVER n OPTIONS (type 'sink', subject 'copy.rows', stream 'COPY');" \
    >/dev/null
start_pipeline jscopy "INSERT INTO js_copy SELECT id FROM js_in"
wait_for "the first copies" stream_count_at_least COPY 1
worker=$(q "SELECT pid FROM stream_pipelines WHERE name = 'jscopy'")
expect "pg_terminate_backend" t "$(q "SELECT pg_terminate_backend($worker)")"
wait_for "a new worker" query_is \
    "SELECT state, pid IS NOT NULL AND pid <> $worker FROM stream_pipelines WHERE name = 'jscopy'" \
    "running|t"
wait_for "3000 copies" stream_count_is COPY 3000
stop_nats "$MAIN_NATS_PID"
start_nats "$NATS_PORT"
MAIN_NATS_PID=$NATS_PID
nc_ pub orders.new 100 --start 3001 --js
wait_for "3100 copies" stream_count_is COPY 3100
expect "stream COPY holds every row once, in order" \
    "$(seq 1 3100 | awk '{printf "{\"id\":%d}\n", $1}')" "$(nc_ stream-read COPY)"
expect "jscopy still running" running "$(q "SELECT state FROM stream_pipelines WHERE name = 'jscopy'")"
q "SELECT stream_drop('jscopy')" >/dev/null

# --- e. bad data, a missing stream ---------------------------------------------------------------
arroyo_log "e. bad_data and a missing stream"
nc_ stream-create BAD 'bad.>'
nc_ pub bad.x 1 --raw '{"id": 1}' --js
nc_ pub bad.x 1 --raw 'not json' --js
nc_ pub bad.x 1 --raw '{"id": 3}' --js
q "CREATE FOREIGN TABLE bad_drop (id int) SERVER n
     OPTIONS (type 'source', stream 'BAD', \"source.stop_at\" 'latest', bad_data 'drop');
   CREATE FOREIGN TABLE bad_fail (id int) SERVER n
     OPTIONS (type 'source', stream 'BAD', \"source.stop_at\" 'latest');
   CREATE FOREIGN TABLE nope (id int) SERVER n OPTIONS (type 'source', stream 'NOPE');
   CREATE TABLE bad_rows (id int);" >/dev/null
start_pipeline baddrop "INSERT INTO bad_rows SELECT id FROM bad_drop"
expect "baddrop ends" finished "$(q "SELECT stream_wait('baddrop', '60 seconds')")"
expect "dropped bad data" "1,3|3|2|1" \
    "$(q "SELECT (SELECT string_agg(id::text, ',' ORDER BY id) FROM bad_rows) || '|' || rows_in + bad_rows || '|' || rows_in || '|' || bad_rows
          FROM stream_pipelines WHERE name = 'baddrop'")"
start_pipeline badfail "INSERT INTO bad_rows SELECT id FROM bad_fail"
expect "badfail fails" failed "$(q "SELECT stream_wait('badfail', '60 seconds')")"
expect "badfail's error" \
    'bad data in stream "BAD" sequence 2 (subject "bad.x"): JSON document is not an object' "$(last_error badfail)"
start_pipeline nope "INSERT INTO bad_rows SELECT id FROM nope"
expect "nope fails" failed "$(q "SELECT stream_wait('nope', '60 seconds')")"
expect "nope's error" 'nats source public.nope (stream "NOPE"): JetStream stream "NOPE" does not exist' \
    "$(last_error nope)"
q "SELECT stream_drop('baddrop'), stream_drop('badfail'), stream_drop('nope')" >/dev/null

# --- f. credentials ------------------------------------------------------------------------------
arroyo_log "f. a server requiring a user and password"
start_nats "$AUTH_PORT" u sekrit
q "CREATE SERVER na FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'nats', servers '127.0.0.1:$AUTH_PORT');
   CREATE FOREIGN TABLE auth_in (id int) SERVER na OPTIONS (type 'source', subject 'auth.x');
   CREATE TABLE auth_rows (id int);" >/dev/null
start_pipeline auth "INSERT INTO auth_rows SELECT id FROM auth_in"
wait_for "the refusal in source_status" status_matches auth '[Aa]uthorization'
echo "ok: without credentials: $last"
q "SELECT stream_stop('auth')" >/dev/null
q "CREATE USER MAPPING FOR CURRENT_USER SERVER na
     OPTIONS (\"auth.username\" 'u', \"auth.password\" 'sekrit')" >/dev/null
q "SELECT stream_start('auth')" >/dev/null
wait_for "the authenticated subscription" status_matches auth '^reading subject "auth\.x"$'
"$PYTHON" "$ARROYO_ROOT/test/nats_client.py" --port "$AUTH_PORT" --user u --password sekrit \
    pub auth.x 10
wait_for "10 authenticated rows" count_is auth_rows 10
q "CREATE FOREIGN TABLE secret_in (id int) SERVER na OPTIONS (type 'source', subject 'secret.x')" >/dev/null
start_pipeline secret "INSERT INTO auth_rows SELECT id FROM secret_in"
wait_for "the permissions violation in source_status" status_matches secret \
    '^reading subject "secret\.x"; the server reported: Permissions Violation for Subscription to "secret\.x"$'
q "SELECT stream_drop('secret')" >/dev/null
if grep -F sekrit "$LOG" "$WORK"/nats-*.log; then
    arroyo_die "the password appears in a log"
fi
q "SELECT stream_drop('auth')" >/dev/null

expect "the postmaster never restarted" "$postmaster_start" "$(q "SELECT pg_postmaster_start_time()")"
if grep -E "terminated by signal|server process .* was terminated|all server processes terminated" "$LOG"; then
    arroyo_die "a backend crashed (see $LOG)"
fi
echo "ok: no backend crashed"
echo "PASS nats_test"
