#!/usr/bin/env bash
# The C++ sources follow .clang-format (scripts/format.sh --check lists any file that does not).
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ARROYO_ROOT"
./scripts/format.sh --check || arroyo_die "files not formatted (above): run scripts/format.sh"
arroyo_log "format: every source file follows .clang-format"
