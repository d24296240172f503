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
echo "ok: every file is named <pipeline>-<subtask>-<sequence>.json and rolled at 16kB"

# --- c. CSV as COPY writes it ----------------------------------------------------------------
q "CREATE FOREIGN TABLE c_out (id bigint, s text, n numeric, b boolean, t timestamptz) SERVER fs
     OPTIONS (path '$OUT/c', type 'sink', format 'csv', \"csv.header\" 'true')"
EXPECTED_C="SELECT counter AS id,
       CASE counter % 7 WHEN 0 THEN '' WHEN 1 THEN NULL WHEN 2 THEN 'a,b' WHEN 3 THEN 'say \"hi\"'
                        WHEN 4 THEN e'two\nlines' WHEN 5 THEN e'cr\rhere' ELSE ' padded ' END AS s,
       counter / 8.0 AS n, counter % 2 = 0 AS b,
       timestamptz '2026-01-01 00:00:00+00' + counter * interval '1.5 ms' AS t
FROM generate_series(0, 19999) counter WHERE counter < 2000"
run_to_end c "INSERT INTO c_out $(sed 's/generate_series(0, 19999) counter/ticks/' <<<"$EXPECTED_C")"
mapfile -t c_files < <(find "$OUT/c" -type f | sort)
expect "CSV files" 1 "${#c_files[@]}"
q "COPY ($EXPECTED_C ORDER BY id) TO STDOUT (FORMAT csv, HEADER)" >"$PGTEST_DIR/c.expected"
expect "CSV is byte for byte COPY's" "" "$(cmp "$PGTEST_DIR/c.expected" "${c_files[0]}" 2>&1)"
q "CREATE TABLE c_back (id bigint, s text, n numeric, b boolean, t timestamptz);
   COPY c_back FROM '${c_files[0]}' (FORMAT csv, HEADER)"
same_rows "COPY FROM reads the CSV back" "SELECT * FROM c_back" "$EXPECTED_C"

# --- d. Avro object container files ----------------------------------------------------------
q "CREATE FOREIGN TABLE a_out (id bigint, i int, sm smallint, f real, d double precision,
     t text, n numeric, b bytea, ts timestamptz, dt date, ok boolean) SERVER fs
     OPTIONS (path '$OUT/a', type 'sink', format 'avro', \"rolling_policy.file_size\" '8kB')"
EXPECTED_A="SELECT counter AS id, nullif(counter % 5, 0)::int AS i, (counter % 300)::smallint AS sm,
       (counter / 4.0)::real AS f, counter / 8.0::float8 AS d,
       CASE WHEN counter % 7 <> 0 THEN 'text ' || counter || ' é' END AS t,
       counter / 3.0 AS n, CASE WHEN counter % 3 <> 0 THEN int8send(counter) END AS b,
       timestamptz '2026-01-01 00:00:00+00' + counter * interval '1.5 ms' AS ts,
       date '1960-01-01' + counter::int AS dt, counter % 2 = 0 AS ok
FROM generate_series(0, 19999) counter WHERE counter < 3000"
run_to_end a "INSERT INTO a_out $(sed 's/generate_series(0, 19999) counter/ticks/' <<<"$EXPECTED_A")"
"${READ[@]}" rows avro "$OUT/a" >"$PGTEST_DIR/a.rows"
load_json a_got "$PGTEST_DIR/a.rows"
same_rows "Avro files (derived schema) hold every row exactly once" "SELECT j FROM a_got" \
    "SELECT jsonb_build_object('id', id, 'i', i, 'sm', sm, 'f', f::float8, 'd', d, 't', t,
        'n', n::text, 'b', '\\x' || encode(b, 'hex'),
        'ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00',
        'dt', dt::text, 'ok', ok) FROM ($EXPECTED_A) x"
expect "Avro files rolled at 8kB" "ok" \
    "$("${READ[@]}" files "$OUT/a" | awk '$2 > 8192 + 200 { bad = 1 } END { print (NR > 5 && !bad) ? "ok" : "bad" }')"
SCHEMA='{"type":"record","name":"pair","fields":[{"name":"id","type":"long"},{"name":"name","type":["string","null"]}]}'
q "CREATE FOREIGN TABLE a2_out (id bigint, name text) SERVER fs
     OPTIONS (path '$OUT/a2', type 'sink', format 'avro', \"avro.schema\" '$SCHEMA')"
run_to_end a2 "INSERT INTO a2_out SELECT counter, CASE WHEN counter % 2 = 0 THEN 'n' || counter END
               FROM ticks WHERE counter < 100"
"${READ[@]}" rows avro "$OUT/a2" >"$PGTEST_DIR/a2.rows"
load_json a2_got "$PGTEST_DIR/a2.rows"
same_rows "Avro files (given schema, a [string, null] union)" "SELECT j FROM a2_got" \
    "SELECT jsonb_build_object('id', c, 'name', CASE WHEN c % 2 = 0 THEN 'n' || c END)
     FROM generate_series(0, 99) c"
q "SELECT stream_create('a3', 'INSERT INTO a2_out SELECT NULL::bigint, ''x'' FROM ticks')" >/dev/null
q "SELECT stream_start('a3')" >/dev/null
expect "NULL in a non-nullable field fails the pipeline" failed "$(q "SELECT stream_wait('a3', '60 seconds')")"
expect "its error" 'column "id" is NULL, but its field in option "avro.schema" is not nullable' \
    "$(q "SELECT last_error FROM stream_pipelines WHERE name = 'a3'")"

# --- e. rolling by age -----------------------------------------------------------------------
q "CREATE FOREIGN TABLE slow (counter bigint) SERVER imp
     OPTIONS (event_rate '400', message_count '1200');
   CREATE FOREIGN TABLE e_out (id bigint) SERVER fs
     OPTIONS (path '$OUT/e', type 'sink', \"rolling_policy.interval\" '1 second')"
run_to_end e "INSERT INTO e_out SELECT counter FROM slow"
"${READ[@]}" rows json "$OUT/e" >"$PGTEST_DIR/e.rows"
load_json e_got "$PGTEST_DIR/e.rows"
same_rows "files rolled by age hold every row once" "SELECT (j->>'id')::bigint FROM e_got" \
    "SELECT generate_series(0, 1199)"
# The source takes at least 3 seconds: at least 2 files, each younger than a second or so.
expect "several files rolled by age" "ok" \
    "$(find "$OUT/e" -type f | wc -l | awk '{ print ($1 >= 2) ? "ok" : "only " $1 }')"

# --- e2. stop and start again ----------------------------------------------------------------
# stream_stop rolls and renames every file; the restart resumes from the checkpoint, whose
# open files are renamed already, and carries on in new files.
q "CREATE FOREIGN TABLE s_out (id bigint) SERVER fs
     OPTIONS (path '$OUT/s', type 'sink', format 'csv', \"partitioning.fields\" 'id')"
q "CREATE FOREIGN TABLE slow2 (counter bigint) SERVER imp
     OPTIONS (event_rate '500', message_count '1500')"
q "SELECT stream_create('s', 'INSERT INTO s_out SELECT counter / 500 FROM slow2')" >/dev/null
q "SELECT stream_start('s')" >/dev/null
s_has_rows() { last=$(q "SELECT rows_out FROM stream_pipelines WHERE name = 's'") && ((last > 0)); }
wait_for "pipeline s to write rows" s_has_rows
q "SELECT stream_stop('s')" >/dev/null
expect "s stopped" stopped "$(q "SELECT stream_wait('s', '60 seconds')")"
expect "no file in progress after stream_stop" "" "$(find "$OUT/s" -name '*.inprogress')"
before=$(find "$OUT/s" -type f | wc -l)
q "SELECT stream_start('s')" >/dev/null
expect "s finished after its restart" finished "$(q "SELECT stream_wait('s', '60 seconds')")"
q "CREATE TABLE s_back (id bigint)"
while read -r f; do q "COPY s_back FROM '$f' (FORMAT csv)"; done < <(find "$OUT/s" -type f)
same_rows "stop and start: every row once" "SELECT id FROM s_back" \
    "SELECT c / 500 FROM generate_series(0, 1499) c"
expect "the restart wrote new files" ok \
    "$(find "$OUT/s" -type f | wc -l | awk -v b="$before" '{ print ($1 > b) ? "ok" : $1 " after, " b " before" }')"

# --- f. exactly-once across kills ------------------------------------------------------------
EVENTS=${ARROYO_FILES_EVENTS:-60000}
q "CREATE FOREIGN TABLE steady (counter bigint) SERVER imp
     OPTIONS (event_rate '5000', message_count '$EVENTS');
   CREATE FOREIGN TABLE f_out (id bigint, k int, pad text) SERVER fs
     OPTIONS (path '$OUT/f', type 'sink', \"rolling_policy.file_size\" '2MB',
              \"partitioning.fields\" 'k');
   CREATE FOREIGN TABLE f_avro (id bigint, k int) SERVER fs
     OPTIONS (path '$OUT/fa', type 'sink', format 'avro', \"rolling_policy.file_size\" '6kB')"
q "SELECT stream_create('f', 'INSERT INTO f_out SELECT counter, (counter % 2)::int, repeat(''x'', 1000) FROM steady')" >/dev/null
q "SELECT stream_create('fa', 'INSERT INTO f_avro SELECT counter, (counter % 5)::int FROM steady')" >/dev/null
q "SELECT stream_start('f'), stream_start('fa')" >/dev/null
# Every pipeline of the kill test has finished, or runs with a worker.
f_resumed() {
    last=$(q "SELECT string_agg(name || ':' || state || ':' || coalesce(pid::text, '-'), ' ' ORDER BY name)
              FROM stream_pipelines WHERE name IN ('f', 'fa')" 2>&1) || return 1
    [[ $last =~ ^f:(running:[0-9]+|finished:-)\ fa:(running:[0-9]+|finished:-)$ ]]
}
f_finished() {
    last=$(q "SELECT string_agg(state, ' ' ORDER BY name) FROM stream_pipelines
              WHERE name IN ('f', 'fa')" 2>&1) || return 1
    [[ $last == "finished finished" ]]
}
wait_for "the pipelines f and fa to run" f_resumed
faults=(term sigkill immediate term immediate sigkill)
# A fault finds uncommitted rows in files by chance (the pipelines commit every 10 ms or so),
# and an immediate stop adds a torn write to every file in progress: after the six faults
# above, more follow (up to 20 in all) until a restart has cut a file back.
cut_logged() {
    grep -qE 'filesystem sink in ".*/fa?": cut [0-9]+ file\(s\) back to the checkpoint' \
        "$PGTEST_DIR/server.log"
}
while ((${#faults[@]} < 20)); do faults+=(sigkill term immediate); done
injected=0
for fault in "${faults[@]}"; do
    ((injected >= 6)) && cut_logged && break
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.1f", 0.3 + (r % 10) / 10 }')"
    f_finished && break
    case $fault in
        term)
            q "SELECT count(pg_terminate_backend(pid)) FROM stream_pipelines
               WHERE name IN ('f', 'fa') AND pid IS NOT NULL" >/dev/null ;;
        sigkill)
            pid=$(q "SELECT pid FROM stream_pipelines WHERE name IN ('f', 'fa') AND pid IS NOT NULL
                     ORDER BY random() LIMIT 1")
            [[ -n $pid ]] && kill -9 "$pid"
            sleep 1 ;; # the postmaster restarts every backend
        immediate)
            pg_test_ctl -m immediate stop >/dev/null
            # A write the crash interrupted: bytes past the checkpoint in every file in progress,
            # which the restart must cut off (the exactly-once checks below see any left).
            find "$OUT/f" "$OUT/fa" -name '*.inprogress' -exec sh -c 'printf "torn write" >>"$1"' _ {} \;
            pg_test_ctl start >/dev/null ;;
    esac
    injected=$((injected + 1))
    wait_for "f and fa to resume after $fault" f_resumed
done
echo "ok: $injected faults injected"
POLL_TIMEOUT=$((EVENTS / 5000 * 3 + 120))
wait_for "f and fa to finish" f_finished
expect "errors of f and fa" "" \
    "$(q "SELECT string_agg(name || ': ' || last_error, '; ') FROM stream_pipelines
          WHERE name IN ('f', 'fa') AND last_error IS NOT NULL")"
"${READ[@]}" rows json "$OUT/f" >"$PGTEST_DIR/f.rows"
load_json f_got "$PGTEST_DIR/f.rows"
same_rows "after the faults, JSON files hold every row exactly once" \
    "SELECT (j->>'id')::bigint, (j->>'k')::int, j->>'pad' FROM f_got" \
    "SELECT c, (c % 2)::int, repeat('x', 1000) FROM generate_series(0, $EVENTS - 1) c"
"${READ[@]}" rows avro "$OUT/fa" >"$PGTEST_DIR/fa.rows"
load_json fa_got "$PGTEST_DIR/fa.rows"
same_rows "after the faults, Avro files hold every row exactly once" \
    "SELECT (j->>'id')::bigint, (j->>'k')::int FROM fa_got" \
    "SELECT c, (c % 5)::int FROM generate_series(0, $EVENTS - 1) c"
expect "files in progress left" "" "$(find "$OUT/f" "$OUT/fa" -name '*.inprogress')"
grep -h 'filesystem sink in' "$PGTEST_DIR/server.log" | sed 's/^.*LOG: *//' | sort | uniq -c >&2 || true
# The faults struck while files held uncommitted rows (f's files, of 2MB, stay open across
# checkpoints, and blocks of 64kB are written as they fill; fa's files roll every 6kB), and
# restarts cut them back or removed them.
expect "restarts found uncommitted rows in files" ok \
    "$(grep -cE 'filesystem sink in ".*/fa?": cut [0-9]+ file\(s\) back to the checkpoint' \
       "$PGTEST_DIR/server.log" | awk '{ print ($1 >= 1) ? "ok" : "none" }')"

# --- g. avro on Kafka, Confluent's wire format -----------------------------------------------
BROKER_DIR=$ARROYO_WORK_ROOT/tests/filesystem_kafka_broker
kafka_broker_build "$BROKER_DIR"
kafka_broker_start "$BROKER_DIR" "$BROKER_PORT" --topic avro_in:1 --topic avro_out:1
BOOT=127.0.0.1:$BROKER_PORT
IN_SCHEMA='{"type":"record","name":"order","fields":[{"name":"id","type":"long"},{"name":"name","type":["null","string"]},{"name":"extra","type":"int"},{"name":"amount","type":"string"},{"name":"ts","type":"long"}]}'
{
    for i in 1 2 3; do
        echo "{\"id\": $i, \"name\": \"n$i\", \"extra\": 7, \"amount\": \"$i.25\", \"ts\": $((1767225600000000 + i))}"
    done
    echo "RAW 01000000420200"                    # magic byte 1
    echo "RAW 00000000070200"                    # schema id 7
    echo "RAW 000000002a02"                      # truncated
    echo "RAW 000000002a0800000e0431320000"      # valid, then a byte too many
    echo "RAW 000000002a0802036ff10e0431320000"  # name not UTF-8
    echo '{"id": 4, "name": null, "extra": -1, "amount": "-0.5", "ts": 0}'
} | "${READ[@]}" produce "$BOOT" avro_in 42 "$IN_SCHEMA"
q "CREATE SERVER k FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'kafka', bootstrap_servers '$BOOT');
   CREATE FOREIGN TABLE k_in (id bigint, name text, amount numeric, ts timestamptz) SERVER k
     OPTIONS (type 'source', topic 'avro_in', format 'avro', \"avro.schema\" '$IN_SCHEMA',
              \"avro.confluent_schema_id\" '42', \"source.offset\" 'earliest',
              \"source.stop_at\" 'latest', bad_data 'drop');
   CREATE FOREIGN TABLE k_strict (id bigint, name text, amount numeric, ts timestamptz) SERVER k
     OPTIONS (type 'source', topic 'avro_in', format 'avro', \"avro.schema\" '$IN_SCHEMA',
              \"avro.confluent_schema_id\" '42', \"source.offset\" 'earliest',
              \"source.stop_at\" 'latest');
   CREATE TABLE k_got (id bigint, name text, amount numeric, ts timestamptz);
   CREATE TABLE k_strict_got (LIKE k_got)"
run_to_end kin "INSERT INTO k_got SELECT * FROM k_in"
same_rows "Avro messages read from Kafka" "SELECT * FROM k_got" \
    "VALUES (1, 'n1', 1.25, timestamptz '2026-01-01 00:00:00.000001+00'),
            (2, 'n2', 2.25, '2026-01-01 00:00:00.000002+00'),
            (3, 'n3', 3.25, '2026-01-01 00:00:00.000003+00'),
            (4, NULL, -0.5, '1970-01-01 00:00:00+00')"
expect "bad Avro messages dropped and counted (rows_in, bad_rows)" "4|5" \
    "$(q "SELECT rows_in || '|' || bad_rows FROM stream_pipelines WHERE name = 'kin'")"
q "SELECT stream_create('kstrict', 'INSERT INTO k_strict_got SELECT * FROM k_strict')" >/dev/null
q "SELECT stream_start('kstrict')" >/dev/null
expect "bad_data 'fail' fails at the first bad message" failed \
    "$(q "SELECT stream_wait('kstrict', '60 seconds')")"
expect "its error" 'bad data in topic "avro_in" partition 0 offset 3: message is not in Confluent'"'"'s wire format (magic byte 0 and a schema id)' \
    "$(q "SELECT last_error FROM stream_pipelines WHERE name = 'kstrict'")"
q "CREATE FOREIGN TABLE k_out (id bigint, name text, amount numeric, ts timestamptz, raw bytea)
     SERVER k OPTIONS (type 'sink', topic 'avro_out', format 'avro',
                       \"avro.confluent_schema_id\" '43')"
run_to_end kout "INSERT INTO k_out SELECT counter, CASE WHEN counter % 3 > 0 THEN 'name ' || counter END,
                   counter / 4.0, timestamptz '2026-01-01 00:00:00+00' + counter * interval '1 ms',
                   int4send(counter::int) FROM ticks WHERE counter < 50"
# The schema the sink derives from the columns (README, format avro).
OUT_SCHEMA='{"type":"record","name":"k_out","fields":[{"name":"id","type":["null","long"],"default":null},{"name":"name","type":["null","string"],"default":null},{"name":"amount","type":["null","string"],"default":null},{"name":"ts","type":["null",{"type":"long","logicalType":"timestamp-micros"}],"default":null},{"name":"raw","type":["null","bytes"],"default":null}]}'
"${READ[@]}" consume "$BOOT" avro_out 43 "$OUT_SCHEMA" >"$PGTEST_DIR/k.rows"
load_json k_out_got "$PGTEST_DIR/k.rows"
same_rows "Avro messages written to Kafka, read by python3-avro" "SELECT j FROM k_out_got" \
    "SELECT jsonb_build_object('id', c, 'name', CASE WHEN c % 3 > 0 THEN 'name ' || c END,
            'amount', (c / 4.0)::text,
            'ts', to_char((timestamptz '2026-01-01 00:00:00+00' + c * interval '1 ms') AT TIME ZONE 'UTC',
                          'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00',
            'raw', '\\x' || encode(int4send(c::int), 'hex'))
     FROM generate_series(0, 49) c"
# Hostile records: random bytes after the prefix, lengths far past the message, varints of
# more than 64 bits. Each is a row or a bad row; no worker dies, the server does not restart.
started=$(q "SELECT pg_postmaster_start_time()")
kafka_broker_cmd "topic avro_fuzz 1"
{
    echo "RAW 000000002a02feffffffffffffff7f"      # id, then a name of 2^62 bytes
    echo "RAW 000000002affffffffffffffffffff01"    # an id of 11 bytes
    echo "RAW 000000002a80808080808080808002"      # a long of 65 bits
    echo "RANDOM 2000 7"
} | "${READ[@]}" produce "$BOOT" avro_fuzz 42 "$IN_SCHEMA"
q "CREATE FOREIGN TABLE k_fuzz (id bigint, name text, amount numeric, ts timestamptz) SERVER k
     OPTIONS (type 'source', topic 'avro_fuzz', format 'avro', \"avro.schema\" '$IN_SCHEMA',
              \"avro.confluent_schema_id\" '42', \"source.offset\" 'earliest',
              \"source.stop_at\" 'latest', bad_data 'drop');
   CREATE TABLE k_fuzz_got (LIKE k_got)"
run_to_end kfuzz "INSERT INTO k_fuzz_got SELECT * FROM k_fuzz"
expect "hostile records: each one a row or a bad row" 2003 \
    "$(q "SELECT rows_in + bad_rows FROM stream_pipelines WHERE name = 'kfuzz'")"
expect "hostile records: the three crafted ones are bad" ok \
    "$(q "SELECT CASE WHEN bad_rows >= 3 THEN 'ok' ELSE bad_rows::text END
          FROM stream_pipelines WHERE name = 'kfuzz'")"
expect "the server did not restart" "$started" "$(q "SELECT pg_postmaster_start_time()")"
kafka_broker_stop
echo "ok: filesystem_test passed"
