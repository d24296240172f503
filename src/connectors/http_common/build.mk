# What the HTTP connectors (sse, polling_http, webhook) need beyond the core build: libcurl; and
# for their test (test/http_connectors_test.sh) the curl CLI as an independent client (the test
# server is python3's own http.server). The Makefile includes every src/connectors/*/build.mk;
# scripts/install_deps.sh installs ARROYO_PACKAGES.
SHLIB_LINK += -lcurl
ARROYO_PACKAGES += libcurl4-openssl-dev curl python3
