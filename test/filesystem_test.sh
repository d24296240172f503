#!/usr/bin/env bash
# The filesystem sink and the avro format (issue 23 items 6-8), read back by independent
# readers (test/filesystem_read.py: Python's json module and python3-avro; PostgreSQL's COPY
# FROM for CSV) and compared with the batch query over the same rows:
#
#   a. options: each mistake is refused at CREATE FOREIGN TABLE naming the option or column;
#      creating a table needs pg_write_server_files
#   b. JSON lines rolled by size, partitioned by two columns (Hive-style col=value/ paths, with
#      escaping and NULL): every row exactly once, in the right directory; no file in progress
#   c. CSV: byte for byte what COPY ... TO (FORMAT csv) writes for the same rows (quoting of
#      empty strings, commas, quotes, newlines, NULL), with a header; COPY FROM reads it back
#   d. Avro object container files with a schema derived from the columns (every mapped type,
#      NULLs), and with a given schema, read by python3-avro
#   e. rolling by age (rolling_policy.interval): a slow pipeline writes several files
#   f. exactly-once: workers terminated, SIGKILLed and the server stopped immediately at
#      random points; every row ends up exactly once in the committed files, and nothing is
#      left in progress
#   g. avro on Kafka in Confluent's wire format: a source (bad messages dropped and counted
#      under bad_data 'drop', failing the pipeline under 'fail'), a sink read by python
#
# Ports: PostgreSQL on ARROYO_FILES_TEST_PORT (55595), the Kafka test broker on the next one.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=SCRIPTDIR/kafka_broker/broker.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka_broker/broker.sh"

PORT=${ARROYO_FILES_TEST_PORT:-55595}
BROKER_PORT=$((PORT + 1))
POLL_TIMEOUT=60
pg_test_instance filesystem "$PORT"
OUT=$ARROYO_WORK_ROOT/tests/filesystem_out
rm -rf "$OUT"
arroyo_work_dir "$OUT"
arroyo_on_exit "rm -rf '$OUT'"
READ=("$PYTHON" "$ARROYO_ROOT/test/filesystem_read.py")

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }
# The error message a statement fails with.
err() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1" 2>&1 | sed -n 's/^.*ERROR:  //p' || true; }
expect() {
    if [[ -n ${SOFT:-} && $2 != "$3" ]]; then echo "SOFT $1: $3"; return; fi
    expect_eq "$@"
    echo "ok: $1"
}
# run_to_end NAME QUERY: creates and starts a pipeline, waits for it to finish.
run_to_end() {
    q "SELECT stream_create('$1', \$q\$$2\$q\$)" >/dev/null
    q "SELECT stream_start('$1')" >/dev/null
    expect_eq "end of pipeline $1" finished "$(q "SELECT stream_wait('$1', '120 seconds')")"
}
# load_json TABLE FILE: JSON lines into TABLE(j jsonb).
load_json() {
    q "CREATE TABLE $1 (j jsonb)"
    pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -q \
        -c "COPY $1 FROM STDIN (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')" <"$2"
}
# same_rows WHAT QUERY1 QUERY2: both queries give the same multiset of rows.
same_rows() {
    expect "$1" "0 0" \
        "$(q "SELECT (SELECT count(*) FROM (($2) EXCEPT ALL ($3)) a) || ' ' ||
                     (SELECT count(*) FROM (($3) EXCEPT ALL ($2)) b)")"
}

q "CREATE EXTENSION arroyo_stream;
   CREATE SERVER fs FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'filesystem');
   CREATE SERVER imp FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
   CREATE FOREIGN TABLE ticks (counter bigint) SERVER imp
     OPTIONS (event_rate '0', message_count '20000');"

# --- a. options ----------------------------------------------------------------------------
ft() { # COLUMNS OPTIONS -> the error of creating such a table
    err "CREATE FOREIGN TABLE bad ($1) SERVER fs OPTIONS ($2)"
}
expect "relative path" 'option "path" must be an absolute path' \
    "$(ft "a int" "path 'out', type 'sink'")"
expect "no type" 'missing required option "type" for connector "filesystem" tables' "$(ft "a int" "path '$OUT/x'")"
expect "a source" 'invalid value for option "type": "source"' \
    "$(ft "a int" "path '$OUT/x', type 'source'")"
expect "unknown option" 'unknown option "rolling_policy.size" for connector "filesystem" tables' \
    "$(ft "a int" "path '$OUT/x', type 'sink', \"rolling_policy.size\" '1'")"
expect "bad size" 'invalid value for option "rolling_policy.file_size": "12 parsecs"' \
    "$(ft "a int" "path '$OUT/x', type 'sink', \"rolling_policy.file_size\" '12 parsecs'")"
expect "size too large" 'invalid value for option "rolling_policy.file_size": "2048GB"' \
    "$(ft "a int" "path '$OUT/x', type 'sink', \"rolling_policy.file_size\" '2048GB'")"
expect "bad interval" 'invalid value for option "rolling_policy.interval": "soon"' \
    "$(ft "a int" "path '$OUT/x', type 'sink', \"rolling_policy.interval\" 'soon'")"
expect "partition column missing" 'invalid value for option "partitioning.fields": "a, b"' \
    "$(ft "a int" "path '$OUT/x', type 'sink', \"partitioning.fields\" 'a, b'")"
expect "parquet" 'format "parquet" is not available: Debian 12 packages no Parquet library' \
    "$(ft "a int" "path '$OUT/x', type 'sink', format 'parquet'")"
expect "csv option on json" 'option "csv.header" applies only to format "csv"' \
    "$(ft "a int" "path '$OUT/x', type 'sink', \"csv.header\" 'true'")"
expect "avro option on csv" 'option "avro.schema" applies only to format "avro"' \
    "$(ft "a int" "path '$OUT/x', type 'sink', format 'csv', \"avro.schema\" '{}'")"
expect "avro: unmapped type" 'column "p" has type point, which format "avro" cannot express' \
    "$(ft "a int, p point" "path '$OUT/x', type 'sink', format 'avro'")"
expect "avro: invalid schema" 'invalid value for option "avro.schema": Error parsing JSON: string or '"'"'}'"'"' expected near end of file' \
    "$(ft "a int" "path '$OUT/x', type 'sink', format 'avro', \"avro.schema\" '{'")"
expect "avro: field type" 'column "a" needs Avro type "int", but option "avro.schema" gives its field type "string"' \
    "$(ft "a int" "path '$OUT/x', type 'sink', format 'avro', \"avro.schema\" '{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}'")"
expect "avro: column without field" 'column "b" is not a field of option "avro.schema"' \
    "$(ft "a int, b text" "path '$OUT/x', type 'sink', format 'avro', \"avro.schema\" '{\"type\":\"record\",\"name\":\"r\",\"fields\":[{\"name\":\"a\",\"type\":[\"null\",\"int\"]}]}'")"
expect "avro: confluent id on files" 'unknown option "avro.confluent_schema_id" for connector "filesystem" tables' \
    "$(ft "a int" "path '$OUT/x', type 'sink', format 'avro', \"avro.confluent_schema_id\" '1'")"
q "CREATE ROLE writer LOGIN; GRANT USAGE ON FOREIGN SERVER fs TO writer;
   GRANT CREATE ON SCHEMA public TO writer"
expect "privileges" 'must be superuser or have privileges of the pg_write_server_files role to write files with filesystem' \
    "$(err "SET ROLE writer; CREATE FOREIGN TABLE w (a int) SERVER fs OPTIONS (path '$OUT/w', type 'sink')")"
q "GRANT pg_write_server_files TO writer;
   SET ROLE writer; CREATE FOREIGN TABLE w (a int) SERVER fs OPTIONS (path '$OUT/w', type 'sink');
   RESET ROLE; DROP FOREIGN TABLE w"
echo "ok: a member of pg_write_server_files may create a filesystem table"

# --- b. JSON lines, rolled by size, partitioned ----------------------------------------------
q "CREATE FOREIGN TABLE j_out (id bigint, k int, tag text, note text) SERVER fs
     OPTIONS (path '$OUT/j', type 'sink', format 'json', \"rolling_policy.file_size\" '16kB',
              \"partitioning.fields\" 'k, tag')"
EXPECTED_J="SELECT counter AS id, (counter % 3)::int AS k,
       CASE counter % 4 WHEN 0 THEN 'a/b' WHEN 1 THEN 'x=1%' WHEN 2 THEN NULL ELSE 'plain' END AS tag,
       'note ' || counter AS note FROM generate_series(0, 19999) counter"
run_to_end j "INSERT INTO j_out $(sed 's/generate_series(0, 19999) counter/ticks/' <<<"$EXPECTED_J")"
"${READ[@]}" files "$OUT/j" >"$PGTEST_DIR/j.files"
"${READ[@]}" rows json "$OUT/j" >"$PGTEST_DIR/j.rows"
load_json j_got "$PGTEST_DIR/j.rows"
same_rows "JSON lines hold every row exactly once" \
    "SELECT (j->>'id')::bigint, (j->>'k')::int, j->>'tag', j->>'note' FROM j_got" "$EXPECTED_J"
expect "partition directories" \
    "k=0/tag=__HIVE_DEFAULT_PARTITION__ k=0/tag=a%2Fb k=0/tag=plain k=0/tag=x%3D1%25 k=1/tag=__HIVE_DEFAULT_PARTITION__ k=1/tag=a%2Fb k=1/tag=plain k=1/tag=x%3D1%25 k=2/tag=__HIVE_DEFAULT_PARTITION__ k=2/tag=a%2Fb k=2/tag=plain k=2/tag=x%3D1%25" \
    "$(awk '{ sub(/\/[^\/]*$/, "", $1); print $1 }' "$PGTEST_DIR/j.files" | sort -u | tr '\n' ' ' | sed 's/ $//')"
# Each file is rolled once it reaches 16kB: none is much larger, and there are many.
expect "file names and sizes" "ok" \
    "$(awk '$1 !~ /\/j-0-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]\.json$/ || $2 > 16384 + 64 { bad = bad " " $0 } END { if (bad == "" && NR > 24) print "ok"; else print "bad:" bad " files: " NR }' "$PGTEST_DIR/j.files")"
