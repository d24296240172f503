#!/usr/bin/env bash
# Every include in src/ points down a floor (scripts/check_layers.sh lists the floors).
# A self-check first: an include up a floor planted in a scratch copy must be reported.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ARROYO_ROOT"

scratch=$(mktemp -d)
arroyo_on_exit "rm -rf -- '$scratch'"
mkdir -p "$scratch/scripts" && cp -r src "$scratch/" && cp scripts/check_layers.sh "$scratch/scripts/"
echo '#include "runtime/dataflow.hpp"' >> "$scratch/src/core/batch.hpp"
if out=$("$scratch/scripts/check_layers.sh"); then arroyo_die "self-check: an upward include went unnoticed"; fi
[[ $out == "core/batch.hpp includes runtime/ (floor 6), not below core/ (floor 1)" ]] ||
    arroyo_die "self-check: unexpected report: $out"

./scripts/check_layers.sh || arroyo_die "includes point up a floor (above)"
arroyo_log "layers: every include points down"
