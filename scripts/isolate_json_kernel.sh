#!/usr/bin/env bash
# isolate_json_kernel.sh OBJECT NAME
#
# Makes the JSON scanning kernel OBJECT (src/formats/json_scan_NAME.o, compiled with NAME's
# target flags, e.g. AVX-512) keep its own copy of every inline function it defines outside
# its own namespaces (simdjson::NAME, and ours, which has internal linkage).
#
# Such a function (a std::string_view constructor, say, when the compiler did not inline it:
# sanitizer builds do that) is a weak symbol in a COMDAT group, and other objects compiled
# without those flags define it too; the linker keeps one copy for the whole library. If it kept
# this object's, code for any CPU would call instructions only NAME's CPUs have. So each such
# symbol is renamed SYMBOL.arroyo_NAME here (the COMDAT group is named by its symbol, so the
# group becomes this object's own). Data (typeinfo, vtables: weak objects) needs no copy.
# Used by the Makefile and test/fuzz/run.sh; needs binutils (nm, objcopy) and c++filt.
set -euo pipefail
obj=$1
name=$2
map=$(mktemp)
trap 'rm -f "$map"' EXIT
# Weak and indirect functions (nm types W, i) defined here outside simdjson::NAME, and the
# COMDAT groups holding code whose signature is outside it (a constructor's group is named by
# its C5 symbol, which is not one of the functions).
outside() { # MANGLED...: those whose demangled name is not in simdjson::NAME
    local sym
    for sym in "$@"; do
        [[ $(c++filt -- "$sym") == *"simdjson::$name::"* ]] || echo "$sym"
    done
}
{
    # shellcheck disable=SC2046 # one word per symbol
    outside $(nm --defined-only "$obj" | awk '$2 == "W" || $2 == "i" { print $3 }')
    # shellcheck disable=SC2046
    outside $(readelf -gW "$obj" | awk '
        /^COMDAT group section/ { sig = $0; sub(/.*\[/, "", sig); sub(/\].*/, "", sig) }
        /^ +\[ *[0-9]+\] +\.text/ { print sig }')
} | sort -u | while read -r sym; do echo "$sym $sym.arroyo_$name"; done >"$map"
if [[ -s $map ]]; then
    objcopy --redefine-syms="$map" "$obj"
fi
# What is left must be this kernel's alone.
left=$(nm --defined-only "$obj" | awk '$2 == "W" || $2 == "i" { print $3 }' |
    while read -r sym; do
        s=$(c++filt -- "$sym")
        [[ $s == *"simdjson::$name::"* || $sym == *".arroyo_$name" ]] || echo "$s"
    done)
if [[ -n $left ]]; then
    echo "$obj: shared weak functions left: $left" >&2
    exit 1
fi
