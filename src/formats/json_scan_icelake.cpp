// The JSON scanning kernel for simdjson's icelake implementation (see json_scan_internal.hpp),
// compiled with ARROYO_JSON_KERNEL_FLAGS_icelake (src/formats/json_kernels.mk); x86-64 only.
#if defined(__x86_64__)
#define SIMDJSON_BUILTIN_IMPLEMENTATION icelake
#define ARROYO_JSON_KERNEL_NS json_kernel_icelake
#define ARROYO_JSON_KERNEL_ENTRY kernel_icelake
#include "formats/json_scan_kernel.hpp"
#if !SIMDJSON_CAN_ALWAYS_RUN_ICELAKE
#error "compile with ARROYO_JSON_KERNEL_FLAGS_icelake (src/formats/json_kernels.mk)"
#endif
#endif
