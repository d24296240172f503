/*
 * scripts/sanitize.sh's self-check: a PostgreSQL function with a heap-buffer overflow, built
 * with -fsanitize=address and called in a throwaway instance started as the suite's are. The
 * run is trusted only if this produces an AddressSanitizer report: a run without reports then
 * means no error was found, not that ASan was not watching.
 */
#include "postgres.h"

#include <stdlib.h>

#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(asan_canary);

/* asan_canary(n): writes byte n of an 8-byte malloc'd block (n = 8 overflows it). */
Datum asan_canary(PG_FUNCTION_ARGS) {
    volatile char *block = malloc(8);
    int32 n = PG_GETARG_INT32(0);

    block[n] = 1;
    free((void *) block);
    PG_RETURN_INT32(n);
}
