# What the nats connector needs beyond the core build: the NATS C client (libnats). Its tests
# run a real nats-server (test/nats_test.sh); their independent client speaks the NATS text
# protocol in Python's standard library (test/nats_client.py). The Makefile includes every
# src/connectors/*/build.mk; scripts/install_deps.sh installs ARROYO_PACKAGES.
SHLIB_LINK += -lnats
ARROYO_PACKAGES += libnats-dev nats-server
