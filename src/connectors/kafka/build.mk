# What the kafka connector needs beyond the core build: librdkafka. The Makefile includes every
# src/connectors/*/build.mk; scripts/install_deps.sh installs ARROYO_PACKAGES.
SHLIB_LINK += -lrdkafka
ARROYO_PACKAGES += librdkafka-dev
