#!/usr/bin/env bash
# The REST API (arroyo_stream.api_port) driven by two independent HTTP clients, curl and
# Python's urllib (test/rest_api_client.py), against a real instance. Ports: ARROYO_REST_PORT
# (default 55560) for PostgreSQL, ARROYO_REST_HTTP_PORT (default 55561) for the API.
#
#   a. the OpenAPI document parses and lists every route; unknown endpoints 404, wrong methods
#      405;
#   b. tokens: none or a wrong one 401, a revoked one 401, a superuser's 403 (200 while
#      api_allow_superuser is on, after a reload), a NOLOGIN role's 403; only hashes are stored;
#   c. the life cycle as an ordinary role: create (201, started, with checkpoint_interval_micros
#      as a SET line) -> finished with its exact rows, list, get, stop, start, drop (204) -> 404,
#      checkpoints and errors endpoints (a runtime failure's message);
#   d. refusals with PostgreSQL's message and SQLSTATE: a bad query (400), a duplicate (409),
#      no privilege on the source (403), not the owner (403), parallelism 2 (created; rescaled to 3 by PATCH), unknown fields,
#      malformed JSON (400); validate_query plans and creates nothing;
#   e. a URL-encoded name, a 400 kB query, a body over 1 MiB (413), a chunked body (411), a
#      body not in UTF-8, keep-alive; 20 concurrent curls and 20 concurrent urllib requests, each answered exactly;
#   g. preview as Server-Sent Events (curl and urllib): a bounded query's rows and end, max_rows,
#      a timeout, a windowed query's bounds, a runtime error's event, planning errors as JSON
#      (400, 403), another request answered while a preview streams, and no preview worker left
#      after a client hangs up;
#   f. the API worker, terminated, comes back; HTTPS with a self-signed certificate (api_tls_cert/api_tls_key), checked by both clients;
#      plain HTTP to it gets no answer.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${ARROYO_REST_PORT:-55560}
HTTP_PORT=${ARROYO_REST_HTTP_PORT:-55561}
BASE=http://127.0.0.1:$HTTP_PORT/api/v1
CURL_OPTS=()
CLIENT=("$PYTHON" "$ARROYO_ROOT/test/rest_api_client.py")

pg_test_instance rest_api "$PG_PORT" "arroyo_stream.api_port = $HTTP_PORT"
WORK=$ARROYO_WORK_ROOT/tests/rest_api_work
rm -rf "$WORK"
arroyo_work_dir "$WORK"

psql_q() { pg_psql "$PGTEST_DIR" "$PG_PORT" -Atq "$@"; }

# api METHOD PATH TOKEN [BODY]: one request with curl; sets STATUS and BODY.
api() {
    local method=$1 path=$2 token=$3 body=${4-}
    local args=(-sS -o "$WORK/body" -w '%{http_code}' -X "$method")
    [[ -n $token ]] && args+=(-H "Authorization: Bearer $token")
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    STATUS=$(curl "${args[@]}" "${CURL_OPTS[@]}" "$BASE$path")
    BODY=$(cat "$WORK/body")
}
# jp EXPR: evaluates a Python expression over the last body, parsed as `j`.
jp() { "$PYTHON" -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$BODY" "$1"; }
# The last answer as "STATUS SQLSTATE message".
err() { printf '%s %s %s' "$STATUS" "$(jp 'j["sqlstate"]')" "$(jp 'j["error"]')"; }

api_up() { curl -s -o /dev/null "$BASE/openapi.json"; }
wait_for "the API to listen on port $HTTP_PORT" api_up

psql_q <<'SQL'
CREATE EXTENSION arroyo_stream;
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE carol NOLOGIN;
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE ticks (counter bigint) SERVER imp
  OPTIONS (event_rate '0', message_count '1000', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 second');
CREATE FOREIGN TABLE slow_ticks (counter bigint) SERVER imp OPTIONS (event_rate '50');
CREATE TABLE out_a (n bigint);
CREATE TABLE py_out (n bigint);
CREATE TABLE conc (pipeline text, n bigint);
GRANT SELECT ON ticks, slow_ticks TO alice;
GRANT INSERT ON out_a, py_out, conc TO alice, bob;
SQL
token_of() { psql_q -c "SET ROLE $1" -c "SELECT stream_api_token_create('$2')"; }
ALICE=$(token_of alice ci)
BOB=$(token_of bob ci)
CAROL=$(token_of carol ci)
ADMIN=$(psql_q -c "SELECT stream_api_token_create('admin')")
OLD=$(token_of alice old)

# --- a. the document and the routes -----------------------------------------------------------
api GET /openapi.json ""
expect_eq "openapi paths" "200 /pipelines /pipelines/validate_query /pipelines/preview /pipelines/{name} /pipelines/{name}/checkpoints /pipelines/{name}/errors" \
    "$STATUS $(jp '" ".join(j["paths"])')"
expect_eq "openapi version" "3.0.3" "$(jp 'j["openapi"]')"
api GET /nothing "$ALICE"
expect_eq "unknown endpoint" "404 42704 no such endpoint: /api/v1/nothing" "$(err)"
api GET /nothing%ff "$ALICE"
expect_eq "a path not in UTF-8: still JSON" "404 True" \
    "$STATUS $(jp 'j["error"] == "no such endpoint: /api/v1/nothing\ufffd"')"
api PUT /pipelines "$ALICE" '{}'
expect_eq "wrong method" "405 0A000 method PUT is not allowed on /api/v1/pipelines" "$(err)"
api POST /pipelines/preview "$ALICE" '{"query": "x"}'
expect_eq "preview of a bad query" '400 42601 syntax error at or near "x"' "$(err)"

# --- b. tokens --------------------------------------------------------------------------------
api GET /pipelines ""
expect_eq "no token" "401 28000 a bearer token is required" "$(err)"
api GET /pipelines "${ALICE}x"
expect_eq "wrong token" "401 28000 invalid bearer token" "$(err)"
api GET /pipelines "$OLD"
expect_eq "a second token works" "200" "$STATUS"
psql_q -c "SET ROLE alice" -c "SELECT stream_api_token_revoke('old')"
api GET /pipelines "$OLD"
expect_eq "revoked token" "401 28000 invalid bearer token" "$(err)"
api GET /pipelines "$ADMIN"
expect_eq "superuser token" "403 42501 role \"$ARROYO_PG_USER\" is a superuser, and the API does not accept superuser tokens" "$(err)"
psql_q -c "ALTER SYSTEM SET arroyo_stream.api_allow_superuser = on" -c "SELECT pg_reload_conf()" >/dev/null
superuser_accepted() {
    api GET /pipelines "$ADMIN"
    last=$STATUS
    [[ $STATUS == 200 ]]
}
wait_for "a superuser's token with api_allow_superuser" superuser_accepted
psql_q -c "ALTER SYSTEM RESET arroyo_stream.api_allow_superuser" -c "SELECT pg_reload_conf()" >/dev/null
superuser_refused() {
    api GET /pipelines "$ADMIN"
    last=$STATUS
    [[ $STATUS == 403 ]]
}
wait_for "a superuser's token refused again" superuser_refused
api GET /pipelines "$CAROL"
expect_eq "NOLOGIN role" '403 42501 role "carol" is not permitted to log in' "$(err)"
expect_eq "tokens visible to alice" "alice|ci" \
    "$(psql_q -c 'SET ROLE alice' -c 'SELECT role, name FROM stream_api_tokens ORDER BY 1, 2')"
expect_eq "only hashes stored" "0" \
    "$(psql_q -c "SELECT count(*) FROM _arroyo_stream.api_tokens WHERE hash = convert_to('$ALICE', 'UTF8') OR encode(hash, 'hex') LIKE '%' || substr('$ALICE', 8) || '%'")"
psql_q -c "SET ROLE alice" -c "SELECT stream_api_token_create('ci')" 2>"$WORK/dup.err" && arroyo_die "a duplicate token name was accepted"
expect_eq "duplicate token name" 'ERROR:  API token "ci" of role "alice" already exists' "$(head -1 "$WORK/dup.err")"

# --- c. the life cycle --------------------------------------------------------------------------
api POST /pipelines "$ALICE" '{"name": "evens", "parallelism": 1, "checkpoint_interval_micros": 200000,
  "query": "INSERT INTO out_a SELECT counter FROM ticks WHERE counter % 2 = 0"}'
expect_eq "create" "201 running alice" "$STATUS $(jp 'j["state"]') $(jp 'j["owner"]')"
expect_eq "checkpoint_interval_micros as a SET line" "SET checkpoint_interval = '200000 microseconds';
INSERT INTO out_a SELECT counter FROM ticks WHERE counter % 2 = 0" "$(jp 'j["query"]')"
state_is() {
    api GET "/pipelines/$1" "$ALICE"
    last=$(jp 'j["state"]')
    [[ $last == "$2" ]]
}
wait_for "evens to finish" state_is evens finished
expect_eq "evens rows" "500|0|998" "$(psql_q -c 'SELECT count(*), min(n), max(n) FROM out_a')"
expect_eq "evens counters" "1000 500" "$(jp 'j["rows_in"]') $(jp 'j["rows_out"]')"
api GET /pipelines/evens/checkpoints "$ALICE"
expect_eq "checkpoints" "200 True evens" \
    "$STATUS $(jp 'len(j["data"]) >= 1') $(jp '" ".join(sorted({c["pipeline"] for c in j["data"]}))')"
expect_eq "checkpoints match the view" "$(psql_q -c "SELECT string_agg(epoch::text, ' ' ORDER BY epoch) FROM stream_checkpoints WHERE pipeline = 'evens'")" \
    "$(jp '" ".join(str(c["epoch"]) for c in j["data"])')"
api GET /pipelines/evens/errors "$ALICE"
expect_eq "no errors" '200 []' "$STATUS $(jp 'j["data"]')"

api POST /pipelines "$ALICE" '{"name": "div", "query": "INSERT INTO out_a SELECT 10 / (counter - 5) FROM ticks"}'
expect_eq "create div" "201" "$STATUS"
wait_for "div to fail" state_is div failed
api GET /pipelines/div/errors "$ALICE"
expect_eq "errors endpoint" "200 error failed division by zero" \
    "$STATUS $(jp 'j["data"][0]["level"]') $(jp 'j["data"][0]["state"]') $(jp 'j["data"][0]["message"]')"

api POST /pipelines "$ALICE" '{"name": "slow", "query": "INSERT INTO out_a SELECT counter FROM slow_ticks"}'
expect_eq "create slow" "201 running" "$STATUS $(jp 'j["state"]')"
api GET /pipelines "$ALICE"
expect_eq "list" "200 div evens slow False" "$STATUS $(jp '" ".join(p["name"] for p in j["data"])') $(jp 'j["has_more"]')"
api GET /pipelines/div "$BOB"
expect_eq "another role sees the view's columns" "200 alice failed <insufficient privilege> <insufficient privilege>" \
    "$STATUS $(jp 'j["owner"]') $(jp 'j["state"]') $(jp 'j["query"]') $(jp 'j["last_error"]')"
api GET /pipelines/div/errors "$BOB"
expect_eq "another role's errors" "200 <insufficient privilege>" "$STATUS $(jp 'j["data"][0]["message"]')"
api PATCH /pipelines/slow "$BOB" '{"stop": "checkpoint"}'
expect_eq "stop by another role" '403 42501 must be owner of pipeline "slow"' "$(err)"
api PATCH /pipelines/slow "$ALICE" '{"stop": "checkpoint"}'
expect_eq "stop" "200 stopped" "$STATUS $(jp 'j["state"]')"
expect_eq "stopped in the catalog" "stopped" "$(psql_q -c "SELECT state FROM stream_pipelines WHERE name = 'slow'")"
api PATCH /pipelines/slow "$ALICE" '{"stop": "none"}'
expect_eq "start" "200 running" "$STATUS $(jp 'j["state"]')"
api PATCH /pipelines/slow "$ALICE" '{"stop": "none"}'
expect_eq "start a running pipeline" "200 running" "$STATUS $(jp 'j["state"]')"
api PATCH /pipelines/slow "$ALICE" '{"stop": "later"}'
expect_eq "bad stop" '400 22023 stop must be "none", "checkpoint" or "immediate"' "$(err)"
api PATCH /pipelines/slow "$ALICE" '{"checkpoint_interval_micros": 5}'
expect_eq "interval cannot change" '400 0A000 checkpoint_interval_micros cannot be changed' "$(err)"
api DELETE /pipelines/slow "$BOB"
expect_eq "drop by another role" '403 42501 must be owner of pipeline "slow"' "$(err)"
api DELETE /pipelines/slow "$ALICE"
expect_eq "drop" "204 " "$STATUS $BODY"
api GET /pipelines/slow "$ALICE"
expect_eq "dropped" '404 42704 pipeline "slow" does not exist' "$(err)"
api DELETE /pipelines/slow "$ALICE"
expect_eq "drop again" '404 42704 pipeline "slow" does not exist' "$(err)"
api GET /pipelines/slow/checkpoints "$ALICE"
expect_eq "checkpoints of nothing" '404 42704 pipeline "slow" does not exist' "$(err)"
expect_eq "no worker left" "0" "$(psql_q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'arroyo_stream pipeline'")"

# --- d. refusals ------------------------------------------------------------------------------
api POST /pipelines "$ALICE" '{"name": "bad", "query": "INSERT INTO out_a SELECT counter FROM missing"}'
expect_eq "bad query" '400 42P01 relation "missing" does not exist' "$(err)"
api POST /pipelines "$ALICE" '{"name": "bad", "query": "INSERT INTO out_a SELECT counter FROM ticks ORDER BY 1"}'
expect_eq "unsupported query" '400 0A000 ORDER BY without LIMIT is not supported in a pipeline' "$(err)"
expect_eq "unsupported query: hint" 'A stream has no end to sort by; ORDER BY … LIMIT n keeps the current top n.' "$(jp 'j["hint"]')"
api POST /pipelines "$ALICE" '{"name": "evens", "query": "INSERT INTO out_a SELECT counter FROM ticks"}'
expect_eq "duplicate" '409 42710 pipeline "evens" already exists' "$(err)"
api POST /pipelines "$BOB" '{"name": "bobs", "query": "INSERT INTO out_a SELECT counter FROM ticks"}'
expect_eq "no privilege on the source" '403 42501 permission denied for foreign table ticks' "$(err)"
api POST /pipelines "$ALICE" '{"name": "par", "parallelism": 2, "query": "INSERT INTO out_a SELECT counter FROM slow_ticks WHERE counter < 0"}'
expect_eq "create with parallelism 2" "201 2" "$STATUS $(jp 'j["parallelism"]')"
sleep 1.5
api PATCH /pipelines/par "$ALICE" '{"parallelism": 3}'
expect_eq "rescaling" "200 3 running" "$STATUS $(jp 'j["parallelism"]') $(jp 'j["state"]')"
sleep 1.5
api GET /pipelines/par "$ALICE"
expect_eq "rescaled and still running" "200 3 running None" \
    "$STATUS $(jp 'j["parallelism"]') $(jp 'j["state"]') $(jp 'j["last_error"]')"
api PATCH /pipelines/par "$ALICE" '{"parallelism": 3}'
expect_eq "the same parallelism" "200 3" "$STATUS $(jp 'j["parallelism"]')"
api DELETE /pipelines/par "$ALICE"
expect_eq "drop par" "204 " "$STATUS $BODY"
api POST /pipelines "$ALICE" '{"name": "par", "parallelism": 33, "query": "INSERT INTO out_a SELECT counter FROM ticks"}'
expect_eq "parallelism out of range" '400 22023 parallelism must be an integer from 1 to 32' "$(err)"
api POST /pipelines "$ALICE" '{"name": "x", "query": "INSERT INTO out_a SELECT counter FROM ticks", "colour": "red"}'
expect_eq "unknown field" '400 22023 unknown field "colour"' "$(err)"
api POST /pipelines "$ALICE" '{"name": "x", "query": 5}'
expect_eq "query not a string" '400 22023 field "query" must be a string' "$(err)"
api POST /pipelines "$ALICE" '{"name": "x"'
expect_eq "malformed JSON" '400 22P02 invalid input syntax for type json' "$(err)"
api POST /pipelines "$ALICE" '[1]'
expect_eq "not an object" '400 22023 the request body must be a JSON object' "$(err)"
api POST /pipelines "$ALICE" '{"name": "x", "query": "INSERT INTO out_a SELECT counter FROM ticks", "checkpoint_interval_micros": -1}'
expect_eq "negative interval" '400 22023 checkpoint_interval_micros must be a positive integer' "$(err)"
api POST /pipelines/validate_query "$ALICE" '{"query": "INSERT INTO out_a SELECT counter FROM ticks"}'
expect_eq "validate" '200 {"valid": true}' "$STATUS $BODY"
api POST /pipelines/validate_query "$ALICE" '{"query": "INSERT INTO out_a SELECT nope FROM ticks"}'
expect_eq "validate a bad query" '400 42703 column "nope" does not exist' "$(err)"
api POST /pipelines/validate_query "$BOB" '{"query": "INSERT INTO out_a SELECT counter FROM ticks"}'
expect_eq "validate without privilege" '403 42501 permission denied for foreign table ticks' "$(err)"
expect_eq "refusals created nothing" "div evens" \
    "$(psql_q -c "SELECT string_agg(name, ' ' ORDER BY name) FROM stream_pipelines")"

api POST /pipelines "$ALICE" '{"name": "my pipe", "query": "INSERT INTO out_a SELECT counter FROM ticks WHERE false"}'
expect_eq "a name with a space" "201 my pipe" "$STATUS $(jp 'j["name"]')"
api GET /pipelines/my%20pipe "$ALICE"
expect_eq "a URL-encoded name" "200 my pipe" "$STATUS $(jp 'j["name"]')"
api DELETE /pipelines/my%20pipe "$ALICE"
expect_eq "drop a URL-encoded name" "204" "$STATUS"
# A long query: its answers (about 400 kB) are written in many chunks.
"$PYTHON" -c 'import json; print(json.dumps({"name": "long", "query": "INSERT INTO out_a SELECT counter FROM ticks WHERE length(%s) < 0" % ("'"'"'" + "x" * 400000 + "'"'"'")}))' >"$WORK/long.json"
STATUS=$(curl -sS -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
    --data-binary @"$WORK/long.json" "$BASE/pipelines")
expect_eq "create with a long query" "201 True" \
    "$STATUS $("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["query"] == json.load(open(sys.argv[2]))["query"])' "$WORK/body" "$WORK/long.json")"
curl -sS -o "$WORK/body" -H "Authorization: Bearer $ALICE" "$BASE/pipelines/long"
expect_eq "get a long query" "True" \
    "$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["query"] == json.load(open(sys.argv[2]))["query"])' "$WORK/body" "$WORK/long.json")"
api DELETE /pipelines/long "$ALICE"
expect_eq "drop long" "204" "$STATUS"
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$WORK/big.json"
STATUS=$(curl -sS -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
    --data-binary @"$WORK/big.json" "$BASE/pipelines")
BODY=$(cat "$WORK/body")
expect_eq "a body over 1 MiB" "413 54000 the request body is larger than 1048576 bytes" "$(err)"
STATUS=$(curl -sS -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
    -H 'Transfer-Encoding: chunked' --data-binary '{"query": "x"}' "$BASE/pipelines/validate_query")
BODY=$(cat "$WORK/body")
expect_eq "a chunked body" "411 22023 a request body needs a Content-Length (no chunked bodies)" "$(err)"
printf '{"name": "\xff", "query": "x"}' >"$WORK/latin1.json"
STATUS=$(curl -sS -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
    --data-binary @"$WORK/latin1.json" "$BASE/pipelines")
BODY=$(cat "$WORK/body")
expect_eq "not UTF-8" '400 22021 invalid byte sequence for encoding "UTF8": 0xff' "$(err)"
expect_eq "keep-alive: two requests on one connection" "200 1 200 0 " \
    "$(curl -sS -o /dev/null -o /dev/null -w '%{http_code} %{num_connects} ' -H "Authorization: Bearer $ALICE" \
        "$BASE/pipelines/evens" "$BASE/pipelines")"

# --- urllib: the same life cycle and refusals, from an independent client -----------------------
"${CLIENT[@]}" "$BASE" lifecycle "$ALICE"
"${CLIENT[@]}" "$BASE" denied "$BOB"

# --- e. concurrency ---------------------------------------------------------------------------
for i in $(seq 0 19); do
    if ((i % 2 == 0)); then
        curl -sS -o "$WORK/c$i.body" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $ALICE" \
            --data-binary "{\"name\": \"c_$i\", \"query\": \"INSERT INTO conc SELECT 'c_$i', counter FROM ticks\"}" \
            "$BASE/pipelines" >"$WORK/c$i.status" &
    else
        curl -sS -o "$WORK/c$i.body" -w '%{http_code}\n' -H "Authorization: Bearer $ALICE" \
            "$BASE/pipelines" >"$WORK/c$i.status" &
    fi
done
wait
statuses=$(for i in $(seq 0 19); do cat "$WORK/c$i.status"; done | tr '\n' ' ')
expect_eq "20 concurrent curls" "201 200 201 200 201 200 201 200 201 200 201 200 201 200 201 200 201 200 201 200 " "$statuses"
"${CLIENT[@]}" "$BASE" concurrent "$ALICE" 20
all_finished() {
    last=$(psql_q -c "SELECT count(*) FILTER (WHERE state = 'finished') || '/' || count(*) FROM stream_pipelines WHERE name ~ '^[cu]_'")
    [[ $last == 20/20 ]]
}
POLL_TIMEOUT=120 wait_for "the 20 concurrent pipelines to finish" all_finished
expect_eq "each concurrent pipeline's rows" "20|1000" \
    "$(psql_q -c "SELECT count(DISTINCT pipeline), min(c) FROM (SELECT pipeline, count(*) c FROM conc GROUP BY 1) s")"
expect_eq "exactly once" "20000" "$(psql_q -c 'SELECT count(*) FROM conc')"

# --- g. preview as Server-Sent Events ---------------------------------------------------------
# sse TOKEN BODY: the event names and data lines of a preview, one "name data" line per event.
sse() {
    curl -sS -N -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        --data-binary "$2" "$BASE/pipelines/preview" |
        "$PYTHON" -c 'import sys
name = None
for line in sys.stdin:
    line = line.rstrip("\n")
    if line.startswith("event: "): name = line[7:]
    elif line.startswith("data: "): print(name, line[6:])'
}
expect_eq "curl: a bounded preview" 'row {"op": "insert", "row": {"counter":0}}
row {"op": "insert", "row": {"counter":1}}
end {"reason": "ended"}' "$(sse "$ALICE" '{"query": "SELECT counter FROM ticks WHERE counter < 2"}')"
expect_eq "curl: max_rows" 'row row row end {"reason": "max_rows"}' \
    "$(sse "$ALICE" '{"query": "SELECT counter FROM slow_ticks", "max_rows": 3}' | sed 's/^row .*/row/' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "curl: a timeout" 'end {"reason": "timeout"}' \
    "$(sse "$ALICE" '{"query": "SELECT counter FROM slow_ticks", "max_rows": 1000000, "timeout_micros": 300000}' | tail -1)"
api POST /pipelines/preview "$BOB" '{"query": "SELECT counter FROM ticks"}'
expect_eq "preview without privilege" '403 42501 permission denied for foreign table ticks' "$(err)"
api POST /pipelines/preview "$ALICE" '{"query": "SELECT counter FROM ticks", "max_rows": 0}'
expect_eq "preview: max_rows 0" '400 22023 max_rows must be a positive integer' "$(err)"
"${CLIENT[@]}" "$BASE" preview "$ALICE"
no_preview_left() {
    [[ $(psql_q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'arroyo_stream preview'") == 0 ]]
}
wait_for "no preview worker after the clients hung up" no_preview_left

# --- the worker: an ordinary background worker, started again when terminated -----------------
api_pid() { psql_q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'arroyo_stream api'"; }
expect_eq "the API worker's session" "postgres|arroyo_stream api|$ARROYO_PG_USER" \
    "$(psql_q -c "SELECT datname, application_name, usename FROM pg_stat_activity WHERE backend_type = 'arroyo_stream api'")"
old_pid=$(api_pid)
psql_q -c "SELECT pg_terminate_backend($old_pid)" >/dev/null
api_back() {
    last=$(api_pid)
    [[ -n $last && $last != "$old_pid" ]] && api_up
}
wait_for "the API worker to come back" api_back
api GET /pipelines/evens "$ALICE"
expect_eq "answers after a restart" "200 finished" "$STATUS $(jp 'j["state"]')"

# --- f. HTTPS ---------------------------------------------------------------------------------
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    2>/dev/null
chmod 644 "$WORK/cert.pem"
chmod 600 "$WORK/key.pem"
arroyo_is_root && chown "$ARROYO_PG_USER" "$WORK/key.pem" "$WORK/cert.pem"
pg_instance_start "$PGTEST_DIR" "$PG_PORT" "${ARROYO_SERVER_SETTINGS[@]}" "fsync = off" \
    "arroyo_stream.api_port = $HTTP_PORT" "arroyo_stream.api_tls_cert = '$WORK/cert.pem'" \
    "arroyo_stream.api_tls_key = '$WORK/key.pem'"
BASE=https://127.0.0.1:$HTTP_PORT/api/v1
CURL_OPTS=(--cacert "$WORK/cert.pem")
api_tls_up() { curl -s -o /dev/null --cacert "$WORK/cert.pem" "$BASE/openapi.json"; }
wait_for "the API to listen with TLS" api_tls_up
api GET /pipelines/evens "$ALICE"
expect_eq "HTTPS with curl" "200 finished" "$STATUS $(jp 'j["state"]')"
expect_eq "HTTPS with urllib" "200 finished" \
    "$("${CLIENT[@]}" "$BASE" --cafile "$WORK/cert.pem" get "$ALICE" /pipelines/evens | "$PYTHON" -c 'import json,sys; s,b=sys.stdin.read().split(" ",1); print(s, json.loads(b)["state"])')"
curl -s -o /dev/null "$BASE/openapi.json" && arroyo_die "an untrusted certificate was accepted"
curl -s -m 5 -o /dev/null "http://127.0.0.1:$HTTP_PORT/api/v1/openapi.json" &&
    arroyo_die "plain HTTP was answered on the TLS port"
if grep -E 'server process .* was terminated|terminated by signal' "$PGTEST_DIR/server.log"; then
    arroyo_die "a server process crashed"
fi
arroyo_log "rest_api: all checks passed"
