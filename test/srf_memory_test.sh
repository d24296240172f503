#!/usr/bin/env bash
# Set-returning functions with hostile output sizes: one input row that a function turns into
# millions of rows runs in bounded memory, because the rows go out in batches and what a batch
# holds (the function's values and the rows the operators after it computed) is freed once the
# batch has been passed on; a function in materialize mode (PL/pgSQL RETURN QUERY) buffers its
# result in a tuplestore, which spills to disk past work_mem.
#   a. generate_series(1, 3000000) per row (value per call), 110-byte text per output row
#   b. a PL/pgSQL SETOF text function returning 2 000 000 such rows per row (materialize mode)
# Each reads an impulse source of one row per second into blackhole; once 3 input rows have
# expanded (rows_out), the worker's peak resident memory (VmHWM) must be below 200 MB (without
# the bound it held every row of the round: over 300 MB per input row), and stream_stop stops it.
# Port: ARROYO_SRF_MEMORY_PORT (default ARROYO_HOSTILE_PORT + 5, i.e. 55525).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${ARROYO_SRF_MEMORY_PORT:-$((${ARROYO_HOSTILE_PORT:-55520} + 5))}
POLL_TIMEOUT=120
pg_test_instance srf_memory "$PG_PORT"

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }
rows_out_at_least() { # PIPELINE N
    last=$(q "SELECT state || ' ' || rows_out || ' ' || coalesce(last_error, '') FROM stream_pipelines
              WHERE name = '$1'")
    [[ $last == running* ]] && (($(echo "$last" | cut -d' ' -f2) >= $2))
}

q "CREATE EXTENSION arroyo_stream;
   CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
   CREATE FOREIGN TABLE slow (counter bigint) SERVER imp
     OPTIONS (event_rate '1', message_count '1000');
   CREATE SERVER hole FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'blackhole');
   CREATE FOREIGN TABLE nowhere (n bigint, s text) SERVER hole;
   CREATE FUNCTION many_lines(n int) RETURNS SETOF text LANGUAGE plpgsql AS \$\$
   BEGIN
     RETURN QUERY SELECT repeat('x', 100) || g FROM generate_series(1, n) g;
   END \$\$;" >/dev/null

# check NAME QUERY ROWS_PER_INPUT_ROW
check() {
    arroyo_log "$1"
    q "SELECT stream_create('$1', \$\$$2\$\$); SELECT stream_start('$1');" >/dev/null
    wait_for "$1 to expand 3 input rows" rows_out_at_least "$1" $((3 * $3))
    local pid kb
    pid=$(q "SELECT pid FROM stream_pipelines WHERE name = '$1'")
    kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
    [[ -n $kb ]] || arroyo_die "$1: no VmHWM for worker $pid"
    ((kb < 200 * 1024)) || arroyo_die "$1: the worker's peak resident memory is $((kb / 1024)) MB"
    echo "ok: $1: peak resident memory $((kb / 1024)) MB after $(echo "$last" | cut -d' ' -f2) rows"
    q "SELECT stream_stop('$1')" >/dev/null
    expect_eq "$1 stops" stopped "$(q "SELECT state FROM stream_pipelines WHERE name = '$1'")"
    echo "ok: $1 stops"
}

check value_per_call "INSERT INTO nowhere SELECT g, repeat('x', 100) || g
  FROM slow, generate_series(1, 3000000) g" 3000000
check materialize "INSERT INTO nowhere SELECT counter, many_lines(2000000) FROM slow" 2000000

echo "ok: srf_memory test passed"
