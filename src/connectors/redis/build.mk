# What the redis connector needs beyond the core build: hiredis; its tests run redis-server and
# check with redis-cli and python3-redis. The Makefile includes every src/connectors/*/build.mk;
# scripts/install_deps.sh installs ARROYO_PACKAGES.
SHLIB_LINK += -lhiredis
ARROYO_PACKAGES += libhiredis-dev redis-server redis-tools python3-redis
