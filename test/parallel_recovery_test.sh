#!/usr/bin/env bash
# Parallel pipelines (issue 21): pipelines running as 2 and 3 workers (SET parallelism) are
# killed in every way we can while they run — the leader, one follower, any worker with
# SIGKILL (the postmaster's crash recovery, with prepared transactions left behind), the whole
# server — and afterwards their outputs are exactly the batch queries' results: every worker's
# state, positions and target rows of an epoch commit together, or not at all. Uses its own
# instance (port 55612, ARROYO_PARALLEL_RECOVERY_PORT overrides).
#
#   pipelines over impulse sources with deterministic event times:
#     pu  updating aggregate -> keyed table, 2 workers
#     pw  tumble window -> table, 3 workers
#     pj  updating LEFT JOIN under an updating aggregate -> keyed table, 2 workers
#     pt  updating top-N over an updating aggregate (the top-N gathered into worker 0), 2
#     pf  projection -> single_file sink (gathered into worker 0, exactly-once by truncation), 3
#   faults, ARROYO_PARALLEL_RECOVERY_CYCLES rounds (default 10) of one of:
#     leader     pg_terminate_backend of every pipeline's leader (the supervisor resumes them)
#     follower   pg_terminate_backend of one follower of each pipeline (its leader exits as a
#                worker that died, and the supervisor resumes the pipeline)
#     sigkill    kill -9 of one worker, leader or follower (crash recovery of the server)
#     immediate  pg_ctl stop -m immediate, then start
#     rescale    stream_rescale of every running pipeline between 2 and 3 workers (stop with a
#                final checkpoint, start again, state redistributed by key group)
#     rescale_kill  the same, then kill -9 of a worker within the first second: usually before
#                the first checkpoint of the new workers, so the next start rescales again from
#                the old workers' checkpoint
# At the end: no prepared transaction is left, and each table equals the batch query.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_test_instance parallel_recovery "${ARROYO_PARALLEL_RECOVERY_PORT:-55612}"

CYCLES=${ARROYO_PARALLEL_RECOVERY_CYCLES:-10}
EVENTS=${ARROYO_PARALLEL_RECOVERY_EVENTS:-80000}
RATE=${ARROYO_PARALLEL_RECOVERY_RATE:-5000}
POLL_TIMEOUT=60
OUT_FILE=$PGTEST_DIR/pf_out.json

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }

# Condition: every pipeline has finished or runs with all its workers.
all_resumed() {
    last=$(q "SELECT string_agg(name || ':' || state || ':' || coalesce(pid::text, '-') || ':' ||
                                (SELECT count(*) FROM stream_workers w WHERE w.pipeline = p.name
                                   AND w.pid IS NOT NULL) || '/' || parallelism, ' ' ORDER BY name)
              FROM stream_pipelines p" 2>&1) || return 1
    [[ $last != *failed* && $last != *stopped* && ! $last =~ running:- ]] || return 1
    [[ $last =~ ^pf ]] || return 1
    # A running pipeline shows all its workers (a finished one none).
    local item
    for item in $last; do
        [[ $item == *:running:* && ${item##*:} != "2/2" && ${item##*:} != "3/3" ]] && return 1
    done
    return 0
}

all_finished() {
    last=$(q "SELECT string_agg(name || ':' || state, ' ' ORDER BY name) FROM stream_pipelines" 2>&1) ||
        return 1
    [[ $last == "pf:finished pj:finished pt:finished pu:finished pw:finished" ]]
}

q "
CREATE EXTENSION arroyo_stream;
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE ticks (counter bigint) SERVER imp
  OPTIONS (event_rate '$RATE', message_count '$EVENTS', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 millisecond');
CREATE FOREIGN TABLE halves (counter bigint) SERVER imp
  OPTIONS (event_rate '$((RATE / 2))', message_count '$((EVENTS / 2))',
           start_time '2026-01-01 00:00:00+00', event_time_interval '2 milliseconds');
CREATE TABLE pu (k bigint PRIMARY KEY, n bigint, s numeric, lo bigint, hi bigint);
SELECT stream_create('pu', \$\$SET parallelism = 2; INSERT INTO pu
  SELECT counter % 101, count(*), sum(counter), min(counter), max(counter)
  FROM ticks GROUP BY 1\$\$);
CREATE TABLE pw (win tstzrange, k bigint, n bigint, s numeric, PRIMARY KEY (win, k));
SELECT stream_create('pw', \$\$SET parallelism = 3; INSERT INTO pw
  SELECT tumble(interval '1 second'), counter % 5, count(*), sum(counter)
  FROM ticks GROUP BY 1, 2\$\$);
CREATE TABLE pj (k bigint PRIMARY KEY, n bigint, matched bigint, s numeric);
SELECT stream_create('pj', \$\$SET parallelism = 2; INSERT INTO pj
  SELECT t.counter % 7, count(*), count(x.counter), sum(x.counter)
  FROM ticks t LEFT JOIN halves x ON x.counter = t.counter GROUP BY 1\$\$);
CREATE TABLE pt (k bigint, n bigint, rn bigint);
SELECT stream_create('pt', \$\$SET parallelism = 2; INSERT INTO pt SELECT k, n, rn FROM (
    SELECT k, n, row_number() OVER (ORDER BY n DESC, k) AS rn
    FROM (SELECT counter % 13 AS k, count(*) AS n FROM ticks WHERE counter % 5 <> 0 GROUP BY 1) c) x
  WHERE rn <= 3\$\$);
CREATE FOREIGN TABLE pf_out (counter bigint, twice bigint) SERVER files
  OPTIONS (path '$OUT_FILE', format 'json', type 'sink');
SELECT stream_create('pf', 'SET parallelism = 3; INSERT INTO pf_out SELECT counter, counter * 2 FROM ticks');
SELECT stream_start('pu'), stream_start('pw'), stream_start('pj'), stream_start('pt'),
       stream_start('pf');
" >/dev/null
wait_for "the pipelines to run" all_resumed
expect_eq "parallelism shown" "pf:3 pj:2 pt:2 pu:2 pw:3" \
    "$(q "SELECT string_agg(name || ':' || parallelism, ' ' ORDER BY name) FROM stream_pipelines")"
echo "ok: pipelines pu, pw, pj, pt (2 or 3 workers each) and pf running, every worker in stream_workers"

# One fault (see the header).
inject_fault() {
    case $1 in
        leader)
            q "SELECT count(pg_terminate_backend(pid)) FROM stream_pipelines WHERE pid IS NOT NULL" \
                >/dev/null
            ;;
        follower)
            q "SELECT count(pg_terminate_backend(pid))
               FROM (SELECT DISTINCT ON (pipeline) pid FROM stream_workers
                     WHERE worker > 0 AND pid IS NOT NULL ORDER BY pipeline, random()) w" >/dev/null
            ;;
        sigkill)
            pid=$(q "SELECT pid FROM stream_workers WHERE pid IS NOT NULL ORDER BY random() LIMIT 1")
            [[ -n $pid ]] && kill -9 "$pid"
            sleep 1
            ;;
        immediate)
            pg_test_ctl -m immediate stop
            pg_test_ctl start
            ;;
        rescale | rescale_kill)
            q "SELECT count(stream_rescale(name, 5 - parallelism)) FROM stream_pipelines
               WHERE state = 'running' AND parallelism IN (2, 3)" >/dev/null
            if [[ $1 == rescale_kill ]]; then
                sleep "0.$((RANDOM % 9))"
                pid=$(q "SELECT pid FROM stream_workers WHERE pid IS NOT NULL ORDER BY random() LIMIT 1")
                [[ -n $pid ]] && kill -9 "$pid"
                sleep 1
            fi
            ;;
    esac
}
recovery_fault_cycles "$CYCLES" all_finished all_resumed \
    rescale follower rescale_kill leader sigkill rescale immediate rescale_kill follower sigkill

POLL_TIMEOUT=$((EVENTS / RATE * 3 + 120))
wait_for "the pipelines to finish" all_finished
expect_eq "errors of the pipelines" "" \
    "$(q "SELECT string_agg(name || ': ' || last_error, '; ') FROM stream_pipelines
          WHERE last_error IS NOT NULL")"
expect_eq "prepared transactions left" 0 "$(q "SELECT count(*) FROM pg_prepared_xacts")"

# --- exact outputs -------------------------------------------------------------------------
# Each actual table against its batch query: "rows differing|rows".
differ() {
    q "SELECT count(*) || '|' || (SELECT count(*) FROM $1)
       FROM ((($2) EXCEPT ALL (SELECT * FROM $1)) UNION ALL ((SELECT * FROM $1) EXCEPT ALL ($2))) x"
}
expect_eq "pu against the batch aggregate" "0|101" "$(differ pu "
    SELECT c % 101, count(*), sum(c), min(c), max(c)
    FROM generate_series(0::bigint, $EVENTS - 1) c GROUP BY 1")"
expect_eq "pw against the batch windows" "0|$((EVENTS / 1000 * 5))" "$(differ pw "
    SELECT tstzrange(timestamptz '2026-01-01 00:00:00+00' + (c / 1000) * interval '1 second',
                     timestamptz '2026-01-01 00:00:00+00' + (c / 1000 + 1) * interval '1 second'),
           c % 5, count(*), sum(c)
    FROM generate_series(0::bigint, $EVENTS - 1) c GROUP BY 1, 2")"
expect_eq "pj against the batch join" "0|7" "$(differ pj "
    SELECT c % 7, count(*), count(c) FILTER (WHERE c < $EVENTS / 2),
           sum(c) FILTER (WHERE c < $EVENTS / 2)
    FROM generate_series(0::bigint, $EVENTS - 1) c GROUP BY 1")"
expect_eq "pt against the batch top-N" "0|3" "$(differ pt "
    SELECT k, n, rn FROM (SELECT k, n, row_number() OVER (ORDER BY n DESC, k) AS rn
      FROM (SELECT c % 13 AS k, count(*) AS n FROM generate_series(0::bigint, $EVENTS - 1) c
            WHERE c % 5 <> 0 GROUP BY 1) c) x WHERE rn <= 3")"
echo "ok: pu, pw, pj and pt equal their batch queries"
expect_eq "lines of the file sink (total, distinct, min, max, twice ok)" \
    "$EVENTS|$EVENTS|0|$((EVENTS - 1))|t" \
    "$(q "SELECT count(*) || '|' || count(DISTINCT (j->>'counter')) || '|' ||
                 min((j->>'counter')::bigint) || '|' || max((j->>'counter')::bigint) || '|' ||
                 CASE WHEN bool_and((j->>'twice')::bigint = 2 * (j->>'counter')::bigint)
                      THEN 't' ELSE 'f' END
          FROM (SELECT l::json AS j
                FROM regexp_split_to_table(rtrim(pg_read_file('$OUT_FILE'), E'\n'), E'\n') l) x")"
echo "ok: the file sink holds every row exactly once"

# --- prepared transactions left by a crash in an epoch's commit -----------------------------
# The window between a worker's PREPARE and the leader's COMMIT PREPARED is too short for the
# faults above to hit reliably, so this leaves two prepared transactions the way a crash there
# would, for pipeline pu: one of the epoch its leader recorded as committed (the leader
# committed its own part, then died before the followers'), which the next start must commit,
# and one of the next epoch (never committed by the leader), which it must roll back.
q "CREATE TABLE marks (what text)" >/dev/null
record=$(q "SELECT (SELECT sum(get_byte(value, i)::numeric * 256::numeric ^ i) FROM generate_series(0, 7) i)::bigint
                   || ':' ||
                   (SELECT sum(get_byte(value, 8 + i)::numeric * 256::numeric ^ i) FROM generate_series(0, 7) i)::bigint
            FROM _arroyo_stream.state s JOIN _arroyo_stream.pipelines p ON p.id = s.pipeline_id
            WHERE p.name = 'pu' AND s.node = -2147483648")
run=${record%%:*}
last=${record##*:}
[[ -n $run && -n $last ]] || arroyo_die "no record of pu's committed epochs"
prefix=$(q "SELECT 'arroyo_stream:' || (SELECT oid FROM pg_database WHERE datname = current_database())
                   || ':' || id || ':' FROM _arroyo_stream.pipelines WHERE name = 'pu'")
q "BEGIN; INSERT INTO marks VALUES ('committed epoch'); PREPARE TRANSACTION '${prefix}${run}:${last}:1'" >/dev/null
q "BEGIN; INSERT INTO marks VALUES ('uncommitted epoch'); PREPARE TRANSACTION '${prefix}${run}:$((last + 1)):1'" >/dev/null
expect_eq "prepared transactions before the restart" 2 "$(q "SELECT count(*) FROM pg_prepared_xacts")"
q "SELECT stream_start('pu')" >/dev/null
expect_eq "restart of pu" finished "$(q "SELECT stream_wait('pu', '60 s')")"
expect_eq "prepared transactions after the restart" 0 "$(q "SELECT count(*) FROM pg_prepared_xacts")"
expect_eq "what the restart committed" "committed epoch" "$(q "SELECT string_agg(what, ',') FROM marks")"
echo "ok: a restart commits a prepared part of a committed epoch and rolls back one of an uncommitted epoch"

# stream_drop resolves what a crash left too: without it, a prepared transaction holding a lock
# on one of the pipeline's state rows would block the drop forever.
q "BEGIN; UPDATE _arroyo_stream.state SET value = value
   WHERE pipeline_id = (SELECT id FROM _arroyo_stream.pipelines WHERE name = 'pu')
     AND node = -2147483648;
   PREPARE TRANSACTION '${prefix}${run}:$((last + 7)):1'" >/dev/null
expect_eq "prepared transactions before the drop" 1 "$(q "SELECT count(*) FROM pg_prepared_xacts")"
q "SET statement_timeout = '60s'; SELECT stream_drop('pu')" >/dev/null
expect_eq "prepared transactions after the drop" 0 "$(q "SELECT count(*) FROM pg_prepared_xacts")"
echo "ok: stream_drop resolves a crash's prepared transactions instead of waiting on their locks"

q "SELECT stream_drop(name) FROM stream_pipelines" >/dev/null
expect_eq "state left after stream_drop" "0|0" \
    "$(q "SELECT (SELECT count(*) FROM _arroyo_stream.state) || '|' ||
                 (SELECT count(*) FROM _arroyo_stream.checkpoints)")"
echo "ok: parallel recovery test passed"
