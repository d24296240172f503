#!/usr/bin/env bash
# Checks that every #include "folder/..." in src/ points down the floors (or stays in its own
# folder). The floors, lowest first; folders on one line are rooms of the same floor and do
# not include each other:
#   pg | core | catalog | state | formats | connectors operators planner | runtime | worker | api
# src/module.cpp, the extension's entry point, sits on top. Prints each violation; exits 1 if any.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../src"

declare -A floor=([pg]=0 [core]=1 [catalog]=2 [state]=3 [formats]=4 [connectors]=5
                  [operators]=5 [planner]=5 [runtime]=6 [worker]=7 [api]=8 [.]=9)
bad=0
while IFS=: read -r file _ inc; do
    file=${file#./}; own=$(dirname "$file"); own=${own%%/*}
    dep=${inc#*\"}; dep=${dep%%/*}
    [[ -n ${floor[$dep]+x} ]] || continue
    [[ -n ${floor[$own]+x} ]] || { echo "$file: folder $own has no floor in $0" >&2; bad=1; continue; }
    if [[ $dep != "$own" && ${floor[$dep]} -ge ${floor[$own]} ]]; then
        echo "$file includes $dep/ (floor ${floor[$dep]}), not below $own/ (floor ${floor[$own]})"
        bad=1
    fi
done < <(grep -rn --include='*.cpp' --include='*.hpp' '^#include "[a-z_]*/.*\.hpp"' .)
exit $bad
