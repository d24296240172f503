#!/usr/bin/env bash
# Every fenced ```sql block of README.md runs. Each block runs in a database of its own (with
# the extension, unless the block creates it), after the setup it assumes but does not show
# (a `ticks` table for the pipeline settings example, say: see prelude() below), with the
# servers and paths it names replaced by local ones (a websocket server on loopback for
# Coinbase's feed, files under the test's directory for /srv/...). A block must run without
# an error, and every pipeline it starts must read rows (or finish) without failing.
#
# A new block that needs setup the README does not show fails here until prelude() gives it.
# Ports: ARROYO_README_SQL_PORT (default: ARROYO_PG_DUMP_PORT + 6, i.e. 55448) for PostgreSQL,
# the next one for test/websocket_server.py.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${ARROYO_README_SQL_PORT:-$((${ARROYO_PG_DUMP_PORT:-55442} + 6))}
WS_PORT=$((PG_PORT + 1))
POLL_TIMEOUT=30

pg_test_instance readme_sql "$PG_PORT"
work=$ARROYO_WORK_ROOT/tests/readme_sql_files
rm -rf -- "$work"
arroyo_work_dir "$work"
arroyo_on_exit "rm -rf -- '$work'"

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -d "$1" -Atq -c "$2"; }

# --- what the examples read ----------------------------------------------------------------------
# (read by us: the checkout may be unreadable to the server's user, e.g. under /root in CI)
as_pg_user tee "$work/clicks.json" <"$ARROYO_ROOT/test/data/clicks.json" >/dev/null
printf '%s\n' '{"id": 1, "customer": "ann", "amount": 12.5, "paid": true, "ts": "2026-01-01T00:00:00Z", "tags": ["a"], "meta": {"k": 1}}' |
    as_pg_user tee "$work/in_orders.json" >/dev/null
for i in $(seq 1 40); do
    printf '{"site": "s%d", "imp_type": "%s"}\n' $((i % 3)) "$([[ $((i % 7)) == 0 ]] && echo click || echo impression)"
done | as_pg_user tee "$work/event_stream.json" >/dev/null

"$PYTHON" "$ARROYO_ROOT/test/websocket_server.py" --port "$WS_PORT" --log "$work/ws.log" \
    >"$work/ws.out" 2>&1 &
ws_pid=$!
arroyo_on_exit "kill $ws_pid 2>/dev/null || true"
ws_ready() { grep -qx ready "$work/ws.log" 2>/dev/null; }
wait_for "the websocket server" ws_ready
q postgres "CREATE ROLE alice LOGIN" >/dev/null

# prelude BLOCK: the setup a block assumes, found by what it uses.
prelude() {
    local b=$1
    if grep -q 'INSERT INTO evens' "$b"; then
        echo "CREATE SERVER impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
              CREATE FOREIGN TABLE ticks (counter bigint) SERVER impulse
                OPTIONS (event_rate '0', message_count '100');
              CREATE TABLE evens (n bigint);"
    fi
    if grep -q "stream_rescale('par_counts'" "$b"; then
        echo "CREATE SERVER par_gen FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
              CREATE FOREIGN TABLE par_events (counter bigint) SERVER par_gen
                OPTIONS (event_rate '20000', message_count '100000');
              CREATE TABLE par_counts (k bigint PRIMARY KEY, n bigint, s numeric);
              SELECT stream_create('par_counts', \$\$SET parallelism = 2; INSERT INTO par_counts
                SELECT counter % 1000, count(*), sum(counter) FROM par_events GROUP BY 1\$\$);
              SELECT stream_start('par_counts');"
    fi
    if grep -q 'SERVER files' "$b" && ! grep -q 'CREATE SERVER files' "$b"; then
        echo "CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');"
    fi
    if grep -q 'FROM event_stream' "$b"; then
        echo "CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
              CREATE FOREIGN TABLE event_stream (site text NOT NULL, imp_type text) SERVER files
                OPTIONS (path '$work/event_stream.json', type 'source');"
    fi
    if grep -q 'ALTER TABLE orders REPLICA IDENTITY' "$b"; then
        echo "CREATE TABLE orders (id serial, k int NOT NULL, v numeric);
              INSERT INTO orders (k, v) SELECT i % 4, i FROM generate_series(1, 20) i;"
    fi
    if grep -q 'FROM bid' "$b" && ! grep -q 'CREATE FOREIGN TABLE bid' "$b"; then
        echo "CREATE SERVER nexmark FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
              CREATE FOREIGN TABLE bid (auction bigint, bidder bigint, price bigint, channel text,
                url text, date_time timestamptz, extra text) SERVER nexmark
                OPTIONS (event_type 'bid', event_rate '0', message_count '1000');"
    fi
    if grep -q 'SERVER crm' "$b" && ! grep -q 'CREATE SERVER crm' "$b"; then
        # postgres_fdw's server for the lookup example: the same database, over the socket.
        echo "CREATE EXTENSION postgres_fdw;
              SELECT format('CREATE SERVER crm FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %L, port %L, dbname %L)',
                            '$PGTEST_DIR', '$PGTEST_PORT', current_database()) \\gexec
              CREATE USER MAPPING FOR CURRENT_USER SERVER crm;"
    fi
    if grep -q 'SERVER kafka' "$b" && ! grep -q 'CREATE SERVER kafka' "$b"; then
        echo "CREATE SERVER kafka FOREIGN DATA WRAPPER arroyo_stream
                OPTIONS (connector 'kafka', bootstrap_servers 'localhost:9092');"
    fi
}

# --- extract ---------------------------------------------------------------------------------
# Each block to $work/block_<line>.sql, without the fence's indentation.
awk -v dir="$work" '
    /^ *```sql *$/            { indent = index($0, "`") - 1; file = sprintf("%s/block_%04d.sql", dir, NR);
                                printf "" > file; inblock = 1; next }
    inblock && $0 ~ /^ *```/  { inblock = 0; close(file); next }
    inblock                   { line = $0; if (substr(line, 1, indent) ~ /^ *$/) line = substr(line, indent + 1);
                                print line >> file }
' "$ARROYO_ROOT/README.md"
fences=$(grep -cE '^ *```sql *$' "$ARROYO_ROOT/README.md")
mapfile -t blocks < <(find "$work" -name 'block_*.sql' | sort)
((${#blocks[@]} == fences && fences > 0)) ||
    arroyo_die "found $fences sql fences in README.md but extracted ${#blocks[@]} blocks"

# --- run -------------------------------------------------------------------------------------
# A started pipeline has read rows (or finished), and none failed.
pipelines_ok() {
    last=$(q "$1" "SELECT string_agg(name || ' ' || state || ' ' || rows_in || ' ' ||
                                     coalesce(last_error, ''), '; ')
                   FROM stream_pipelines
                   WHERE state = 'failed' OR (state = 'running' AND rows_in = 0)")
    [[ -z $last ]]
}
n=0
for block in "${blocks[@]}"; do
    line=$((10#$(basename "$block" .sql | sed 's/block_//')))
    db=readme_$line
    n=$((n + 1))
    sed -i -e "s|/srv/clicks.json|$work/clicks.json|g" \
        -e "s|/srv/in/orders.json|$work/in_orders.json|g" \
        -e "s|/srv/out/orders.json|$work/out_orders.json|g" \
        -e "s|/srv/out/order_tags.json|$work/out_order_tags.json|g" \
        -e "s|wss://ws-feed.exchange.coinbase.com|ws://127.0.0.1:$WS_PORT/coinbase|g" "$block"
    q postgres "CREATE DATABASE $db" >/dev/null
    {
        grep -q 'CREATE EXTENSION' "$block" || echo "CREATE EXTENSION arroyo_stream;"
        prelude "$block"
        echo "\\echo -- README.md line $line"
        cat "$block"
    } | as_pg_user tee "$work/run_$line.sql" >/dev/null
    if ! pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -d "$db" -q -f "$work/run_$line.sql" \
        >"$work/out_$line.log" 2>&1; then
        cat "$work/out_$line.log" >&2
        arroyo_die "the sql block at README.md line $line failed (output above; ran $work/run_$line.sql)"
    fi
    wait_for "the pipelines of the block at README.md line $line to read rows" pipelines_ok "$db"
    started=$(q "$db" "SELECT count(*) FROM stream_pipelines WHERE state <> 'created'")
    echo "ok: README.md line $line ($started pipeline(s) started)"
    q postgres "DROP DATABASE $db" >/dev/null
done
echo "ok: all $n sql blocks of README.md ran"
