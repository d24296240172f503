#!/usr/bin/env bash
# Benchmarks: prints one table of events per second (wall clock) and per CPU core used (events per
# CPU-second of the pipeline's worker). Not a test: nothing here passes or fails on speed.
#
# Usage: test/bench/run.sh [NAME...]     (names: the test/bench/*.sql files, default all)
#        test/bench/run.sh nexmark       (the group: every Nexmark query nexmark_qN*, in query
#                                         order, then its Kafka-sourced variants nexmark_kafka_*)
# Each NAME.sql defines a pipeline called `bench` and a table bench_meta(events) holding the
# number of source events; this script starts it, samples the worker's CPU time from /proc until it
# ends, and reports. Runs against a private instance in /var/tmp/arroyo_stream/bench.
#
# Optional, for sources fed by a server:
#   * test/bench/NAME.setup runs in the background before NAME.sql, with ARROYO_BENCH_AUX_PORT
#     (the bench port + 1, also psql's :aux_port in NAME.sql) and ARROYO_BENCH_SETUP_LOG in its
#     environment; the runner waits for a line "ready" in that log and kills it afterwards
#     (after the baseline, if any).
#   * NAME.baseline.sql, timed as a whole after the pipeline: the same work done another way (a
#     batch query over the same rows, triggers, an independent client); NAME.baseline_setup.sql,
#     if any, runs untimed before it (e.g. loads the same events into tables).
#   * a true bench_meta.stop_at_events says the source never ends: the runner stops the
#     pipeline once its rows_in reaches events, and the time runs until then.
#   * test/bench/nexmark_anchors.tsv: published per-core figures of other engines for a
#     benchmark (NAME<TAB>text), printed in a last column beside its row.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$ARROYO_ROOT"

if [[ ${ARROYO_SKIP_BUILD:-0} != 1 ]]; then
    ./scripts/install_deps.sh >/dev/null
    ./scripts/build.sh >/dev/null
    arroyo_server_settings_load # install_deps.sh may have installed another minor version
fi
dir=$ARROYO_WORK_ROOT/bench
port=${ARROYO_BENCH_PORT:-55480}
arroyo_work_dir "$dir" "$ARROYO_WORK_ROOT/bench-sql"
pg_instance_start "$dir" "$port" "${ARROYO_SERVER_SETTINGS[@]}" >/dev/null
arroyo_on_exit "pg_instance_stop '$dir' >/dev/null"

# nexmark_group: the Nexmark queries' benchmarks in query order (q0, q1, ..., q5, q5_count, ...,
# q22), then the Kafka-sourced variants.
nexmark_group() {
    local f
    for f in test/bench/nexmark_q*.sql; do
        f=$(basename "$f" .sql)
        [[ $f == *.* ]] || printf '%s %s\n' "${f#nexmark_q}" "$f"
    done | sort -n -k1,1 | awk '{ print $2 }'
    for f in test/bench/nexmark_kafka_*.sql; do
        f=$(basename "$f" .sql)
        [[ $f == *.* ]] || printf '%s\n' "$f"
    done
}

names=()
for n in "$@"; do
    if [[ $n == nexmark ]]; then
        mapfile -t -O "${#names[@]}" names < <(nexmark_group)
    else
        names+=("$n")
    fi
done
if (($# == 0)); then
    for f in test/bench/*.sql; do
        n=$(basename "$f" .sql)
        [[ $n == *.* ]] || names+=("$n") # NAME.baseline(_setup).sql belong to NAME
    done
    names+=(cdc cdc_join checkpoint_cost)
fi

# CPU seconds (user + system) a process has used so far, from /proc/PID/stat.
# cpu_ticks PID: sets CPU_TICKS to the process's user + system time in clock ticks; fails once
# it has exited. Neither it nor nap forks: the sampling loop below runs beside the pipeline's
# workers, and on a 2-core machine a loop forking `cat` and `sleep` every 10 ms took 0.4 of a
# core from a pipeline of 2 workers.
cpu_ticks() {
    local stat
    read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
    stat=${stat##*) }
    local -a f=($stat)
    CPU_TICKS=$((f[11] + f[12]))
}
# nap SECONDS: sleeps without a process (a read that times out on a pipe nobody writes).
exec {nap_fd}<> <(:)
nap() { read -r -t "$1" -u "$nap_fd" _ || true; }

# start_setup NAME: starts test/bench/NAME.setup if there is one and waits until it is ready.
setup_pid=
start_setup() {
    [[ -x test/bench/$1.setup ]] || return 0
    local log=$ARROYO_WORK_ROOT/bench-sql/$1.setup.log deadline=$((SECONDS + 120))
    rm -f "$log"
    ARROYO_BENCH_AUX_PORT=$((port + 1)) ARROYO_BENCH_SETUP_LOG=$log "test/bench/$1.setup" \
        >"$log.out" 2>&1 &
    setup_pid=$!
    arroyo_on_exit "kill $setup_pid 2>/dev/null || true"
    until grep -qx ready "$log" 2>/dev/null; do
        ((SECONDS < deadline)) || arroyo_die "$1.setup did not get ready (see $log.out)"
        sleep 0.1
    done
}

# anchor NAME: the published per-core figures for benchmark NAME, if any.
anchor() {
    [[ -f test/bench/nexmark_anchors.tsv ]] || return 0
    awk -F '\t' -v n="$1" '$1 == n { print $2 }' test/bench/nexmark_anchors.tsv
}

printf '%-24s %10s %10s %8s %8s %12s %14s %10s   %s\n' benchmark events rows_out wall_s cpu_s \
    events/s events/s/core state_MiB "published per core (test/bench/nexmark_anchors.tsv)"
for name in "${names[@]}"; do
    if [[ $name == cdc ]]; then
        # Change data capture: latency and throughput, next to a trigger and a materialized view.
        pg_psql "$dir" "$port" -q -c "DROP EXTENSION IF EXISTS arroyo_stream CASCADE" \
            -c "CREATE EXTENSION arroyo_stream" >/dev/null 2>&1
        "$PYTHON" test/bench/cdc.py "$(pg_conninfo "$dir" "$port")"
        continue
    fi
    if [[ $name == cdc_join ]]; then
        # Two tables joined by change data capture: latency, throughput, next to the batch query.
        pg_psql "$dir" "$port" -q -c "DROP EXTENSION IF EXISTS arroyo_stream CASCADE" \
            -c "CREATE EXTENSION arroyo_stream" >/dev/null 2>&1
        "$PYTHON" test/bench/cdc_join.py "$(pg_conninfo "$dir" "$port")"
        continue
    fi
    if [[ $name == checkpoint_cost ]]; then
        # Checkpoint duration at 1 million keys with 1% of them changed.
        pg_psql "$dir" "$port" -q -c "DROP EXTENSION IF EXISTS arroyo_stream CASCADE" \
            -c "CREATE EXTENSION arroyo_stream" >/dev/null 2>&1
        "$PYTHON" test/bench/checkpoint_cost.py "$(pg_conninfo "$dir" "$port")" \
            "$ARROYO_WORK_ROOT/bench-sql"
        continue
    fi
    # A fresh extension (matching the library just installed), without the last benchmark's
    # servers and foreign tables.
    pg_psql "$dir" "$port" -q -c "DROP EXTENSION IF EXISTS arroyo_stream CASCADE" \
        -c "CREATE EXTENSION arroyo_stream" >/dev/null 2>&1
    start_setup "$name"
    cp test/bench/*.sql "$ARROYO_WORK_ROOT/bench-sql/" # NAME.sql may include others (\ir)
    chown -R "$ARROYO_PG_USER:" "$ARROYO_WORK_ROOT/bench-sql" 2>/dev/null || true
    pg_psql "$dir" "$port" -q -o /dev/null -v aux_port=$((port + 1)) \
        -f "$ARROYO_WORK_ROOT/bench-sql/$name.sql" 2>&1 | grep -v NOTICE || true
    events=$(pg_psql "$dir" "$port" -Atq -c "SELECT events FROM bench_meta")
    stop_at_events=$(pg_psql "$dir" "$port" -Atq \
        -c "SELECT coalesce((to_jsonb(m)->>'stop_at_events')::boolean, false) FROM bench_meta m")
    start=$(date +%s.%N)
    pg_psql "$dir" "$port" -Atq -c "SELECT stream_start('bench')" >/dev/null
    pid=$(pg_psql "$dir" "$port" -Atq -c "SELECT pid FROM stream_pipelines WHERE name = 'bench'")
    # A pipeline of several workers (SET parallelism): the CPU time of all of them.
    pids=$pid
    workers=$(pg_psql "$dir" "$port" -Atq -c "SELECT parallelism FROM stream_pipelines WHERE name = 'bench'")
    if ((workers > 1)); then
        for ((try = 0; try < 500; try++)); do
            pids=$(pg_psql "$dir" "$port" -Atq -c "SELECT string_agg(pid::text, ' ') FROM stream_workers
                                                    WHERE pipeline = 'bench' AND pid IS NOT NULL")
            (($(wc -w <<<"$pids") >= workers)) && break
            sleep 0.01
        done
    fi
    declare -A cpu_of=()
    ticks=0
    end=
    round=0
    while [[ -n $pid ]] && cpu_ticks "$pid"; do
        ticks=0
        for p in $pids; do
            cpu_ticks "$p" && cpu_of[$p]=$CPU_TICKS
            ticks=$((ticks + ${cpu_of[$p]:-0}))
        done
        if [[ $stop_at_events == t && -z $end ]] && ((++round % 5 == 0)) &&
            (($(pg_psql "$dir" "$port" -Atq -c "SELECT rows_in FROM stream_pipelines
                                                WHERE name = 'bench'") >= events)); then
            end=$(date +%s.%N)
            pg_psql "$dir" "$port" -Atq -c "SELECT stream_stop('bench')" >/dev/null
        fi
        nap 0.01
    done
    state=$(pg_psql "$dir" "$port" -Atq -c "SELECT stream_wait('bench', '1 hour')")
    [[ -n $end ]] || end=$(date +%s.%N)
    expected=finished
    [[ $stop_at_events == t ]] && expected=stopped
    [[ $state == "$expected" ]] || arroyo_die "$name: pipeline ended $state: $(pg_psql "$dir" "$port" -Atq -c "SELECT last_error FROM stream_pipelines WHERE name = 'bench'")"
    rows_out=$(pg_psql "$dir" "$port" -Atq -c "SELECT rows_out FROM stream_pipelines WHERE name = 'bench'")
    hz=$(getconf CLK_TCK)
    bytes=$(pg_psql "$dir" "$port" -Atq -c "SELECT state_bytes FROM stream_pipelines WHERE name = 'bench'")
    awk -v n="$name" -v e="$events" -v o="$rows_out" -v s="$start" -v t="$end" -v c="$ticks" \
        -v hz="$hz" -v b="$bytes" -v a="$(anchor "$name")" 'BEGIN {
        wall = t - s; cpu = c / hz; if (cpu <= 0) cpu = wall;
        printf "%-24s %10d %10d %8.2f %8.2f %12.0f %14.0f %10.1f   %s\n", n, e, o, wall, cpu, e / wall,
            e / cpu, b / 1048576, a }'
    # A baseline doing the same work without a pipeline (e.g. with triggers), timed as a whole.
    if [[ -f test/bench/$name.baseline.sql ]]; then
        cp "test/bench/$name.baseline.sql" "$ARROYO_WORK_ROOT/bench-sql/"
        chown -R "$ARROYO_PG_USER:" "$ARROYO_WORK_ROOT/bench-sql" 2>/dev/null || true
        # Untimed preparation of the baseline (e.g. the same events loaded into tables).
        if [[ -f test/bench/$name.baseline_setup.sql ]]; then
            pg_psql "$dir" "$port" -q -o /dev/null -f "test/bench/$name.baseline_setup.sql" 2>&1 |
                grep -v NOTICE || true
        fi
        bstart=$(date +%s.%N)
        pg_psql "$dir" "$port" -q -o /dev/null -f "$ARROYO_WORK_ROOT/bench-sql/$name.baseline.sql" 2>&1 |
            grep -v NOTICE || true
        bend=$(date +%s.%N)
        awk -v n="$name (baseline)" -v e="$events" -v s="$bstart" -v t="$bend" -v ps="$start" -v pt="$end" 'BEGIN {
            wall = t - s;
            printf "%-24s %10d %10s %8.2f %8s %12.0f %14s %10s   pipeline: %.1fx the rate of the baseline\n", n, e,
                "-", wall, "-", e / wall, "-", "-", wall / (pt - ps) }'
    fi
    # Figures a benchmark reports itself, after its pipeline and baseline (test/bench/
    # NAME.report.sql prints lines of text).
    if [[ -f test/bench/$name.report.sql ]]; then
        cp "test/bench/$name.report.sql" "$ARROYO_WORK_ROOT/bench-sql/"
        chown -R "$ARROYO_PG_USER:" "$ARROYO_WORK_ROOT/bench-sql" 2>/dev/null || true
        pg_psql "$dir" "$port" -Atq -f "$ARROYO_WORK_ROOT/bench-sql/$name.report.sql" | sed 's/^/    /'
    fi
    # The setup's server goes last: a baseline may use it too.
    if [[ -n $setup_pid ]]; then
        kill "$setup_pid" 2>/dev/null || true
        wait "$setup_pid" 2>/dev/null || true
        setup_pid=
    fi
done
