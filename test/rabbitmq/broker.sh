# shellcheck shell=bash
# A private rabbitmq-server for tests and benchmarks: one Erlang node in a directory of its own,
# run as ARROYO_PG_USER, on a port block of its own, never the system service. Source after
# test/lib.sh.
#
#   rabbit_start DIR PORT   starts a node: AMQP on PORT, Erlang distribution on PORT+1, epmd on
#                           PORT+2 (an epmd of its own); waits until it serves AMQP; stopped
#                           when the script exits
#   rabbit_ctl ARGS...      rabbitmqctl against that node (e.g. list_queues, stop_app)
#   rabbit_stop             stops the node and its epmd; nothing of it keeps running
#   rabbit_declare_queue Q  a durable queue Q (bound by the default exchange to its own name)

RABBIT_BIN=/usr/lib/rabbitmq/bin

# The environment every command of the node needs (its node name, ports, files, cookie).
rabbit_env() {
    env HOME="$RABBIT_DIR" RABBITMQ_NODENAME="arroyo_test_$RABBIT_PORT@localhost" \
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$RABBIT_PORT" \
        RABBITMQ_DIST_PORT=$((RABBIT_PORT + 1)) ERL_EPMD_PORT=$((RABBIT_PORT + 2)) \
        ERL_EPMD_ADDRESS=127.0.0.1 \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        RABBITMQ_MNESIA_BASE="$RABBIT_DIR/mnesia" RABBITMQ_LOG_BASE="$RABBIT_DIR/log" \
        RABBITMQ_CONFIG_FILE="$RABBIT_DIR/rabbitmq" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$RABBIT_DIR/enabled_plugins" \
        RABBITMQ_PID_FILE="$RABBIT_DIR/rabbit.pid" RABBITMQ_ADVANCED_CONFIG_FILE="$RABBIT_DIR/advanced" \
        RABBITMQ_CONF_ENV_FILE="$RABBIT_DIR/rabbitmq-env.conf" "$@"
}

rabbit_ctl() { as_pg_user env -C "$RABBIT_DIR" bash -c "$(declare -f rabbit_env); RABBIT_DIR='$RABBIT_DIR' RABBIT_PORT='$RABBIT_PORT' rabbit_env \"\$@\"" _ "$RABBIT_BIN/rabbitmqctl" -q "$@"; }

rabbit_serving() { rabbit_ctl await_startup >/dev/null 2>&1; }

rabbit_start() { # DIR PORT
    RABBIT_DIR=$1
    RABBIT_PORT=$2
    rm -rf "$RABBIT_DIR"
    arroyo_work_dir "$RABBIT_DIR"
    # The guest user may log in from loopback only (RabbitMQ's default); no management plugin.
    printf 'loopback_users.guest = true\nlisteners.tcp.local = 127.0.0.1:%s\n' "$RABBIT_PORT" \
        >"$RABBIT_DIR/rabbitmq.conf"
    echo '[].' >"$RABBIT_DIR/enabled_plugins"
    echo '[].' >"$RABBIT_DIR/advanced.config"
    : >"$RABBIT_DIR/rabbitmq-env.conf"
    chown -R "$(arroyo_pg_user)" "$RABBIT_DIR" 2>/dev/null || true
    arroyo_on_exit rabbit_stop
    rabbit_launch
}

# Starts the node of RABBIT_DIR again (after rabbit_stop) and waits until it serves.
rabbit_launch() {
    as_pg_user env -C "$RABBIT_DIR" bash -c "$(declare -f rabbit_env); RABBIT_DIR='$RABBIT_DIR' RABBIT_PORT='$RABBIT_PORT' rabbit_env \"\$@\"" _ \
        "$RABBIT_BIN/rabbitmq-server" >>"$RABBIT_DIR/server.out" 2>&1 &
    local i
    for ((i = 0; i < 600; i++)); do
        rabbit_serving && return 0
        sleep 0.1
    done
    tail -30 "$RABBIT_DIR/server.out" >&2
    arroyo_die "rabbitmq-server on port $RABBIT_PORT did not start"
}

rabbit_stop() {
    [[ -n ${RABBIT_DIR:-} && -d $RABBIT_DIR ]] || return 0
    # The node's pid file names its beam process: wait for it to go, else end it.
    local pid i
    pid=$(cat "$RABBIT_DIR/rabbit.pid" 2>/dev/null || true)
    rabbit_ctl stop >/dev/null 2>&1 || true
    if [[ $pid =~ ^[0-9]+$ ]]; then
        for ((i = 0; i < 150; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill "$pid" 2>/dev/null || true
    fi
    # The node's own epmd (started by the node, on its private port).
    as_pg_user env ERL_EPMD_PORT=$((RABBIT_PORT + 2)) epmd -kill >/dev/null 2>&1 || true
}
