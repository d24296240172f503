#!/usr/bin/env bash
# Builds and runs test/unit/graph_test.cpp: unit checks of the dataflow graph
# (src/runtime/graph.cpp), compiled against PostgreSQL's server headers (PG_CONFIG), no server.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ARROYO_ROOT"
out=$ARROYO_WORK_ROOT/unit
mkdir -p "$out"
"${CXX:-g++}" -std=c++17 -O1 -Wall -Werror -Wno-register -Wno-missing-field-initializers -Isrc -I"$("${PG_CONFIG:-pg_config}" --includedir-server)" \
    test/unit/graph_test.cpp src/runtime/graph.cpp -o "$out/graph_test"
"$out/graph_test"
