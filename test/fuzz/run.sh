#!/usr/bin/env bash
# Builds the libFuzzer targets in test/fuzz/ with clang (-fsanitize=fuzzer,address,undefined)
# and runs each for a fixed time from its checked-in seed corpus (test/fuzz/corpus/TARGET/).
#
# Usage: test/fuzz/run.sh [SECONDS] [TARGET...]
#   SECONDS  per target (default 5: what the suite runs, test/fuzz_test.sh)
#   TARGET   json_scan, websocket, nexmark (default: all)
# For a long run, e.g. two hours each on both cores:
#   test/fuzz/run.sh 7200            (ARROYO_FUZZ_JOBS=2 runs two fuzzing jobs per target)
# New inputs found go to $ARROYO_WORK_ROOT/fuzz/corpus/TARGET (never into the checkout); a crash
# leaves crash-*/leak-*/timeout-* files in $ARROYO_WORK_ROOT/fuzz/ and fails the run. To keep a
# finding as a regression seed, copy it into test/fuzz/corpus/TARGET/.
set -euo pipefail

# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$ARROYO_ROOT"

seconds=${1:-5}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(json_scan websocket nexmark)
out=${ARROYO_WORK_ROOT:-/var/tmp/arroyo_stream}/fuzz
mkdir -p "$out"

CXX=${ARROYO_FUZZ_CXX:-clang++}
FLAGS=(-std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -fno-omit-frame-pointer -Isrc)

build() { # TARGET SOURCES... -- LIBS...
    local target=$1
    shift
    arroyo_log "fuzz: building $target"
    "$CXX" "${FLAGS[@]}" "$@" -o "$out/${target}_fuzz"
}

# The JSON scanning kernels (src/formats/json_scan_internal.hpp), each compiled with its target
# flags from src/formats/json_kernels.mk, as the Makefile does.
json_kernel_objects() {
    local k flags
    for k in builtin westmere haswell icelake; do
        [[ $k == builtin || $(uname -m) == x86_64 ]] || continue
        flags=$(sed -n "s/^ARROYO_JSON_KERNEL_FLAGS_$k = //p" src/formats/json_kernels.mk)
        # shellcheck disable=SC2086 # flags are words
        "$CXX" "${FLAGS[@]/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}" $flags -c \
            -o "$out/json_scan_$k.o" "src/formats/json_scan_$k.cpp"
        [[ $k == builtin ]] || bash scripts/isolate_json_kernel.sh "$out/json_scan_$k.o" "$k" >&2
        echo "$out/json_scan_$k.o"
    done
}

for t in "${targets[@]}"; do
    case $t in
        json_scan)
            mapfile -t kernels < <(json_kernel_objects)
            build json_scan test/fuzz/json_scan_fuzz.cpp src/formats/json_scan.cpp "${kernels[@]}" \
                -lsimdjson ;;
        websocket) build websocket test/fuzz/websocket_fuzz.cpp src/connectors/websocket/ws_client.cpp src/core/url_authority.cpp -lwebsockets -lcrypto ;;
        nexmark) build nexmark test/fuzz/nexmark_fuzz.cpp src/connectors/nexmark/generator.cpp ;;
        *) arroyo_die "unknown fuzz target $t (json_scan, websocket, nexmark)" ;;
    esac
done

failed=0
for t in "${targets[@]}"; do
    corpus=$out/corpus/$t
    mkdir -p "$corpus"
    arroyo_log "fuzz: $t for ${seconds}s"
    # The first directory receives new inputs; the checked-in seeds are only read. The targets
    # carry clang's own ASan runtime: without scripts/sanitize.sh's preloaded libasan and its
    # options (they would abort as "incompatible ASan runtimes" and lose leak checking).
    if ! (cd "$out" && env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS \
        "$out/${t}_fuzz" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -jobs="${ARROYO_FUZZ_JOBS:-1}" -workers="${ARROYO_FUZZ_JOBS:-1}" \
        "$corpus" "$ARROYO_ROOT/test/fuzz/corpus/$t" >"$out/$t.log" 2>&1); then
        tail -n 60 "$out/$t.log"
        echo "FAIL fuzz $t (log: $out/$t.log)"
        failed=1
    else
        echo "ok: fuzz $t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$' || echo '?') runs"
    fi
done
exit $failed
