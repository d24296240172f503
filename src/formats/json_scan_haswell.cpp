// The JSON scanning kernel for simdjson's haswell implementation (see json_scan_internal.hpp),
// compiled with ARROYO_JSON_KERNEL_FLAGS_haswell (src/formats/json_kernels.mk); x86-64 only.
#if defined(__x86_64__)
#define SIMDJSON_BUILTIN_IMPLEMENTATION haswell
#define ARROYO_JSON_KERNEL_NS json_kernel_haswell
#define ARROYO_JSON_KERNEL_ENTRY kernel_haswell
#include "formats/json_scan_kernel.hpp"
#if !SIMDJSON_CAN_ALWAYS_RUN_HASWELL
#error "compile with ARROYO_JSON_KERNEL_FLAGS_haswell (src/formats/json_kernels.mk)"
#endif
#endif
