#!/usr/bin/env bash
# `make installcheck` as a PGXS user runs it: against a running server (its own instance here,
# with test/regress.conf's settings) that PGHOST and PGPORT point at, from a copy of the
# checkout owned by the server's OS user (the server reads data/ and writes results/ there).
# Runs the tests that need data files and write results (single_file) after extension, and
# checks pg_regress's verdict; the full list is what ./test/run.sh runs through pg_regress
# itself. ARROYO_INSTALLCHECK_TESTS="..." runs others (all: the Makefile's REGRESS).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ARROYO_ROOT"

pg_test_instance installcheck "${ARROYO_INSTALLCHECK_PORT:-55540}"

copy=$ARROYO_WORK_ROOT/tests/installcheck-src
rm -rf -- "$copy"
arroyo_on_exit "rm -rf -- '$copy'"
arroyo_work_dir "$copy"
tar -cf - Makefile arroyo_stream.control sql expected src test/schedule test/data |
    as_pg_user tar -C "$copy" -xf -

tests=(${ARROYO_INSTALLCHECK_TESTS:-extension single_file})
out=$(as_pg_user env PATH="$PATH" PGHOST="$PGTEST_DIR" PGPORT="$PGTEST_PORT" PGUSER="$ARROYO_PG_USER" \
    make -C "$copy" installcheck PG_CONFIG="$PG_CONFIG" REGRESS="${tests[*]}" 2>&1) || {
    printf '%s\n' "$out"
    [[ -f $copy/regression.diffs ]] && head -n 100 "$copy/regression.diffs"
    arroyo_die "make installcheck failed"
}
printf '%s\n' "$out"
[[ -L $copy/data ]] || arroyo_die "make installcheck did not link data/ to test/data"
[[ $out == *"All ${#tests[@]} tests passed."* ]] ||
    arroyo_die "expected pg_regress to report all ${#tests[@]} tests passed"
# The tests really ran against this server: the pipelines of single_file are in its database.
n=$(pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -d contrib_regression -At \
    -c "SELECT count(*) FROM pg_extension WHERE extname = 'arroyo_stream'")
expect_eq "arroyo_stream installed in contrib_regression" 1 "$n"
arroyo_log "make installcheck: ${tests[*]} passed"
