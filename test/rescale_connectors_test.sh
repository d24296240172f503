#!/usr/bin/env bash
# Rescaling the connectors that split (issue 21, item 3): pipelines stopped (or running) at one
# parallelism resume at another with stream_rescale, and every source record is read, and every
# result written, exactly once. Checked against PostgreSQL's batch queries and with independent
# clients (kcat read_committed, python3-confluent-kafka, the files read back by cat).
#
#   a. impulse at a rate, message_count 4000: started at 2 workers, stopped while running,
#      rescaled to 3 and started, rescaled (running) to 1: counters 0..3999 once each, written
#      by subtasks 0, 1 and 2
#   b. nexmark bids at a rate, rescaled 2 -> 3 -> 1 while running: row for row the bids
#      parallelism 1 generates for the same message_count
#   c. an aggregate over an 8-partition topic at 2 workers, stopped, rescaled to 3 (started,
#      restarted without new messages: no message read twice), more messages, rescaled
#      (running) to 1, more messages: the table equals the batch query over every message
#   d. Kafka -> Kafka exactly once, rescaled 2 -> 3 -> 1 while messages keep arriving: a
#      read_committed kcat sees every message exactly once
#   e. Kafka -> Kafka exactly once at 3 workers whose epochs cannot be delivered (the broker
#      refuses AddPartitionsToTxn): the pipeline fails with them in its checkpoint; rescaled to
#      1, its worker fences the old transactional ids and delivers them: every message once
#   f. impulse -> Kafka at least once (no state), rescaled 2 -> 3 while running: every counter
#      once (clean stops), from subtasks 0, 1 and 2
#   g. impulse -> filesystem (JSON lines, rolled by size) rescaled 2 -> 3 -> 1 while running:
#      the finished files hold every counter exactly once, none is left in progress, and the
#      files of workers 0, 1 and 2 are there
#   h. impulse -> filesystem at 3 workers failing mid-run (files left in progress), rescaled to
#      1: worker 0 finishes the files of workers 1 and 2; every counter once, none in progress
#
# Ports: the broker on ARROYO_RESCALE_TEST_PORT (55616), PostgreSQL on the next one (55617).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/kafka_broker/broker.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka_broker/broker.sh"

POLL_TIMEOUT=120
BROKER_PORT=${ARROYO_RESCALE_TEST_PORT:-55616}
PG_PORT=$((BROKER_PORT + 1))
BOOT=127.0.0.1:$BROKER_PORT
PARTITIONS=8

pg_test_instance rescale_connectors "$PG_PORT" "max_prepared_transactions = 64"
WORK=$ARROYO_WORK_ROOT/tests/rescale_connectors_files
rm -rf "$WORK"
mkdir -p "$WORK"
arroyo_on_exit "rm -rf '$WORK'"
OUT=$ARROYO_WORK_ROOT/tests/rescale_connectors_out
rm -rf "$OUT"
arroyo_work_dir "$OUT"
arroyo_on_exit "rm -rf '$OUT'"
CLIENTS=("$PYTHON" "$ARROYO_ROOT/test/kafka_broker/kafka_clients.py")

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }
# file_counters DIR PIPELINE TABLE: loads the JSON lines of PIPELINE's finished files under DIR
# into TABLE (j jsonb) and prints their counters' "rows|distinct|min|max".
file_counters() {
    find "$1" -name "$2-*.json" -exec cat {} + >"$WORK/$2.json"
    pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -q \
        -c "COPY $3 FROM STDIN (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" <"$WORK/$2.json"
    q "SELECT count(*) || '|' || count(DISTINCT (j->>'counter')::bigint) || '|' ||
              min((j->>'counter')::bigint) || '|' || max((j->>'counter')::bigint) FROM $3"
}
expect() {
    expect_eq "$@"
    echo "ok: $1"
}
# at_least QUERY N: the query's (integer) value has reached N (for wait_for).
at_least() {
    last=$(q "$1")
    [[ -n $last ]] && ((last >= $2))
}
# equals QUERY VALUE (for wait_for).
equals() {
    last=$(q "$1")
    [[ $last == "$2" ]]
}
# rescale NAME N: stream_rescale, then checks that the pipeline's text says so (at 1, no SET
# parallelism).
rescale() {
    q "SELECT stream_rescale('$1', $2)" >/dev/null
    local text
    text=$(q "SELECT query FROM stream_pipelines WHERE name = '$1'")
    [[ ($2 -gt 1 && $text == *"parallelism = $2"*) || ($2 -eq 1 && $text != *parallelism*) ]] ||
        arroyo_die "stream_rescale('$1', $2) did not change the pipeline's text: \
$(q "SELECT query FROM stream_pipelines WHERE name = '$1'")"
    echo "ok: $1 rescaled to $2"
}
# finished NAME: waits for the pipeline to end, dies unless it finished.
finished() {
    local state
    state=$(q "SELECT stream_wait('$1', '120 seconds')")
    [[ $state == finished ]] || arroyo_die "pipeline $1 ended '$state', not finished: \
$(q "SELECT last_error FROM stream_pipelines WHERE name = '$1'")"
    echo "ok: pipeline $1 finished"
}
# running NAME: dies unless the pipeline runs (a failed restart shows here).
running() {
    local state
    state=$(q "SELECT state || ' ' || coalesce(last_error, '') FROM stream_pipelines
               WHERE name = '$1'")
    [[ $state == 'running ' ]] || arroyo_die "pipeline $1 is not running: $state"
}
CP="SET checkpoint_interval = '200 milliseconds';"

q "CREATE EXTENSION arroyo_stream" >/dev/null

# --- a. impulse ------------------------------------------------------------------------------
arroyo_log "a. impulse 2 -> (stopped) 3 -> (running) 1"
q "CREATE SERVER impulse FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
   CREATE FOREIGN TABLE imp (counter bigint, subtask_index int) SERVER impulse
     OPTIONS (event_rate '500', message_count '4000');
   CREATE TABLE imp_got (counter bigint, subtask_index int);"
q "SELECT stream_create('imp_rs', \$q\$SET parallelism = 2; $CP
     INSERT INTO imp_got SELECT counter, subtask_index FROM imp\$q\$), stream_start('imp_rs')" \
    >/dev/null
wait_for "impulse rows at 2 workers" at_least "SELECT count(*) FROM imp_got" 600
q "SELECT stream_stop('imp_rs')" >/dev/null
n2=$(q "SELECT count(*) FROM imp_got")
((n2 < 4000)) || arroyo_die "impulse finished before it was rescaled ($n2 rows)"
rescale imp_rs 3
q "SELECT stream_start('imp_rs')" >/dev/null
wait_for "impulse rows at 3 workers" at_least "SELECT count(*) FROM imp_got" $((n2 + 900))
running imp_rs
rescale imp_rs 1
finished imp_rs
expect "impulse counters (rows, distinct, min, max, rows not of their subtask's share)" \
    "4000|4000|0|3999|0" \
    "$(q "SELECT count(*) || '|' || count(DISTINCT counter) || '|' || min(counter) || '|' ||
                 max(counter) || '|' ||
                 count(*) FILTER (WHERE subtask_index > 0 AND counter % 3 <> subtask_index
                                  AND counter % 2 <> subtask_index)
          FROM imp_got")"
expect "impulse subtasks that wrote" "0,1,2" \
    "$(q "SELECT string_agg(DISTINCT subtask_index::text, ',') FROM imp_got")"

# --- b. nexmark ------------------------------------------------------------------------------
arroyo_log "b. nexmark bids 2 -> 3 -> 1 while running, against parallelism 1"
q "CREATE SERVER nx FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'nexmark');
   CREATE FOREIGN TABLE bids (auction bigint, bidder bigint, price bigint, channel text,
                              url text, date_time timestamptz, extra text) SERVER nx
     OPTIONS (event_type 'bid', event_rate '1000', message_count '8000', seed '7',
              start_time '2026-01-01 00:00:00+00');
   CREATE TABLE bids_1 (auction bigint, bidder bigint, price bigint, channel text, url text,
                        date_time timestamptz, extra text);
   CREATE TABLE bids_rs (LIKE bids_1);"
q "SELECT stream_create('nx_1', 'INSERT INTO bids_1 SELECT * FROM bids'), stream_start('nx_1'),
          stream_create('nx_rs', \$q\$SET parallelism = 2; $CP
                                    INSERT INTO bids_rs SELECT * FROM bids\$q\$),
          stream_start('nx_rs')" >/dev/null
wait_for "bids at 2 workers" at_least "SELECT count(*) FROM bids_rs" 1500
rescale nx_rs 3
wait_for "bids at 3 workers" at_least "SELECT count(*) FROM bids_rs" 4000
running nx_rs
rescale nx_rs 1
finished nx_rs
finished nx_1
expect "bids rescaled against parallelism 1 (rows, rows, 1 except rescaled, rescaled except 1)" \
    "7360|7360|0|0" \
    "$(q "SELECT (SELECT count(*) FROM bids_1) || '|' || (SELECT count(*) FROM bids_rs) || '|' ||
                 (SELECT count(*) FROM (TABLE bids_1 EXCEPT ALL TABLE bids_rs) x) || '|' ||
                 (SELECT count(*) FROM (TABLE bids_rs EXCEPT ALL TABLE bids_1) x)")"

# --- c. an aggregate over a Kafka topic ------------------------------------------------------
arroyo_log "c. an aggregate over $PARTITIONS partitions: 2 -> (stopped) 3 -> (running) 1"
kafka_broker_build "$WORK"
kafka_broker_start "$WORK" "$BROKER_PORT" --topic agg_in:$PARTITIONS --topic copy_in:$PARTITIONS \
    --topic copy_out:3
# produce_rows TOPIC FROM TO: rows i = FROM..TO as {"id": i, "k": i % 97, "v": ...} in partition
# i % 8 (keyed by i), and the same rows in $WORK/rows_TOPIC.csv for the batch query.
produce_rows() {
    awk -v from="$2" -v to="$3" -v parts=$PARTITIONS 'BEGIN {
            for (i = from; i <= to; i++) {
                v = (i * 7919) % 1000 - 500
                printf "%d|%d||{\"id\": %d, \"k\": %d, \"v\": %d}\n", i % parts, i, i, i % 97, v \
                    >"/dev/stdout"
                printf "%d,%d,%d\n", i, i % 97, v >"/dev/stderr"
            }
        }' >"$WORK/batch.txt" 2>>"$WORK/rows_$1.csv"
    "${CLIENTS[@]}" produce "$BOOT" "$1" <"$WORK/batch.txt"
}
q "CREATE SERVER kafka FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'kafka', bootstrap_servers '$BOOT', \"reconnect.backoff.max.ms\" '500');
   CREATE FOREIGN TABLE agg_in (id int, k int NOT NULL, v int) SERVER kafka
     OPTIONS (type 'source', topic 'agg_in', \"source.offset\" 'earliest');
   CREATE TABLE agg (k int PRIMARY KEY, n bigint, s bigint);
   CREATE TABLE agg_rows (id int, k int, v int);"
produce_rows agg_in 1 8000
q "SELECT stream_create('agg_rs', \$q\$SET parallelism = 2; $CP
     INSERT INTO agg SELECT k, count(*), sum(v) FROM agg_in GROUP BY k\$q\$),
          stream_start('agg_rs')" >/dev/null
wait_for "the first 8000 rows at 2 workers" equals "SELECT sum(n) FROM agg" 8000
q "SELECT stream_stop('agg_rs')" >/dev/null
rescale agg_rs 3
expect "a stopped pipeline stays stopped when rescaled" stopped \
    "$(q "SELECT state FROM stream_pipelines WHERE name = 'agg_rs'")"
# At 3 workers without new messages: the first checkpoint must write every partition's position
# (the old workers' entries are deleted with it), or the restart that follows reads the topic
# again from its start.
q "SELECT stream_start('agg_rs')" >/dev/null
sleep 1.5
running agg_rs
q "SELECT stream_stop('agg_rs')" >/dev/null
q "SELECT stream_start('agg_rs')" >/dev/null
sleep 1.5
expect "rows after a restart at 3 workers without new messages" 8000 "$(q "SELECT sum(n) FROM agg")"
produce_rows agg_in 8001 16000
wait_for "16000 rows at 3 workers" equals "SELECT sum(n) FROM agg" 16000
running agg_rs
rescale agg_rs 1
produce_rows agg_in 16001 24000
wait_for "24000 rows at 1 worker" equals "SELECT sum(n) FROM agg" 24000
sleep 2 # a duplicate would arrive in this time
running agg_rs
pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -q -c "\\copy agg_rows FROM '$WORK/rows_agg_in.csv' CSV"
expect "aggregate rescaled 2 -> 3 -> 1 against the batch query (rows loaded, groups, rows, \
agg except batch, batch except agg)" "24000|97|24000|0|0" \
    "$(q "SELECT (SELECT count(*) FROM agg_rows) || '|' || (SELECT count(*) FROM agg) || '|' ||
                 (SELECT sum(n) FROM agg) || '|' ||
                 (SELECT count(*) FROM (SELECT * FROM agg EXCEPT ALL
                                        SELECT k, count(*), sum(v) FROM agg_rows GROUP BY k) x)
                 || '|' ||
                 (SELECT count(*) FROM (SELECT k, count(*), sum(v) FROM agg_rows GROUP BY k
                                        EXCEPT ALL SELECT * FROM agg) x)")"
q "SELECT stream_stop('agg_rs')" >/dev/null
expected_offsets=$(for ((p = 0; p < PARTITIONS; p++)); do echo "$p|3000"; done)
expect "offsets committed to the consumer group" "$expected_offsets" \
    "$("${CLIENTS[@]}" committed "$BOOT" arroyo_stream-postgres-agg_rs agg_in)"

# --- d. Kafka -> Kafka exactly once ----------------------------------------------------------
arroyo_log "d. Kafka -> Kafka exactly once, 2 -> 3 -> 1 while messages arrive"
COPY_ROWS=24000
q "CREATE FOREIGN TABLE copy_in (id int, k int, v int) SERVER kafka
     OPTIONS (type 'source', topic 'copy_in', \"source.offset\" 'earliest');
   CREATE FOREIGN TABLE copy_out (id int, k int, v int) SERVER kafka
     OPTIONS (type 'sink', topic 'copy_out', \"sink.key_field\" 'id',
              \"sink.commit_mode\" 'exactly_once');
   CREATE TABLE copy_rows (id int, k int, v int);"
q "SELECT stream_create('copy_rs', \$q\$SET parallelism = 2; $CP
     INSERT INTO copy_out SELECT id, k, v FROM copy_in\$q\$), stream_start('copy_rs')" >/dev/null
# The producer: 16 batches of 1500, one every 0.6 s or more, while the pipeline is rescaled.
(
    for ((b = 0; b < 16; b++)); do
        produce_rows copy_in $((b * 1500 + 1)) $((b * 1500 + 1500))
        sleep 0.6
    done
) &
producer=$!
arroyo_on_exit "kill $producer 2>/dev/null || true"
# committed_out: what a read_committed kcat sees in copy_out now.
committed_out() {
    kcat -C -b "$BOOT" -t copy_out -X isolation.level=read_committed -e -q \
        -f '%h\t%s\n' >"$WORK/out.txt"
    last=$(wc -l <"$WORK/out.txt")
    ((last >= $1))
}
wait_for "output at 2 workers" committed_out 1500
rescale copy_rs 3
committed_out 0
# Two more batches at 3 workers (each worker has partitions of them).
wait_for "output at 3 workers" committed_out $((last + 3000))
running copy_rs
rescale copy_rs 1
wait "$producer" || arroyo_die "the producer failed"
wait_for "all $COPY_ROWS messages delivered" committed_out $COPY_ROWS
sleep 2 # a duplicate would arrive in this time
running copy_rs
committed_out 0
cut -f2 "$WORK/out.txt" >"$WORK/out.json"
q "CREATE TABLE copy_got (j jsonb)"
pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -q -c "\\copy copy_got FROM '$WORK/out.json'"
pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -q -c "\\copy copy_rows FROM '$WORK/rows_copy_in.csv' CSV"
expect "exactly-once output rescaled 2 -> 3 -> 1 against the input (input rows, output rows, \
distinct ids, out except in, in except out)" "$COPY_ROWS|$COPY_ROWS|$COPY_ROWS|0|0" \
    "$(q "SELECT (SELECT count(*) FROM copy_rows) || '|' || (SELECT count(*) FROM copy_got)
                 || '|' || (SELECT count(DISTINCT j->>'id') FROM copy_got) || '|' ||
                 (SELECT count(*) FROM (SELECT (j->>'id')::int, (j->>'k')::int, (j->>'v')::int
                                        FROM copy_got EXCEPT ALL TABLE copy_rows) x) || '|' ||
                 (SELECT count(*) FROM (TABLE copy_rows EXCEPT ALL
                                        SELECT (j->>'id')::int, (j->>'k')::int, (j->>'v')::int
                                        FROM copy_got) x)")"
# The transactional ids of the three runs: -0 and -1, then -0, -1 and -2, then the pipeline's.
ids=$(cut -f1 "$WORK/out.txt" | sed -n 's/.*arroyo_stream_txn=\(arroyo_stream-[^/]*\)\/.*/\1/p' |
    awk -F- '{ print (NF == 5 ? "-" $5 : "none") }' | LC_ALL=C sort -u | tr '\n' ' ')
expect "worker suffixes of the transactional ids in the headers" "-0 -1 -2 none " "$ids"
q "SELECT stream_stop('copy_rs')" >/dev/null

# --- e. undelivered exactly-once epochs taken over -------------------------------------------
arroyo_log "e. epochs of 3 workers left undelivered, taken over by 1"
# The broker answers AddPartitionsToTxn (API key 24) with TOPIC_AUTHORIZATION_FAILED (29): the
# epochs checkpointed meanwhile cannot be delivered and the pipeline fails with them in its
# outboxes. Rescaled to 1 and started without the fault, its worker (transactional id: the
# pipeline's) fences the three old ids and delivers their epochs.
q "CREATE FOREIGN TABLE eo_in (id int, k int, v int) SERVER kafka
     OPTIONS (type 'source', topic 'copy_in', \"source.offset\" 'earliest');
   CREATE FOREIGN TABLE eo_out (id int, k int, v int) SERVER kafka
     OPTIONS (type 'sink', topic 'eo_out', \"sink.key_field\" 'id',
              \"sink.commit_mode\" 'exactly_once');"
kafka_broker_cmd "topic eo_out 3"
kafka_broker_cmd "fail 24 100000 29"
q "SELECT stream_create('eo_rs', \$q\$SET parallelism = 3; $CP
     INSERT INTO eo_out SELECT id, k, v FROM eo_in\$q\$), stream_start('eo_rs')" >/dev/null
expect "the pipeline fails while its epochs cannot be delivered" failed \
    "$(q "SELECT stream_wait('eo_rs', '60 seconds')")"
echo "eo_rs failed: $(q "SELECT last_error FROM stream_pipelines WHERE name = 'eo_rs'")"
kafka_broker_cmd "clear 24"
rescale eo_rs 1
q "SELECT stream_start('eo_rs')" >/dev/null
eo_out() {
    kcat -C -b "$BOOT" -t eo_out -X isolation.level=read_committed -e -q -f '%h\t%s\n' \
        >"$WORK/eo.txt"
    last=$(wc -l <"$WORK/eo.txt")
    ((last >= $1))
}
wait_for "all $COPY_ROWS messages in eo_out" eo_out $COPY_ROWS
sleep 2
running eo_rs
eo_out 0
expect "eo_out: messages, distinct ids" "$COPY_ROWS $COPY_ROWS" \
    "$(wc -l <"$WORK/eo.txt") $(cut -f2 "$WORK/eo.txt" | sed 's/.*"id": *\([0-9]*\).*/\1/' |
        sort -u | wc -l)"
took=$(grep -oE 'rescaled from 3 worker\(s\): took over [0-9]+ undelivered epoch\(s\) .* [0-9]+ sent' \
    "$PGTEST_DIR/server.log" | tail -n 1 || true)
echo "$took"
[[ $took =~ took\ over\ [1-9][0-9]*\ undelivered.*\ [1-9][0-9]*\ sent ]] ||
    arroyo_die "the rescaled worker did not deliver the old workers' epochs: '$took'"
echo "ok: the old workers' undelivered epochs were delivered by the rescaled worker"
q "SELECT stream_stop('eo_rs')" >/dev/null

# --- f. at-least-once Kafka sink -------------------------------------------------------------
arroyo_log "f. impulse -> Kafka at least once, 2 -> 3 while running"
kafka_broker_cmd "topic alo_out 4"
q "CREATE FOREIGN TABLE ticks3 (counter bigint, subtask_index int) SERVER impulse
     OPTIONS (event_rate '1000', message_count '3000');
   CREATE FOREIGN TABLE alo_out (counter bigint, subtask_index int) SERVER kafka
     OPTIONS (type 'sink', topic 'alo_out', format 'json');"
q "SELECT stream_create('alo_rs', \$q\$SET parallelism = 2; $CP
     INSERT INTO alo_out SELECT counter, subtask_index FROM ticks3\$q\$),
          stream_start('alo_rs')" >/dev/null
sleep 1
rescale alo_rs 3
finished alo_rs
kcat -C -b "$BOOT" -t alo_out -e -q -f '%s\n' >"$WORK/alo.txt"
expect "alo_out: messages, distinct counters, subtasks" "3000 3000 0,1,2" \
    "$(wc -l <"$WORK/alo.txt") $(sed 's/.*"counter": *\([0-9]*\).*/\1/' "$WORK/alo.txt" |
        sort -u | wc -l) $(sed 's/.*"subtask_index": *\([0-9]*\).*/\1/' "$WORK/alo.txt" |
        sort -u | tr '\n' ',' | sed 's/,$//')"

# --- g. filesystem sink ----------------------------------------------------------------------
arroyo_log "g. impulse -> filesystem, 2 -> 3 -> 1 while running"
q "CREATE SERVER fs FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'filesystem');
   CREATE FOREIGN TABLE ticks (counter bigint, subtask_index int) SERVER impulse
     OPTIONS (event_rate '800', message_count '6000');
   CREATE FOREIGN TABLE files_out (counter bigint, subtask_index int) SERVER fs
     OPTIONS (path '$OUT/files', type 'sink', format 'json',
              \"rolling_policy.file_size\" '4kB');
   CREATE TABLE files_got (j jsonb);"
q "SELECT stream_create('files_rs', \$q\$SET parallelism = 2; $CP
     INSERT INTO files_out SELECT counter, subtask_index FROM ticks\$q\$),
          stream_start('files_rs')" >/dev/null
# rows_in counts the rows the sources read (committed with the files' checkpoint).
wait_for "ticks at 2 workers" at_least "SELECT rows_in FROM stream_pipelines WHERE name = 'files_rs'" 1000
rescale files_rs 3
sleep 2
running files_rs
rescale files_rs 1
finished files_rs
expect "files left in progress" "" "$(find "$OUT/files" -name '.*' -type f | sort)"
expect "the workers whose files are there" "files_rs-0 files_rs-1 files_rs-2 " \
    "$(find "$OUT/files" -name 'files_rs-*.json' -printf '%f\n' | cut -d- -f1,2 | LC_ALL=C sort -u |
        tr '\n' ' ')"
expect "counters in the files (rows, distinct, min, max)" "6000|6000|0|5999" \
    "$(file_counters "$OUT/files" files_rs files_got)"

# --- h. files left open by a failed run ------------------------------------------------------
arroyo_log "h. impulse -> filesystem at 3 workers failing, rescaled to 1"
# Counter 3000 fails the pipeline while the flag is set: its workers' open (and rolled, not yet
# renamed) files stay in progress, the checkpoint recording their committed lengths. Rescaled
# to 1, worker 0 takes its own back and finishes those of workers 1 and 2.
q "CREATE TABLE boom_flag (armed boolean);
   INSERT INTO boom_flag VALUES (true);
   CREATE FUNCTION boom(c bigint) RETURNS bigint LANGUAGE sql STABLE
     AS \$f\$ SELECT CASE WHEN c = 3000 AND (SELECT armed FROM boom_flag) THEN c / 0 ELSE c END \$f\$;
   CREATE FOREIGN TABLE ticks2 (counter bigint, subtask_index int) SERVER impulse
     OPTIONS (event_rate '1500', message_count '6000');
   CREATE FOREIGN TABLE files2_out (counter bigint, subtask_index int) SERVER fs
     OPTIONS (path '$OUT/files2', type 'sink', format 'json',
              \"rolling_policy.file_size\" '2kB');
   CREATE TABLE files2_got (j jsonb);"
q "SELECT stream_create('files2_rs', \$q\$SET parallelism = 3; $CP
     INSERT INTO files2_out SELECT boom(counter), subtask_index FROM ticks2\$q\$),
          stream_start('files2_rs')" >/dev/null
expect "the pipeline fails at counter 3000" "failed" \
    "$(q "SELECT stream_wait('files2_rs', '60 seconds')")"
echo "files2_rs failed: $(q "SELECT last_error FROM stream_pipelines WHERE name = 'files2_rs'")"
inprogress=$(find "$OUT/files2" -name '.files2_rs-[12]-*.inprogress' | wc -l)
((inprogress > 0)) || arroyo_die "no file of workers 1 and 2 was left in progress"
echo "ok: $inprogress file(s) of workers 1 and 2 left in progress"
q "UPDATE boom_flag SET armed = false"
rescale files2_rs 1
q "SELECT stream_start('files2_rs')" >/dev/null
finished files2_rs
expect "files2 left in progress" "" "$(find "$OUT/files2" -name '.*' -type f | sort)"
expect "counters in files2 (rows, distinct, min, max)" "6000|6000|0|5999" \
    "$(file_counters "$OUT/files2" files2_rs files2_got)"
finished_log=$(grep -oE 'finished [0-9]+ open and [0-9]+ rolled file\(s\) of "files2_rs-[12]-\*"' \
    "$PGTEST_DIR/server.log" | sort -u | tr '\n' ';' || true)
echo "$finished_log"
[[ $finished_log == *files2_rs-1-* && $finished_log == *files2_rs-2-* ]] ||
    arroyo_die "worker 0 did not finish the files of workers 1 and 2: '$finished_log'"
echo "ok: worker 0 finished the files of workers 1 and 2"

echo "rescale_connectors_test: all passed"
