# arroyo_stream: PGXS build (C++17). `make && make install` against the system's pg_config.
EXTENSION = arroyo_stream
MODULE_big = arroyo_stream
DATA = sql/arroyo_stream--0.1.0.sql sql/arroyo_stream--0.2.0.sql sql/arroyo_stream--0.3.0.sql \
       sql/arroyo_stream--0.1.0--0.2.0.sql sql/arroyo_stream--0.2.0--0.3.0.sql \
       sql/arroyo_stream--0.3.0--0.4.0.sql sql/arroyo_stream--0.4.0--0.5.0.sql \
       sql/arroyo_stream--0.5.0--0.6.0.sql sql/arroyo_stream--0.6.0--0.7.0.sql

SRCS := $(sort $(shell find src -name '*.cpp'))
OBJS = $(SRCS:.cpp=.o)

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -Isrc
PG_CXXFLAGS = -std=c++17 -fexceptions -Wno-register -Wno-missing-field-initializers
SHLIB_LINK = -lstdc++ -lsimdjson
# A connector that needs a library declares it in its own folder, in build.mk:
# `SHLIB_LINK += -lfoo` and `ARROYO_PACKAGES += libfoo-dev` (read by scripts/install_deps.sh).
include $(sort $(wildcard src/connectors/*/build.mk))
# Extra compile and link flags, e.g. sanitizers (scripts/sanitize.sh sets them).
ARROYO_EXTRA_FLAGS ?=
PG_CXXFLAGS += $(ARROYO_EXTRA_FLAGS)
SHLIB_LINK += $(ARROYO_EXTRA_FLAGS)

# Our C++ gains nothing from LLVM bitcode for JIT inlining; skip it (and the clang dependency).
override with_llvm = no

# `make installcheck`: the regress tests of test/schedule, in its order, against the running
# server that PGHOST, PGPORT, PGUSER point at (README "Testing" says what it needs), in a fresh
# database contrib_regression. Data files are read from data/, made a link to test/data first;
# the server writes into results/. ./test/run.sh runs the same tests on a temporary instance.
# Excluded here, with the reason (none so far): ARROYO_INSTALLCHECK_EXCLUDE.
ARROYO_INSTALLCHECK_EXCLUDE =
REGRESS = $(filter-out $(ARROYO_INSTALLCHECK_EXCLUDE),$(shell sed -n 's/^test: *//p' test/schedule))
REGRESS_PREP = arroyo_regress_data
ENCODING = UTF8
NO_LOCALE = 1
EXTRA_CLEAN = data

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

.PHONY: arroyo_regress_data
arroyo_regress_data:
	@test -L data || test ! -e data || { echo "data exists and is not a link to test/data" >&2; exit 1; }
	ln -sfn test/data data

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

# Unit tests of the PostgreSQL-free code (test/unit/NAME_test.cpp; test/run.sh runs them): one
# program per file, compiled with the extension's flags and linked with the very objects the
# extension is built from (ARROYO_UNIT_OBJS_NAME) and the libraries those need
# (ARROYO_UNIT_LIBS_NAME). `make unit` builds them all; ARROYO_UNIT_TESTS="NAME..." some.
ARROYO_UNIT_TESTS = $(patsubst test/unit/%_test.cpp,%,$(wildcard test/unit/*_test.cpp))
ARROYO_UNIT_OBJS_json_scan = src/formats/json_scan.o src/formats/json_scan_builtin.o \
                             $(ARROYO_JSON_KERNEL_OBJS)
ARROYO_UNIT_LIBS_json_scan = -lsimdjson
ARROYO_UNIT_OBJS_nexmark = src/connectors/nexmark/generator.o
ARROYO_UNIT_OBJS_subtask_share = src/connectors/nexmark/generator.o
ARROYO_UNIT_OBJS_ws_client = src/connectors/websocket/ws_client.o src/core/url_authority.o
ARROYO_UNIT_OBJS_graph = src/runtime/graph.o
ARROYO_UNIT_LIBS_ws_client = -lwebsockets -lcrypto
ARROYO_UNIT_OBJS_sse_parser = src/connectors/sse/sse_parser.o src/connectors/http_common/http_client.o
ARROYO_UNIT_LIBS_sse_parser = -lcurl
ARROYO_UNIT_PROGRAMS = $(ARROYO_UNIT_TESTS:%=test/unit/%_test)

.PHONY: unit
unit: $(ARROYO_UNIT_PROGRAMS)
$(ARROYO_UNIT_PROGRAMS:=.o) test/unit/unit.o: test/unit/unit.hpp $(HEADERS)
define arroyo_unit_program
test/unit/$(1)_test: test/unit/$(1)_test.o test/unit/unit.o $$(ARROYO_UNIT_OBJS_$(1))
	$$(CXX) $$(CXXFLAGS) -o $$@ $$^ $$(LDFLAGS) $$(ARROYO_UNIT_LIBS_$(1))
endef
$(foreach t,$(ARROYO_UNIT_TESTS),$(eval $(call arroyo_unit_program,$(t))))
EXTRA_CLEAN += $(ARROYO_UNIT_PROGRAMS) test/unit/*.o
