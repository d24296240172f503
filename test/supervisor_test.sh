#!/usr/bin/env bash
# The supervisor (src/worker/supervisor.cpp) across server restarts, crashes and worker deaths.
# Uses its own temporary instance (port 55441, ARROYO_SUPERVISOR_PORT overrides).
#
#   a. running pipelines (p and r in postgres, q in db2) write rows;
#   b. after `pg_ctl restart -m fast` the supervisor starts them again by itself, in every
#      database, and they write rows again;
#   c. a worker killed with pg_terminate_backend is started again by the supervisor, which
#      resumes it from its last checkpoint: its rows continue without a gap or a duplicate;
#   d. stopped and finished pipelines are not started by a restart;
#   e. after `pg_ctl stop -m immediate` (a crash) and a start, running pipelines run again;
#   f. a pipeline whose worker dies at every start before making progress is restarted only
#      5 times, then fails with a clear error; stream_start then runs it again.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_test_instance supervisor "${ARROYO_SUPERVISOR_PORT:-55441}"

POLL_TIMEOUT=30

# q DB SQL: one query, unaligned tuples-only output.
q() {
    pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -d "$1" -Atq -c "$2"
}


# expect WHAT EXPECTED ACTUAL
expect() {
    if [[ $3 != "$2" ]]; then
        arroyo_die "$1: expected '$2', got '$3'"
    fi
}

# Condition: pipeline NAME in DB is running with a worker (pid not null), as reported by
# stream_pipelines, and that worker is an arroyo_stream pipeline backend.
pipeline_running() {
    local db=$1 name=$2
    last=$(q "$db" "SELECT p.state || '|' || coalesce(p.pid::text, 'null') || '|' ||
                           coalesce(a.backend_type, 'no backend')
                    FROM stream_pipelines p LEFT JOIN pg_stat_activity a ON a.pid = p.pid
                    WHERE p.name = '$name'" 2>&1) || return 1
    [[ $last =~ ^running\|[0-9]+\|arroyo_stream\ pipeline$ ]]
}

# Condition: the row count of TABLE in DB is greater than MIN.
rows_above() {
    local db=$1 table=$2 min=$3
    last=$(q "$db" "SELECT count(*) FROM $table" 2>&1) || return 1
    [[ $last =~ ^[0-9]+$ ]] && ((last > min))
}

# Condition: pipeline NAME in DB has ended for good: no worker slot any more (pid null) and
# both stream_pipelines and the catalog show a state other than running.
pipeline_settled() {
    local db=$1 name=$2
    last=$(q "$db" "SELECT v.state || '|' || coalesce(v.pid::text, 'null') || '|' || c.state
                    FROM stream_pipelines v JOIN _arroyo_stream.pipelines c USING (name)
                    WHERE name = '$name'" 2>&1) || return 1
    [[ $last =~ ^[a-z]+\|null\|[a-z]+$ && $last != running* && $last != *running ]]
}

# view_row DB NAME: state|pid|last_error from stream_pipelines.
view_row() {
    q "$1" "SELECT state || '|' || coalesce(pid::text, 'null') || '|' || coalesce(last_error, 'null')
            FROM stream_pipelines WHERE name = '$2'"
}

# catalog_row DB NAME: state|last_error from the catalog table itself.
catalog_row() {
    q "$1" "SELECT state || '|' || coalesce(last_error, 'null')
            FROM _arroyo_stream.pipelines WHERE name = '$2'"
}

# Condition: no arroyo_stream launcher backend is running (the supervisor's per-database pass
# is over).
no_launcher() {
    last=$(q postgres "SELECT count(*) FROM pg_stat_activity
                       WHERE backend_type = 'arroyo_stream launcher'" 2>&1) || return 1
    [[ $last == 0 ]]
}

pid_of() {
    q "$1" "SELECT pid FROM stream_pipelines WHERE name = '$2'"
}


restart_fast() {
    arroyo_log "pg_ctl restart -m fast"
    pg_test_ctl -m fast restart
}

# Waits until pipeline NAME in DB runs a worker again after a (re)start and writes rows again:
# the count of TABLE must grow past what it was once the worker runs. OLD_PID, if given, must
# differ from the new worker's pid.
expect_resumed() {
    local db=$1 name=$2 table=$3 old_pid=${4:-}
    wait_for "pipeline $name in $db to run again" pipeline_running "$db" "$name"
    local pid count
    pid=$(pid_of "$db" "$name")
    if [[ -n $old_pid && $pid == "$old_pid" ]]; then
        arroyo_die "pipeline $name in $db still reports the pre-restart pid $old_pid"
    fi
    expect "catalog of $name in $db" "running|null" "$(catalog_row "$db" "$name")"
    count=$(q "$db" "SELECT count(*) FROM $table")
    wait_for "rows in $db.$table to grow past $count" rows_above "$db" "$table" "$count"
    echo "ok: $name in $db running again (pid $pid), $table grew past $count rows"
}

setup_sql="
CREATE EXTENSION arroyo_stream;
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE FOREIGN TABLE slow (counter bigint) SERVER imp OPTIONS (event_rate '50');
CREATE FOREIGN TABLE ten (counter bigint) SERVER imp OPTIONS (event_rate '0', message_count '10');
CREATE TABLE t (n bigint);
"

# --- a. a running pipeline -------------------------------------------------------------------
arroyo_log "a. running pipelines in postgres and db2"
q postgres "$setup_sql" >/dev/null
q postgres "SELECT stream_create('p', 'INSERT INTO t SELECT counter FROM slow')" >/dev/null
q postgres "SELECT stream_start('p')" >/dev/null
wait_for "rows from p" rows_above postgres t 0
wait_for "p to run" pipeline_running postgres p
# A second running pipeline in postgres, left running throughout: once it runs again after a
# restart, postgres's launcher has started (and no_launcher then says it has finished).
q postgres "CREATE TABLE t_r (n bigint)" >/dev/null
q postgres "SELECT stream_create('r', 'INSERT INTO t_r SELECT counter FROM slow')" >/dev/null
q postgres "SELECT stream_start('r')" >/dev/null
wait_for "rows from r" rows_above postgres t_r 0
wait_for "r to run" pipeline_running postgres r

q postgres "CREATE DATABASE db2" >/dev/null
q db2 "$setup_sql" >/dev/null
q db2 "SELECT stream_create('q', 'INSERT INTO t SELECT counter FROM slow')" >/dev/null
q db2 "SELECT stream_start('q')" >/dev/null
wait_for "rows from q in db2" rows_above db2 t 0
wait_for "q in db2 to run" pipeline_running db2 q
echo "ok: p, r (postgres) and q (db2) running and writing rows"

# --- b. fast restart -------------------------------------------------------------------------
arroyo_log "b. fast restart: the supervisor starts the running pipelines again"
p_pid=$(pid_of postgres p)
r_pid=$(pid_of postgres r)
q_pid=$(pid_of db2 q)
restart_fast
expect_resumed postgres p t "$p_pid"
expect_resumed postgres r t_r "$r_pid"
expect_resumed db2 q t "$q_pid"

# --- c. worker death -------------------------------------------------------------------------
arroyo_log "c. pg_terminate_backend on p's worker"
q_pid=$(pid_of db2 q)
r_pid=$(pid_of postgres r)
p_pid=$(pid_of postgres p)
expect "pg_terminate_backend" t \
    "$(q postgres "SELECT pg_terminate_backend(pid) FROM stream_pipelines WHERE name = 'p'")"
expect_resumed postgres p t "$p_pid"
# The other pipelines are unaffected (same workers).
expect "r's pid after p's death" "$r_pid" "$(pid_of postgres r)"
expect "q's pid after p's death" "$q_pid" "$(pid_of db2 q)"
# p resumed from its checkpoint: its counters continue where the committed ones stopped.
expect "p's rows: one per counter, no gap" t \
    "$(q postgres "SELECT count(*) = count(DISTINCT n) AND min(n) = 0 AND max(n) = count(*) - 1
                   FROM t")"
grep -q 'the worker of pipeline "p" died (pipeline worker was terminated); resuming it' \
    "$PGTEST_DIR/server.log" || arroyo_die "the server log does not say p was resumed"
echo "ok: terminated worker resumed from its checkpoint, rows exactly once"
q postgres "SELECT stream_stop('p')" >/dev/null
expect "stream_wait('p')" stopped "$(q postgres "SELECT stream_wait('p')")"

# --- d. stopped and finished pipelines stay so -----------------------------------------------
arroyo_log "d. stopped and finished pipelines are not restarted"
q postgres "CREATE TABLE t_s (n bigint); CREATE TABLE t_f (n bigint);" >/dev/null
q postgres "SELECT stream_create('s', 'INSERT INTO t_s SELECT counter FROM slow')" >/dev/null
q postgres "SELECT stream_start('s')" >/dev/null
wait_for "rows from s" rows_above postgres t_s 0
q postgres "SELECT stream_stop('s')" >/dev/null
expect "stream_wait('s')" stopped "$(q postgres "SELECT stream_wait('s')")"
q postgres "SELECT stream_create('f', 'INSERT INTO t_f SELECT counter FROM ten')" >/dev/null
q postgres "SELECT stream_start('f')" >/dev/null
expect "stream_wait('f')" finished "$(q postgres "SELECT stream_wait('f')")"
s_rows=$(q postgres "SELECT count(*) FROM t_s")
expect "stopped pipeline's catalog rows_out" "$s_rows" \
    "$(q postgres "SELECT rows_out FROM stream_pipelines WHERE name = 's'")"

r_pid=$(pid_of postgres r)
q_pid=$(pid_of db2 q)
restart_fast
expect_resumed postgres r t_r "$r_pid"
expect_resumed db2 q t "$q_pid"
wait_for "the launchers to finish" no_launcher
expect "pipelines after restart" \
    "f|finished|null|null
p|stopped|null|null
r|running|set|null
s|stopped|null|null" \
    "$(q postgres "SELECT name || '|' || state || '|' ||
                          CASE WHEN pid IS NULL THEN 'null' ELSE 'set' END || '|' ||
                          coalesce(last_error, 'null')
                   FROM stream_pipelines ORDER BY name")"
expect "rows of the stopped pipeline s" "$s_rows" "$(q postgres "SELECT count(*) FROM t_s")"
expect "rows of the finished pipeline f" "10|0|9|10" \
    "$(q postgres "SELECT count(*) || '|' || min(n) || '|' || max(n) || '|' || count(DISTINCT n)
                   FROM t_f")"
echo "ok: s stays stopped and f stays finished across a restart (pid null)"

# --- e. crash (immediate shutdown) -----------------------------------------------------------
arroyo_log "e. pg_ctl stop -m immediate, then start"
r_pid=$(pid_of postgres r)
q_pid=$(pid_of db2 q)
pg_test_ctl -m immediate stop
pg_test_ctl start
expect_resumed postgres r t_r "$r_pid"
expect_resumed db2 q t "$q_pid"
wait_for "the launchers to finish" no_launcher
expect "pipelines after the crash" \
    "f|finished|null
p|stopped|null
r|running|set
s|stopped|null" \
    "$(q postgres "SELECT name || '|' || state || '|' ||
                          CASE WHEN pid IS NULL THEN 'null' ELSE 'set' END
                   FROM stream_pipelines ORDER BY name")"
echo "ok: running pipelines run again after an immediate shutdown; the others stay as they were"

# --- f. a worker that keeps dying before it makes progress --------------------------------------
arroyo_log "f. a worker killed at every start, before any checkpoint"
q postgres "CREATE SERVER wsrv FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'websocket');
            CREATE FOREIGN TABLE silent (id int) SERVER wsrv OPTIONS (endpoint 'ws://127.0.0.1:1/x');
            CREATE TABLE t_silent (id int);
            SELECT stream_create('loop', 'INSERT INTO t_silent SELECT id FROM silent');
            SELECT stream_start('loop');" >/dev/null
last_pid=
for kill_no in 1 2 3 4 5; do
    wait_for "loop's worker (start $kill_no)" pipeline_running postgres loop
    pid=$(pid_of postgres loop)
    [[ $pid != "$last_pid" ]] || arroyo_die "loop still has the killed worker's pid $pid"
    q postgres "SELECT pg_terminate_backend($pid)" >/dev/null
    last_pid=$pid
done
wait_for "loop to give up" pipeline_settled postgres loop
expect "loop after 5 deaths" "failed|null|pipeline worker died 5 times in a row before making progress; not restarted automatically (each start counts until the pipeline commits a checkpoint or has run for a minute; the server log shows how the workers ended. Fix the cause, then stream_start resumes from the last checkpoint)" \
    "$(view_row postgres loop)"
q postgres "SELECT stream_start('loop')" >/dev/null
wait_for "loop to run again after stream_start" pipeline_running postgres loop
q postgres "SELECT stream_drop('loop')" >/dev/null
echo "ok: a worker dying at every start is given up after 5 starts; stream_start runs it again"

# Nothing in the log says a launcher or the supervisor failed.
if grep -E 'arroyo_stream (supervisor|launcher) exiting|could not start a launcher' \
    "$PGTEST_DIR/server.log"; then
    arroyo_die "the server log reports a supervisor/launcher failure (lines above)"
fi
echo "ok: supervisor test passed"
