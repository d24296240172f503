# What the filesystem connector and the avro format (src/formats/avro.cpp, also used by kafka)
# need beyond the core build: libavro (avro-c) parses Avro schemas. The tests read the files
# back with python3-avro, an Avro implementation independent of ours. The Makefile includes
# every src/connectors/*/build.mk; scripts/install_deps.sh installs ARROYO_PACKAGES.
SHLIB_LINK += -lavro
ARROYO_PACKAGES += libavro-dev python3-avro
