#!/usr/bin/env bash
# Build arroyo_stream with PGXS and install it into the PostgreSQL found by pg_config
# (`make install` needs root: run directly as root, else through sudo).
# Environment: ARROYO_BUILD_JOBS (default 2), PG_CONFIG (default pg_config).
set -euo pipefail

# shellcheck source=SCRIPTDIR/../test/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"
cd "$ARROYO_ROOT"

jobs=${ARROYO_BUILD_JOBS:-2}

arroyo_log "building arroyo_stream (make -j$jobs)"
if ! make -s -j"$jobs" PG_CONFIG="$PG_CONFIG"; then
    arroyo_die "BUILD FAILED (make -j$jobs in $ARROYO_ROOT); see the compiler messages above"
fi

arroyo_log "installing into $("$PG_CONFIG" --pkglibdir) and $("$PG_CONFIG" --sharedir)/extension"
if ! as_root make -s install PG_CONFIG="$PG_CONFIG"; then
    arroyo_die "INSTALL FAILED (make install in $ARROYO_ROOT)"
fi
