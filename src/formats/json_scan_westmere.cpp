// The JSON scanning kernel for simdjson's westmere implementation (see json_scan_internal.hpp),
// compiled with ARROYO_JSON_KERNEL_FLAGS_westmere (src/formats/json_kernels.mk); x86-64 only.
#if defined(__x86_64__)
#define SIMDJSON_BUILTIN_IMPLEMENTATION westmere
#define ARROYO_JSON_KERNEL_NS json_kernel_westmere
#define ARROYO_JSON_KERNEL_ENTRY kernel_westmere
#include "formats/json_scan_kernel.hpp"
#if !SIMDJSON_CAN_ALWAYS_RUN_WESTMERE
#error "compile with ARROYO_JSON_KERNEL_FLAGS_westmere (src/formats/json_kernels.mk)"
#endif
#endif
