#!/usr/bin/env bash
# The rabbitmq connector against a real rabbitmq-server on loopback (test/rabbitmq/broker.sh),
# checked with an independent client (python3-pika, test/rabbitmq/clients.py) and rabbitmqctl.
# Ports: ARROYO_RABBIT_TEST_PORT (default 55585) for PostgreSQL, +1 AMQP, +2 Erlang
# distribution, +3 epmd, +4 a TCP proxy between the source and the broker.
#
#   a. options are checked at CREATE SERVER / USER MAPPING / FOREIGN TABLE, naming the option;
#      credentials only in user mappings;
#   b. queue -> table: 100 messages and one that is not JSON (bad_data 'drop'): exactly the 100
#      rows, bad_rows 1, the queue empty (everything acked after the commit);
#   c. a worker killed between commit and ack: the proxy holds what the worker sends, 50 more
#      messages are committed but stay unacked (rabbitmqctl shows 50 unacknowledged); the
#      worker is terminated and the connection cut, the broker redelivers the 50; the resumed
#      worker skips exactly those 50 (source_status says so): 150 rows, 150 distinct, queue
#      empty;
#   d. a broker restart (stop_app / start_app): source_status says it is reconnecting; then 50
#      more messages arrive exactly once: 200 rows, 200 distinct; a queue -> exchange pipeline
#      running through the restart publishes each of its 200 results at least once;
#   e. refused credentials fail the pipeline (without showing the password); bad_data 'fail'
#      (the default): the pipeline fails with an error naming the queue;
#   f. impulse -> exchange sink with publisher confirms: the bound queue holds exactly the rows;
#      a sink to a missing exchange fails its pipeline naming it.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/rabbitmq/broker.sh
source "$(dirname "${BASH_SOURCE[0]}")/rabbitmq/broker.sh"

PG_PORT=${ARROYO_RABBIT_TEST_PORT:-55585}
AMQP_PORT=$((PG_PORT + 1))
PROXY_PORT=$((PG_PORT + 4))
POLL_TIMEOUT=60
CLIENTS=("$PYTHON" "$ARROYO_ROOT/test/rabbitmq/clients.py")
WORK=$ARROYO_WORK_ROOT/tests/rabbitmq_test

pg_test_instance rabbitmq "$PG_PORT"
rabbit_start "$WORK/broker" "$AMQP_PORT"

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }
expect() {
    expect_eq "$@"
    echo "ok: $1"
}
# Runs SQL that must fail; prints the error message (without "ERROR:  ").
fails() {
    local out
    if out=$(pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1" 2>&1); then
        arroyo_die "expected an error from: $1"
    fi
    sed -n 's/^ERROR:  //p' <<<"$out" | head -1
}
field() { q "SELECT $2 FROM stream_pipelines WHERE name = '$1'"; }
queue_state() { # QUEUE: "ready unacked"
    rabbit_ctl list_queues name messages_ready messages_unacknowledged |
        awk -v q="$1" '$1 == q { print $2, $3 }'
}
rows_are() { # TABLE N: count(*) and count(DISTINCT id) are both N
    last=$(q "SELECT count(*) || ' ' || count(DISTINCT id) FROM $1")
    [[ $last == "$2 $2" ]]
}
queue_is() { # QUEUE "READY UNACKED"
    last=$(queue_state "$1")
    [[ $last == "$2" ]]
}
status_matches() { # NAME REGEX
    last=$(field "$1" "coalesce(source_status, '')")
    [[ $last =~ $2 ]]
}
state_is() { # NAME STATE
    last=$(field "$1" state)
    [[ $last == "$2" ]]
}
resumed() { # NAME OLD-PID: running with another worker
    last=$(field "$1" "state || ' ' || coalesce(pid, 0)")
    [[ $last == running* && $last != "running 0" && $last != "running $2" ]]
}

"${CLIENTS[@]}" proxy "$PROXY_PORT" "$AMQP_PORT" >"$WORK/proxy.out" 2>&1 &
PROXY_PID=$!
arroyo_on_exit "kill $PROXY_PID 2>/dev/null || true"
proxy_ready() { grep -q '^ready$' "$WORK/proxy.out"; }
wait_for "the proxy" proxy_ready

"${CLIENTS[@]}" declare "$AMQP_PORT" rin
"${CLIENTS[@]}" declare "$AMQP_PORT" rbad
"${CLIENTS[@]}" declare "$AMQP_PORT" rout rx k
"${CLIENTS[@]}" declare "$AMQP_PORT" rin2
"${CLIENTS[@]}" declare "$AMQP_PORT" rout2 rx2 k2

q "CREATE EXTENSION arroyo_stream"

# --- a. options -------------------------------------------------------------------------------
expect "password on a server" 'option "password" belongs in a user mapping' \
    "$(fails "CREATE SERVER bad FOREIGN DATA WRAPPER arroyo_stream
                OPTIONS (connector 'rabbitmq', password 'secret')")"
expect "bad port" 'invalid value for option "port": "70000"' \
    "$(fails "CREATE SERVER bad FOREIGN DATA WRAPPER arroyo_stream
                OPTIONS (connector 'rabbitmq', port '70000')")"
expect "unknown server option" 'unknown option "vhost" for connector "rabbitmq" servers' \
    "$(fails "CREATE SERVER bad FOREIGN DATA WRAPPER arroyo_stream
                OPTIONS (connector 'rabbitmq', vhost '/')" | sed 's/ (.*//')"
q "CREATE SERVER rabbit FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'rabbitmq', host '127.0.0.1', port '$PROXY_PORT');
   CREATE SERVER rabbit_direct FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'rabbitmq', host '127.0.0.1', port '$AMQP_PORT', virtual_host '/');
   CREATE USER MAPPING FOR CURRENT_USER SERVER rabbit OPTIONS (username 'guest', password 'guest');"
expect "unknown user mapping option" 'unknown option "token" for connector "rabbitmq" user mappings' \
    "$(fails "CREATE USER MAPPING FOR CURRENT_USER SERVER rabbit_direct OPTIONS (token 'x')")"
expect "source without queue" 'missing required option "queue" for connector "rabbitmq" tables' \
    "$(fails "CREATE FOREIGN TABLE bad (id int) SERVER rabbit OPTIONS (type 'source')")"
expect "sink without exchange" 'missing required option "exchange" for connector "rabbitmq" tables' \
    "$(fails "CREATE FOREIGN TABLE bad (id int) SERVER rabbit OPTIONS (type 'sink')")"
expect "prefetch too large" 'invalid value for option "prefetch": "70000"' \
    "$(fails "CREATE FOREIGN TABLE bad (id int) SERVER rabbit
                OPTIONS (type 'source', queue 'rin', prefetch '70000')")"
expect "prefetch on a sink" 'option "prefetch" applies only to source tables' \
    "$(fails "CREATE FOREIGN TABLE bad (id int) SERVER rabbit
                OPTIONS (type 'sink', exchange 'rx', prefetch '10')")"
expect "routing_key on a source" 'option "routing_key" applies only to sink tables' \
    "$(fails "CREATE FOREIGN TABLE bad (id int) SERVER rabbit
                OPTIONS (type 'source', queue 'rin', routing_key 'k')")"
expect "password on a table" 'option "password" belongs in a user mapping' \
    "$(fails "CREATE FOREIGN TABLE bad (id int) SERVER rabbit
                OPTIONS (type 'source', queue 'rin', password 'x')")"

# --- b. queue -> table --------------------------------------------------------------------------
q "CREATE FOREIGN TABLE rin (id int, v int) SERVER rabbit
     OPTIONS (type 'source', queue 'rin', format 'json', bad_data 'drop', prefetch '500');
   CREATE TABLE got (id int, v int);
   SELECT stream_create('rq', \$q\$SET checkpoint_interval = '200 milliseconds';
     INSERT INTO got SELECT id, v FROM rin\$q\$), stream_start('rq');" >/dev/null
"${CLIENTS[@]}" publish "$AMQP_PORT" rin 1 50
"${CLIENTS[@]}" publish_raw "$AMQP_PORT" rin 'not json'
"${CLIENTS[@]}" publish "$AMQP_PORT" rin 51 100
wait_for "100 rows" rows_are got 100
wait_for "the queue to be empty" queue_is rin "0 0"
expect "sum of v" 50500 "$(q "SELECT sum(v) FROM got")"
wait_for "bad_rows 1" eval '[[ $(field rq bad_rows) == 1 ]]'
echo "ok: bad_rows 1"
# The redelivery window empties once the broker has processed the acks (the qos-ok after each
# ack comes back): the source keeps no state then.
state_bytes_is() { # NAME N
    last=$(field "$1" state_bytes)
    [[ $last == "$2" ]]
}
wait_for "rq's window to empty" state_bytes_is rq 0
echo "ok: state_bytes 0"
wait_for "status consuming" status_matches rq '^consuming queue "rin" on amqp://127\.0\.0\.1:[0-9]+/$'
echo "ok: source_status: $last"

# --- c. a worker killed between commit and ack ------------------------------------------------
kill -USR1 "$PROXY_PID" # hold: the worker's acks (and qos) do not reach the broker
"${CLIENTS[@]}" publish "$AMQP_PORT" rin 101 150
wait_for "150 rows committed" rows_are got 150
wait_for "50 unacked" queue_is rin "0 50"
echo "ok: 150 rows committed, 50 of them not acked"
# Their identities (16 bytes each) stay in the window: the qos-ok confirming the ack never came.
# (state_bytes is measured about once a second: wait for it rather than read it once.)
wait_for "rq's window while its acks are held (state_bytes 800)" state_bytes_is rq 800
echo "ok: rq's window while its acks are held (state_bytes 800)"
old_pid=$(field rq pid)
q "SELECT pg_terminate_backend($old_pid)" >/dev/null
kill -USR2 "$PROXY_PID" # cut: the held acks are lost, the broker requeues the 50
wait_for "rq to resume" resumed rq "$old_pid"
wait_for "the 50 to be skipped" status_matches rq 'skipped 50 redelivered messages already committed$'
echo "ok: source_status: $last"
wait_for "the queue to be empty again" queue_is rin "0 0"
expect "rows after the kill (count, distinct)" "150 150" \
    "$(q "SELECT count(*) || ' ' || count(DISTINCT id) FROM got")"

# --- d. a broker restart ------------------------------------------------------------------------
# Also a second pipeline, queue rin2 -> exchange rx2 (bound queue rout2), running through it.
q "CREATE FOREIGN TABLE rin2 (id int, v int) SERVER rabbit_direct
     OPTIONS (type 'source', queue 'rin2', format 'json');
   CREATE FOREIGN TABLE rx2 (id int, v int) SERVER rabbit_direct
     OPTIONS (type 'sink', exchange 'rx2', routing_key 'k2', format 'json');
   SELECT stream_create('r2', \$q\$SET checkpoint_interval = '200 milliseconds';
     INSERT INTO rx2 SELECT id, v + 1 FROM rin2\$q\$), stream_start('r2');" >/dev/null
"${CLIENTS[@]}" publish "$AMQP_PORT" rin2 1 100
wait_for "r2's first 100 messages in rout2" queue_is rout2 "100 0"
rabbit_ctl stop_app >/dev/null
wait_for "status reconnecting" status_matches rq '^(disconnected from|cannot reach) amqp://'
echo "ok: source_status: $last"
rabbit_ctl start_app >/dev/null
"${CLIENTS[@]}" publish "$AMQP_PORT" rin 151 200
"${CLIENTS[@]}" publish "$AMQP_PORT" rin2 101 200
wait_for "200 rows" rows_are got 200
wait_for "status consuming again" status_matches rq '^consuming queue "rin"'
wait_for "the queue to be empty after the restart" queue_is rin "0 0"
expect "rows after the broker restart (count, distinct, sum)" "200 200 201000" \
    "$(q "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || sum(v) FROM got")"
# The sink is at-least-once: every one of the 200 results at least once (a message published
# but not confirmed when the broker went away is published again).
rout2_has_all() {
    last=$("${CLIENTS[@]}" drain "$AMQP_PORT" rout2 | tee -a "$WORK/rout2" | wc -l)
    [[ $(sort -u "$WORK/rout2" | wc -l) == 200 ]]
}
: >"$WORK/rout2"
wait_for "the 200 results of r2 in rout2" rout2_has_all
want2=$(for ((i = 1; i <= 200; i++)); do printf '{"id":%d,"v":%d}\n' $i $((i * 10 + 1)); done | sort)
expect "r2's distinct results after the broker restart" "$want2" "$(sort -u "$WORK/rout2")"
echo "ok: r2 published $(wc -l <"$WORK/rout2") messages for its 200 results"

# --- e. refused credentials, bad_data 'fail' ---------------------------------------------------
q "CREATE SERVER rabbit_badpw FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'rabbitmq', host '127.0.0.1', port '$AMQP_PORT');
   CREATE USER MAPPING FOR CURRENT_USER SERVER rabbit_badpw
     OPTIONS (username 'guest', password 'wrong-secret');
   CREATE FOREIGN TABLE rpw (id int) SERVER rabbit_badpw OPTIONS (type 'source', queue 'rin');
   CREATE TABLE got_pw (id int);
   SELECT stream_create('rp', 'INSERT INTO got_pw SELECT id FROM rpw'), stream_start('rp');" \
    >/dev/null
wait_for "rp to fail" state_is rp failed
expect "refused credentials" 'rabbitmq source public.rpw (queue "rin"): could not log in to amqp://127.0.0.1:'"$AMQP_PORT"'/ as "guest": the server closed the connection: ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.' \
    "$(field rp last_error)"
! grep -q wrong-secret "$PGTEST_DIR/server.log" || arroyo_die "the password is in the server log"
echo "ok: the password appears neither in the error nor in the server log"

# --- e2. bad_data 'fail' -------------------------------------------------------------------------
q "CREATE FOREIGN TABLE rbad (id int, v int) SERVER rabbit_direct
     OPTIONS (type 'source', queue 'rbad', format 'json');
   CREATE TABLE got_bad (id int, v int);
   SELECT stream_create('rb', 'INSERT INTO got_bad SELECT id, v FROM rbad'),
          stream_start('rb');" >/dev/null
"${CLIENTS[@]}" publish_raw "$AMQP_PORT" rbad '{"id": "x"}'
wait_for "rb to fail" state_is rb failed
err=$(field rb last_error)
[[ $err == 'bad data in message 1 of this connection from queue "rbad": '* ]] ||
    arroyo_die "rb's error: $err"
echo "ok: $err"

# --- f. the sink --------------------------------------------------------------------------------
q "CREATE SERVER ticks FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
   CREATE FOREIGN TABLE nums (counter bigint) SERVER ticks
     OPTIONS (event_rate '0', message_count '300');
   CREATE FOREIGN TABLE rx (id bigint, sq bigint) SERVER rabbit_direct
     OPTIONS (type 'sink', exchange 'rx', routing_key 'k', format 'json');
   CREATE FOREIGN TABLE rx_missing (id bigint) SERVER rabbit_direct
     OPTIONS (type 'sink', exchange 'no_such_exchange', format 'json');
   SELECT stream_create('rs', 'INSERT INTO rx SELECT counter, counter * counter FROM nums'),
          stream_start('rs');" >/dev/null
expect "sink pipeline" finished "$(q "SELECT stream_wait('rs', '60 seconds')")"
got=$("${CLIENTS[@]}" drain "$AMQP_PORT" rout)
want=$(for ((i = 0; i < 300; i++)); do printf '{"id":%d,"sq":%d}\n' $i $((i * i)); done | sort)
expect "the 300 messages in the bound queue" "$want" "$got"
q "SELECT stream_create('rm', 'INSERT INTO rx_missing SELECT counter FROM nums'),
          stream_start('rm')" >/dev/null
wait_for "rm to fail" state_is rm failed
err=$(field rm last_error)
[[ $err == *'could not find exchange "no_such_exchange"'*'NOT_FOUND'* ]] ||
    arroyo_die "rm's error: $err"
echo "ok: $err"

q "SELECT stream_stop('rq')" >/dev/null
echo "PASS: rabbitmq"
