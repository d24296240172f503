#!/usr/bin/env bash
# Install what arroyo_stream needs to build, test and demo on Debian 12, and create the
# unprivileged OS user that runs PostgreSQL (it refuses to run as root).  Idempotent: installs
# only missing packages, and runs `apt-get update` only when something is missing.
#
# As root: installs with apt-get and creates the system user `arroyo` (home /var/lib/arroyo-stream).
# As non-root: uses sudo for apt-get, and PostgreSQL runs as the current user instead, so no user
# is created.  test/lib.sh (arroyo_pg_user) makes that choice for every script.
set -euo pipefail

PACKAGES=(
    build-essential          # g++, make
    postgresql-15            # server binaries: initdb, pg_ctl, postgres, psql
    postgresql-server-dev-15 # pg_config, PGXS, headers, pg_regress
    libsimdjson-dev          # JSON format
    kcat                     # independent Kafka client for tests
    python3
    python3-psycopg          # independent PostgreSQL client for tests
    python3-confluent-kafka  # independent Kafka client for tests
    python3-websockets       # websocket peer for tests
    procps                   # ps/pgrep, used by tests
    openssl                  # test certificates for the websocket TLS tests
    clang                    # fuzz targets (test/fuzz) and the sanitizer build
    libclang-rt-14-dev       # libFuzzer and the sanitizer runtimes for clang 14
    clang-format             # scripts/format.sh (.clang-format)
    curl                     # independent HTTP client for the REST API test
)

PG_OS_USER_HOME=/var/lib/arroyo-stream

# shellcheck source=SCRIPTDIR/../test/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"

# The libraries of connectors, declared in their own folders (src/connectors/*/build.mk:
# `ARROYO_PACKAGES += librdkafka-dev` for the kafka connector, libwebsockets-dev for websocket).
for pkg in $(sed -n 's/^ARROYO_PACKAGES *+= *//p' "$ARROYO_ROOT"/src/connectors/*/build.mk); do
    PACKAGES+=("$pkg")
done

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} > 0)); then
    arroyo_log "installing missing packages: ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    arroyo_log "all ${#PACKAGES[@]} required packages are installed"
fi

if arroyo_is_root; then
    if ! id -u "$ARROYO_PG_USER" >/dev/null 2>&1; then
        arroyo_log "creating system user $ARROYO_PG_USER (home $PG_OS_USER_HOME) to run PostgreSQL"
        useradd --system --user-group --create-home --home-dir "$PG_OS_USER_HOME" \
            --shell /usr/sbin/nologin --comment "arroyo_stream demo/test PostgreSQL" \
            "$ARROYO_PG_USER"
    fi
else
    id -u "$ARROYO_PG_USER" >/dev/null 2>&1 ||
        arroyo_die "ARROYO_PG_USER=$ARROYO_PG_USER does not exist (as non-root, no user is created)"
fi
arroyo_log "PostgreSQL instances run as OS user: $ARROYO_PG_USER"
