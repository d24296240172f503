#!/usr/bin/env bash
# The libFuzzer targets of test/fuzz/ (JSON scanning, the websocket client's parsing, the
# Nexmark generator), built with clang and ASan + UBSan, each run for a few seconds from the
# checked-in seed corpus: a routine check that none of them crashes, leaks or overflows. For
# long runs see test/fuzz/run.sh. ARROYO_FUZZ_SECONDS (default 5) per target.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/fuzz/run.sh" "${ARROYO_FUZZ_SECONDS:-5}"
