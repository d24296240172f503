#!/usr/bin/env bash
# Checkpoints and recovery (issue 6): pipelines are killed in every way we can while they run,
# and afterwards their outputs are exactly what an uninterrupted run gives — nothing lost,
# nothing doubled. Uses its own instance (port 55444, ARROYO_RECOVERY_PORT overrides).
#
#   pipelines, all over impulse sources with deterministic event times:
#     w  tumble window -> table (count, sum, avg: an `internal` state with serialization
#        functions, and array_agg: a state without them, rebuilt from its kept inputs)
#     u  updating aggregate -> keyed table (count, sum, min, max, avg)
#     f  projection -> single_file sink (exactly-once by truncating to the checkpoint)
#   faults, ARROYO_RECOVERY_CYCLES rounds (default 12) of one of:
#     term       pg_terminate_backend on every pipeline worker (the supervisor resumes them)
#     sigkill    kill -9 of one worker (the postmaster's crash recovery restarts everything)
#     immediate  pg_ctl stop -m immediate, then start
#   then every pipeline is waited for to finish, and its output compared with the batch
#   query's result; stream_drop leaves no state behind.
# A longer soak: ARROYO_RECOVERY_CYCLES=200 ARROYO_RECOVERY_EVENTS=2000000 test/run.sh recovery
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_test_instance recovery "${ARROYO_RECOVERY_PORT:-55444}"

CYCLES=${ARROYO_RECOVERY_CYCLES:-12}
EVENTS=${ARROYO_RECOVERY_EVENTS:-120000}
RATE=${ARROYO_RECOVERY_RATE:-4000}
POLL_TIMEOUT=60
OUT_FILE=$PGTEST_DIR/f_out.json

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }

expect() {
    if [[ $3 != "$2" ]]; then
        arroyo_die "$1: expected
$2
--- got ---
$3"
    fi
}

pg_ctl_run() {
    as_pg_user "$(pg_bindir)/pg_ctl" -D "$PGTEST_DIR" -l "$PGTEST_DIR/server.log" -w -t 60 "$@" \
        >/dev/null || arroyo_die "pg_ctl $* failed (log: $PGTEST_DIR/server.log)"
}

# Condition: every pipeline has either finished or runs with a worker.
all_resumed() {
    last=$(q "SELECT string_agg(name || ':' || state || ':' || coalesce(pid::text, '-'), ' '
                                ORDER BY name)
              FROM stream_pipelines" 2>&1) || return 1
    [[ $last != *failed* && $last != *stopped* && ! $last =~ running:- ]] &&
        [[ $last =~ ^(f|u|w) ]]
}

all_finished() {
    last=$(q "SELECT string_agg(name || ':' || state, ' ' ORDER BY name) FROM stream_pipelines" \
        2>&1) || return 1
    [[ $last == "f:finished u:finished w:finished" ]]
}

q "
CREATE EXTENSION arroyo_stream;
CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
CREATE SERVER files FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'single_file');
CREATE FOREIGN TABLE ticks (counter bigint) SERVER imp
  OPTIONS (event_rate '$RATE', message_count '$EVENTS', start_time '2026-01-01 00:00:00+00',
           event_time_interval '1 millisecond');
CREATE FOREIGN TABLE f_out (counter bigint, twice bigint) SERVER files
  OPTIONS (path '$OUT_FILE', format 'json', type 'sink');
CREATE TABLE w (win tstzrange, k bigint, n bigint, s numeric, av numeric, a bigint[],
                PRIMARY KEY (win, k));
CREATE TABLE u (k bigint PRIMARY KEY, n bigint, s numeric, lo bigint, hi bigint, av numeric);
SELECT stream_create('w', \$\$INSERT INTO w
  SELECT tumble(interval '1 second'), counter % 3, count(*), sum(counter), avg(counter),
         array_agg(counter) FILTER (WHERE counter % 500 = 0)
  FROM ticks GROUP BY 1, 2\$\$);
SELECT stream_create('u', \$\$INSERT INTO u
  SELECT counter % 11, count(*), sum(counter), min(counter), max(counter), avg(counter)
  FROM ticks GROUP BY 1\$\$);
SELECT stream_create('f', 'INSERT INTO f_out SELECT counter, counter * 2 FROM ticks');
SELECT stream_start('w'), stream_start('u'), stream_start('f');
" >/dev/null
wait_for "the pipelines to run" all_resumed
echo "ok: pipelines w, u and f running ($EVENTS events at $RATE/s each)"

faults=(term sigkill term immediate term immediate sigkill term immediate term immediate term)
declare -A done_faults=()
for ((cycle = 1; cycle <= CYCLES; cycle++)); do
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.1f", 0.5 + (r % 20) / 10 }')"
    fault=${faults[$(((cycle - 1) % ${#faults[@]}))]}
    if all_finished; then
        arroyo_log "cycle $cycle: the pipelines have already finished; no more faults"
        break
    fi
    arroyo_log "cycle $cycle: $fault"
    case $fault in
        term)
            q "SELECT count(pg_terminate_backend(pid)) FROM stream_pipelines WHERE pid IS NOT NULL" \
                >/dev/null
            ;;
        sigkill)
            pid=$(q "SELECT pid FROM stream_pipelines WHERE pid IS NOT NULL ORDER BY random() LIMIT 1")
            [[ -n $pid ]] && kill -9 "$pid"
            # The postmaster notices the crash, ends every backend and reinitializes.
            sleep 1
            ;;
        immediate)
            pg_ctl_run -m immediate stop
            pg_ctl_run start
            ;;
    esac
    done_faults[$fault]=$((${done_faults[$fault]:-0} + 1))
    wait_for "the pipelines to resume after $fault" all_resumed
done
summary=""
for f in "${!done_faults[@]}"; do summary+="$f=${done_faults[$f]} "; done
echo "ok: faults injected: ${summary:-none}"

POLL_TIMEOUT=$((EVENTS / RATE * 3 + 120))
wait_for "the pipelines to finish" all_finished
expect "errors of the pipelines" "" \
    "$(q "SELECT string_agg(name || ': ' || last_error, '; ') FROM stream_pipelines
          WHERE last_error IS NOT NULL")"

# --- exact outputs -------------------------------------------------------------------------
expected_w="
SELECT tstzrange(t0 + (c / 1000) * interval '1 second', t0 + (c / 1000 + 1) * interval '1 second'),
       c % 3, count(*), sum(c), avg(c),
       coalesce(array_agg(c ORDER BY c) FILTER (WHERE c % 500 = 0), '{}')
FROM generate_series(0::bigint, $EVENTS - 1) c,
     (SELECT timestamptz '2026-01-01 00:00:00+00' AS t0) s
GROUP BY 1, 2"
actual_w="
SELECT win, k, n, s, av, coalesce((SELECT array_agg(x ORDER BY x) FROM unnest(a) x), '{}') FROM w"
expect "window rows missing from w" 0 "$(q "SELECT count(*) FROM (($expected_w) EXCEPT ($actual_w)) x")"
expect "window rows in w that should not be there" 0 \
    "$(q "SELECT count(*) FROM (($actual_w) EXCEPT ($expected_w)) x")"
expect "rows of w" "$((EVENTS / 1000 * 3))" "$(q "SELECT count(*) FROM w")"
echo "ok: w holds every window exactly once, with exact aggregates"

expected_u="SELECT c % 11, count(*), sum(c), min(c), max(c), avg(c)
            FROM generate_series(0::bigint, $EVENTS - 1) c GROUP BY 1"
expect "rows of u differing from the batch query" 0 \
    "$(q "SELECT count(*) FROM ((($expected_u) EXCEPT (SELECT * FROM u))
                                UNION ALL ((SELECT * FROM u) EXCEPT ($expected_u))) x")"
expect "rows of u" 11 "$(q "SELECT count(*) FROM u")"
echo "ok: u equals the batch aggregate"

expect "lines of the file sink (total, distinct, min, max, twice ok)" \
    "$EVENTS|$EVENTS|0|$((EVENTS - 1))|t" \
    "$(q "SELECT count(*) || '|' || count(DISTINCT (j->>'counter')) || '|' ||
                 min((j->>'counter')::bigint) || '|' || max((j->>'counter')::bigint) || '|' ||
                 CASE WHEN bool_and((j->>'twice')::bigint = 2 * (j->>'counter')::bigint)
                      THEN 't' ELSE 'f' END
          FROM (SELECT l::json AS j
                FROM regexp_split_to_table(rtrim(pg_read_file('$OUT_FILE'), E'\n'), E'\n') l) x")"
echo "ok: the file sink holds every row exactly once"

# --- checkpoints are visible, and stream_drop removes them -----------------------------------
expect "checkpoints recorded" "f|t u|t w|t" \
    "$(q "SELECT string_agg(pipeline || '|' || CASE WHEN count > 0 AND last_ok THEN 't' ELSE 'f' END, ' '
                            ORDER BY pipeline)
          FROM (SELECT pipeline, count(*) AS count,
                       bool_and(epoch > 0 AND bytes >= 0 AND duration >= interval '0') AS last_ok
                FROM stream_checkpoints GROUP BY pipeline) c")"
expect "last_checkpoint_at" "3" \
    "$(q "SELECT count(*) FROM stream_pipelines WHERE last_checkpoint_at IS NOT NULL")"
q "SELECT stream_drop('w'), stream_drop('u'), stream_drop('f')" >/dev/null
expect "state left after stream_drop" "0|0" \
    "$(q "SELECT (SELECT count(*) FROM _arroyo_stream.state) || '|' ||
                 (SELECT count(*) FROM _arroyo_stream.checkpoints)")"
echo "ok: recovery test passed"
