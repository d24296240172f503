#!/usr/bin/env bash
# CREATE EXTENSION must fail cleanly, naming shared_preload_libraries, when the library is not
# preloaded.  Uses its own temporary instance (port 55433) without shared_preload_libraries.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_test_instance --no-preload preload_check "${ARROYO_PRELOAD_CHECK_PORT:-55433}"

set +e
out=$(pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -c 'CREATE EXTENSION arroyo_stream;' 2>&1)
rc=$?
set -e
printf '%s\n' "$out"

if ((rc == 0)); then
    arroyo_die "CREATE EXTENSION arroyo_stream succeeded without shared_preload_libraries"
fi
if [[ $out != *ERROR:*shared_preload_libraries* ]]; then
    arroyo_die "expected an ERROR mentioning shared_preload_libraries, got the output above"
fi
# The failure must be an ordinary error: the server is still up and the extension is absent.
n=$(pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -At \
    -c "SELECT count(*) FROM pg_extension WHERE extname = 'arroyo_stream'")
if [[ $n != 0 ]]; then
    arroyo_die "arroyo_stream is installed after the failed CREATE EXTENSION"
fi
echo "ok: CREATE EXTENSION without preloading fails with a shared_preload_libraries error"
