# arroyo_stream: PGXS build (C++17). `make && make install` against the system's pg_config.
EXTENSION = arroyo_stream
MODULE_big = arroyo_stream
DATA = sql/arroyo_stream--0.1.0.sql sql/arroyo_stream--0.2.0.sql sql/arroyo_stream--0.1.0--0.2.0.sql

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
