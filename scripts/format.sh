#!/usr/bin/env bash
# Formats the C++ sources (src/, test/unit/, test/fuzz/) with clang-format and the repository's
# .clang-format.
#
# Usage: scripts/format.sh [--check] [FILE...]
#   --check  change nothing: list the files clang-format would change and exit 1 if there are any
#   FILE...  only these files (default: every tracked *.cpp and *.hpp under src/ and test/)
# ARROYO_CLANG_FORMAT names the binary (default: clang-format, else clang-format-14).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

check=0
if [[ ${1:-} == --check ]]; then
    check=1
    shift
fi

cf=${ARROYO_CLANG_FORMAT:-}
if [[ -z $cf ]]; then
    for c in clang-format clang-format-14; do
        if command -v "$c" >/dev/null; then
            cf=$c
            break
        fi
    done
fi
[[ -n $cf ]] || { echo "clang-format not found (scripts/install_deps.sh installs it)" >&2; exit 2; }

files=("$@")
if ((${#files[@]} == 0)); then
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        mapfile -t files < <(git ls-files -- 'src/*.cpp' 'src/*.hpp' 'test/*.cpp' 'test/*.hpp')
    else
        mapfile -t files < <(find src test -name '*.cpp' -o -name '*.hpp' | sort)
    fi
fi

if ((check)); then
    formatted=$(mktemp)
    trap 'rm -f -- "$formatted"' EXIT
    unformatted=0 lines=0
    for f in "${files[@]}"; do
        "$cf" --style=file "$f" >"$formatted"
        cmp -s "$formatted" "$f" && continue
        # Lines of the file that formatting would change (removed or rewritten).
        changed=$(diff -U0 "$f" "$formatted" | awk 'NR > 2 && /^-/' | wc -l || true)
        echo "$f: $changed line(s) would change"
        unformatted=$((unformatted + 1))
        lines=$((lines + changed))
    done
    if ((unformatted)); then
        echo "$unformatted file(s) not formatted ($lines line(s)); run scripts/format.sh" >&2
        exit 1
    fi
    exit 0
fi
"$cf" --style=file -i "${files[@]}"
