# What the mqtt connector needs beyond the core build: libmosquitto; its test runs the mosquitto
# broker and checks with its command-line clients (mosquitto_pub, mosquitto_sub, mosquitto_passwd).
# The Makefile includes every src/connectors/*/build.mk; scripts/install_deps.sh installs
# ARROYO_PACKAGES.
SHLIB_LINK += -lmosquitto
ARROYO_PACKAGES += libmosquitto-dev mosquitto mosquitto-clients
# test/unit/mqtt_client_test.cpp: the PostgreSQL-free client, linked as the extension is.
ARROYO_UNIT_OBJS_mqtt_client = src/connectors/mqtt/mqtt_client.o src/core/url_authority.o
ARROYO_UNIT_LIBS_mqtt_client = -lmosquitto
