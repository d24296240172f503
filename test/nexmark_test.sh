#!/usr/bin/env bash
# Every Nexmark benchmark query (test/bench/nexmark_q*.sql, the files ./test/bench/run.sh times)
# validated at a small size: each runs as written, with psql variables `events` (tens of
# thousands of events, the generator's default seed) and `validate` (its result into a regular
# table instead of the blackhole), then the same events are loaded into tables (batch_bid, batch_auction,
# batch_person, by pipelines reading the query's own source tables) and PostgreSQL's batch query
# test/bench/nexmark_qN.batch.sql over them must give exactly the pipeline's rows (EXCEPT ALL
# both ways, and the same non-zero count). q10 writes a file: its lines are read back with
# pg_read_file and jsonb. The events start 1 second before midnight, so the per-day queries
# (q15-q17) see two days.
#
# Usage: test/nexmark_test.sh [qN...]   (default: every test/bench/nexmark_qN*.batch.sql)
# Port: ARROYO_NEXMARK_TEST_PORT (default 55600).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ARROYO_ROOT"

PORT=${ARROYO_NEXMARK_TEST_PORT:-55600}
export PGOPTIONS="-c client_min_messages=warning"
# Events of the whole sequence (92 % bids) per query: 50 000 (5 seconds of event time), and
# 200 000 (20 seconds) for the queries over 10-second windows and sessions, so that they see
# several windows.
EVENTS=${ARROYO_NEXMARK_TEST_EVENTS:-50000}
WINDOWED_EVENTS=${ARROYO_NEXMARK_TEST_WINDOWED_EVENTS:-200000}
START_TIME='2026-01-01 23:59:59+00'

queries=("$@")
if ((${#queries[@]} == 0)); then
    for f in test/bench/nexmark_q*.batch.sql; do
        n=$(basename "$f" .batch.sql)
        queries+=("${n#nexmark_}")
    done
fi

pg_test_instance nexmark "$PORT"
psql_t() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" "$@"; }
psql_t -q -c 'CREATE EXTENSION arroyo_stream'

# wait_finished NAME: waits for pipeline NAME to end, and dies unless it finished.
wait_finished() {
    local state
    state=$(psql_t -Atq -c "SELECT stream_wait('$1', '5 minutes')")
    [[ $state == finished ]] ||
        arroyo_die "pipeline $1 ended $state: $(psql_t -Atq -c "SELECT last_error FROM stream_pipelines WHERE name = '$1'")"
}

for q in "${queries[@]}"; do
    bench=test/bench/nexmark_$q.sql
    [[ -f $bench && -f test/bench/nexmark_$q.batch.sql ]] || arroyo_die "no $bench with its .batch.sql"
    events=$EVENTS
    [[ " q5 q7 q8 q11 " == *" $q "* ]] && events=$WINDOWED_EVENTS
    psql_t -q -o /dev/null -v events="$events" -v start_time="$START_TIME" -v validate=1 \
        -f "$bench" 2>&1 | { grep -v NOTICE || true; }
    psql_t -Atq -o /dev/null -c "SELECT stream_start('bench')"
    wait_finished bench

    # The same events into tables: one loading pipeline per source table the query reads.
    psql_t -q -c 'DROP TABLE IF EXISTS batch_bid, batch_auction, batch_person, expected, actual'
    for kind in bid auction person; do
        [[ $(psql_t -Atq -c "SELECT to_regclass('$kind') IS NOT NULL") == t ]] || continue
        psql_t -q -o /dev/null -c "CREATE TABLE batch_$kind (LIKE $kind)" \
            -c "SELECT stream_create('load_$kind', 'INSERT INTO batch_$kind SELECT * FROM $kind')" \
            -c "SELECT stream_start('load_$kind')"
        wait_finished "load_$kind"
        psql_t -q -o /dev/null -c "SELECT stream_drop('load_$kind')"
    done

    if [[ $q == q10 ]]; then
        # The pipeline's file, one JSON object a line, read back independently of the connector.
        psql_t -q -c "CREATE TABLE actual AS
            SELECT (j->>'auction')::bigint AS auction, (j->>'bidder')::bigint AS bidder,
                   (j->>'price')::bigint AS price, (j->>'date_time')::timestamptz AS date_time,
                   j->>'extra' AS extra, j->>'dt' AS dt, j->>'hm' AS hm
            FROM regexp_split_to_table(
                   pg_read_file(current_setting('data_directory') || '/nexmark_q10.json'),
                   E'\n') AS line, LATERAL (SELECT line::jsonb AS j) d
            WHERE line <> ''"
    else
        psql_t -q -c 'CREATE TABLE actual AS TABLE bench_out'
    fi
    # The batch query's rows into a table of the pipeline's columns (by position).
    psql_t -q -c 'CREATE TABLE expected (LIKE actual)'
    { printf 'INSERT INTO expected\n'; cat "test/bench/nexmark_$q.batch.sql"; } |
        psql_t -q -o /dev/null
    result=$(psql_t -Atq -F ' ' -c "SELECT (SELECT count(*) FROM expected),
        (SELECT count(*) FROM actual),
        (SELECT count(*) FROM (TABLE expected EXCEPT ALL TABLE actual) d),
        (SELECT count(*) FROM (TABLE actual EXCEPT ALL TABLE expected) d)")
    read -r n_expected n_actual missing extra <<<"$result"
    if ((n_expected == 0 || missing != 0 || extra != 0 || n_expected != n_actual)); then
        psql_t -c "(SELECT 'missing' AS diff, * FROM (TABLE expected EXCEPT ALL TABLE actual) d LIMIT 5)
                   UNION ALL (SELECT 'extra', * FROM (TABLE actual EXCEPT ALL TABLE expected) d LIMIT 5)" >&2 || true
        arroyo_die "nexmark $q: the batch query has $n_expected rows, the pipeline $n_actual; $missing missing, $extra extra"
    fi
    printf 'nexmark %-8s %7d rows, equal to the batch query\n' "$q" "$n_expected"
    psql_t -q -o /dev/null -c "SELECT stream_drop('bench')"
done
echo "nexmark_test: ${#queries[@]} queries validated"
