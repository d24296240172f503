#!/usr/bin/env bash
# pg_dump / restore of a database with one pipeline of every kind. _arroyo_stream.pipelines,
# .state and .checkpoints (and the id sequence) are extension configuration tables
# (pg_extension_config_dump), so a dump carries the pipelines, their checkpoints and their
# targets over, taken in one snapshot: a restored pipeline resumes where its checkpoint says,
# except a change-data-capture one, whose position is in the source database's changes: it
# rebuilds (README: "Dump and restore").
#
#   1. database src: impulse (finished; never started), windowed (tumble), updating (GROUP BY
#      into a keyed table), nexmark, single_file json, single_file debezium_json, Kafka
#      raw_string with metadata columns (key, offset), websocket (hop windows), CDC (a regular
#      table, stopped, then changed before the dump so its checkpoint lags the table);
#   2. dumped and restored four ways: `pg_dump | psql` into a new database; `pg_dump -Fc` and
#      `pg_restore -j 2` into a new cluster; `pg_restore --section=pre-data/data/post-data`;
#      `pg_dump --schema-only` (no pipelines: the configuration tables' data is data);
#   3. the catalog and every target are identical after each full restore; new lines, messages
#      and events arrive; every pipeline of src and of each restored database starts again and
#      all end with exactly the same rows (literal expectations for src; the batch answer for
#      CDC); the restored CDC pipelines rebuilt from their tables;
#   4. DROP EXTENSION ... CASCADE with running pipelines (CDC, websocket) and DROP DATABASE with
#      running pipelines: the workers stop cleanly, the replication slots and shared-memory
#      slots are gone, and nothing in either server's log is a crash or a restart.
#
# Ports: ARROYO_PG_DUMP_PORT (default 55442) for the first cluster, +1 for the second, +4 for
# the Kafka broker (test/kafka_broker), +5 for the websocket server (test/websocket_server.py).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/kafka_broker/broker.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka_broker/broker.sh"

A_PORT=${ARROYO_PG_DUMP_PORT:-55442}
B_PORT=$((A_PORT + 1))
BROKER_PORT=$((A_PORT + 4))
WS_PORT=$((A_PORT + 5))
BOOT=127.0.0.1:$BROKER_PORT
POLL_TIMEOUT=40

pg_test_instance pg_dump "$A_PORT"
A_DIR=$PGTEST_DIR
# The second cluster, with room for two pipelines only (DROP DATABASE must free their slots).
B_DIR=$ARROYO_WORK_ROOT/tests/pg_dump_b
pg_instance_destroy "$B_DIR"
arroyo_on_exit "pg_test_instance_cleanup '$B_DIR'"
pg_instance_start "$B_DIR" "$B_PORT" "${ARROYO_SERVER_SETTINGS[@]}" "fsync = off" \
    "arroyo_stream.max_pipelines = 2"

bindir=$(pg_bindir)
files=$ARROYO_WORK_ROOT/tests/pg_dump_files
rm -rf -- "$files"
arroyo_work_dir "$files"
arroyo_on_exit "rm -rf -- '$files'"

# q A|B DB SQL: one query, unaligned tuples-only output.
q() {
    if [[ $1 == B ]]; then
        pg_psql "$B_DIR" "$B_PORT" -d "$2" -Atq -c "$3"
    else
        pg_psql "$A_DIR" "$A_PORT" -d "$2" -Atq -c "$3"
    fi
}
# as_client A|B CMD ARGS...: a client program of the private PostgreSQL against that cluster.
as_client() {
    local dir=$A_DIR port=$A_PORT
    [[ $1 == B ]] && dir=$B_DIR port=$B_PORT
    local cmd=$2
    shift 2
    as_pg_user "$bindir/$cmd" -h "$dir" -p "$port" -U "$ARROYO_PG_USER" "$@"
}
expect() {
    expect_eq "$@"
    echo "ok: $1"
}
# Condition: query SQL on CLUSTER DB returns exactly WANT.
query_is() {
    last=$(q "$1" "$2" "$3" 2>&1) || return 1
    [[ $last == "$4" ]]
}
# A restore's output must hold no error and no warning.
clean_output() {
    if grep -E 'ERROR|WARNING|FATAL' "$2"; then
        arroyo_die "$1 reported errors or warnings (above)"
    fi
}

# --- servers: Kafka broker, websocket ----------------------------------------------------------
kafka_broker_build "$files/broker"
kafka_broker_start "$files/broker" "$BROKER_PORT" --topic lines:1
printf 'k1|hello world\nk2|second line\n' | kcat -P -b "$BOOT" -t lines -K'|'

ws_log=$files/ws.log
"$PYTHON" "$ARROYO_ROOT/test/websocket_server.py" --port "$WS_PORT" --log "$ws_log" \
    >"$files/ws.out" 2>&1 &
ws_pid=$!
arroyo_on_exit "kill $ws_pid 2>/dev/null || true"
ws_ready() { grep -qx ready "$ws_log" 2>/dev/null; }
wait_for "the websocket server" ws_ready

# --- 1. database src ---------------------------------------------------------------------------
arroyo_log "set up database src"
printf '%s\n' '{"customer": "ann", "amount": 10}' '{"customer": "bob", "amount": 5}' \
    '{"customer": "ann", "amount": 2.5}' '{"customer": "cy", "amount": 1}' |
    as_pg_user tee "$files/orders.json" >/dev/null
printf '%s\n' \
    '{"before": null, "after": {"id": 1, "store": 7, "amount": "12.50"}, "op": "c"}' \
    '{"before": null, "after": {"id": 2, "store": 7, "amount": "7.50"}, "op": "c"}' \
    '{"before": null, "after": {"id": 3, "store": 8, "amount": "100"}, "op": "r"}' |
    as_pg_user tee "$files/dbz.json" >/dev/null
subscribe='{"type": "subscribe", "product_ids": ["BTC-USD"], "channels": ["ticker"]}'

q A postgres "CREATE DATABASE src" >/dev/null
q A src "
CREATE EXTENSION arroyo_stream;
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE ten (counter bigint, subtask_index int) SERVER imp
  OPTIONS (event_rate '0', message_count '10');
CREATE FOREIGN TABLE twenty_five (counter bigint) SERVER imp
  OPTIONS (event_rate '0', message_count '25');
CREATE FOREIGN TABLE ticks (counter bigint NOT NULL) SERVER imp
  OPTIONS (event_rate '0', message_count '100', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 minute');
CREATE TABLE done_out (n bigint NOT NULL, doubled bigint);
CREATE TABLE later_out (n bigint NOT NULL);
CREATE TABLE win_out (w tstzrange, n bigint, s numeric);
CREATE TABLE upd_out (k bigint PRIMARY KEY, n bigint, s numeric);

CREATE SERVER nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
CREATE FOREIGN TABLE bid (auction bigint NOT NULL, bidder bigint, price bigint, channel text, url text,
                          date_time timestamptz, extra text) SERVER nexmark
  OPTIONS (event_type 'bid', event_rate '0', message_count '500', seed '42',
           start_time '2026-01-01 00:00:00+00');
CREATE TABLE nex_out (auction bigint PRIMARY KEY, bids bigint, top bigint);

CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE sf_orders (customer text NOT NULL, amount numeric) SERVER files
  OPTIONS (path '$files/orders.json', type 'source', format 'json');
CREATE TABLE sf_out (customer text PRIMARY KEY, n bigint, total numeric);
CREATE FOREIGN TABLE dbz (id int NOT NULL, store int NOT NULL, amount numeric) SERVER files
  OPTIONS (path '$files/dbz.json', type 'source', format 'debezium_json', primary_key 'id');
CREATE TABLE dbz_out (store int PRIMARY KEY, n bigint, total numeric);

CREATE SERVER kafka FOREIGN DATA WRAPPER arroyo_stream
  OPTIONS (connector 'kafka', bootstrap_servers '$BOOT');
CREATE FOREIGN TABLE lines (line text, key bytea OPTIONS (metadata 'key'),
                            off bigint OPTIONS (metadata 'offset'))
  SERVER kafka OPTIONS (type 'source', topic 'lines', format 'raw_string',
                        \"source.offset\" 'earliest', \"source.stop_at\" 'latest');
CREATE TABLE lines_out (off bigint, line text, key bytea);

CREATE SERVER ws FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'websocket');
CREATE FOREIGN TABLE coinbase (type text, price text, product_id text, time timestamptz)
  SERVER ws OPTIONS (endpoint 'ws://127.0.0.1:$WS_PORT/coinbase',
                     subscription_message '$subscribe', format 'json',
                     event_time_field 'time', watermark_delay '5 seconds');
CREATE TABLE btc_minute (w tstzrange, avg_price float8, ticks bigint);

CREATE TABLE orders (id int PRIMARY KEY, k int NOT NULL, v numeric);
INSERT INTO orders SELECT i, i % 3, i FROM generate_series(1, 30) i;
CREATE TABLE totals (k int PRIMARY KEY, n bigint, s numeric);
" >/dev/null

# create NAME QUERY
create() { q A src "SELECT stream_create('$1', \$q\$$2\$q\$)" >/dev/null; }
create done 'INSERT INTO done_out SELECT counter, counter * 2 FROM ten'
create later 'INSERT INTO later_out SELECT counter FROM twenty_five'
create win "INSERT INTO win_out SELECT tumble(interval '10 minutes') AS w, count(*), sum(counter)
            FROM ticks GROUP BY w"
create upd 'INSERT INTO upd_out SELECT counter % 3, count(*), sum(counter) FROM ticks GROUP BY 1'
create nex 'INSERT INTO nex_out SELECT auction, count(*), max(price) FROM bid GROUP BY auction'
create sf 'INSERT INTO sf_out SELECT customer, count(*), sum(amount) FROM sf_orders GROUP BY customer'
create dbz 'INSERT INTO dbz_out SELECT store, count(*), sum(amount) FROM dbz GROUP BY store'
create kraw 'INSERT INTO lines_out SELECT off, line, key FROM lines'
create btc "INSERT INTO btc_minute
            SELECT hop(interval '5 seconds', interval '1 minute') AS w, avg(price::float8), count(*)
            FROM coinbase WHERE type = 'ticker' GROUP BY w"
create cdc 'INSERT INTO totals SELECT k, count(*), sum(v) FROM orders GROUP BY k'

# The batch answer of the CDC pipeline, and whether its target holds exactly that.
cdc_batch="SELECT k, count(*), sum(v) FROM orders GROUP BY k"
cdc_diff="SELECT count(*) FROM ((TABLE totals EXCEPT $cdc_batch) UNION ALL
                               ($cdc_batch EXCEPT TABLE totals)) d"

# run CLUSTER DB NAME: starts a bounded pipeline and expects it to finish.
run() {
    q "$1" "$2" "SELECT stream_start('$3')" >/dev/null
    expect "$3 finishes in $2" finished "$(q "$1" "$2" "SELECT stream_wait('$3', '60 seconds')")"
}
# run_cdc CLUSTER DB: runs the CDC pipeline until its target is the batch answer, then stops it.
run_cdc() {
    q "$1" "$2" "SELECT stream_start('cdc')" >/dev/null
    wait_for "totals = the batch answer in $2" query_is "$1" "$2" "$cdc_diff" 0
    q "$1" "$2" "SELECT stream_stop('cdc')" >/dev/null
}
# run_btc CLUSTER DB: runs the websocket pipeline until it has its 24 windows, then stops it.
run_btc() {
    q "$1" "$2" "SELECT stream_start('btc')" >/dev/null
    wait_for "24 windows in $2" query_is "$1" "$2" "SELECT count(*) FROM btc_minute" 24
    q "$1" "$2" "SELECT stream_stop('btc')" >/dev/null
}

arroyo_log "run pipelines in src before the dump"
for p in done win upd nex sf dbz kraw; do run A src "$p"; done
run_cdc A src
# The table changes while the CDC pipeline is stopped: its checkpoint (and its target) now lag
# the table, and a group (k = 2) disappears from it.
q A src "DELETE FROM orders WHERE k = 2; UPDATE orders SET v = v * 10 WHERE id <= 6;
         INSERT INTO orders VALUES (100, 5, 1), (101, 5, 2)" >/dev/null
expect "totals lag orders in src at the dump" 1 \
    "$(q A src "SELECT (count(*) > 0)::int FROM (($cdc_batch EXCEPT TABLE totals)) d")"

# Everything the catalog holds about the pipelines, their checkpoints, and every target.
catalog_sql="SELECT id, name, query, owner, state, created_at, started_at, finished_at,
                    rows_in, rows_out, bad_rows, late_rows, last_error, checkpoint_epoch
             FROM _arroyo_stream.pipelines ORDER BY id"
state_sql="SELECT md5(string_agg(s::text, ',' ORDER BY s::text)) FROM _arroyo_stream.state s"
checkpoints_sql="SELECT pipeline_id, epoch, fingerprint FROM _arroyo_stream.checkpoints
                 ORDER BY pipeline_id, epoch"
targets=(done_out later_out win_out upd_out nex_out sf_out dbz_out lines_out btc_minute totals orders)
# contents CLUSTER DB: every target, one line each, rows sorted.
contents() {
    local t
    for t in "${targets[@]}"; do
        printf '%s: %s\n' "$t" "$(q "$1" "$2" "SELECT count(*) || ' ' ||
            coalesce(string_agg(x::text, ';' ORDER BY x::text), '') FROM $t x")"
    done
}
src_catalog=$(q A src "$catalog_sql")
src_state=$(q A src "$state_sql")
src_checkpoints=$(q A src "$checkpoints_sql")
src_contents=$(contents A src)
expect "pipelines in src at the dump" "btc|created
cdc|stopped
dbz|finished
done|finished
kraw|finished
later|created
nex|finished
sf|finished
upd|finished
win|finished" "$(q A src "SELECT name, state FROM stream_pipelines ORDER BY name")"

# --- 2. dump and restore -----------------------------------------------------------------------
arroyo_log "pg_dump src | psql r_plain"
q A postgres "CREATE DATABASE r_plain" >/dev/null
if ! as_client A pg_dump src |
    as_client A psql -X -q -v ON_ERROR_STOP=1 -d r_plain >"$files/r_plain.log" 2>&1; then
    cat "$files/r_plain.log" >&2
    arroyo_die "pg_dump src | psql r_plain failed (output above)"
fi
clean_output "pg_dump | psql" "$files/r_plain.log"

arroyo_log "pg_dump -Fc; pg_restore -j 2 into a new cluster"
as_client A pg_dump -Fc -f "$files/src.dump" src || arroyo_die "pg_dump -Fc failed"
q B postgres "CREATE DATABASE r_fc" >/dev/null
as_client B pg_restore -j 2 --exit-on-error -d r_fc "$files/src.dump" >"$files/r_fc.log" 2>&1 ||
    { cat "$files/r_fc.log" >&2; arroyo_die "pg_restore -j 2 failed (output above)"; }
clean_output "pg_restore -j 2" "$files/r_fc.log"

arroyo_log "pg_restore --section=pre-data, data, post-data"
q A postgres "CREATE DATABASE r_sec" >/dev/null
for section in pre-data data post-data; do
    as_client A pg_restore --section=$section --exit-on-error -d r_sec "$files/src.dump" \
        >>"$files/r_sec.log" 2>&1 ||
        { cat "$files/r_sec.log" >&2; arroyo_die "pg_restore --section=$section failed"; }
done
clean_output "pg_restore --section" "$files/r_sec.log"

arroyo_log "pg_dump --schema-only | psql into the new cluster"
q B postgres "CREATE DATABASE r_schema" >/dev/null
if ! as_client A pg_dump --schema-only src |
    as_client B psql -X -q -v ON_ERROR_STOP=1 -d r_schema >"$files/r_schema.log" 2>&1; then
    cat "$files/r_schema.log" >&2
    arroyo_die "pg_dump --schema-only | psql failed (output above)"
fi
clean_output "pg_dump --schema-only | psql" "$files/r_schema.log"

# --- 3. compare, then run everything again -----------------------------------------------------
for db in A:r_plain B:r_fc A:r_sec; do
    c=${db%%:*} d=${db#*:}
    expect "catalog rows in $d (vs src)" "$src_catalog" "$(q "$c" "$d" "$catalog_sql")"
    expect "checkpoint state in $d (vs src)" "$src_state" "$(q "$c" "$d" "$state_sql")"
    expect "checkpoints in $d (vs src)" "$src_checkpoints" "$(q "$c" "$d" "$checkpoints_sql")"
    expect "targets in $d (vs src)" "$src_contents" "$(contents "$c" "$d")"
done
expect "no pipelines after --schema-only" "0|0|0" \
    "$(q B r_schema "SELECT (SELECT count(*) FROM _arroyo_stream.pipelines) || '|' ||
                            (SELECT count(*) FROM _arroyo_stream.state) || '|' ||
                            (SELECT count(*) FROM orders)")"
# The Kafka raw_string table came back whole: its metadata columns read as such.
expect "lines' column options after --schema-only" "key|{metadata=key}
off|{metadata=offset}" \
    "$(q B r_schema "SELECT attname, attfdwoptions FROM pg_attribute
                     WHERE attrelid = 'lines'::regclass AND attfdwoptions IS NOT NULL
                     ORDER BY attnum")"

arroyo_log "new input for the resumed pipelines: file lines, Kafka messages"
printf '%s\n' '{"customer": "bob", "amount": 7}' '{"customer": "dee", "amount": 4}' |
    as_pg_user tee -a "$files/orders.json" >/dev/null
printf '%s\n' \
    '{"before": {"id": 1, "store": 7, "amount": "12.50"}, "after": {"id": 1, "store": 8, "amount": "12.50"}, "op": "u"}' \
    '{"before": {"id": 2, "store": 7, "amount": "7.50"}, "after": null, "op": "d"}' |
    as_pg_user tee -a "$files/dbz.json" >/dev/null
printf 'k3|third line\n' | kcat -P -b "$BOOT" -t lines -K'|'

# run_all CLUSTER DB: starts every pipeline of DB again, one at a time (cluster B has two
# pipeline slots), and prints the states and every target.
run_all() {
    arroyo_log "run every pipeline of $2"
    local p
    for p in done later win upd nex sf dbz kraw; do run "$1" "$2" "$p"; done
    run_btc "$1" "$2"
    run_cdc "$1" "$2"
}
results() {
    q "$1" "$2" "SELECT name || '|' || state || '|' || coalesce(last_error, 'null')
                 FROM stream_pipelines ORDER BY name"
    contents "$1" "$2"
}

run_all A src
src_results=$(results A src)
# What src must hold: the resumed pipelines read only what is new (no row twice), the finished
# ones finish again at once, the CDC pipeline resumed in its slot to the batch answer.
expect "src after the second run" "btc|stopped|null
cdc|stopped|null
dbz|finished|null
done|finished|null
kraw|finished|null
later|finished|null
nex|finished|null
sf|finished|null
upd|finished|null
win|finished|null" "$(q A src "SELECT name || '|' || state || '|' || coalesce(last_error, 'null')
                               FROM stream_pipelines ORDER BY name")"
expect "src targets (counts, sums)" "10|90|25|300|10|4950|3|4950" \
    "$(q A src "SELECT (SELECT count(*) FROM done_out) || '|' || (SELECT sum(doubled) FROM done_out)
                 || '|' || (SELECT count(*) FROM later_out) || '|' || (SELECT sum(n) FROM later_out)
                 || '|' || (SELECT count(*) FROM win_out) || '|' || (SELECT sum(s) FROM win_out)
                 || '|' || (SELECT count(*) FROM upd_out) || '|' || (SELECT sum(s) FROM upd_out)")"
expect "sf_out in src" "ann|2|12.5
bob|2|12
cy|1|1
dee|1|4" "$(q A src "SELECT customer || '|' || n || '|' || total FROM sf_out ORDER BY 1")"
expect "dbz_out in src" "8|2|112.50" "$(q A src "SELECT store || '|' || n || '|' || coalesce(total::text, '')
                         FROM dbz_out ORDER BY 1")"
expect "lines_out in src" '0|hello world|\x6b31
1|second line|\x6b32
2|third line|\x6b33' "$(q A src "SELECT off || '|' || line || '|' || key FROM lines_out ORDER BY 1")"
expect "totals in src" "0|10|246
1|10|190
5|2|3" "$(q A src "SELECT k || '|' || n || '|' || s FROM totals ORDER BY k")"
expect "btc_minute in src (windows, ticks)" "24|60" \
    "$(q A src "SELECT count(*) || '|' || sum(ticks) FROM btc_minute")"
expect "nexmark bids in src (46 of every 50 events are bids)" "460" "$(q A src "SELECT sum(bids) FROM nex_out")"

for db in A:r_plain B:r_fc A:r_sec; do
    c=${db%%:*} d=${db#*:}
    run_all "$c" "$d"
    expect "every state and target in $d (vs src)" "$src_results" "$(results "$c" "$d")"
done
rebuilt='its replication slot "arroyo_[0-9]+_10" does not exist \(a restored or copied database\?\); rebuilding'
for dir in "$A_DIR" "$B_DIR"; do
    grep -qE "$rebuilt" "$dir/server.log" || arroyo_die "no CDC rebuild logged in $dir/server.log"
done
expect "rebuilds logged in cluster A (r_plain, r_sec)" 2 "$(grep -cE "$rebuilt" "$A_DIR/server.log")"
echo "ok: every restored pipeline ran to the same results as src; restored CDC pipelines rebuilt"

# A pipeline on a table restored by --schema-only reads everything from the start.
q B r_schema "SELECT stream_create('fresh', 'INSERT INTO lines_out SELECT off, line, key FROM lines')" \
    >/dev/null
run B r_schema fresh
expect "lines_out in r_schema" "0|1|2" \
    "$(q B r_schema "SELECT string_agg(off::text, '|' ORDER BY off) FROM lines_out")"

# --- 4. DROP EXTENSION / DROP DATABASE with running pipelines ----------------------------------
# slots CLUSTER DB: the replication slots of DB's pipelines.
slots() {
    local oid
    oid=$(q "$1" postgres "SELECT oid FROM pg_database WHERE datname = '$2'")
    q "$1" postgres "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'arroyo\\_${oid}\\_%'"
}
workers_gone() {
    last=$(q "$1" postgres "SELECT count(*) FROM pg_stat_activity
                            WHERE backend_type = 'arroyo_stream pipeline'")
    [[ $last == 0 ]]
}

arroyo_log "DROP EXTENSION arroyo_stream CASCADE with running pipelines (r_plain)"
a_log_lines=$(wc -l <"$A_DIR/server.log")
b_log_lines=$(wc -l <"$B_DIR/server.log")
q A r_plain "SELECT stream_start('cdc'); SELECT stream_start('btc')" >/dev/null
# The server sends its ticks again: behind the restored watermark, they are late.
wait_for "btc reading in r_plain" query_is A r_plain \
    "SELECT rows_in > 0 FROM stream_pipelines WHERE name = 'btc'" t
expect "r_plain's slot before the drop" 1 "$(slots A r_plain)"
q A r_plain "SET client_min_messages = warning; DROP EXTENSION arroyo_stream CASCADE" >/dev/null
expect "r_plain's slot after DROP EXTENSION" 0 "$(slots A r_plain)"
wait_for "no pipeline worker in cluster A" workers_gone A
expect "r_plain without the extension" "0|false" \
    "$(q A r_plain "SELECT count(*) || '|' || (to_regclass('_arroyo_stream.pipelines') IS NOT NULL)
                    FROM pg_extension WHERE extname = 'arroyo_stream'")"
# Installed again, it starts empty.
expect "r_plain with the extension again" 0 \
    "$(q A r_plain "CREATE EXTENSION arroyo_stream; SELECT count(*) FROM stream_pipelines")"

arroyo_log "DROP DATABASE with running pipelines (r_fc, cluster B)"
q B r_fc "SELECT stream_start('cdc'); SELECT stream_start('btc')" >/dev/null
wait_for "btc reading in r_fc" query_is B r_fc \
    "SELECT rows_in > 0 FROM stream_pipelines WHERE name = 'btc'" t
expect "r_fc's slot before the drop" 1 "$(slots B r_fc)"
r_fc_oid=$(q B postgres "SELECT oid FROM pg_database WHERE datname = 'r_fc'")
q B postgres "DROP DATABASE r_fc" >/dev/null
expect "r_fc's slots after DROP DATABASE" 0 \
    "$(q B postgres "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'arroyo\\_${r_fc_oid}\\_%'")"
wait_for "no pipeline worker in cluster B" workers_gone B
# Both of cluster B's two pipeline slots are free again.
q B r_schema "SELECT stream_create('fresh2', 'INSERT INTO lines_out SELECT off, line, key FROM lines')" \
    >/dev/null
q B r_schema "CREATE TABLE btc2 (w tstzrange, avg_price float8, ticks bigint);
              SELECT stream_create('btc2', \$q\$INSERT INTO btc2
                SELECT hop(interval '5 seconds', interval '1 minute') AS w, avg(price::float8), count(*)
                FROM coinbase WHERE type = 'ticker' GROUP BY w\$q\$);
              SELECT stream_start('btc2')" >/dev/null
run B r_schema fresh2
wait_for "btc2's windows in r_schema" query_is B r_schema "SELECT count(*) FROM btc2" 24
q B r_schema "SELECT stream_stop('btc2')" >/dev/null
echo "ok: after DROP DATABASE both pipeline slots of cluster B could be used again"

# Nothing was logged as a crash, a death or a restart since the drops began.
crash_re='died|terminated|could not record|exited with exit code|was terminated by signal|resuming it'
for pair in "$A_DIR:$a_log_lines" "$B_DIR:$b_log_lines"; do
    dir=${pair%:*} from=${pair##*:}
    if tail -n +"$((from + 1))" "$dir/server.log" | grep -E "$crash_re"; then
        arroyo_die "$dir/server.log reports a crash or restart (above)"
    fi
done
echo "ok: DROP EXTENSION and DROP DATABASE stopped their pipelines cleanly"
echo "ok: pg_dump test passed"
