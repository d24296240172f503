#!/usr/bin/env bash
# The kafka connector against a real Kafka-protocol broker on loopback (test/kafka_broker/, built
# here with cc on librdkafka's mock cluster), checked with independent clients: kcat and
# python3-confluent-kafka (test/kafka_broker/kafka_clients.py).
#
#   a. the broker is down when the pipelines start: they wait, then read everything; the broker
#      goes away mid-stream and comes back: nothing is lost or duplicated (source -> table and
#      source -> filter/projection -> sink), offsets are committed to the consumer group
#   b. json source with every metadata column, exact rows and event times; a keyed json sink
#      read back by kcat; committed offsets; source.offset 'group' resumes after them, and
#      stream_preview reads from them without committing any
#   c. raw_string source (bytea key, a message without a value) written by kcat and python,
#      raw_string sink read by kcat
#   c4. schemaless json: a jsonb-only json source gets whole messages (written by kcat); an
#      unnest of their arrays into a jsonb-only sink, each value a message, read by kcat
#   d. source.offset 'latest' (the default) skips what was there before
#   e. bad data (malformed JSON, not an object, wrong type, out of range, too long, no value,
#      oversized, not UTF-8, a key that is not UTF-8): each kind fails the pipeline naming
#      topic, partition and offset; with bad_data 'drop' the same messages are dropped and
#      counted
#   f. a topic that does not exist fails a source and a sink at start; a topic that disappears
#      fails a running source
#   g. a message that cannot be delivered, and a row over message.max.bytes, fail the pipeline
#   h. credentials: rejected on servers, kept in user mappings, never shown in
#      stream_pipelines or the server log, even where librdkafka quotes them
#
# Ports: PostgreSQL on ARROYO_KAFKA_PORT (55456), the broker on ARROYO_KAFKA_BROKER_PORT (55457).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/kafka_broker/broker.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka_broker/broker.sh"

POLL_TIMEOUT=60
BROKER_PORT=${ARROYO_KAFKA_BROKER_PORT:-55457}
BOOT=127.0.0.1:$BROKER_PORT
BROKER_DIR=$ARROYO_WORK_ROOT/tests/kafka_broker
CLIENTS=("$PYTHON" "$ARROYO_ROOT/test/kafka_broker/kafka_clients.py")

pg_test_instance kafka "${ARROYO_KAFKA_PORT:-55456}"
LOG=$PGTEST_DIR/server.log

# --- helpers ---------------------------------------------------------------------------------

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }

expect() {
    expect_eq "$@"
    echo "ok: $1"
}


count_is() { # TABLE N
    last=$(q "SELECT count(*) FROM $1") && [[ $last == "$2" ]]
}
state_is() { # PIPELINE STATE
    last=$(q "SELECT state FROM stream_pipelines WHERE name = '$1'") && [[ $last == "$2" ]]
}
log_has() { # FIXED-STRING [MIN-COUNT]
    last=$(grep -cF -- "$1" "$LOG" || true)
    ((last >= ${2:-1}))
}
topic_count_is() { # TOPIC N
    last=$("${CLIENTS[@]}" consume "$BOOT" "$1" 2>&1 | wc -l) && [[ $last == "$2" ]]
}

# start_pipeline NAME QUERY
start_pipeline() {
    q "SELECT stream_create('$1', \$q\$$2\$q\$)" >/dev/null
    q "SELECT stream_start('$1')" >/dev/null
}
# run_to_end NAME QUERY: start a pipeline and wait for it to end; prints its end state.
run_to_end() {
    start_pipeline "$1" "$2"
    q "SELECT stream_wait('$1', '60 seconds')"
}
last_error() { q "SELECT last_error FROM stream_pipelines WHERE name = '$1'"; }
counters() { q "SELECT rows_in || '|' || rows_out || '|' || bad_rows FROM stream_pipelines WHERE name = '$1'"; }

produce() { # TOPIC: "PARTITION|KEY|TIMESTAMP_MS|VALUE" lines on stdin
    "${CLIENTS[@]}" produce "$BOOT" "$1"
}

kafka_broker_build "$BROKER_DIR"
q "CREATE EXTENSION arroyo_stream" >/dev/null
# Reconnect quickly after an outage (a librdkafka property, passed through).
q "CREATE SERVER kafka FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'kafka', bootstrap_servers '$BOOT', \"reconnect.backoff.max.ms\" '500',
              \"enable.idempotence\" 'true', \"client.id\" 'arroyo_stream_test')"

# --- a. broker down at start, then an outage mid-stream ---------------------------------------
arroyo_log "a. broker down at start and mid-stream"
q "CREATE FOREIGN TABLE events (id int, payload text) SERVER kafka
     OPTIONS (type 'source', topic 'events', \"source.offset\" 'earliest');
   CREATE FOREIGN TABLE events_out (id int, payload text) SERVER kafka
     OPTIONS (type 'sink', topic 'events_out', \"sink.key_field\" 'id');
   CREATE TABLE events_got (id int PRIMARY KEY, payload text);"
start_pipeline a_table 'INSERT INTO events_got SELECT * FROM events'
start_pipeline a_sink 'INSERT INTO events_out SELECT id, upper(payload) FROM events WHERE id % 2 = 0'
wait_for "a_table to report the unreachable cluster" \
    log_has 'kafka source public.events (topic "events"): cannot reach the Kafka cluster, retrying'
expect "states while the broker is down" "a_sink|running
a_table|running" "$(q "SELECT name || '|' || state FROM stream_pipelines ORDER BY name")"
status_is() { # PIPELINE LIKE-PATTERN
    last=$(q "SELECT source_status FROM stream_pipelines WHERE name = '$1'") &&
        [[ $(q "SELECT source_status LIKE '$2' FROM stream_pipelines WHERE name = '$1'") == t ]]
}
wait_for "a_table's source_status to show the outage" \
    status_is a_table 'cannot reach the Kafka cluster, retrying: %'

kafka_broker_start "$BROKER_DIR" "$BROKER_PORT" --topic events:2 --topic events_out:3
seq 1 100 | awk '{ printf "|%d||{\"id\": %d, \"payload\": \"event %d\"}\n", $1, $1, $1 }' |
    produce events
wait_for "100 rows in events_got" count_is events_got 100
wait_for "50 messages in events_out" topic_count_is events_out 50
expect "source_status while reading" "reading 2 partitions" \
    "$(q "SELECT source_status FROM stream_pipelines WHERE name = 'a_table'")"

unreachable_before=$(grep -cF 'kafka source public.events (topic "events"): cannot reach' "$LOG")
kafka_broker_cmd down
wait_for "the outage to be logged" \
    log_has 'kafka source public.events (topic "events"): cannot reach the Kafka cluster' \
    $((unreachable_before + 2))
# Written while the broker is down: the producer retries until it is back.
seq 101 200 | awk '{ printf "|%d||{\"id\": %d, \"payload\": \"event %d\"}\n", $1, $1, $1 }' \
    >"$BROKER_DIR/more.txt"
"${CLIENTS[@]}" produce "$BOOT" events --timeout-ms 60000 <"$BROKER_DIR/more.txt" &
producer_pid=$!
expect "states during the outage" "a_sink|running
a_table|running" "$(q "SELECT name || '|' || state FROM stream_pipelines ORDER BY name")"
wait_for "a_table's source_status to show the outage again" \
    status_is a_table 'cannot reach the Kafka cluster, retrying: %'
expect "rows during the outage" 100 "$(q "SELECT count(*) FROM events_got")"
kafka_broker_cmd up
wait "$producer_pid" || arroyo_die "the producer could not deliver after the outage"
wait_for "200 rows in events_got" count_is events_got 200
wait_for "100 messages in events_out" topic_count_is events_out 100
expect "events_got after the outage (count, distinct, min, max, payloads)" "200|200|1|200|true" \
    "$(q "SELECT count(*) || '|' || count(DISTINCT id) || '|' || min(id) || '|' || max(id) || '|' ||
                 bool_and(payload = 'event ' || id) FROM events_got")"
"${CLIENTS[@]}" consume "$BOOT" events_out | cut -d'|' -f3,4 | sort -t'|' -k1,1n >"$BROKER_DIR/got.txt"
seq 2 2 200 | awk '{ printf "%d|{\"id\":%d,\"payload\":\"EVENT %d\"}\n", $1, $1, $1 }' \
    >"$BROKER_DIR/want.txt"
expect "events_out after the outage (key|value, each even id once)" "$(cat "$BROKER_DIR/want.txt")" \
    "$(cat "$BROKER_DIR/got.txt")"
wait_for "the recovery to be logged" \
    log_has 'kafka source public.events (topic "events"): reached the Kafka cluster again'
expect "source_status after the outage" "reading 2 partitions" \
    "$(q "SELECT source_status FROM stream_pipelines WHERE name = 'a_table'")"
q "SELECT stream_stop('a_table'), stream_stop('a_sink')" >/dev/null
expect "a_table stopped" "stopped|200|200|0" \
    "$(q "SELECT state || '|' || rows_in || '|' || rows_out || '|' || bad_rows FROM stream_pipelines WHERE name = 'a_table'")"
# Offsets committed to the default group (for monitoring): each partition's end.
"${CLIENTS[@]}" consume "$BOOT" events | awk -F'|' '{ n[$1] = $2 + 1 } END { for (p in n) print p "|" n[p] }' |
    sort >"$BROKER_DIR/ends.txt"
expect "committed offsets of a_table" "$(cat "$BROKER_DIR/ends.txt")" \
    "$("${CLIENTS[@]}" committed "$BOOT" arroyo_stream-postgres-a_table events)"

# --- b. json source with metadata; keyed json sink; group offsets ------------------------------
arroyo_log "b. json with metadata columns, json sink, consumer-group offsets"
kafka_broker_cmd "topic orders 3"
kafka_broker_cmd "topic orders_out 2"
produce orders <<'EOF'
0|a|1767225600000|{"id": 1, "amount": 12.50, "customer": "ann", "tags": ["x", "y"]}
1|b|1767225601500|{"id": 2, "amount": "7.25", "customer": "bob", "unknown": {"z": 1}}
2||1767225602000|{"id": 3, "amount": null, "customer": "cy"}
0|a|1767225603000|{"id": 4, "customer": "dee", "tags": []}
EOF
q "CREATE FOREIGN TABLE orders (id int, amount numeric, customer text, tags text[],
     part int OPTIONS (metadata 'partition'), off bigint OPTIONS (metadata 'offset'),
     ts timestamptz OPTIONS (metadata 'timestamp'), k text OPTIONS (metadata 'key'),
     t text OPTIONS (metadata 'topic'))
   SERVER kafka OPTIONS (type 'source', topic 'orders', format 'json', \"source.offset\" 'earliest',
     \"source.stop_at\" 'latest', \"source.group_id\" 'orders-reader');
   CREATE TABLE orders_got (id int, amount numeric, customer text, tags text[], part int, off bigint,
     ts timestamptz, k text, t text, event_time timestamptz);
   CREATE FOREIGN TABLE orders_out (customer text, id int, amount numeric) SERVER kafka
     OPTIONS (type 'sink', topic 'orders_out', \"sink.key_field\" 'customer');"
expect "b_table ends" finished "$(run_to_end b_table 'INSERT INTO orders_got SELECT *, row_time() FROM orders')"
expect "orders_got rows" \
    "1|12.50|ann|{x,y}|0|0|2026-01-01 00:00:00+00|a|orders|2026-01-01 00:00:00+00
2|7.25|bob||1|0|2026-01-01 00:00:01.5+00|b|orders|2026-01-01 00:00:01.5+00
3||cy||2|0|2026-01-01 00:00:02+00||orders|2026-01-01 00:00:02+00
4||dee|{}|0|1|2026-01-01 00:00:03+00|a|orders|2026-01-01 00:00:03+00" \
    "$(q "SELECT id, amount, customer, tags, part, off, ts, k, t, event_time FROM orders_got ORDER BY id")"
expect "committed offsets of orders-reader" "0|2
1|1
2|1" "$("${CLIENTS[@]}" committed "$BOOT" orders-reader orders)"
expect "b_sink ends" finished \
    "$(run_to_end b_sink 'INSERT INTO orders_out SELECT customer, id * 10, amount FROM orders WHERE id <> 3')"
# The messages' timestamps are the rows' event times: here, the source messages' timestamps.
expect "orders_out read by kcat (key|timestamp|value)" 'ann|1767225600000|{"customer":"ann","id":10,"amount":12.50}
bob|1767225601500|{"customer":"bob","id":20,"amount":7.25}
dee|1767225603000|{"customer":"dee","id":40,"amount":null}' \
    "$(kcat -C -b "$BOOT" -t orders_out -o beginning -e -q -f '%k|%T|%s\n' | sort)"
# source.offset 'group' starts where orders-reader's committed offsets are.
produce orders <<'EOF'
1|c||{"id": 5, "customer": "eve"}
2|d||{"id": 6, "customer": "fay"}
EOF
q "ALTER FOREIGN TABLE orders OPTIONS (SET \"source.offset\" 'group')"
# stream_preview reads from the group's offsets too, to the end, but commits none: b_group
# below still starts at them.
expect "preview of the topic" 'insert|{"id":5,"customer":"eve","part":1,"k":"c"}
insert|{"id":6,"customer":"fay","part":2,"k":"d"}' \
    "$(q "SELECT op || '|' || \"row\" FROM stream_preview('SELECT id, customer, part, k FROM orders', NULL, '60 s') ORDER BY 1")"
expect "a preview commits no offsets" "0|2
1|1
2|1" "$("${CLIENTS[@]}" committed "$BOOT" orders-reader orders)"
q "TRUNCATE orders_got"
expect "b_group ends" finished "$(run_to_end b_group 'INSERT INTO orders_got SELECT *, row_time() FROM orders')"
expect "rows read from the group's offsets" "5|eve|1|1|c
6|fay|2|1|d" "$(q "SELECT id, customer, part, off, k FROM orders_got ORDER BY id")"

# --- c. raw_string, with kcat and python as writers and kcat as reader ------------------------
arroyo_log "c. raw_string source and sink"
kafka_broker_cmd "topic lines 1"
kafka_broker_cmd "topic lines_out 1"
printf 'k1|hello world\nk2|ünïcode line\n' | kcat -P -b "$BOOT" -t lines -K'|'
printf '0|k3||\\N\n0|||{"not": "parsed"}\n' | produce lines
q "CREATE FOREIGN TABLE lines (line text, key bytea OPTIONS (metadata 'key'),
     off bigint OPTIONS (metadata 'offset'))
   SERVER kafka OPTIONS (type 'source', topic 'lines', format 'raw_string',
     \"source.offset\" 'earliest', \"source.stop_at\" 'latest');
   CREATE TABLE lines_got (line text, key bytea, off bigint);
   CREATE FOREIGN TABLE lines_out (line text) SERVER kafka
     OPTIONS (type 'sink', topic 'lines_out', format 'raw_string', \"sink.key_field\" 'line');"
expect "c_table ends" finished "$(run_to_end c_table 'INSERT INTO lines_got SELECT * FROM lines')"
expect "lines_got" '0|hello world|\x6b31
1|ünïcode line|\x6b32
2|NULL|\x6b33
3|{"not": "parsed"}|NULL' \
    "$(q "SELECT off || '|' || coalesce(line, 'NULL') || '|' || coalesce(key::text, 'NULL') FROM lines_got ORDER BY off")"
expect "c_sink ends" finished \
    "$(run_to_end c_sink "INSERT INTO lines_out SELECT line || '!' FROM lines WHERE line IS NOT NULL")"
expect "lines_out read by kcat (key|value)" 'hello world!|hello world!
ünïcode line!|ünïcode line!
{"not": "parsed"}!|{"not": "parsed"}!' \
    "$(kcat -C -b "$BOOT" -t lines_out -o beginning -e -q -f '%k|%s\n')"

# --- c2. debezium_json both ways ------------------------------------------------------------------
arroyo_log "c2. debezium_json source and sink"
kafka_broker_cmd "topic dbz_orders 1"
kafka_broker_cmd "topic dbz_out 1"
# Debezium change events written by kcat: c/u/d, Debezium's encodings, two bad events.
kcat -P -b "$BOOT" -t dbz_orders <"$ARROYO_ROOT/test/data/debezium_orders.json"
q "CREATE FOREIGN TABLE dbz_orders (id int, store int NOT NULL, amount numeric, placed timestamp, day date,
     placed_tz timestamptz)
   SERVER kafka OPTIONS (type 'source', topic 'dbz_orders', format 'debezium_json',
     primary_key 'id', bad_data 'drop', \"source.offset\" 'earliest', \"source.stop_at\" 'latest');
   CREATE TABLE dbz_totals (store int PRIMARY KEY, orders bigint, amount numeric);
   CREATE FOREIGN TABLE dbz_out (store int, orders bigint, amount numeric, first_placed timestamp,
     last_day date)
   SERVER kafka OPTIONS (type 'sink', topic 'dbz_out', format 'debezium_json', \"sink.key_field\" 'store');"
expect "c2_table ends" finished \
    "$(run_to_end c2_table 'INSERT INTO dbz_totals SELECT store, count(*), sum(amount) FROM dbz_orders GROUP BY store')"
expect "dbz_totals (store 7 emptied by an update and a delete)" '8|2|107.25' \
    "$(q "SELECT store || '|' || orders || '|' || amount FROM dbz_totals ORDER BY store")"
expect "c2_table counters (rows_in|rows_out|bad_rows)" '6|1|3' "$(counters c2_table)"
expect "c2_sink ends" finished \
    "$(run_to_end c2_sink 'INSERT INTO dbz_out SELECT store, count(*), sum(amount), min(placed), max(day) FROM dbz_orders GROUP BY store')"
# Read back by kcat: one "c" per group, keyed by store, in Debezium's encodings (timestamp as
# epoch microseconds, date as days since 1970, numeric as a string).
expect "dbz_out read by kcat (key|value)" \
    '8|{"before":null,"after":{"store":8,"orders":2,"amount":"107.25","first_placed":1767225660000000,"last_day":20455},"op":"c"}' \
    "$(kcat -C -b "$BOOT" -t dbz_out -o beginning -e -q -f '%k|%s\n')"
# Without sink.key_field, a Debezium message is keyed as Debezium keys it: the result's key.
kafka_broker_cmd "topic dbz_keyed 1"
q "CREATE FOREIGN TABLE dbz_keyed (store int, orders bigint) SERVER kafka
     OPTIONS (type 'sink', topic 'dbz_keyed', format 'debezium_json');"
expect "c2_keyed ends" finished \
    "$(run_to_end c2_keyed 'INSERT INTO dbz_keyed SELECT store, count(*) FROM dbz_orders GROUP BY store')"
expect "dbz_keyed read by kcat (key|op)" '{"store":8}|c' \
    "$(kcat -C -b "$BOOT" -t dbz_keyed -o beginning -e -q -f '%k|%s\n' | sed 's/|.*"op":"\(.\)".*/|\1/')"

# --- c3. a backlog read unevenly from its partitions: per-partition watermarks -----------------
arroyo_log "c3. windows over a two-partition backlog: no row late, whichever partition is read first"
kafka_broker_cmd "topic skewed 2"
# The same 2000 seconds of events in each partition, one per second: a watermark taken over the
# topic as a whole would pass partition 1's rows while partition 0 is read.
for p in 0 1; do
    seq 0 1999 | awk -v p="$p" '{ printf "%d||%.0f|{\"id\": %d}\n", p, 1767225600000 + $1 * 1000, $1 }'
done | produce skewed
q "CREATE FOREIGN TABLE skewed (id int) SERVER kafka
     OPTIONS (type 'source', topic 'skewed', \"source.offset\" 'earliest', \"source.stop_at\" 'latest',
              watermark_delay '1 second');
   CREATE TABLE skewed_windows (w tstzrange, n bigint, ids bigint);" >/dev/null
expect "the windowed pipeline over the backlog" finished \
    "$(run_to_end c3_windows "INSERT INTO skewed_windows
         SELECT tumble(interval '100 seconds') AS w, count(*), count(DISTINCT id) FROM skewed GROUP BY w")"
expect "late rows" 0 "$(q "SELECT late_rows FROM stream_pipelines WHERE name = 'c3_windows'")"
expect "windows (count, each with 200 rows of 100 ids)" "20|true" \
    "$(q "SELECT count(*) || '|' || bool_and(n = 200 AND ids = 100) FROM skewed_windows")"

# --- c4. schemaless json (json.unstructured) ----------------------------------------------------
arroyo_log "c4. schemaless json source and sink"
kafka_broker_cmd "topic docs 1"
kafka_broker_cmd "topic docs_out 1"
# Messages of any shape, written by kcat: the one jsonb column receives each whole message.
kcat -P -b "$BOOT" -t docs -K'|' <<'EOF'
a|{"user": {"id": 7}, "items": [1, 2.50, "x"]}
b|[1, {"two": 2}]
c|"text"
d|{"items": [], "other": true}
EOF
q "CREATE FOREIGN TABLE docs (doc jsonb, k text OPTIONS (metadata 'key'),
     off bigint OPTIONS (metadata 'offset'))
   SERVER kafka OPTIONS (type 'source', topic 'docs', \"source.offset\" 'earliest',
     \"source.stop_at\" 'latest');
   CREATE TABLE docs_got (doc jsonb, k text, off bigint);
   CREATE FOREIGN TABLE docs_out (item jsonb) SERVER kafka OPTIONS (type 'sink', topic 'docs_out');"
expect "c4_table ends" finished "$(run_to_end c4_table 'INSERT INTO docs_got SELECT * FROM docs')"
expect "docs_got" '0|a|{"user": {"id": 7}, "items": [1, 2.50, "x"]}
1|b|[1, {"two": 2}]
2|c|"text"
3|d|{"items": [], "other": true}' "$(q "SELECT off || '|' || k || '|' || doc FROM docs_got ORDER BY off")"
# Each element of "items" becomes a message of its own: the value itself, not wrapped in an object.
expect "c4_sink ends" finished "$(run_to_end c4_sink "INSERT INTO docs_out
  SELECT jsonb_build_object('user', doc->'user'->'id', 'item', i, 'n', n)
  FROM docs, LATERAL jsonb_array_elements(doc->'items') WITH ORDINALITY AS e(i, n)
  WHERE jsonb_typeof(doc) = 'object'")"
expect "docs_out read by kcat" '{"n": 1, "item": 1, "user": 7}
{"n": 2, "item": 2.50, "user": 7}
{"n": 3, "item": "x", "user": 7}' "$(kcat -C -b "$BOOT" -t docs_out -o beginning -e -q -f '%s\n')"

# --- d. source.offset 'latest' (the default) ---------------------------------------------------
arroyo_log "d. the default start is the latest offset"
kafka_broker_cmd "topic live 1"
printf '|||{"id": 1}\n|||{"id": 2}\n' | produce live
q "CREATE FOREIGN TABLE live (id int) SERVER kafka OPTIONS (type 'source', topic 'live');
   CREATE TABLE live_got (id int);"
start_pipeline d_live 'INSERT INTO live_got SELECT * FROM live'
# Markers until the first one arrives: everything before the assignment is skipped.
marker=1000
live_marker() {
    marker=$((marker + 1))
    printf '|||{"id": %d}\n' "$marker" | produce live
    last=$(q "SELECT count(*) FROM live_got")
    ((last > 0))
}
wait_for "a marker to arrive" live_marker
expect "rows written before the start are skipped" 0 "$(q "SELECT count(*) FROM live_got WHERE id < 1000")"
q "SELECT stream_stop('d_live')" >/dev/null

# --- e. bad data ------------------------------------------------------------------------------
arroyo_log "e. bad data"
big=$(head -c 300 /dev/zero | tr '\0' x)
declare -A bad=(
    [malformed]='{"id": 2, "name": '
    [not_object]='[1, 2]'
    [wrong_type]='{"id": "two", "name": "x"}'
    [out_of_range]='{"id": 99999999999, "name": "x"}'
    [too_long]='{"id": 2, "name": "much too long"}'
    [no_value]='\N'
    [oversized]="{\"id\": 2, \"name\": \"x\", \"pad\": \"$big\"}"
)
declare -A why=(
    [malformed]='malformed JSON: ends inside an object or array'
    [not_object]='JSON document is not an object'
    [wrong_type]='column "id": invalid input syntax for type integer: "two"'
    [out_of_range]='column "id": value "99999999999" is out of range for type integer'
    [too_long]='column "name": value too long for type character varying(8)'
    [no_value]='message has no value'
    [oversized]="message of $(printf '%s' "${bad[oversized]}" | wc -c) bytes exceeds source.max_message_bytes (200)"
)
kafka_broker_cmd "topic bad_all 1"
for kind in malformed not_object wrong_type out_of_range too_long no_value oversized; do
    kafka_broker_cmd "topic bad_$kind 1"
    printf '0|||{"id": 1, "name": "good"}\n0|||%s\n' "${bad[$kind]}" | produce "bad_$kind"
    printf '0|||%s\n' "${bad[$kind]}" | produce bad_all
    q "CREATE FOREIGN TABLE bad_$kind (id int, name varchar(8)) SERVER kafka
         OPTIONS (type 'source', topic 'bad_$kind', \"source.offset\" 'earliest',
                  \"source.max_message_bytes\" '200', \"source.stop_at\" 'latest');
       CREATE TABLE bad_${kind}_got (id int, name varchar(8));"
    expect "bad data ($kind) fails the pipeline" failed \
        "$(run_to_end "e_$kind" "INSERT INTO bad_${kind}_got SELECT * FROM bad_$kind")"
    expect "last_error ($kind)" "bad data in topic \"bad_$kind\" partition 0 offset 1: ${why[$kind]}" \
        "$(last_error "e_$kind")"
    expect "rows committed before the bad message ($kind)" 0 "$(q "SELECT count(*) FROM bad_${kind}_got")"
done
# Raw bytes that are not UTF-8, in a raw_string table.
kafka_broker_cmd "topic bad_utf8 1"
printf '0|||fine\n0|||hex:6869ff\n' | produce bad_utf8
printf '0|||hex:6869ff\n' | produce bad_all
q "CREATE FOREIGN TABLE bad_utf8 (line text) SERVER kafka OPTIONS (type 'source', topic 'bad_utf8',
     format 'raw_string', \"source.offset\" 'earliest', \"source.stop_at\" 'latest');
   CREATE TABLE bad_utf8_got (line text);"
expect "bad data (utf8) fails the pipeline" failed \
    "$(run_to_end e_utf8 'INSERT INTO bad_utf8_got SELECT * FROM bad_utf8')"
expect "last_error (utf8)" \
    'bad data in topic "bad_utf8" partition 0 offset 1: column "line": invalid byte sequence for encoding "UTF8": 0xff' \
    "$(last_error e_utf8)"
# A text key that is not UTF-8.
kafka_broker_cmd "topic bad_key 1"
printf '0|ok||{"id": 1}\n0|hex:ff||{"id": 2}\n' | produce bad_key
printf '0|hex:ff||{"id": 2}\n' | produce bad_all
q "CREATE FOREIGN TABLE bad_key (id int, k text OPTIONS (metadata 'key')) SERVER kafka
     OPTIONS (type 'source', topic 'bad_key', \"source.offset\" 'earliest', \"source.stop_at\" 'latest');
   CREATE TABLE bad_key_got (id int, k text);"
expect "bad data (key) fails the pipeline" failed \
    "$(run_to_end e_key 'INSERT INTO bad_key_got SELECT * FROM bad_key')"
expect "last_error (key)" \
    'bad data in topic "bad_key" partition 0 offset 1: message key: invalid byte sequence for encoding "UTF8": 0xff' \
    "$(last_error e_key)"
# bad_data 'drop': the same messages between good ones are dropped and counted.
printf '0|||{"id": 10, "name": "ten"}\n' | produce bad_all
q "CREATE FOREIGN TABLE bad_all (id int, name varchar(8)) SERVER kafka
     OPTIONS (type 'source', topic 'bad_all', bad_data 'drop', \"source.offset\" 'earliest',
              \"source.max_message_bytes\" '200', \"source.stop_at\" 'latest');
   CREATE TABLE bad_all_got (id int, name varchar(8));"
expect "bad_data 'drop' pipeline ends" finished \
    "$(run_to_end e_drop 'INSERT INTO bad_all_got SELECT * FROM bad_all')"
expect "rows kept under bad_data 'drop'" "2|
10|ten" "$(q "SELECT id || '|' || coalesce(name, '') FROM bad_all_got ORDER BY id")"
expect "rows_in|rows_out|bad_rows under bad_data 'drop'" "2|2|8" "$(counters e_drop)"
# The key is only decoded for a table that has a key column: with one, that message is bad too.
q "CREATE FOREIGN TABLE bad_all_k (id int, name varchar(8), k text OPTIONS (metadata 'key'))
     SERVER kafka OPTIONS (type 'source', topic 'bad_all', bad_data 'drop', \"source.offset\" 'earliest',
              \"source.max_message_bytes\" '200', \"source.stop_at\" 'latest');
   CREATE TABLE bad_all_k_got (id int, name varchar(8), k text);"
expect "bad_data 'drop' pipeline with a key column ends" finished \
    "$(run_to_end e_drop_k 'INSERT INTO bad_all_k_got SELECT * FROM bad_all_k')"
expect "rows kept with a key column" "10|ten|" \
    "$(q "SELECT id || '|' || name || '|' || coalesce(k, '') FROM bad_all_k_got")"
expect "rows_in|rows_out|bad_rows with a key column" "1|1|9" "$(counters e_drop_k)"

# --- f. a topic that does not exist --------------------------------------------------------------
arroyo_log "f. missing topics"
# The mock broker would create any topic asked for; "unknown" makes it answer as a real broker
# does for a missing topic when the client disallows auto-creation (the connector always does).
kafka_broker_cmd "unknown ghost"
q "CREATE FOREIGN TABLE ghost (id int) SERVER kafka OPTIONS (type 'source', topic 'ghost');
   CREATE FOREIGN TABLE ghost_out (n bigint) SERVER kafka OPTIONS (type 'sink', topic 'ghost');
   CREATE TABLE ghost_got (id int);
   CREATE SERVER ticks FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
   CREATE FOREIGN TABLE ticks (counter bigint) SERVER ticks OPTIONS (event_rate '0', message_count '5');"
expect "missing source topic" failed "$(run_to_end f_source 'INSERT INTO ghost_got SELECT * FROM ghost')"
expect "last_error (missing source topic)" \
    'Kafka topic "ghost" does not exist (kafka source public.ghost (topic "ghost"): Broker: Unknown topic or partition.)' \
    "$(last_error f_source)"
expect "missing sink topic" failed "$(run_to_end f_sink 'INSERT INTO ghost_out SELECT counter FROM ticks')"
expect "last_error (missing sink topic)" \
    'Kafka topic "ghost" does not exist (kafka sink public.ghost_out (topic "ghost"): Broker: Unknown topic or partition.)' \
    "$(last_error f_sink)"

# A topic that disappears while the pipeline runs (the watcher re-reads metadata every 10 s).
kafka_broker_cmd "topic doomed 1"
printf '|||{"id": 77}\n' | produce doomed
q "CREATE FOREIGN TABLE doomed (id int) SERVER kafka
     OPTIONS (type 'source', topic 'doomed', \"source.offset\" 'earliest');
   CREATE TABLE doomed_got (id int);"
start_pipeline f_doomed 'INSERT INTO doomed_got SELECT * FROM doomed'
wait_for "f_doomed to read its topic" count_is doomed_got 1
kafka_broker_cmd "unknown doomed"
expect "a topic deleted mid-run" failed "$(q "SELECT stream_wait('f_doomed', '30 seconds')")"
# librdkafka reports the loss either from a fetch (the broker's error) or from a metadata
# refresh that dropped the partition first (its own): both name the topic and the table.
doomed_error=$(last_error f_doomed)
case $doomed_error in
    'Kafka topic "doomed" does not exist (kafka source public.doomed (topic "doomed"): Broker: Unknown topic or partition.)' | \
        'Kafka topic "doomed" does not exist (kafka source public.doomed (topic "doomed"): Local: Unknown partition.)')
        echo "ok: last_error (deleted topic)" ;;
    *) arroyo_die "last_error (deleted topic): unexpected '$doomed_error'" ;;
esac

# --- g. undeliverable messages ------------------------------------------------------------------
arroyo_log "g. a message that cannot be delivered fails the pipeline"
kafka_broker_cmd "topic slow 1"
q "CREATE SERVER kafka_short FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'kafka', bootstrap_servers '$BOOT', \"message.timeout.ms\" '1500');
   CREATE FOREIGN TABLE slow (n bigint) SERVER kafka_short OPTIONS (type 'sink', topic 'slow');"
kafka_broker_cmd down
expect "sink during an outage longer than message.timeout.ms" failed \
    "$(run_to_end g_slow 'INSERT INTO slow SELECT counter FROM ticks')"
expect "last_error (undeliverable)" \
    'Kafka delivery failed for topic "slow": Local: Message timed out (kafka sink public.slow (topic "slow"): 5 message(s) could not be delivered.)' \
    "$(last_error g_slow)"
kafka_broker_cmd up
# A row over the client's message.max.bytes (1000 here).
q "CREATE SERVER kafka_small FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'kafka', bootstrap_servers '$BOOT', \"message.max.bytes\" '1000');
   CREATE FOREIGN TABLE small (v text) SERVER kafka_small OPTIONS (type 'sink', topic 'slow');"
expect "a row larger than message.max.bytes" failed \
    "$(run_to_end g_big "INSERT INTO small SELECT repeat('x', 2000) FROM ticks")"
expect "last_error (row too large)" \
    'row of 2008 bytes is too large for Kafka topic "slow" (kafka sink public.small (topic "slow"): the client'"'"'s message.max.bytes is 1000.)' \
    "$(last_error g_big)"

# --- h. credentials ------------------------------------------------------------------------------
arroyo_log "h. credentials stay in user mappings and out of sight"
err=$(q "CREATE SERVER leaky FOREIGN DATA WRAPPER arroyo_stream
           OPTIONS (connector 'kafka', bootstrap_servers '$BOOT', \"sasl.password\" 'not-the-secret')" 2>&1 || true)
expect "a password in server options" \
    'ERROR:  option "sasl.password" is a credential and belongs in a user mapping
DETAIL:  Servers and tables are visible to every user; user mappings are not.
HINT:  Use CREATE USER MAPPING FOR … SERVER … OPTIONS ("sasl.password" '"'…'"').' "$err"
# librdkafka quotes part of a bad sasl.oauthbearer.config in its error: it must be redacted.
q "CREATE SERVER kafka_oauth FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'kafka', bootstrap_servers '$BOOT', \"security.protocol\" 'sasl_plaintext',
              \"sasl.mechanism\" 'OAUTHBEARER', \"enable.sasl.oauthbearer.unsecure.jwt\" 'true');
   CREATE USER MAPPING FOR CURRENT_USER SERVER kafka_oauth
     OPTIONS (\"sasl.oauthbearer.config\" 'principal=bob garbage=S3cretOAuth42');
   CREATE FOREIGN TABLE oauth (id int) SERVER kafka_oauth OPTIONS (type 'source', topic 'orders');"
expect "bad OAUTHBEARER credentials fail the pipeline" failed \
    "$(run_to_end h_oauth 'INSERT INTO ghost_got SELECT * FROM oauth')"
expect "last_error (redacted)" \
    'kafka source public.oauth (topic "orders"): Failed to acquire SASL OAUTHBEARER token: Unrecognized sasl.oauthbearer.config beginning at: ********=********' \
    "$(last_error h_oauth)"
# SASL PLAIN against a broker without SASL: an authentication failure fails the pipeline.
q "CREATE SERVER kafka_plain FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'kafka', bootstrap_servers '$BOOT', \"security.protocol\" 'sasl_plaintext',
              \"sasl.mechanism\" 'PLAIN');
   CREATE USER MAPPING FOR CURRENT_USER SERVER kafka_plain
     OPTIONS (\"sasl.username\" 'alice', \"sasl.password\" 'Pa55w0rdPlain');
   CREATE FOREIGN TABLE plain (id int) SERVER kafka_plain OPTIONS (type 'source', topic 'orders');"
expect "SASL PLAIN against a broker without SASL" failed \
    "$(run_to_end h_plain 'INSERT INTO ghost_got SELECT * FROM plain')"
expect "last_error (SASL PLAIN)" t "$(q "SELECT last_error LIKE 'kafka source public.plain (topic \"orders\"): %Failed to initialize SASL authentication: SASL Handshake not supported by broker (required by mechanism PLAIN)%' FROM stream_pipelines WHERE name = 'h_plain'")"
# The log does have the pipelines' librdkafka lines, so a credential in them would be seen.
log_has 'kafka source public.plain (topic "orders"): librdkafka: FAIL' ||
    arroyo_die "no librdkafka log line from h_plain"
for secret in S3cretOAuth42 Pa55w0rdPlain; do
    if grep -F "$secret" "$LOG"; then arroyo_die "the server log shows a credential (above)"; fi
    expect "stream_pipelines rows showing $secret" 0 \
        "$(q "SELECT count(*) FROM stream_pipelines p WHERE p::text LIKE '%$secret%'")"
done
echo "ok: no credential in stream_pipelines or the server log"

if grep -E 'TRAP|terminated by signal|PANIC' "$LOG"; then
    arroyo_die "the server log reports a crash (lines above)"
fi
echo "ok: kafka test passed"
