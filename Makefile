# arroyo_stream: PGXS build (C++17). `make && make install` against the system's pg_config.
EXTENSION = arroyo_stream
MODULE_big = arroyo_stream
DATA = sql/arroyo_stream--0.1.0.sql sql/arroyo_stream--0.2.0.sql sql/arroyo_stream--0.3.0.sql \
       sql/arroyo_stream--0.1.0--0.2.0.sql sql/arroyo_stream--0.2.0--0.3.0.sql

SRCS := $(sort $(shell find src -name '*.cpp'))
OBJS = $(SRCS:.cpp=.o)

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -Isrc
PG_CXXFLAGS = -std=c++17 -fexceptions -Wno-register -Wno-missing-field-initializers
SHLIB_LINK = -lstdc++ -lsimdjson -lwebsockets -lcrypto -lrdkafka
# Extra compile and link flags, e.g. sanitizers (scripts/sanitize.sh sets them).
ARROYO_EXTRA_FLAGS ?=
PG_CXXFLAGS += $(ARROYO_EXTRA_FLAGS)
SHLIB_LINK += $(ARROYO_EXTRA_FLAGS)

# Our C++ gains nothing from LLVM bitcode for JIT inlining; skip it (and the clang dependency).
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

HEADERS := $(shell find src -name '*.hpp')
$(OBJS): $(HEADERS)

# The JSON scanning kernels (src/formats/json_scan_internal.hpp): on x86-64, json_scan_NAME.cpp
# is compiled with simdjson's NAME target flags, and then keeps its own copy of any inline
# function it defines outside its namespaces (else the linker could keep that copy for the whole
# library and run it on a CPU without NAME's instructions): scripts/isolate_json_kernel.sh.
# Elsewhere those files compile to nothing and only json_scan_builtin.cpp counts.
include src/formats/json_kernels.mk
ifneq ($(filter x86_64-%,$(shell $(CXX) -dumpmachine)),)
ARROYO_JSON_KERNEL_OBJS = $(patsubst %,src/formats/json_scan_%.o,westmere haswell icelake)
$(ARROYO_JSON_KERNEL_OBJS): src/formats/json_scan_%.o: src/formats/json_scan_%.cpp \
                            src/formats/json_kernels.mk scripts/isolate_json_kernel.sh
	$(CXX) $(CXXFLAGS) $(ARROYO_JSON_KERNEL_FLAGS_$*) $(CPPFLAGS) -c -o $@ $<
	bash scripts/isolate_json_kernel.sh $@ $* || { rm -f $@; exit 1; }
endif
