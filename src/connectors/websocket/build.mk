# What the websocket connector needs beyond the core build: libwebsockets, and OpenSSL's
# libcrypto (ws_client.cpp reads OpenSSL's error queue to explain TLS failures). The Makefile
# includes every src/connectors/*/build.mk; scripts/install_deps.sh installs ARROYO_PACKAGES.
SHLIB_LINK += -lwebsockets -lcrypto
ARROYO_PACKAGES += libwebsockets-dev
