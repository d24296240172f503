# Target flags of the JSON scanning kernels (src/formats/json_scan_NAME.cpp, x86-64 only): the
# instruction sets simdjson's NAME implementation is compiled for (its SIMDJSON_TARGET_NAME
# region). Read by the Makefile and by test/fuzz/run.sh.
ARROYO_JSON_KERNEL_FLAGS_westmere = -msse4.2 -mpclmul
ARROYO_JSON_KERNEL_FLAGS_haswell = -mavx2 -mbmi -mpclmul -mlzcnt
ARROYO_JSON_KERNEL_FLAGS_icelake = -mavx512f -mavx512dq -mavx512cd -mavx512bw -mavx512vbmi -mavx512vbmi2 -mavx512vl -mavx2 -mbmi -mpclmul -mlzcnt
