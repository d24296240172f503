# shellcheck shell=bash
# Shell helpers to run test/kafka_broker/kafka_broker.c (a Kafka-protocol broker on loopback)
# from tests and benchmarks. Source it after test/lib.sh:
#
#   kafka_broker_build DIR              cc the broker into DIR/kafka_broker
#   kafka_broker_start DIR PORT ARGS... start it in the background (ARGS: --topic NAME:N ...),
#                                       with a FIFO on its stdin for commands; waits for "ready";
#                                       it is killed when the script exits
#   kafka_broker_cmd COMMAND            send a command ("down", "up", "topic NAME N",
#                                       "unknown NAME", "fail API N ERR", "clear API") and
#                                       wait for its "ok COMMAND"
#   kafka_broker_stop                   quit it and wait for it
#
# KAFKA_BROKER_TIMEOUT (default 60) bounds every wait, in seconds.

KAFKA_BROKER_DIR=
KAFKA_BROKER_PID=
KAFKA_BROKER_FD=

kafka_broker_build() {
    mkdir -p "$1"
    cc -O2 -Wall -o "$1/kafka_broker" "$ARROYO_ROOT/test/kafka_broker/kafka_broker.c" \
        -lrdkafka -ldl
}

# Waits until the broker printed LINE more than MIN times.
kafka_broker_wait_line() {
    local line=$1 min=$2 deadline=$((SECONDS + ${KAFKA_BROKER_TIMEOUT:-60})) n
    while :; do
        n=$(grep -cxF -- "$line" "$KAFKA_BROKER_DIR/out" || true)
        ((n > min)) && return 0
        if ! kill -0 "$KAFKA_BROKER_PID" 2>/dev/null; then
            arroyo_die "the Kafka broker exited: $(cat "$KAFKA_BROKER_DIR/out")"
        fi
        ((SECONDS < deadline)) || arroyo_die "timed out waiting for the broker to say '$line'"
        sleep 0.05
    done
}

# Starts the broker; if its fixed port is taken (by another process's ephemeral port: test
# ports lie in the kernel's ephemeral range), tries again, up to 10 times a second apart.
kafka_broker_start() {
    KAFKA_BROKER_DIR=$1
    local port=$2 attempt
    shift 2
    arroyo_on_exit kafka_broker_kill
    for ((attempt = 1; ; attempt++)); do
        rm -f "$KAFKA_BROKER_DIR/ctl" "$KAFKA_BROKER_DIR/out"
        mkfifo "$KAFKA_BROKER_DIR/ctl"
        "$KAFKA_BROKER_DIR/kafka_broker" --port "$port" "$@" <"$KAFKA_BROKER_DIR/ctl" \
            >"$KAFKA_BROKER_DIR/out" 2>&1 &
        KAFKA_BROKER_PID=$!
        exec {KAFKA_BROKER_FD}>"$KAFKA_BROKER_DIR/ctl"
        local deadline=$((SECONDS + ${KAFKA_BROKER_TIMEOUT:-60}))
        while ! grep -qxF ready "$KAFKA_BROKER_DIR/out" && kill -0 "$KAFKA_BROKER_PID" 2>/dev/null; do
            ((SECONDS < deadline)) || arroyo_die "timed out waiting for the broker to say 'ready'"
            sleep 0.05
        done
        grep -qxF ready "$KAFKA_BROKER_DIR/out" && return 0
        exec {KAFKA_BROKER_FD}>&-
        wait "$KAFKA_BROKER_PID" 2>/dev/null || true
        KAFKA_BROKER_PID=
        if ((attempt >= 10)) || ! grep -q "Address already in use" "$KAFKA_BROKER_DIR/out"; then
            arroyo_die "the Kafka broker exited: $(cat "$KAFKA_BROKER_DIR/out")"
        fi
        arroyo_log "port $port is in use; starting the Kafka broker again in 1 s"
        sleep 1
    done
}

kafka_broker_cmd() {
    local before
    before=$(grep -cxF -- "ok $1" "$KAFKA_BROKER_DIR/out" || true)
    echo "$1" >&"$KAFKA_BROKER_FD"
    kafka_broker_wait_line "ok $1" "$before"
}

kafka_broker_stop() {
    [[ -n $KAFKA_BROKER_PID ]] || return 0
    echo quit >&"$KAFKA_BROKER_FD" 2>/dev/null || true
    exec {KAFKA_BROKER_FD}>&-
    wait "$KAFKA_BROKER_PID" 2>/dev/null || true
    KAFKA_BROKER_PID=
}

kafka_broker_kill() {
    [[ -n $KAFKA_BROKER_PID ]] || return 0
    kill "$KAFKA_BROKER_PID" 2>/dev/null || true
    wait "$KAFKA_BROKER_PID" 2>/dev/null || true
    KAFKA_BROKER_PID=
}
