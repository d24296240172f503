#!/usr/bin/env bash
# Crash recovery of Kafka pipelines: while a paced writer fills a topic, the pipelines' workers
# are killed (pg_terminate_backend) and the server is stopped with `pg_ctl stop -m immediate`
# and started again, over and over; afterwards the outputs are exactly those of an
# uninterrupted run.
#
#   a. Kafka -> updating aggregate (GROUP BY k: count, sum) -> regular table: the table holds
#      the exact aggregates of every message (source positions, aggregate state and table
#      writes commit in one transaction)
#   b. Kafka -> Kafka with sink.commit_mode 'exactly_once': a read_committed consumer
#      (python3-confluent-kafka) sees every expected message exactly once. First, the window
#      between the PostgreSQL commit of a checkpoint and the Kafka commit of its messages: the
#      broker stalls the sink's transaction (AddPartitionsToTxn answered "coordinator load in
#      progress"), the worker is killed while it waits, and its restart sends that epoch again
#
# Both pipelines read the same topic; each round kills a's worker, then b's, then stops the
# server immediately and starts it (ROUNDS rounds: ROUNDS kills of each worker, ROUNDS
# immediate stops). The supervisor resumes every pipeline by itself.
#
# Ports: PostgreSQL on ARROYO_KAFKA_RECOVERY_PORT (55462), the broker on
# ARROYO_KAFKA_RECOVERY_BROKER_PORT (55472).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/kafka_broker/broker.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka_broker/broker.sh"

POLL_TIMEOUT=60
ROUNDS=${KAFKA_RECOVERY_ROUNDS:-5}
MAX_MESSAGES=${KAFKA_RECOVERY_MAX_MESSAGES:-20000}
BROKER_PORT=${ARROYO_KAFKA_RECOVERY_BROKER_PORT:-55472}
BOOT=127.0.0.1:$BROKER_PORT
BROKER_DIR=$ARROYO_WORK_ROOT/tests/kafka_recovery_broker
CLIENTS=("$PYTHON" "$ARROYO_ROOT/test/kafka_broker/kafka_clients.py")
SETTINGS=("${ARROYO_SERVER_SETTINGS[@]}" "fsync = off")

pg_test_instance kafka_recovery "${ARROYO_KAFKA_RECOVERY_PORT:-55462}"

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }

expect() {
    expect_eq "$@"
    echo "ok: $1"
}

pid_of() { q "SELECT coalesce(pid, 0) FROM stream_pipelines WHERE name = '$1'"; }
# Condition: pipeline NAME runs, with a worker other than OLD-PID, that has committed since.
resumed() { # NAME OLD-PID
    last=$(q "SELECT state || '|' || coalesce(pid, 0) || '|' || coalesce(last_error, '')
              FROM stream_pipelines WHERE name = '$1'" 2>/dev/null) || return 1
    [[ $last == running\|* && $last != "running|0|"* && $last != "running|$2|"* ]]
}
server_up() { q "SELECT 1" >/dev/null 2>&1; }
topic_count_at_least() { # TOPIC N
    last=$("${CLIENTS[@]}" consume "$BOOT" "$1" 2>&1 | wc -l) && ((last >= $2))
}

kafka_broker_build "$BROKER_DIR"
kafka_broker_start "$BROKER_DIR" "$BROKER_PORT" --topic rec_in:3 --topic rec_out:2
q "CREATE EXTENSION arroyo_stream" >/dev/null
q "CREATE SERVER kafka FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'kafka', bootstrap_servers '$BOOT', \"reconnect.backoff.max.ms\" '500');
   CREATE FOREIGN TABLE rec_in (id int, k int NOT NULL, v int) SERVER kafka
     OPTIONS (type 'source', topic 'rec_in', \"source.offset\" 'earliest');
   CREATE FOREIGN TABLE rec_out (id int, k int, v int) SERVER kafka
     OPTIONS (type 'sink', topic 'rec_out', \"sink.key_field\" 'id',
              \"sink.commit_mode\" 'exactly_once');
   CREATE TABLE rec_agg (k int PRIMARY KEY, n bigint, s bigint);"
q "SELECT stream_create('rec_agg', \$q\$SET checkpoint_interval = '200 milliseconds';
     SET update_aggregate_flush_interval = '100 milliseconds';
     INSERT INTO rec_agg SELECT k, count(*), sum(v) FROM rec_in GROUP BY k\$q\$),
          stream_create('rec_eo', \$q\$SET checkpoint_interval = '200 milliseconds';
     INSERT INTO rec_out SELECT id, k, v * 2 FROM rec_in\$q\$),
          stream_start('rec_agg'), stream_start('rec_eo')" >/dev/null

# The writer: messages {"id": i, "k": i % 17, "v": i}, keyed by id, 10 every 50 ms, from the
# start until every crash is done (at most MAX_MESSAGES); then it writes how many to $count_file.
count_file=$BROKER_DIR/written
stop_file=$BROKER_DIR/stop_writing
rm -f "$count_file" "$stop_file"
{
    i=0
    while [[ ! -e $stop_file ]] && ((i < MAX_MESSAGES)); do
        for ((j = 0; j < 10; j++)); do
            i=$((i + 1))
            printf '|%d||{"id": %d, "k": %d, "v": %d}\n' "$i" "$i" $((i % 17)) "$i"
        done
        sleep 0.05
    done
    echo "$i" >"$count_file"
} | "${CLIENTS[@]}" produce "$BOOT" rec_in --timeout-ms 120000 &
writer=$!

# The window: a checkpoint of rec_eo has committed, its Kafka transaction cannot (the broker
# keeps answering AddPartitionsToTxn, API key 24, with COORDINATOR_LOAD_IN_PROGRESS, 14, so no
# message of it is written), and the worker is killed while it waits.
epoch_of() { q "SELECT coalesce(max(epoch), 0) FROM stream_checkpoints WHERE pipeline = 'rec_eo'"; }
epoch_above() { last=$(epoch_of) && ((last > $1)); }
log_count() { grep -cF -- "$1" "$PGTEST_DIR/server.log" || true; }
log_above() { last=$(log_count "$1") && ((last > $2)); }
wait_for "rec_eo's first checkpoint" epoch_above 0
stalled='kafka sink public.rec_out (topic "rec_out"): waiting for the Kafka cluster to commit a transaction'
kafka_broker_cmd "fail 24 100000 14"
wait_for "rec_eo to wait for its Kafka transaction" log_above "$stalled" 0
old=$(pid_of rec_eo)
q "SELECT pg_terminate_backend(pid) FROM stream_pipelines WHERE name = 'rec_eo'" >/dev/null
# The stall lasts until the old worker is gone (else its retry could still write the epoch).
wait_for "rec_eo to resume after the stalled transaction" resumed rec_eo "$old"
kafka_broker_cmd "clear 24"
resent() { last=$(grep -oE 'recovered epochs .*, [1-9][0-9]* sent again' "$PGTEST_DIR/server.log") ; }
wait_for "the restarted rec_eo to send the stalled epoch again" resent
echo "ok: b. the epoch whose Kafka transaction never committed was sent again: ${last#recovered }"

for ((round = 1; round <= ROUNDS; round++)); do
    for name in rec_agg rec_eo; do
        sleep "0.$((RANDOM % 8 + 2))"
        old=$(pid_of "$name")
        q "SELECT pg_terminate_backend(pid) FROM stream_pipelines WHERE name = '$name'" >/dev/null
        wait_for "$name to resume after kill $round" resumed "$name" "$old"
    done
    sleep "0.$((RANDOM % 8 + 2))"
    old_agg=$(pid_of rec_agg)
    old_eo=$(pid_of rec_eo)
    as_pg_user "$(pg_bindir)/pg_ctl" -D "$PGTEST_DIR" -m immediate -w stop >/dev/null
    pg_instance_start "$PGTEST_DIR" "$PGTEST_PORT" "${SETTINGS[@]}" 2>/dev/null
    wait_for "the server to accept connections" server_up
    wait_for "rec_agg to resume after immediate stop $round" resumed rec_agg "$old_agg"
    wait_for "rec_eo to resume after immediate stop $round" resumed rec_eo "$old_eo"
    arroyo_log "round $round: killed rec_agg, killed rec_eo, stopped the server immediately"
done
touch "$stop_file"
wait "$writer" || arroyo_die "the writer could not deliver its messages"
MESSAGES=$(cat "$count_file")
((MESSAGES < MAX_MESSAGES)) || arroyo_die "the writer reached $MAX_MESSAGES messages before the crashes were done"
echo "ok: the writer wrote $MESSAGES messages, from before the first crash until after the last"
crashes=$((3 * ROUNDS))
echo "ok: $crashes crashes ($ROUNDS kills of each worker, $ROUNDS immediate stops) during the run"

# --- a. the table ---------------------------------------------------------------------------
agg_diff() {
    last=$(q "SELECT count(*) FROM (SELECT i % 17 AS k, count(*) AS n, sum(i) AS s
                                    FROM generate_series(1, $MESSAGES) i GROUP BY 1) e
              FULL JOIN rec_agg a USING (k)
              WHERE e.k IS NULL OR a.k IS NULL OR (e.n, e.s) IS DISTINCT FROM (a.n, a.s)") &&
        [[ $last == 0 ]]
}
wait_for "rec_agg to hold the exact aggregates of all $MESSAGES messages" agg_diff
expect "a. rec_agg (groups, total count, total sum)" "17|$MESSAGES|$((MESSAGES * (MESSAGES + 1) / 2))" \
    "$(q "SELECT count(*) || '|' || sum(n) || '|' || sum(s) FROM rec_agg")"

# --- b. the topic, read_committed -----------------------------------------------------------
wait_for "rec_out to hold $MESSAGES messages" topic_count_at_least rec_out "$MESSAGES"
q "SELECT stream_stop('rec_agg'), stream_stop('rec_eo')" >/dev/null
expect "both pipelines stopped" "rec_agg|stopped
rec_eo|stopped" "$(q "SELECT name || '|' || state FROM stream_pipelines ORDER BY name")"
"${CLIENTS[@]}" consume "$BOOT" rec_out | cut -d'|' -f3,4 | sort -t'|' -k1,1n >"$BROKER_DIR/got.txt"
seq 1 "$MESSAGES" | awk '{ printf "%d|{\"id\":%d,\"k\":%d,\"v\":%d}\n", $1, $1, $1 % 17, 2 * $1 }' \
    >"$BROKER_DIR/want.txt"
if ! cmp -s "$BROKER_DIR/want.txt" "$BROKER_DIR/got.txt"; then
    diff "$BROKER_DIR/want.txt" "$BROKER_DIR/got.txt" | head -20 >&2
    arroyo_die "b. rec_out differs from the expected messages ($(wc -l <"$BROKER_DIR/got.txt") read)"
fi
echo "ok: b. rec_out read_committed: each of the $MESSAGES messages exactly once"
# --- stream_stop / stream_start: both resume from their checkpoints, not from 'earliest' --------
total=$((MESSAGES + 5))
for ((i = MESSAGES + 1; i <= total; i++)); do
    printf '|%d||{"id": %d, "k": %d, "v": %d}\n' "$i" "$i" $((i % 17)) "$i"
done | "${CLIENTS[@]}" produce "$BOOT" rec_in
q "SELECT stream_start('rec_agg'), stream_start('rec_eo')" >/dev/null
MESSAGES=$total
wait_for "rec_agg to count the 5 new messages once" agg_diff
wait_for "rec_out to hold $total messages" topic_count_at_least rec_out "$total"
q "SELECT stream_stop('rec_agg'), stream_stop('rec_eo')" >/dev/null
"${CLIENTS[@]}" consume "$BOOT" rec_out | cut -d'|' -f3,4 | sort -t'|' -k1,1n >"$BROKER_DIR/got.txt"
seq 1 "$total" | awk '{ printf "%d|{\"id\":%d,\"k\":%d,\"v\":%d}\n", $1, $1, $1 % 17, 2 * $1 }' \
    >"$BROKER_DIR/want.txt"
cmp -s "$BROKER_DIR/want.txt" "$BROKER_DIR/got.txt" ||
    arroyo_die "rec_out after the restart differs ($(wc -l <"$BROKER_DIR/got.txt") messages)"
echo "ok: after stream_stop and stream_start both pipelines read only the 5 new messages"

# What the restarts of the exactly-once sink found (for the record, not asserted: it depends on
# where each crash fell).
grep -o 'recovered epochs .*' "$PGTEST_DIR/server.log" | sed 's/^/  /' || true
