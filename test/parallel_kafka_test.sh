#!/usr/bin/env bash
# Splitting sources and sinks in parallel pipelines (SET parallelism = N, issue 21): every
# worker reads its own share (Kafka partitions p % N == s, generators' numbers i % N == s) and
# writes through a sink of its own, and the union is what parallelism 1 produces. Checked
# against PostgreSQL's batch queries and with independent clients (kcat, python3-confluent-
# kafka) on the loopback test broker (test/kafka_broker/).
#
#   a. impulse at parallelism 2: counters 0..999 once each, subtask_index = counter % 2
#   b. nexmark at parallelism 2: the bids of 5000 events equal parallelism 1's row for row;
#      persons (events 50k, all even) come from worker 0 alone and the pipeline finishes
#   c. a topic of 8 partitions with 20 000 JSON rows, read to its end (source.stop_at
#      'latest') by `SELECT k, count(*), sum(v) ... GROUP BY k` at parallelism 2: equal to the
#      batch query over the same rows in a table (EXCEPT ALL both ways); every partition's
#      offset committed to the consumer group
#   d. Kafka -> Kafka at parallelism 2 with sink.commit_mode 'exactly_once': a read_committed
#      kcat sees exactly the input rows (count and content), written under two transactional
#      ids (the pipeline's plus -0 and -1)
#
# Skips (exit 0, "SKIP: parallelism not available") while stream_create rejects
# `SET parallelism`.
# Ports: the broker on ARROYO_KAFKA_PAR_TEST_PORT (55605), PostgreSQL on the next one (55606).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/kafka_broker/broker.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka_broker/broker.sh"

POLL_TIMEOUT=120
BROKER_PORT=${ARROYO_KAFKA_PAR_TEST_PORT:-55605}
PG_PORT=$((BROKER_PORT + 1))
BOOT=127.0.0.1:$BROKER_PORT
ROWS=20000
PARTITIONS=8

pg_test_instance parallel_kafka "$PG_PORT" "max_prepared_transactions = 64"
LOG=$PGTEST_DIR/server.log
WORK=$ARROYO_WORK_ROOT/tests/parallel_kafka_files
rm -rf "$WORK"
mkdir -p "$WORK"
arroyo_on_exit "rm -rf '$WORK'"
CLIENTS=("$PYTHON" "$ARROYO_ROOT/test/kafka_broker/kafka_clients.py")

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }
expect() {
    expect_eq "$@"
    echo "ok: $1"
}
# run_to_end NAME QUERY: creates and starts a pipeline, waits for it to end, dies unless it
# finished.
run_to_end() {
    q "SELECT stream_create('$1', \$q\$$2\$q\$), stream_start('$1')" >/dev/null
    local state
    state=$(q "SELECT stream_wait('$1', '120 seconds')")
    [[ $state == finished ]] || arroyo_die "pipeline $1 ended '$state', not finished: \
$(q "SELECT last_error FROM stream_pipelines WHERE name = '$1'")"
    echo "ok: pipeline $1 finished"
}

q "CREATE EXTENSION arroyo_stream" >/dev/null
q "CREATE SERVER impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
   CREATE FOREIGN TABLE imp (counter bigint, subtask_index int) SERVER impulse
     OPTIONS (event_rate '0', message_count '1000');
   CREATE TABLE imp_got (counter bigint, subtask_index int);"

# --- is there a parallel runtime? ------------------------------------------------------------
if ! out=$(q "SELECT stream_create('imp_par', \$q\$SET parallelism = 2;
              INSERT INTO imp_got SELECT counter, subtask_index FROM imp\$q\$)" 2>&1); then
    if [[ $out == *'unknown pipeline setting "parallelism"'* ]]; then
        out=${out#*ERROR:  }
        echo "SKIP: parallelism not available (stream_create: ${out%%$'\n'*})"
        exit 0
    fi
    arroyo_die "stream_create with SET parallelism = 2 failed: $out"
fi

# --- a. impulse ------------------------------------------------------------------------------
arroyo_log "a. impulse at parallelism 2"
q "SELECT stream_start('imp_par')" >/dev/null
expect "impulse pipeline ends" finished "$(q "SELECT stream_wait('imp_par', '60 seconds')")"
expect "impulse counters (rows, distinct, min, max, subtask mismatches)" "1000|1000|0|999|0" \
    "$(q "SELECT count(*) || '|' || count(DISTINCT counter) || '|' || min(counter) || '|' ||
                 max(counter) || '|' || count(*) FILTER (WHERE counter % 2 <> subtask_index)
          FROM imp_got")"
expect "impulse rows per subtask" "0|500
1|500" "$(q "SELECT subtask_index || '|' || count(*) FROM imp_got GROUP BY subtask_index ORDER BY subtask_index")"

# --- b. nexmark ------------------------------------------------------------------------------
arroyo_log "b. nexmark at parallelism 2 against parallelism 1"
q "CREATE SERVER nx FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
   CREATE FOREIGN TABLE bids (auction bigint, bidder bigint, price bigint, channel text,
                              url text, date_time timestamptz, extra text) SERVER nx
     OPTIONS (event_type 'bid', event_rate '0', message_count '5000', seed '42',
              start_time '2026-01-01 00:00:00+00');
   CREATE FOREIGN TABLE persons (id bigint, name text, date_time timestamptz) SERVER nx
     OPTIONS (event_type 'person', event_rate '0', message_count '5000', seed '42',
              start_time '2026-01-01 00:00:00+00');
   CREATE TABLE bids_1 (auction bigint, bidder bigint, price bigint, channel text, url text,
                        date_time timestamptz, extra text);
   CREATE TABLE bids_2 (LIKE bids_1);
   CREATE TABLE persons_2 (id bigint, name text, date_time timestamptz);"
run_to_end nx_1 'INSERT INTO bids_1 SELECT * FROM bids'
run_to_end nx_2 'SET parallelism = 2; INSERT INTO bids_2 SELECT * FROM bids'
run_to_end nx_p 'SET parallelism = 2; INSERT INTO persons_2 SELECT * FROM persons'
expect "nexmark bids at parallelism 1 and 2 (rows, rows, 1 except 2, 2 except 1)" \
    "4600|4600|0|0" \
    "$(q "SELECT (SELECT count(*) FROM bids_1) || '|' || (SELECT count(*) FROM bids_2) || '|' ||
                 (SELECT count(*) FROM (TABLE bids_1 EXCEPT ALL TABLE bids_2) x) || '|' ||
                 (SELECT count(*) FROM (TABLE bids_2 EXCEPT ALL TABLE bids_1) x)")"
expect "nexmark persons at parallelism 2 (rows, distinct ids, min, max)" "100|100|1000|1099" \
    "$(q "SELECT count(*) || '|' || count(DISTINCT id) || '|' || min(id) || '|' || max(id)
          FROM persons_2")"

# --- c. Kafka source at parallelism 2 --------------------------------------------------------
arroyo_log "c. a topic of $PARTITIONS partitions, aggregated at parallelism 2"
kafka_broker_build "$WORK"
kafka_broker_start "$WORK" "$BROKER_PORT" --topic par_in:$PARTITIONS --topic par_out:3
# Row i: {"id": i, "k": i % 97, "v": (i * 7919) % 1000 - 500}, in partition i % 8, keyed by i.
awk -v n=$ROWS -v parts=$PARTITIONS 'BEGIN {
        for (i = 1; i <= n; i++) {
            v = (i * 7919) % 1000 - 500
            printf "%d|%d||{\"id\": %d, \"k\": %d, \"v\": %d}\n", i % parts, i, i, i % 97, v \
                >"/dev/stdout"
            printf "%d,%d,%d\n", i, i % 97, v >"/dev/stderr"
        }
    }' >"$WORK/messages.txt" 2>"$WORK/rows.csv"
"${CLIENTS[@]}" produce "$BOOT" par_in <"$WORK/messages.txt"
q "CREATE TABLE par_rows (id int, k int, v int)"
pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -q -c "\\copy par_rows FROM '$WORK/rows.csv' CSV"
expect "rows loaded for the batch query" "$ROWS" "$(q "SELECT count(*) FROM par_rows")"

q "CREATE SERVER kafka FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'kafka', bootstrap_servers '$BOOT', \"reconnect.backoff.max.ms\" '500');
   CREATE FOREIGN TABLE par_in (id int, k int NOT NULL, v int) SERVER kafka
     OPTIONS (type 'source', topic 'par_in', \"source.offset\" 'earliest',
              \"source.stop_at\" 'latest');
   CREATE FOREIGN TABLE par_out (id int, k int, v int) SERVER kafka
     OPTIONS (type 'sink', topic 'par_out', \"sink.key_field\" 'id',
              \"sink.commit_mode\" 'exactly_once');
   CREATE TABLE par_agg (k int PRIMARY KEY, n bigint, s bigint);"
run_to_end par_agg 'SET parallelism = 2; SET checkpoint_interval = '"'"'200 milliseconds'"'"';
    INSERT INTO par_agg SELECT k, count(*), sum(v) FROM par_in GROUP BY k'
expect "aggregate at parallelism 2 against the batch query (groups, rows, agg except batch, \
batch except agg)" "97|$ROWS|0|0" \
    "$(q "SELECT (SELECT count(*) FROM par_agg) || '|' || (SELECT sum(n) FROM par_agg) || '|' ||
                 (SELECT count(*) FROM (SELECT * FROM par_agg EXCEPT ALL
                                        SELECT k, count(*), sum(v) FROM par_rows GROUP BY k) x)
                 || '|' ||
                 (SELECT count(*) FROM (SELECT k, count(*), sum(v) FROM par_rows GROUP BY k
                                        EXCEPT ALL SELECT * FROM par_agg) x)")"
expect "rows_in of the pipeline" "$ROWS" \
    "$(q "SELECT rows_in FROM stream_pipelines WHERE name = 'par_agg'")"
# Both workers committed their partitions' offsets (each partition holds 2500 messages).
expected_offsets=$(for ((p = 0; p < PARTITIONS; p++)); do echo "$p|$((ROWS / PARTITIONS))"; done)
expect "offsets committed to the consumer group" "$expected_offsets" \
    "$("${CLIENTS[@]}" committed "$BOOT" arroyo_stream-postgres-par_agg par_in)"

# --- d. Kafka -> Kafka, exactly once, at parallelism 2 ----------------------------------------
arroyo_log "d. Kafka -> Kafka exactly once at parallelism 2"
run_to_end par_copy 'SET parallelism = 2; SET checkpoint_interval = '"'"'200 milliseconds'"'"';
    INSERT INTO par_out SELECT id, k, v FROM par_in'
kcat -C -b "$BOOT" -t par_out -X isolation.level=read_committed -e -q \
    -f '%h\t%s\n' >"$WORK/out.txt"
expect "messages a read_committed kcat sees" "$ROWS" "$(wc -l <"$WORK/out.txt")"
cut -f2 "$WORK/out.txt" >"$WORK/out.json"
q "CREATE TABLE par_got (j jsonb)"
pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -q -c "\\copy par_got FROM '$WORK/out.json'"
expect "sink output against the input rows (rows, out except in, in except out)" "$ROWS|0|0" \
    "$(q "SELECT (SELECT count(*) FROM par_got) || '|' ||
                 (SELECT count(*) FROM (SELECT (j->>'id')::int, (j->>'k')::int, (j->>'v')::int
                                        FROM par_got EXCEPT ALL TABLE par_rows) x) || '|' ||
                 (SELECT count(*) FROM (TABLE par_rows EXCEPT ALL
                                        SELECT (j->>'id')::int, (j->>'k')::int, (j->>'v')::int
                                        FROM par_got) x)")"
# Each worker wrote under its own transactional id: arroyo_stream-<sysid>-<db>-<pipeline>-<s>.
ids=$(cut -f1 "$WORK/out.txt" | sed -n 's/.*arroyo_stream_txn=\([^/]*\)\/.*/\1/p' |
    sed 's/.*-//' | sort | uniq -c | awk '{ print $2 "|" ($1 > 0) }')
expect "transactional ids' subtask suffixes in the headers" "0|1
1|1" "$ids"
expect "every message carries the header" "$ROWS" \
    "$(grep -c 'arroyo_stream_txn=arroyo_stream-' "$WORK/out.txt")"

echo "parallel_kafka_test: all passed"
