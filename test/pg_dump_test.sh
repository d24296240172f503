#!/usr/bin/env bash
# pg_dump / restore of a database with pipelines: _arroyo_stream.pipelines (and its id
# sequence) are extension configuration tables (pg_extension_config_dump), so a plain pg_dump
# carries the pipelines over, and a restored pipeline can run.  Uses its own temporary instance
# (port 55442, ARROYO_PG_DUMP_PORT overrides).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_test_instance pg_dump "${ARROYO_PG_DUMP_PORT:-55442}"

bindir=$(pg_bindir)
dump_dir=$ARROYO_WORK_ROOT/tests/pg_dump_files
rm -rf -- "$dump_dir"
arroyo_work_dir "$dump_dir"
arroyo_on_exit "rm -rf -- '$dump_dir'"
dump_file=$dump_dir/src.sql

# q DB SQL: one query, unaligned tuples-only output.
q() {
    pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -d "$1" -Atq -c "$2"
}

# expect WHAT EXPECTED ACTUAL
expect() {
    if [[ $3 != "$2" ]]; then
        printf -- '--- expected ---\n%s\n--- got ---\n%s\n' "$2" "$3" >&2
        arroyo_die "$1: mismatch (above)"
    fi
}

# --- source database ---------------------------------------------------------------------------
arroyo_log "set up database src"
q postgres "CREATE DATABASE src" >/dev/null
q src "
CREATE EXTENSION arroyo_stream;
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE ten (counter bigint, subtask_index int) SERVER imp
  OPTIONS (event_rate '0', message_count '10');
CREATE FOREIGN TABLE twenty_five (counter bigint) SERVER imp
  OPTIONS (event_rate '0', message_count '25');
CREATE TABLE done_out (n bigint NOT NULL, doubled bigint);
CREATE TABLE later_out (n bigint NOT NULL);
" >/dev/null
q src "SELECT stream_create('done', 'INSERT INTO done_out SELECT counter, counter * 2 FROM ten')" \
    >/dev/null
q src "SELECT stream_start('done')" >/dev/null
expect "stream_wait('done') in src" finished "$(q src "SELECT stream_wait('done')")"
q src "SELECT stream_create('later', 'INSERT INTO later_out SELECT counter FROM twenty_five')" \
    >/dev/null
expect "done_out in src" "10|0|9|90" \
    "$(q src "SELECT count(*) || '|' || min(n) || '|' || max(n) || '|' || sum(doubled)
              FROM done_out")"

pipelines_sql="SELECT name, state, query FROM stream_pipelines ORDER BY name"
expected_pipelines="done|finished|INSERT INTO done_out SELECT counter, counter * 2 FROM ten
later|created|INSERT INTO later_out SELECT counter FROM twenty_five"
src_pipelines=$(q src "$pipelines_sql")
expect "pipelines in src" "$expected_pipelines" "$src_pipelines"
# Everything the catalog holds about them (owner, counters, times, errors).
catalog_sql="SELECT id, name, query, owner, state, created_at, started_at, finished_at,
                    rows_in, rows_out, bad_rows, late_rows, last_error
             FROM _arroyo_stream.pipelines ORDER BY id"
src_catalog=$(q src "$catalog_sql")

# --- dump and restore --------------------------------------------------------------------------
arroyo_log "pg_dump src > $dump_file"
as_pg_user "$bindir/pg_dump" -h "$PGTEST_DIR" -p "$PGTEST_PORT" -U "$ARROYO_PG_USER" \
    -f "$dump_file" src || arroyo_die "pg_dump failed"
grep -q '^COPY _arroyo_stream.pipelines ' "$dump_file" ||
    arroyo_die "the dump has no data for _arroyo_stream.pipelines"

arroyo_log "createdb restored; psql -f $dump_file"
as_pg_user "$bindir/createdb" -h "$PGTEST_DIR" -p "$PGTEST_PORT" -U "$ARROYO_PG_USER" restored ||
    arroyo_die "createdb restored failed"
restore_log=$dump_dir/restore.log
if ! as_pg_user "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGTEST_DIR" -p "$PGTEST_PORT" \
    -U "$ARROYO_PG_USER" -d restored -f "$dump_file" >"$restore_log" 2>&1; then
    cat "$restore_log" >&2
    arroyo_die "restoring the dump failed (output above)"
fi
if grep -E 'ERROR|WARNING' "$restore_log"; then
    arroyo_die "restoring the dump reported errors or warnings (above)"
fi

# --- compare -----------------------------------------------------------------------------------
expect "pipelines in restored (vs src)" "$src_pipelines" "$(q restored "$pipelines_sql")"
expect "catalog rows in restored (vs src)" "$src_catalog" "$(q restored "$catalog_sql")"
expect "done_out in restored" "10|0|9|90" \
    "$(q restored "SELECT count(*) || '|' || min(n) || '|' || max(n) || '|' || sum(doubled)
                   FROM done_out")"
expect "later_out in restored before the run" 0 "$(q restored "SELECT count(*) FROM later_out")"
echo "ok: stream_pipelines (name, state, query) and the catalog rows are identical after restore"

# --- run the restored pipeline -----------------------------------------------------------------
arroyo_log "run 'later' in restored"
q restored "SELECT stream_start('later')" >/dev/null
expect "stream_wait('later') in restored" finished "$(q restored "SELECT stream_wait('later')")"
expect "later_out in restored" "25|0|24|25|300" \
    "$(q restored "SELECT count(*) || '|' || min(n) || '|' || max(n) || '|' ||
                          count(DISTINCT n) || '|' || sum(n) FROM later_out")"
expect "later in restored" "finished|25|25|null" \
    "$(q restored "SELECT state || '|' || rows_in || '|' || rows_out || '|' ||
                          coalesce(last_error, 'null') FROM stream_pipelines WHERE name = 'later'")"
# The source database is untouched by that run.
expect "later in src after the restored run" "created|0" \
    "$(q src "SELECT state || '|' || (SELECT count(*) FROM later_out)
              FROM stream_pipelines WHERE name = 'later'")"
# The id sequence was restored too: a new pipeline gets a fresh id.
q restored "SELECT stream_create('third', 'INSERT INTO later_out SELECT counter FROM ten')" \
    >/dev/null
expect "ids in restored" "1|done
2|later
3|third" "$(q restored "SELECT id || '|' || name FROM _arroyo_stream.pipelines ORDER BY id")"
echo "ok: the restored pipeline runs to completion (25 rows) and new pipelines get fresh ids"
echo "ok: pg_dump test passed"
