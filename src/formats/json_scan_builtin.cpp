// The JSON scanning kernel for the simdjson implementation the build's own flags allow (its
// "builtin" one: fallback on plain x86-64, arm64, ppc64, ...), which runs on any CPU the rest
// of the extension runs on. See json_scan_internal.hpp.
#define ARROYO_JSON_KERNEL_NS json_kernel_builtin
#define ARROYO_JSON_KERNEL_ENTRY kernel_builtin
#include "formats/json_scan_kernel.hpp"
