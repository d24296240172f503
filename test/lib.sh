# shellcheck shell=bash
# Shared shell helpers for scripts/*.sh, test/run.sh and test/*_test.sh.  Source it; don't run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"          # from test/
#   source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"  # from scripts/
#
# PostgreSQL refuses to run as root, so every server we start (demo, pg_regress, per-test
# instances) runs as an unprivileged OS user, ARROYO_PG_USER:
#   * run as root (CI):  the system user `arroyo`, created by scripts/install_deps.sh;
#   * run as non-root:   the current user (root-only steps such as apt-get and
#                        `make install` then go through sudo).
# Setting ARROYO_PG_USER in the environment overrides the choice (it must not be root).
#
# Every instance is private: its data directory is also its unix socket directory, it listens on
# no TCP address unless a test asks for one, and its superuser is ARROYO_PG_USER with trust
# authentication.  Nothing here touches the system cluster (port 5432, /var/lib/postgresql).
#
# Main helpers (see each function for details):
#   arroyo_pg_user                  print the OS user that runs PostgreSQL
#   as_root CMD...                  run CMD as root (directly, or via sudo)
#   as_pg_user CMD...               run CMD as ARROYO_PG_USER (via runuser when we are root)
#   arroyo_work_dir PATH            mkdir -p PATH (under ARROYO_WORK_ROOT), owned by ARROYO_PG_USER
#   pg_instance_start DIR PORT [SETTING...]     initdb if needed, then start or restart
#   pg_instance_stop DIR / pg_instance_destroy DIR / pg_instance_running DIR
#   pg_psql DIR PORT [psql args...] psql -X -v ON_ERROR_STOP=1 against that instance
#   pg_conninfo DIR PORT [DB]       libpq connection string (e.g. for psycopg in $PYTHON)
#   pg_test_instance [--no-preload] NAME PORT [SETTING...]
#                                   fresh instance for a *_test.sh (sets PGTEST_DIR, PGTEST_PORT),
#                                   destroyed when the test exits
#   pg_test_ctl ARGS...             pg_ctl on that instance (e.g. `-m immediate stop`, `start`)
#   expect_eq WHAT EXPECTED ACTUAL  die, showing both, unless ACTUAL equals EXPECTED
#   arroyo_on_exit CMD              run CMD (a string, eval'ed) when the script exits
#
# A test/NAME_test.sh (run by test/run.sh from the repo root, as root in CI; exit 0 = pass):
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   pg_test_instance kafka_sink 55440 "listen_addresses = 'localhost'"
#   pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -c 'CREATE EXTENSION arroyo_stream'
#   "$PYTHON" test/check_something.py "$(pg_conninfo "$PGTEST_DIR" "$PGTEST_PORT")"
#
# Settings are "name = value" lines, exactly as in postgresql.conf.  ARROYO_SERVER_SETTINGS holds
# the ones every arroyo_stream server needs; test/regress.conf is their single source.

# Sourcing twice in one shell is harmless.
if [[ -n ${ARROYO_LIB_SOURCED:-} ]]; then
    return 0
fi
ARROYO_LIB_SOURCED=1

ARROYO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARROYO_WORK_ROOT=${ARROYO_WORK_ROOT:-/var/tmp/arroyo_stream}
PG_CONFIG=${PG_CONFIG:-pg_config}
# Debian's python3-psycopg / -confluent-kafka / -websockets belong to this interpreter; a python3
# found first on PATH may be another one (DESIGN.md §6).
PYTHON=${PYTHON:-/usr/bin/python3}
export ARROYO_ROOT ARROYO_WORK_ROOT PG_CONFIG PYTHON

# ---------------------------------------------------------------------------------------------
# Messages

arroyo_log() { printf '==> %s\n' "$*" >&2; }
arroyo_warn() { printf 'WARNING: %s\n' "$*" >&2; }
arroyo_die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Users

arroyo_is_root() { [[ $(id -u) -eq 0 ]]; }

# Print the OS user that owns and runs our PostgreSQL instances.
arroyo_pg_user() {
    if [[ -n ${ARROYO_PG_USER:-} ]]; then
        printf '%s\n' "$ARROYO_PG_USER"
    elif arroyo_is_root; then
        printf 'arroyo\n'
    else
        id -un
    fi
}
ARROYO_PG_USER=$(arroyo_pg_user)
export ARROYO_PG_USER
if [[ $ARROYO_PG_USER == root ]]; then
    arroyo_die "ARROYO_PG_USER must not be root: PostgreSQL refuses to run as root"
fi

# Run a command as root: directly when we are root, otherwise through sudo.
as_root() {
    if arroyo_is_root; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo -- "$@"
    else
        arroyo_die "not root and no sudo: cannot run '$*' as root"
    fi
}

# Run a command as ARROYO_PG_USER.  As root we switch user with runuser (util-linux, in the base
# system), from "/" so that a working directory the user cannot enter (e.g. root's checkout)
# causes no warnings; pass absolute paths.  As non-root we are that user already.
as_pg_user() {
    if arroyo_is_root; then
        (cd / && runuser -u "$ARROYO_PG_USER" -- "$@")
    elif [[ $(id -un) == "$ARROYO_PG_USER" ]]; then
        "$@"
    else
        (cd / && sudo -u "$ARROYO_PG_USER" -- "$@")
    fi
}

# mkdir -p each PATH and make it (and ARROYO_WORK_ROOT) belong to ARROYO_PG_USER, so that the
# server and pg_regress can write there.
arroyo_work_dir() {
    local d
    for d in "$ARROYO_WORK_ROOT" "$@"; do
        if arroyo_is_root; then
            mkdir -p -- "$d"
            chown "$ARROYO_PG_USER:" -- "$d"
        else
            as_pg_user mkdir -p -- "$d"
        fi
    done
}

# ---------------------------------------------------------------------------------------------
# Exit handlers: one EXIT trap that runs every registered command, last registered first.

ARROYO_EXIT_CMDS=()
ARROYO_EXIT_STATUS=0
arroyo_run_exit_cmds() {
    local status=$? i
    ARROYO_EXIT_STATUS=$status # the script's exit status, for the handlers
    for ((i = ${#ARROYO_EXIT_CMDS[@]} - 1; i >= 0; i--)); do
        eval "${ARROYO_EXIT_CMDS[i]}" || true
    done
    return "$status"
}
arroyo_on_exit() {
    if ((${#ARROYO_EXIT_CMDS[@]} == 0)); then
        trap arroyo_run_exit_cmds EXIT
        # Make INT/TERM (e.g. from `timeout` in test/run.sh) go through the EXIT trap too.
        trap 'exit 130' INT
        trap 'exit 143' TERM
    fi
    ARROYO_EXIT_CMDS+=("$1")
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL instances

pg_bindir() { "$PG_CONFIG" --bindir; }

# Settings every arroyo_stream server needs, read from test/regress.conf (comments and blank
# lines dropped), plus those that depend on the installed server (see
# arroyo_server_settings_load). Sourcing this file does not need PostgreSQL installed; the
# settings are computed again after scripts/install_deps.sh, which may upgrade the server.
ARROYO_SERVER_SETTINGS=()
arroyo_server_settings_load() {
    ARROYO_SERVER_SETTINGS=()
    if [[ -r $ARROYO_ROOT/test/regress.conf ]]; then
        mapfile -t ARROYO_SERVER_SETTINGS < <(
            sed -e 's/#.*$//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' \
                "$ARROYO_ROOT/test/regress.conf"
        )
    fi
    # PostgreSQL minors with the output_plugin_libraries setting (Debian's 15.20, upstream
    # 15.19+) load a logical decoding output plugin only if it is listed there; change data
    # capture uses arroyo_stream as its plugin. Older minors have no such setting (and refuse
    # unknown ones), so it is added only where the installed server has it.
    if [[ -x $("$PG_CONFIG" --bindir 2>/dev/null)/postgres ]] &&
        "$("$PG_CONFIG" --bindir)/postgres" --describe-config 2>/dev/null |
        grep '^output_plugin_libraries' >/dev/null; then # (not -q: an early exit breaks pipefail)
        ARROYO_SERVER_SETTINGS+=("output_plugin_libraries = 'pgoutput, test_decoding, arroyo_stream'")
    fi
}
arroyo_server_settings_load

# The fault cycles of a recovery test: `cycles` rounds, each after a random pause of 0.5 to 2.4
# seconds, of the fault faults[(cycle - 1) % n], which the test's function inject_fault NAME
# injects; no more once the condition `finished` holds; after each, waits for the condition
# `resumed`. Prints the faults injected ("ok: faults injected: term=4 sigkill=3 ...").
recovery_fault_cycles() {
    local cycles=$1 finished=$2 resumed=$3
    shift 3
    local faults=("$@") cycle fault summary="" f
    local -A done_faults=()
    for ((cycle = 1; cycle <= cycles; cycle++)); do
        sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.1f", 0.5 + (r % 20) / 10 }')"
        fault=${faults[$(((cycle - 1) % ${#faults[@]}))]}
        if "$finished"; then
            arroyo_log "cycle $cycle: the pipelines have already finished; no more faults"
            break
        fi
        arroyo_log "cycle $cycle: $fault"
        inject_fault "$fault"
        done_faults[$fault]=$((${done_faults[$fault]:-0} + 1))
        wait_for "the pipelines to resume after $fault" "$resumed"
    done
    for f in "${!done_faults[@]}"; do summary+="$f=${done_faults[$f]} "; done
    echo "ok: faults injected: ${summary:-none}"
}

# wait_for DESCRIPTION CMD...: for tests; runs CMD (a function that may set $last to what it
# saw) every 0.1 s until it succeeds; dies after POLL_TIMEOUT seconds (default 30), showing the
# last observed value.
last=
wait_for() {
    local desc=$1
    shift
    local deadline=$((SECONDS + ${POLL_TIMEOUT:-30}))
    last=
    until "$@"; do
        if ((SECONDS >= deadline)); then
            arroyo_die "timed out after ${POLL_TIMEOUT:-30}s waiting for $desc; last seen: '$last'"
        fi
        sleep 0.1
    done
}

pg_instance_running() {
    [[ -f $1/PG_VERSION ]] && as_pg_user "$(pg_bindir)/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# pg_instance_start DIR PORT [SETTING...]
# DIR is the data directory and the unix socket directory; it is initdb'ed (superuser
# ARROYO_PG_USER, trust auth, UTF8, C locale) if it does not hold a cluster yet.  The settings
# (port, socket dir, listen_addresses = '', then the given SETTINGs, later ones winning) are
# (re)written to DIR/arroyo_instance.conf, which postgresql.conf includes.  A running instance is
# restarted, so that it picks up those settings and a freshly installed library.  The server log
# is DIR/server.log.
pg_instance_start() {
    local dir=$1 port=$2
    shift 2
    local bindir s
    bindir=$(pg_bindir)

    if [[ ! -f $dir/PG_VERSION ]]; then
        if [[ -e $dir ]] && [[ -n $(ls -A -- "$dir") ]]; then
            arroyo_die "$dir exists but is not a PostgreSQL data directory; remove it"
        fi
        arroyo_work_dir "$(dirname -- "$dir")"
        arroyo_log "initdb $dir (as $ARROYO_PG_USER)"
        local out
        if ! out=$(as_pg_user "$bindir/initdb" -D "$dir" --auth=trust --encoding=UTF8 \
            --no-locale --no-sync 2>&1); then
            printf '%s\n' "$out" >&2
            arroyo_die "initdb failed for $dir"
        fi
        printf "\n# Added by arroyo_stream's test/lib.sh\ninclude 'arroyo_instance.conf'\n" |
            as_pg_user tee -a "$dir/postgresql.conf" >/dev/null
    fi

    {
        printf '# Written by test/lib.sh (pg_instance_start); rewritten at every start.\n'
        printf '%s\n' "port = $port" "unix_socket_directories = '$dir'" "listen_addresses = ''"
        for s in "$@"; do printf '%s\n' "$s"; done
    } | as_pg_user tee "$dir/arroyo_instance.conf" >/dev/null

    local action=start
    if pg_instance_running "$dir"; then
        action=restart
    fi
    arroyo_log "pg_ctl $action $dir (port $port)"
    if ! as_pg_user "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 120 "$action" \
        >/dev/null; then
        tail -n 40 "$dir/server.log" >&2 || true
        arroyo_die "could not $action the instance in $dir (log: $dir/server.log)"
    fi
}

pg_instance_stop() {
    if pg_instance_running "$1"; then
        as_pg_user "$(pg_bindir)/pg_ctl" -D "$1" -m fast -w -t 60 stop >/dev/null ||
            as_pg_user "$(pg_bindir)/pg_ctl" -D "$1" -m immediate -w stop >/dev/null || true
    fi
}

pg_instance_destroy() {
    pg_instance_stop "$1"
    rm -rf -- "$1"
}

# pg_psql DIR PORT [psql args...]: psql as superuser ARROYO_PG_USER, database postgres unless
# the args say otherwise (-d/--dbname), no psqlrc, stop at the first error.  Runs as the
# calling user (root can reach the socket; so can ARROYO_PG_USER itself).
pg_psql() {
    local dir=$1 port=$2
    shift 2
    PGHOST=$dir PGPORT=$port PGUSER=$ARROYO_PG_USER PGDATABASE=${PGDATABASE:-postgres} \
        "$(pg_bindir)/psql" -X -v ON_ERROR_STOP=1 "$@"
}

# pg_conninfo DIR PORT [DB]: libpq connection string, e.g. for psycopg.connect().
pg_conninfo() {
    printf 'host=%s port=%s user=%s dbname=%s\n' "$1" "$2" "$ARROYO_PG_USER" "${3:-postgres}"
}

# pg_test_instance [--no-preload] NAME PORT [SETTING...]
# Start a fresh instance in $ARROYO_WORK_ROOT/tests/NAME with ARROYO_SERVER_SETTINGS (unless
# --no-preload), fsync = off and the given SETTINGs; it is destroyed when the calling script
# exits (after printing the end of its server log if the script failed), unless ARROYO_KEEP=1.
# Sets PGTEST_DIR and PGTEST_PORT, for pg_psql "$PGTEST_DIR" "$PGTEST_PORT" ...
pg_test_instance() {
    local preload=1
    if [[ ${1:-} == --no-preload ]]; then
        preload=0
        shift
    fi
    local name=$1 port=$2
    shift 2
    PGTEST_DIR=$ARROYO_WORK_ROOT/tests/$name
    PGTEST_PORT=$port
    export PGTEST_DIR PGTEST_PORT
    pg_instance_destroy "$PGTEST_DIR"
    arroyo_on_exit "pg_test_instance_cleanup '$PGTEST_DIR'"
    local settings=("fsync = off")
    if ((preload)); then
        settings=("${ARROYO_SERVER_SETTINGS[@]}" "${settings[@]}")
    fi
    pg_instance_start "$PGTEST_DIR" "$port" "${settings[@]}" "$@"
}

# pg_ctl ARGS on the test instance (with its log, waiting up to 60 s); dies if it fails.
pg_test_ctl() {
    as_pg_user "$(pg_bindir)/pg_ctl" -D "$PGTEST_DIR" -l "$PGTEST_DIR/server.log" -w -t 60 "$@" \
        >/dev/null || arroyo_die "pg_ctl $* failed (log: $PGTEST_DIR/server.log)"
}

# Dies unless ACTUAL equals EXPECTED, showing both (WHAT names the check).
expect_eq() {
    if [[ $3 != "$2" ]]; then
        arroyo_die "$1: expected
$2
--- got ---
$3"
    fi
}

pg_test_instance_cleanup() {
    local dir=$1
    if ((ARROYO_EXIT_STATUS != 0)) && [[ -f $dir/server.log ]]; then
        printf -- '--- last lines of %s ---\n' "$dir/server.log" >&2
        tail -n 40 "$dir/server.log" >&2 || true
    fi
    if [[ ${ARROYO_KEEP:-0} == 1 ]]; then
        arroyo_log "ARROYO_KEEP=1: leaving the instance in $dir running"
    else
        pg_instance_destroy "$dir"
    fi
}
