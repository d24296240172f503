#!/usr/bin/env bash
# The HTTP connectors (sse, polling_http, webhook) against a real HTTP server on loopback:
# test/http_server.py (python3's threaded http.server), checked with curl as an independent
# client. Ports: ARROYO_HTTP_TEST_PORT (default 55590) for PostgreSQL, the next one for the
# server.
#
#   a. options are checked at CREATE FOREIGN TABLE, errors naming the option; a secret header
#      is refused in table options;
#   b. sse: event types filtered by `events`, multi-line data, comments, CR LF; exact rows;
#      a terminated worker is resumed and asks for Last-Event-ID: no row lost or repeated;
#   c. sse: a server closing the stream every 3 events: reconnects resume with Last-Event-ID;
#   d. sse: bad data (not JSON, an event over max_message_size) dropped and counted, or failing
#      the pipeline with an error naming the event;
#   e. polling_http: POST with a body, the table's header and the user mapping's secret header
#      (never in pg_foreign_table); emit_behavior 'changed' emits a body once, also across a
#      worker restart; 'all' emits every response;
#   f. webhook: rows POSTed as JSON arrays with the table's and the user mapping's headers;
#      HTTP 500s are retried with no row lost or repeated; endless 500s and a 400 fail the
#      pipeline with the status in the error; nothing ever crashed the server.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${ARROYO_HTTP_TEST_PORT:-55590}
HTTP_PORT=$((PG_PORT + 1))
POLL_TIMEOUT=40

pg_test_instance http_connectors "$PG_PORT"
WORK=$ARROYO_WORK_ROOT/tests/http_server
rm -rf "$WORK"
arroyo_work_dir "$WORK"
LOG=$WORK/server.log
HTTP=http://127.0.0.1:$HTTP_PORT

"$PYTHON" "$ARROYO_ROOT/test/http_server.py" --port "$HTTP_PORT" --log "$LOG" \
    >>"$WORK/server.out" 2>&1 &
server_pid=$!
arroyo_on_exit "kill $server_pid 2>/dev/null || true"
server_ready() { grep -q '^ready$' "$LOG" 2>/dev/null; }
wait_for "the HTTP server" server_ready

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

# The error of a statement that must fail (its ERROR line, without "ERROR:  ").
error_of() {
    local out
    if out=$(q "$1" 2>&1); then
        arroyo_die "expected an error from: $1"
    fi
    printf '%s\n' "$out" | sed -n 's/^ERROR:  //p'
}

# curl, the independent client: fails on a transport error.
http() { curl -sS --max-time 10 "$@"; }
stat_of() { http "$HTTP/control/stats" | "$PYTHON" -c "import json, sys; print(json.load(sys.stdin)['$1'])"; }
log_count() { grep -cE -- "$1" "$LOG" || true; }
last_error() { q "SELECT last_error FROM stream_pipelines WHERE name = '$1'"; }

postmaster_start=$(q "SELECT pg_postmaster_start_time()")
q "CREATE EXTENSION arroyo_stream;
   CREATE SERVER sse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'sse');
   CREATE SERVER poll FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'polling_http');
   CREATE SERVER hook FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'webhook');
   CREATE SERVER impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');" >/dev/null

# --- a. options --------------------------------------------------------------------------------
arroyo_log "a. option errors name the option"
expect "missing endpoint" 'missing required option "endpoint" for connector "sse" tables' \
    "$(error_of "CREATE FOREIGN TABLE e1 (id int) SERVER sse")"
expect "ftp endpoint" 'invalid value for option "endpoint": "ftp://127.0.0.1/x"' \
    "$(error_of "CREATE FOREIGN TABLE e2 (id int) SERVER sse OPTIONS (endpoint 'ftp://127.0.0.1/x')")"
expect "malformed headers" 'invalid value for option "headers"' \
    "$(error_of "CREATE FOREIGN TABLE e3 (id int) SERVER sse OPTIONS (endpoint '$HTTP/sse/ticks', headers 'NoColon')")"
expect "a secret header in table options" 'option "headers" may not set header "Authorization"' \
    "$(error_of "CREATE FOREIGN TABLE e4 (id int) SERVER poll OPTIONS (endpoint '$HTTP/poll', headers 'authorization: Bearer x')")"
expect "bad emit_behavior" 'invalid value for option "emit_behavior": "sometimes"' \
    "$(error_of "CREATE FOREIGN TABLE e5 (id int) SERVER poll OPTIONS (endpoint '$HTTP/poll', emit_behavior 'sometimes')")"
expect "zero poll_interval_ms" 'invalid value for option "poll_interval_ms": "0"' \
    "$(error_of "CREATE FOREIGN TABLE e6 (id int) SERVER poll OPTIONS (endpoint '$HTTP/poll', poll_interval_ms '0')")"
expect "bad method" 'invalid value for option "method": "DELETE"' \
    "$(error_of "CREATE FOREIGN TABLE e7 (id int) SERVER poll OPTIONS (endpoint '$HTTP/poll', method 'DELETE')")"
expect "empty event type" 'invalid value for option "events": "tick,"' \
    "$(error_of "CREATE FOREIGN TABLE e8 (id int) SERVER sse OPTIONS (endpoint '$HTTP/sse/ticks', events 'tick,')")"
expect "unknown option" 'unknown option "url" for connector "webhook" tables' \
    "$(error_of "CREATE FOREIGN TABLE e9 (id int) SERVER hook OPTIONS (endpoint '$HTTP/hook', url 'x')")"
expect "bad_data on a sink" 'option "bad_data" applies only to source tables' \
    "$(error_of "CREATE FOREIGN TABLE e10 (id int) SERVER hook OPTIONS (endpoint '$HTTP/hook', bad_data 'drop')")"
expect "max_message_size too large" 'invalid value for option "max_message_size": "999999999999"' \
    "$(error_of "CREATE FOREIGN TABLE e11 (id int) SERVER sse OPTIONS (endpoint '$HTTP/sse/ticks', max_message_size '999999999999')")"
expect "unknown user mapping option" 'unknown option "password" for connector "webhook" user mappings' \
    "$(error_of "CREATE USER MAPPING FOR CURRENT_USER SERVER hook OPTIONS (password 'x')")"

# --- b. sse: filtering, parsing, resume after a worker restart ---------------------------------
arroyo_log "b. sse: events, multi-line data, comments; resume with Last-Event-ID"
http -X POST "$HTTP/control/ticks?add=10" >/dev/null
# The independent client: the server honours Last-Event-ID (events 9 and 10 only).
got=$(http -N --max-time 2 -H 'Last-Event-ID: 8' "$HTTP/sse/ticks" 2>/dev/null | tr -d '\r' |
    grep '^id:' | tr '\n' ' ' || true)
expect "curl sees the events after Last-Event-ID 8" "id: 9 id: 10 " "$got"
q "CREATE FOREIGN TABLE ticks (id int, name text) SERVER sse
     OPTIONS (endpoint '$HTTP/sse/ticks', events 'tick', format 'json');
   CREATE TABLE ticks_got (id int, name text);
   SELECT stream_create('ticks', \$\$SET checkpoint_interval = '100 milliseconds';
     INSERT INTO ticks_got SELECT id, name FROM ticks\$\$);
   SELECT stream_start('ticks');" >/dev/null
wait_for "8 tick rows" query_is "SELECT count(*) FROM ticks_got" 8
wait_for "ticks connected" status_matches ticks '^connected \(connection 1\)$'
expect "the tick rows" "1|t1 2|t2 3|t3 4|t4 6|t6 7|t7 8|t8 9|t9" \
    "$(q "SELECT string_agg(id || '|' || name, ' ' ORDER BY id) FROM ticks_got")"
# Rows and the last event id they came with commit in one transaction (a checkpoint).
ticks_pid=$(q "SELECT pid FROM stream_pipelines WHERE name = 'ticks'")
expect "pg_terminate_backend" t \
    "$(q "SELECT pg_terminate_backend(pid) FROM stream_pipelines WHERE name = 'ticks'")"
http -X POST "$HTTP/control/ticks?add=10" >/dev/null  # events 11..20, while no worker listens
wait_for "ticks resumed by a new worker" query_is \
    "SELECT state, pid IS NOT NULL AND pid <> $ticks_pid FROM stream_pipelines WHERE name = 'ticks'" \
    "running|t"
wait_for "16 tick rows" query_is "SELECT count(*) FROM ticks_got" 16
expect "no tick lost or repeated" "1 2 3 4 6 7 8 9 11 12 13 14 16 17 18 19|16" \
    "$(q "SELECT string_agg(id::text, ' ' ORDER BY id) || '|' || count(DISTINCT id) FROM ticks_got")"
expect "connections to /sse/ticks" 2 "$(log_count '^sse /ticks last-event-id=(-|9|10)$')"
expect "the resumed connection sent Last-Event-ID" 1 "$(log_count '^sse /ticks last-event-id=(9|10)$')"
q "SELECT stream_drop('ticks')" >/dev/null

# --- c. sse: reconnects within a run -----------------------------------------------------------
arroyo_log "c. sse: a stream closed every 3 events"
q "CREATE FOREIGN TABLE flaky (id int, name text) SERVER sse OPTIONS (endpoint '$HTTP/sse/flaky');
   CREATE TABLE flaky_got (id int, name text);
   SELECT stream_create('flaky', 'INSERT INTO flaky_got SELECT id, name FROM flaky');
   SELECT stream_start('flaky');" >/dev/null
wait_for "12 flaky rows" query_is "SELECT count(*) FROM flaky_got" 12
expect "every flaky event once" "1 2 3 4 5 6 7 8 9 10 11 12|12" \
    "$(q "SELECT string_agg(id::text, ' ' ORDER BY id) || '|' || count(DISTINCT id) FROM flaky_got")"
expect "the reconnections' Last-Event-IDs" "- 3 6 9" \
    "$(sed -n 's/^sse \/flaky last-event-id=//p' "$LOG" | head -5 | tr '\n' ' ' | sed 's/ $//')"
wait_for "flaky connected (4th connection, kept open)" status_matches flaky '^connected \(connection 4\)$'
q "SELECT stream_drop('flaky')" >/dev/null
q "CREATE FOREIGN TABLE missing (id int) SERVER sse OPTIONS (endpoint '$HTTP/sse/missing');
   CREATE TABLE missing_got (id int);
   SELECT stream_create('missing', 'INSERT INTO missing_got SELECT id FROM missing');
   SELECT stream_start('missing');" >/dev/null
wait_for "the backoff after HTTP 404s" status_matches missing \
    '^reconnecting \(attempt (4 in 2\.0|5 in 4\.0) s\): HTTP 404$'
q "SELECT stream_drop('missing')" >/dev/null

# --- d. sse: bad data --------------------------------------------------------------------------
arroyo_log "d. sse: bad data dropped or failing"
q "CREATE FOREIGN TABLE bad_drop (id int, name text) SERVER sse
     OPTIONS (endpoint '$HTTP/sse/bad', bad_data 'drop', max_message_size '200');
   CREATE FOREIGN TABLE bad_fail (id int, name text) SERVER sse
     OPTIONS (endpoint '$HTTP/sse/bad', max_message_size '200');
   CREATE TABLE bad_got (id int, name text);
   SELECT stream_create('bad_drop', 'INSERT INTO bad_got SELECT id, name FROM bad_drop');
   SELECT stream_start('bad_drop');" >/dev/null
wait_for "2 good rows, 2 bad" query_is \
    "SELECT (SELECT string_agg(id::text, ' ' ORDER BY id) FROM bad_got) || '|' || bad_rows
     FROM stream_pipelines WHERE name = 'bad_drop'" "1 4|2"
q "SELECT stream_drop('bad_drop'); TRUNCATE bad_got;
   SELECT stream_create('bad_fail', 'INSERT INTO bad_got SELECT id, name FROM bad_fail');
   SELECT stream_start('bad_fail');" >/dev/null
expect "bad data fails the pipeline" failed "$(q "SELECT stream_wait('bad_fail', '30 seconds')")"
expect "its error names the event" \
    "bad data in event 2 (id 2) from $HTTP/sse/bad: JSON document is not an object" "$(last_error bad_fail)"
q "SELECT stream_drop('bad_fail')" >/dev/null

# --- e. polling_http -----------------------------------------------------------------------------
arroyo_log "e. polling_http: POST, headers, emit_behavior across a restart"
q "CREATE USER MAPPING FOR CURRENT_USER SERVER poll OPTIONS (headers 'Authorization: Bearer pollsecret');
   CREATE FOREIGN TABLE polled (v int) SERVER poll
     OPTIONS (endpoint '$HTTP/poll', method 'POST', body '{\"q\": 1}', headers 'X-Table: t1',
              poll_interval_ms '100', emit_behavior 'changed');
   CREATE TABLE polled_got (v int);
   SELECT stream_create('polled', \$\$SET checkpoint_interval = '100 milliseconds';
     INSERT INTO polled_got SELECT v FROM polled\$\$);
   SELECT stream_start('polled');" >/dev/null
wait_for "the first polled row" query_is "SELECT string_agg(v::text, ' ') FROM polled_got" 1
polls=$(stat_of polls)
enough_polls() { last=$(stat_of polls); [[ $last -ge $1 ]]; }
wait_for "5 more polls" enough_polls $((polls + 5))
expect "an unchanged body is not emitted again" 1 "$(q "SELECT string_agg(v::text, ' ') FROM polled_got")"
expect "what the server got" 'poll POST body={"q": 1} x-table=t1 authorization=Bearer pollsecret' \
    "$(grep '^poll ' "$LOG" | sort -u)"
expect "no secret in pg_foreign_table" 0 \
    "$(q "SELECT count(*) FROM pg_foreign_table WHERE array_to_string(ftoptions, ' ') LIKE '%secret%'")"
http -X POST --data '{"v": 2}' "$HTTP/control/poll" >/dev/null
wait_for "the changed body" query_is "SELECT string_agg(v::text, ' ' ORDER BY v) FROM polled_got" "1 2"
wait_for "polled status" status_matches polled '^polling \([0-9]+ responses\)$'
polled_pid=$(q "SELECT pid FROM stream_pipelines WHERE name = 'polled'")
q "SELECT pg_terminate_backend($polled_pid)" >/dev/null
wait_for "polled resumed by a new worker" query_is \
    "SELECT state, pid IS NOT NULL AND pid <> $polled_pid FROM stream_pipelines WHERE name = 'polled'" \
    "running|t"
wait_for "the new worker's first polls" status_matches polled '^polling \(([3-9]|[1-9][0-9]+) responses\)$'
expect "the unchanged body is not emitted after the restart" "1 2" \
    "$(q "SELECT string_agg(v::text, ' ' ORDER BY v) FROM polled_got")"
http -X POST --data '{"v": 3}' "$HTTP/control/poll" >/dev/null
wait_for "the third body" query_is "SELECT string_agg(v::text, ' ' ORDER BY v) FROM polled_got" "1 2 3"
q "SELECT stream_drop('polled')" >/dev/null
q "CREATE FOREIGN TABLE polled_all (v int) SERVER poll
     OPTIONS (endpoint '$HTTP/poll', poll_interval_ms '50', emit_behavior 'all');
   CREATE TABLE polled_all_got (v int);
   SELECT stream_create('polled_all', 'INSERT INTO polled_all_got SELECT v FROM polled_all');
   SELECT stream_start('polled_all');" >/dev/null
wait_for "emit_behavior all: 3 rows of the same body" query_is \
    "SELECT count(*) >= 3 AND bool_and(v = 3) FROM polled_all_got" t
q "SELECT stream_drop('polled_all')" >/dev/null
q "CREATE FOREIGN TABLE polled_404 (v int) SERVER poll
     OPTIONS (endpoint '$HTTP/poll404', poll_interval_ms '100');
   CREATE TABLE polled_404_got (v int);
   SELECT stream_create('polled_404', 'INSERT INTO polled_404_got SELECT v FROM polled_404');
   SELECT stream_start('polled_404');" >/dev/null
wait_for "polling_http's backoff after HTTP 404s" status_matches polled_404 \
    '^retrying \(attempt (4 in 0\.4|5 in 0\.8|6 in 1\.6) s\): HTTP 404$'
q "SELECT stream_drop('polled_404')" >/dev/null
# A malformed header list in a user mapping: reported when the table is used, naming it.
q "ALTER USER MAPPING FOR CURRENT_USER SERVER poll OPTIONS (SET headers 'Authorization Bearer mapsecret');" >/dev/null
badmap_sql="SELECT stream_create('badmap', 'INSERT INTO polled_404_got SELECT v FROM polled_404')"
expect "a malformed user mapping header list" 'invalid value for user mapping option "headers"' \
    "$(error_of "$badmap_sql")"
expect "its detail does not show the secret" \
    "DETAIL:  Expected 'Name: value' pairs separated by commas (the value is not shown: it may hold a secret)." \
    "$(q "$badmap_sql" 2>&1 | grep -v '^ERROR:' || true)"

# --- f. webhook ---------------------------------------------------------------------------------
arroyo_log "f. webhook: batches, headers, retries"
q "CREATE USER MAPPING FOR CURRENT_USER SERVER hook OPTIONS (headers 'Authorization: Bearer hooksecret');
   CREATE FOREIGN TABLE hook_out (counter bigint, label text) SERVER hook
     OPTIONS (endpoint '$HTTP/hook', headers 'X-Table: w');
   CREATE FOREIGN TABLE n2500 (counter bigint) SERVER impulse
     OPTIONS (event_rate '0', message_count '2500');
   CREATE FOREIGN TABLE n1 (counter bigint) SERVER impulse OPTIONS (event_rate '0', message_count '1');" >/dev/null
http -X POST "$HTTP/control/hook?fail=2&status=500" >/dev/null
q "SELECT stream_create('hook', \$\$INSERT INTO hook_out SELECT counter, 'c' || counter FROM n2500\$\$);
   SELECT stream_start('hook');" >/dev/null
expect "the webhook pipeline finishes" finished "$(q "SELECT stream_wait('hook', '60 seconds')")"
rows=$(http "$HTTP/control/hook/rows" | "$PYTHON" -c '
import json, sys
r = json.load(sys.stdin)
ok = all(x["label"] == "c%d" % x["counter"] for x in r)
print(len(r), len({x["counter"] for x in r}), min(x["counter"] for x in r), max(x["counter"] for x in r), ok)')
expect "every row received once" "2500 2500 0 2499 True" "$rows"
expect "the two 500s were retried" 2 "$(log_count '^hook POST answered 500$')"
accepted=$(log_count '^hook POST accepted [0-9]+ rows$')
[[ $accepted -ge 3 ]] || arroyo_die "expected at least 3 batches (1000 rows at most each), got $accepted"
echo "ok: $accepted batches"
expect "the headers the receiver saw" "Bearer hooksecret|application/json|w" \
    "$(http "$HTTP/control/hook/headers" | "$PYTHON" -c '
import json, sys
h = json.load(sys.stdin)
print(h["authorization"], h["content-type"], h["x-table"], sep="|")')"
# Updating results as Debezium envelopes: the last envelope of each key holds its final count.
q "CREATE FOREIGN TABLE hook_dbz (k bigint, n bigint) SERVER hook
     OPTIONS (endpoint '$HTTP/hook', format 'debezium_json');
   CREATE FOREIGN TABLE n10 (counter bigint) SERVER impulse OPTIONS (event_rate '0', message_count '10');
   SELECT stream_create('hook_dbz', 'INSERT INTO hook_dbz SELECT counter % 2 AS k, count(*) FROM n10 GROUP BY k');
   SELECT stream_start('hook_dbz');" >/dev/null
expect "the debezium webhook pipeline finishes" finished "$(q "SELECT stream_wait('hook_dbz', '60 seconds')")"
expect "the last envelope per key" "0 c 5|1 c 5" "$(http "$HTTP/control/hook/rows" | "$PYTHON" -c '
import json, sys
last = {}
for x in json.load(sys.stdin):
    if "op" in x:
        row = x["after"] or x["before"]
        last[row["k"]] = "%d %s %s" % (row["k"], x["op"], x["after"]["n"] if x["after"] else "-")
print("|".join(last[k] for k in sorted(last)))')"
http -X POST "$HTTP/control/hook?fail=-1&status=500" >/dev/null
q "SELECT stream_create('hook500', 'INSERT INTO hook_out SELECT counter, NULL FROM n1');
   SELECT stream_start('hook500');" >/dev/null
expect "endless 500s fail the pipeline" failed "$(q "SELECT stream_wait('hook500', '60 seconds')")"
expect "its error" "webhook POST to $HTTP/hook failed after 6 attempts: HTTP 500 (The last response: {\"error\": \"told to fail\"})" \
    "$(last_error hook500)"
http -X POST "$HTTP/control/hook?fail=1&status=400" >/dev/null
q "SELECT stream_create('hook400', 'INSERT INTO hook_out SELECT counter, NULL FROM n1');
   SELECT stream_start('hook400');" >/dev/null
expect "a 400 fails the pipeline at once" failed "$(q "SELECT stream_wait('hook400', '30 seconds')")"
expect "its error" "webhook endpoint $HTTP/hook answered HTTP 400 to a batch of 1 rows (The response: {\"error\": \"told to fail\"})" \
    "$(last_error hook400)"
expect "no secret in pg_foreign_table" 0 \
    "$(q "SELECT count(*) FROM pg_foreign_table WHERE array_to_string(ftoptions, ' ') LIKE '%secret%'")"

expect "the postmaster never restarted" "$postmaster_start" "$(q "SELECT pg_postmaster_start_time()")"
if grep -E "terminated by signal|server process .* was terminated|all server processes terminated" \
    "$PGTEST_DIR/server.log"; then
    arroyo_die "a backend crashed (see $PGTEST_DIR/server.log)"
fi
echo "ok: no backend crashed"
echo "PASS http_connectors_test"
