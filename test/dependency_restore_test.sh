#!/usr/bin/env bash
# A pipeline's dependencies survive pg_dump: its view and the view's rule are dumped like any
# other view and rule, and restoring the rule records the view's dependency on the target
# again (pg_dump carries no pg_depend rows). After `pg_dump | psql` and after
# `pg_dump -Fc | pg_restore`, DROP of what a pipeline uses still fails naming the pipeline,
# renames made before the dump are in the restored query, and the pipelines run.
# Uses its own instance (port 55550, ARROYO_DEPENDENCY_RESTORE_PORT overrides).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_test_instance dependency_restore "${ARROYO_DEPENDENCY_RESTORE_PORT:-55550}"

bindir=$(pg_bindir)
dump_dir=$ARROYO_WORK_ROOT/tests/dependency_restore_files
rm -rf -- "$dump_dir"
arroyo_work_dir "$dump_dir"
arroyo_on_exit "rm -rf -- '$dump_dir'"

# q DB SQL: one query, unaligned tuples-only output.
q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -d "$1" -Atq -c "$2"; }
# q_err DB SQL: the statement's error message (it must fail).
q_err() {
    local out
    if out=$(pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -d "$1" -Atq -v VERBOSITY=default -c "$2" 2>&1); then
        arroyo_die "expected an error from: $2"
    fi
    printf '%s\n' "$out"
}
pg() { as_pg_user "$bindir/$1" -h "$PGTEST_DIR" -p "$PGTEST_PORT" -U "$ARROYO_PG_USER" "${@:2}"; }

arroyo_log "set up database src"
q postgres "CREATE DATABASE src" >/dev/null
q src "
CREATE EXTENSION arroyo_stream;
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE ten (counter bigint) SERVER imp OPTIONS (event_rate '0', message_count '10');
CREATE FUNCTION label(bigint) RETURNS text LANGUAGE sql IMMUTABLE AS \$\$ SELECT 'n' || \$1 \$\$;
CREATE TABLE out (n bigint, l text);
CREATE TABLE totals (k bigint PRIMARY KEY, c bigint);
SELECT stream_create('labels', \$\$SET checkpoint_interval = '2 s';
  INSERT INTO out SELECT counter, label(counter) FROM ten\$\$);
SELECT stream_create('totals', 'INSERT INTO totals SELECT counter % 3, count(*) FROM ten GROUP BY 1');
SELECT stream_start('totals');
" >/dev/null
expect_eq "totals finished in src" finished "$(q src "SELECT stream_wait('totals')")"
# Renamed after stream_create: the dump holds the names of now.
q src "ALTER TABLE out RENAME COLUMN l TO label_text;
       ALTER FUNCTION label(bigint) RENAME TO describe_n;
       ALTER FOREIGN TABLE ten RENAME TO ten_ticks;" >/dev/null
pipelines_sql="SELECT name || '|' || state || '|' || query FROM stream_pipelines ORDER BY name"
src_pipelines=$(q src "$pipelines_sql")
expect_eq "renamed query in src" "labels|created|SET checkpoint_interval = '2 s';
INSERT INTO \"out\" (n, label_text)
SELECT ten_ticks.counter AS n,
    describe_n(ten_ticks.counter) AS l
   FROM ten_ticks
totals|finished|INSERT INTO totals (k, c)
SELECT (ten_ticks.counter % (3)::bigint) AS k,
    count(*) AS c
   FROM ten_ticks
  GROUP BY (ten_ticks.counter % (3)::bigint)" "$src_pipelines"

# check DB: what the restored database must show.
check() {
    local db=$1
    expect_eq "pipelines in $db" "$src_pipelines" "$(q "$db" "$pipelines_sql")"
    expect_eq "DROP TABLE out in $db" "ERROR:  cannot drop table \"out\" because other objects depend on it
DETAIL:  view _arroyo_stream.\"pipeline labels\" depends on table \"out\"
HINT:  Use DROP ... CASCADE to drop the dependent objects too." "$(q_err "$db" "DROP TABLE out")"
    expect_eq "DROP FUNCTION in $db" "ERROR:  cannot drop function describe_n(bigint) because other objects depend on it
DETAIL:  view _arroyo_stream.\"pipeline labels\" depends on function describe_n(bigint)
HINT:  Use DROP ... CASCADE to drop the dependent objects too." \
        "$(q_err "$db" "DROP FUNCTION describe_n(bigint)")"
    expect_eq "totals kept its rows in $db" "0|4
1|3
2|3" "$(q "$db" "SELECT k || '|' || c FROM totals ORDER BY k")"
    q "$db" "SELECT stream_start('labels')" >/dev/null
    expect_eq "labels finished in $db" finished "$(q "$db" "SELECT stream_wait('labels')")"
    expect_eq "labels' rows in $db" "10|n0|n9" \
        "$(q "$db" "SELECT count(*) || '|' || min(label_text) || '|' || max(label_text) FROM out")"
    # CASCADE of the target drops the pipeline (the restored dependency, not only the rule's).
    expect_eq "CASCADE in $db" "totals|0" \
        "$(q "$db" "DROP TABLE out CASCADE;
                    SELECT string_agg(name, ',' ORDER BY name) || '|' ||
                           (SELECT count(*) FROM pg_class WHERE relname = 'pipeline labels')
                    FROM stream_pipelines" 2>/dev/null)"
}

arroyo_log "pg_dump src | psql restored"
pg createdb restored
dump_file_plain=$dump_dir/src.sql
pg pg_dump -f "$dump_file_plain" src || arroyo_die "pg_dump failed"
restore_log=$dump_dir/restore.log
if ! pg psql -X -q -v ON_ERROR_STOP=1 -d restored -f "$dump_file_plain" >"$restore_log" 2>&1; then
    cat "$restore_log" >&2
    arroyo_die "restoring the plain dump failed (output above)"
fi
if grep -E 'ERROR|WARNING' "$restore_log"; then arroyo_die "the restore reported problems (above)"; fi
check restored
echo "ok: pg_dump | psql restores the pipelines with their dependencies"

arroyo_log "pg_dump -Fc src | pg_restore -d restored_fc"
pg createdb restored_fc
pg pg_dump -Fc -f "$dump_dir/src.dump" src || arroyo_die "pg_dump -Fc failed"
if ! pg pg_restore -d restored_fc "$dump_dir/src.dump" >"$restore_log" 2>&1; then
    cat "$restore_log" >&2
    arroyo_die "pg_restore failed (output above)"
fi
check restored_fc
echo "ok: pg_restore restores the pipelines with their dependencies"
echo "ok: dependency restore test passed"
