#!/usr/bin/env bash
# The whole suite against arroyo_stream built with sanitizers.
#
#   scripts/sanitize.sh [NAME...]     (NAMEs as for test/run.sh; default: everything)
#   ARROYO_SANITIZE=address,undefined   (default) ASan + UBSan; =undefined for UBSan alone
#
# 1. Copies the PostgreSQL found by PG_CONFIG (bin, lib, share, include trees; Debian layout)
#    to $ARROYO_WORK_ROOT/sanitize/pg, so the normal installation is left alone.
# 2. Builds the checkout's tracked files (a copy in $ARROYO_WORK_ROOT/sanitize/src, so the
#    checkout's objects stay as they are) with -fsanitize=$ARROYO_SANITIZE (g++; libubsan and
#    libasan come with build-essential) and installs into that copy.
# 3. Runs test/run.sh with PG_CONFIG pointing at the copy. UBSan's runtime is an ordinary
#    dependency of the module and loads with it. ASan's must be the first library of the
#    process, and PostgreSQL is not instrumented, so with address the runtime is preloaded into
#    every process of the run (LD_PRELOAD, inherited by pg_ctl, postgres and its workers, and
#    by the test clients) with detect_leaks=0 (PostgreSQL frees memory by context and exits
#    without freeing). Preloaded alone, libasan makes Debian 12's postgres hang at startup
#    (even `postgres -V`) in glibc's bindtextdomain; scripts/asan_swift_demangle.c explains why
#    and is the fix: it is built here and preloaded after libasan.
#    Reports go to $ARROYO_WORK_ROOT/sanitize/logs/{asan,ubsan}.PID.
#    Before the suite, a self-check: a module with a heap overflow (scripts/asan_canary.c) must
#    get reported from a throwaway server started the same way.
# 4. Lists every report and fails if there is any (or if a test failed).
set -euo pipefail

# shellcheck source=SCRIPTDIR/../test/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"
cd "$ARROYO_ROOT"

root=$ARROYO_WORK_ROOT/sanitize
bindir=$("$PG_CONFIG" --bindir)                     # PREFIX/lib/postgresql/15/bin
version=$(basename "$(dirname "$bindir")")
prefix=${bindir%/lib/postgresql/$version/bin}
[[ $prefix != "$bindir" ]] || arroyo_die "expected a Debian layout (…/lib/postgresql/N/bin): $bindir"

arroyo_log "sanitize: copying PostgreSQL $version from $prefix to $root/pg"
as_root rm -rf "$root"
arroyo_work_dir "$root" "$root/logs"
as_root chmod 1777 "$root/logs"
pg=$root/pg/usr
as_root mkdir -p "$pg/lib/postgresql" "$pg/share/postgresql" "$pg/include"
as_root cp -a "$prefix/lib/postgresql/$version" "$pg/lib/postgresql/"
as_root cp -a "$prefix/share/postgresql/$version" "$pg/share/postgresql/"
as_root cp -a "$prefix/include/postgresql" "$pg/include/"
export PG_CONFIG=$pg/lib/postgresql/$version/bin/pg_config

sanitize=${ARROYO_SANITIZE:-address,undefined}
arroyo_log "sanitize: building with -fsanitize=$sanitize"
mkdir -p "$root/src"
git ls-files -z | tar --null -T - -cf - | tar -C "$root/src" -xf -
flags="-fsanitize=$sanitize -fno-omit-frame-pointer"
make -s -C "$root/src" -j"${ARROYO_BUILD_JOBS:-2}" PG_CONFIG="$PG_CONFIG" ARROYO_EXTRA_FLAGS="$flags"
as_root make -s -C "$root/src" install PG_CONFIG="$PG_CONFIG" ARROYO_EXTRA_FLAGS="$flags"

preload=()
if [[ ,$sanitize, == *,address,* ]]; then
    libasan=$(g++ -print-file-name=libasan.so)
    [[ -f $libasan ]] || arroyo_die "libasan.so not found (g++ -print-file-name=libasan.so)"
    libasan=$(readlink -f "$libasan")
    stub=$root/asan_swift_demangle.so
    gcc -shared -fPIC -O2 -o "$stub" scripts/asan_swift_demangle.c
    chmod 755 "$stub"
    preload=(LD_PRELOAD="$libasan $stub")
    env "${preload[@]}" ASAN_OPTIONS=detect_leaks=0 timeout 20 "$(dirname "$PG_CONFIG")/postgres" -V \
        >/dev/null || arroyo_die "postgres -V does not run with ${preload[*]}"
fi
asan_options="detect_leaks=0:abort_on_error=1:log_path=$root/logs/asan:verify_asan_link_order=0"

# Self-check: ASan reports an overflow in an instrumented module of a server started like the
# suite's (scripts/asan_canary.c), in its own log directory.
if ((${#preload[@]})); then
    canary=$root/canary
    arroyo_work_dir "$canary" "$canary/logs"
    gcc -fsanitize=address -fPIC -shared -O1 -I"$("$PG_CONFIG" --includedir-server)" \
        -o "$canary/asan_canary.so" scripts/asan_canary.c
    chmod 755 "$canary/asan_canary.so"
    (
        export "${preload[@]}"
        export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$canary/logs/asan"
        pg_instance_start "$canary/data" "${ARROYO_REGRESS_PORT:-55432}" >/dev/null
        trap 'pg_instance_stop "$canary/data"' EXIT
        pg_psql "$canary/data" "${ARROYO_REGRESS_PORT:-55432}" -q -o /dev/null \
            -c "CREATE FUNCTION asan_canary(int) RETURNS int
                AS '$canary/asan_canary.so' LANGUAGE C STRICT" -c "SELECT asan_canary(7)"
        ! pg_psql "$canary/data" "${ARROYO_REGRESS_PORT:-55432}" -q -o /dev/null \
            -c "SELECT asan_canary(8)" 2>/dev/null
    ) || arroyo_die "self-check: the canary server did not start, or survived its overflow"
    grep -q "ERROR: AddressSanitizer: heap-buffer-overflow" "$canary"/logs/asan.* 2>/dev/null ||
        arroyo_die "self-check: ASan did not report the canary's overflow (see $canary)"
    arroyo_log "sanitize: self-check passed (ASan reported the canary's overflow)"
fi

arroyo_log "sanitize: running the suite ${preload[*]}"
status=0
env "${preload[@]}" \
    ASAN_OPTIONS="$asan_options" \
    UBSAN_OPTIONS="print_stacktrace=1:log_path=$root/logs/ubsan" \
    ARROYO_SKIP_BUILD=1 ./test/run.sh "$@" || status=$?

reports=$(grep -l -E "ERROR: AddressSanitizer|runtime error:" "$root"/logs/* 2>/dev/null || true)
if [[ -n $reports ]]; then
    for f in $reports; do
        echo "--- $f ---"
        head -n 60 "$f"
    done
    arroyo_die "sanitizer findings: $(echo "$reports" | wc -l) report(s) in $root/logs"
fi
((status == 0)) || arroyo_die "the suite failed under the sanitizers (no sanitizer report)"
arroyo_log "sanitize: clean"
