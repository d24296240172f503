#!/usr/bin/env bash
# Quick start, part 2, and what .ci/run runs: install dependencies, build and install
# arroyo_stream, then run
#   0. the unit tests of the PostgreSQL-free code (test/unit/NAME_test.cpp, built by
#      `make unit`), one program per file, each printing PASS/FAIL per case,
#   1. the pg_regress suite (sql/*.sql -> expected/*.out) on a temporary instance, and
#   2. every executable test/*_test.sh,
# print a summary, and exit non-zero if anything failed.  Servers run as the unprivileged OS user
# chosen by test/lib.sh (`arroyo` when run as root); the system cluster is never touched.
#
# Usage: test/run.sh [NAME...]
#   With NAMEs, run only those: a regress test (sql/NAME.sql), a shell test
#   (test/NAME_test.sh or test/NAME), `unit` (every unit test) or unit/NAME (test/unit/NAME_test.cpp).
# Regress tests: the basenames of sql/*.sql, in sorted order, except extension scripts
#   (sql/*--*.sql, e.g. arroyo_stream--0.1.0.sql); or, if test/schedule exists, that
#   pg_regress schedule file ("test: name1 name2" lines; names on one line run in parallel).
#   They run in a copy of sql/, expected/ and test/data/ (if present) in
#   /var/tmp/arroyo_stream/regress; a test finds that directory with
#   `\getenv abs_srcdir PG_ABS_SRCDIR` (data files: :'abs_srcdir'/data/...).
#   pg_regress sets PGTZ=PST8PDT and PGDATESTYLE='Postgres, MDY' for its sessions.
# Environment:
#   ARROYO_SKIP_BUILD=1    skip install_deps.sh and build.sh (use what is installed)
#   ARROYO_REGRESS_PORT    port of pg_regress's temporary instance (default 55432)
#   ARROYO_TEST_TIMEOUT    seconds allowed per *_test.sh (default 600)
#   ARROYO_KEEP=1          leave per-test instances running (see test/lib.sh)
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ARROYO_ROOT"

regress_port=${ARROYO_REGRESS_PORT:-55432}
test_timeout=${ARROYO_TEST_TIMEOUT:-600}
regress_dir=$ARROYO_WORK_ROOT/regress
logs_dir=$ARROYO_WORK_ROOT/test-logs

# --- what to run -----------------------------------------------------------------------------

all_regress=()
for f in sql/*.sql; do
    [[ -e $f ]] || continue
    name=$(basename "$f" .sql)
    [[ $name == *--* ]] && continue # extension install/upgrade scripts (arroyo_stream--0.1.0.sql)
    all_regress+=("$name")
done
all_shell=()
for f in test/*_test.sh; do
    [[ -f $f && -x $f ]] && all_shell+=("$f")
done
all_unit=()
for f in test/unit/*_test.cpp; do
    [[ -f $f ]] && all_unit+=("$(basename "$f" _test.cpp)")
done
use_schedule=0

if (($# > 0)); then
    regress_tests=()
    shell_tests=()
    unit_tests=()
    for name in "$@"; do
        name=${name%.sql}
        name=${name#sql/}
        name=${name#test/}
        if [[ $name == unit ]]; then
            unit_tests+=("${all_unit[@]}")
        elif [[ $name == unit/* ]]; then
            name=${name#unit/}
            name=${name%.cpp}
            name=${name%_test}
            [[ -f test/unit/${name}_test.cpp ]] || arroyo_die "no unit test test/unit/${name}_test.cpp"
            unit_tests+=("$name")
        elif [[ $name != *--* && -f sql/$name.sql ]]; then
            regress_tests+=("$name")
        elif [[ -x test/${name%.sh}_test.sh ]]; then
            shell_tests+=("test/${name%.sh}_test.sh")
        elif [[ -x test/$name && $name == *_test.sh ]]; then
            shell_tests+=("test/$name")
        else
            arroyo_die "no regress test sql/$name.sql and no executable test/${name%.sh}_test.sh"
        fi
    done
else
    regress_tests=("${all_regress[@]}")
    shell_tests=("${all_shell[@]}")
    unit_tests=("${all_unit[@]}")
    [[ -f test/schedule ]] && use_schedule=1
fi

# --- build -----------------------------------------------------------------------------------

if [[ ${ARROYO_SKIP_BUILD:-0} != 1 ]]; then
    ./scripts/install_deps.sh
    ./scripts/build.sh
    arroyo_server_settings_load # install_deps.sh may have installed another minor version
else
    arroyo_log "ARROYO_SKIP_BUILD=1: using the installed arroyo_stream"
fi

results=() # "PASS name" / "FAIL name" / "SKIP name", for the summary
failed=0
record() {
    results+=("$1 $2")
    [[ $1 == FAIL ]] && failed=1
    return 0
}

# --- 0. unit tests --------------------------------------------------------------------------

run_unit_tests() {
    ((${#unit_tests[@]} > 0)) || return 0
    arroyo_log "unit tests: ${unit_tests[*]}"
    if ! make -s -j"${ARROYO_BUILD_JOBS:-2}" unit PG_CONFIG="$PG_CONFIG" \
        ARROYO_UNIT_TESTS="${unit_tests[*]}"; then
        echo "FAIL unit tests: make unit failed (compiler messages above)"
        record FAIL unit
        return 0
    fi
    local t
    for t in "${unit_tests[@]}"; do
        if "test/unit/${t}_test"; then
            record PASS "unit/${t}_test"
        else
            record FAIL "unit/${t}_test"
        fi
    done
}

# --- 1. pg_regress ---------------------------------------------------------------------------

run_regress() {
    if ((use_schedule == 0 && ${#regress_tests[@]} == 0)); then
        arroyo_log "pg_regress: no tests in sql/"
        record SKIP pg_regress
        return 0
    fi

    # A fresh work directory owned by the server's user: it cannot be relied on to read the
    # (possibly root-only) checkout, and pg_regress writes results/ and regression.diffs there.
    rm -rf -- "$regress_dir"
    arroyo_work_dir "$regress_dir"
    as_pg_user mkdir -p "$regress_dir/sql" "$regress_dir/expected"
    local f
    for f in sql/*.sql; do
        [[ $(basename "$f") == *--* ]] && continue
        as_pg_user tee "$regress_dir/$f" <"$f" >/dev/null
    done
    for f in expected/*; do
        [[ -f $f ]] && as_pg_user tee "$regress_dir/$f" <"$f" >/dev/null
    done
    printf '%s\n' "${ARROYO_SERVER_SETTINGS[@]}" | as_pg_user tee "$regress_dir/regress.conf" >/dev/null
    if [[ -d test/data ]]; then
        tar -C test -cf - data | as_pg_user tar -C "$regress_dir" -xf -
    fi

    local args=(
        --bindir="$(pg_bindir)"
        --temp-instance="$regress_dir/tmp_check"
        --temp-config="$regress_dir/regress.conf"
        --inputdir="$regress_dir"
        --outputdir="$regress_dir"
        --port="$regress_port"
        --dbname=regression
        --encoding=UTF8
        --no-locale
    )
    if ((use_schedule)); then
        as_pg_user tee "$regress_dir/schedule" <test/schedule >/dev/null
        args+=(--schedule="$regress_dir/schedule")
        arroyo_log "pg_regress: schedule test/schedule"
    else
        args+=("${regress_tests[@]}")
        arroyo_log "pg_regress: ${regress_tests[*]}"
    fi

    local pg_regress
    pg_regress=$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress
    if as_pg_user "$pg_regress" "${args[@]}"; then
        record PASS pg_regress
    else
        if [[ -s $regress_dir/regression.diffs ]]; then
            echo "--- $regress_dir/regression.diffs (first 300 lines) ---"
            head -n 300 "$regress_dir/regression.diffs"
            echo "--- end of diffs ---"
        fi
        local log=$regress_dir/tmp_check/log/postmaster.log
        if [[ -f $log ]]; then
            echo "--- $log (last 50 lines) ---"
            tail -n 50 "$log"
            echo "--- end of server log ---"
        fi
        echo "pg_regress output: $regress_dir (results/, regression.diffs, regression.out)"
        record FAIL pg_regress
    fi
}

# --- 2. shell tests --------------------------------------------------------------------------

run_shell_tests() {
    ((${#shell_tests[@]} > 0)) || return 0
    rm -rf -- "$logs_dir"
    arroyo_work_dir "$logs_dir"
    local t name log start secs
    for t in "${shell_tests[@]}"; do
        name=$(basename "$t" .sh)
        log=$logs_dir/$name.log
        arroyo_log "$name"
        start=$SECONDS
        if timeout -k 15 "$test_timeout" "$t" >"$log" 2>&1; then
            secs=$((SECONDS - start))
            echo "PASS $name (${secs}s)"
            record PASS "$name"
        else
            local rc=$?
            secs=$((SECONDS - start))
            echo "--- $log (last 200 lines) ---"
            tail -n 200 "$log"
            echo "--- end of $name ---"
            if ((rc == 124)); then
                echo "FAIL $name (timed out after ${test_timeout}s)"
            else
                echo "FAIL $name (exit $rc, ${secs}s)"
            fi
            record FAIL "$name"
        fi
    done
    echo "shell test logs: $logs_dir"
}

run_unit_tests
run_regress
run_shell_tests

# --- summary ---------------------------------------------------------------------------------

echo
echo "==================== summary ===================="
if ((${#results[@]} == 0)); then
    echo "(nothing to run)"
fi
for r in "${results[@]}"; do
    echo "  $r"
done
if ((failed)); then
    echo "FAILED"
    exit 1
fi
echo "ALL PASSED"
