#!/usr/bin/env bash
# The whole suite against arroyo_stream built with AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   scripts/sanitize.sh [NAME...]     (NAMEs as for test/run.sh; default: everything)
#
# 1. Copies the PostgreSQL found by PG_CONFIG (bin, lib, share, include trees; Debian layout)
#    to $ARROYO_WORK_ROOT/sanitize/pg, so the normal installation is left alone.
# 2. Builds the checkout's tracked files (a copy in $ARROYO_WORK_ROOT/sanitize/src, so the
#    checkout's objects stay as they are) with -fsanitize=address,undefined (g++, libasan and
#    libubsan from build-essential) and installs into that copy.
# 3. Runs test/run.sh with PG_CONFIG pointing at the copy. PostgreSQL itself is not
#    instrumented, and ASan must be the first library of every process that loads our module:
#    the runtime is preloaded into every process of the run (LD_PRELOAD=libasan.so, inherited by
#    pg_ctl, postgres and its workers; psql and the test tools get it too, harmlessly).
#    ASAN_OPTIONS: detect_leaks=0 (PostgreSQL frees memory by context, not one by one, and exits
#    without freeing), reports to $ARROYO_WORK_ROOT/sanitize/logs/asan.PID, and a process with a
#    finding aborts (so its test fails too). UBSan reports go to logs/ubsan.PID.
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

arroyo_log "sanitize: building with -fsanitize=address,undefined"
mkdir -p "$root/src"
git ls-files -z | tar --null -T - -cf - | tar -C "$root/src" -xf -
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=address"
make -s -C "$root/src" -j"${ARROYO_BUILD_JOBS:-2}" PG_CONFIG="$PG_CONFIG" ARROYO_EXTRA_FLAGS="$flags"
as_root make -s -C "$root/src" install PG_CONFIG="$PG_CONFIG" ARROYO_EXTRA_FLAGS="$flags"

libasan=$(g++ -print-file-name=libasan.so)
[[ -f $libasan ]] || arroyo_die "libasan.so not found (g++ -print-file-name=libasan.so)"
arroyo_log "sanitize: running the suite (LD_PRELOAD=$libasan)"
status=0
env LD_PRELOAD="$libasan" \
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$root/logs/asan:verify_asan_link_order=0" \
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
