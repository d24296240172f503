#!/usr/bin/env bash
# The redis connector against real redis-server instances on loopback, checked with redis-cli
# and python3-redis. Ports: ARROYO_REDIS_TEST_PORT (default 55570) for PostgreSQL, the next
# three for Redis: +1 plain, +2 with --requirepass, +3 with an append-only file (restarted).
#
#   a. options: errors at CREATE SERVER / USER MAPPING / FOREIGN TABLE name the option;
#   b. string target: SET of the row's JSON under key_prefix + key_column, with EX ttl_secs;
#   c. hash target: HSET on field_column; list append with max_length, list prepend; stream XADD;
#   d. updating results: SET and DEL keep Redis equal to PostgreSQL's batch query, through
#      inserts, updates and deletes of the regular table read by change data capture;
#   e. a password (and username) in a user mapping; without it the pipeline fails with NOAUTH;
#   f. lookup joins (JOIN LATERAL, inner and LEFT) on string (MGET, json) and hash (HMGET)
#      lookup tables give exactly the rows of the same query against a regular table;
#      bad values under bad_data 'fail' and 'drop'; unsupported subquery forms are refused;
#   g. Redis restarted mid-pipeline: the sink reconnects (status shown while it waits) and
#      every row arrives (at least once; string keys exactly once).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${ARROYO_REDIS_TEST_PORT:-55570}
REDIS_PORT=$((PG_PORT + 1))
AUTH_PORT=$((PG_PORT + 2))
AOF_PORT=$((PG_PORT + 3))
POLL_TIMEOUT=40

pg_test_instance redis "$PG_PORT"
WORK=$ARROYO_WORK_ROOT/tests/redis_server
rm -rf "$WORK"
arroyo_work_dir "$WORK"

# start_redis PORT [ARG...]: a redis-server on 127.0.0.1:PORT (no persistence unless ARGs say
# so), stopped when the test exits; waits until it answers PING.
start_redis() {
    local port=$1
    shift
    mkdir -p "$WORK/$port"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/$port" \
        --logfile "$WORK/$port/redis.log" "$@" &
    local pid=$!
    eval "REDIS_PID_$port=$pid"
    arroyo_on_exit "kill $pid 2>/dev/null || true"
    wait_for "redis-server on port $port" redis_up "$port" "$@"
}
redis_up() { # PORT [ARGS]: whether it answers PING (with the password of --requirepass)
    local port=$1
    shift
    local auth=()
    [[ ${1:-} == --requirepass ]] && auth=(--no-auth-warning -a "$2")
    last=$(redis-cli -p "$port" "${auth[@]}" ping 2>&1) && [[ $last == PONG ]]
}
stop_redis() { # PORT: stops it (SIGTERM) and waits until it has exited
    local var=REDIS_PID_$1
    kill "${!var}" 2>/dev/null || true
    wait "${!var}" 2>/dev/null || true
}
rc() { redis-cli -p "$REDIS_PORT" "$@"; }
py() { "$PYTHON" -c "$1"; }

q() { pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"; }
q_err() { # Q: runs Q, which must fail; prints psql's ERROR line
    local out
    if out=$(pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1" 2>&1); then
        arroyo_die "expected an error from: $1"
    fi
    printf '%s\n' "$out" | grep -m1 '^ERROR' || printf '%s\n' "$out"
}
expect() {
    if [[ $3 != "$2" ]]; then
        arroyo_die "$1: expected '$2', got '$3'"
    fi
    echo "ok: $1"
}
query_is() {
    last=$(q "$1" 2>&1) || return 1
    [[ $last == "$2" ]]
}
cmd_is() { # WANT CMD...: the command's output is exactly WANT
    local want=$1
    shift
    last=$("$@" 2>&1) || return 1
    [[ $last == "$want" ]]
}
start_pipeline() { # NAME QUERY
    q "SELECT stream_create('$1', \$q\$$2\$q\$)" >/dev/null
    q "SELECT stream_start('$1')" >/dev/null
}
run_to_end() { # NAME QUERY: prints the end state
    start_pipeline "$1" "$2"
    q "SELECT stream_wait('$1', '60 seconds')"
}
last_error() { q "SELECT last_error FROM stream_pipelines WHERE name = '$1'"; }
status_matches() { # NAME RE
    last=$(q "SELECT coalesce(source_status, '<null>') FROM stream_pipelines WHERE name = '$1'" 2>&1) ||
        return 1
    [[ $last =~ $2 ]]
}

start_redis "$REDIS_PORT"
q "CREATE EXTENSION arroyo_stream;
   CREATE SERVER redis FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'redis', address 'redis://127.0.0.1:$REDIS_PORT');
   CREATE SERVER ticks FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'impulse');
   CREATE FOREIGN TABLE ticks (counter bigint)
     SERVER ticks OPTIONS (event_rate '0', message_count '100');" >/dev/null

# --- a. options ----------------------------------------------------------------------------------
arroyo_log "a. options are checked when they are given"
expect "server without address" \
    'ERROR:  missing required option "address" for connector "redis" servers' \
    "$(q_err "CREATE SERVER r1 FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'redis')")"
expect "bad address" \
    'ERROR:  invalid value for option "address": "localhost:6379"' \
    "$(q_err "CREATE SERVER r1 FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'redis', address 'localhost:6379')")"
expect "bad port" \
    'ERROR:  invalid value for option "address": "redis://h:99999"' \
    "$(q_err "CREATE SERVER r1 FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'redis', address 'redis://h:99999')")"
expect "credentials in the address" \
    'ERROR:  invalid value for option "address": "redis://u:p@h:1"' \
    "$(q_err "CREATE SERVER r1 FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'redis', address 'redis://u:p@h:1')")"
expect "password on a server" \
    'ERROR:  option "password" is a credential and belongs in a user mapping' \
    "$(q_err "CREATE SERVER r1 FOREIGN DATA WRAPPER arroyo_stream OPTIONS (connector 'redis', address 'redis://h', password 'x')")"
expect "unknown user mapping option" \
    'ERROR:  unknown option "token" for connector "redis" user mappings' \
    "$(q_err "CREATE USER MAPPING FOR CURRENT_USER SERVER redis OPTIONS (token 'x')")"
expect "missing type" \
    'ERROR:  missing required option "type" for connector "redis" tables' \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (target 'string')")"
expect "missing target" \
    "ERROR:  missing required option \"target\" for connector \"redis\" tables of type 'sink'" \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (type 'sink')")"
expect "bad target" \
    'ERROR:  invalid value for option "target": "set"' \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (type 'sink', target 'set')")"
expect "no key" \
    'ERROR:  missing option "target.key_column" or "target.key_prefix" for connector "redis" tables' \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (type 'sink', target 'string')")"
expect "key column missing" \
    'ERROR:  option "target.key_column" names column "nope", which does not exist' \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (type 'sink', target 'string', \"target.key_column\" 'nope')")"
expect "hash without field" \
    "ERROR:  missing required option \"target.field_column\" for connector \"redis\" tables of target 'hash'" \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (type 'sink', target 'hash', \"target.key_prefix\" 'h')")"
expect "field on a string" \
    "ERROR:  option \"target.field_column\" applies only to target 'hash'" \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (type 'sink', target 'string', \"target.key_prefix\" 'h', \"target.field_column\" 'k')")"
expect "operation on a hash" \
    "ERROR:  option \"target.operation\" applies only to target 'list'" \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (type 'sink', target 'hash', \"target.key_prefix\" 'h', \"target.field_column\" 'k', \"target.operation\" 'append')")"
expect "bad ttl" \
    'ERROR:  invalid value for option "target.ttl_secs": "0"' \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (type 'sink', target 'string', \"target.key_prefix\" 'h', \"target.ttl_secs\" '0')")"
expect "bad operation" \
    'ERROR:  invalid value for option "target.operation": "insert"' \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (type 'sink', target 'list', \"target.key_prefix\" 'h', \"target.operation\" 'insert')")"
expect "password on a table" \
    'ERROR:  option "password" is a credential and belongs in a user mapping' \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (type 'sink', target 'string', \"target.key_prefix\" 'h', password 'x')")"
expect "bad_data on a sink" \
    'ERROR:  option "bad_data" applies only to source tables' \
    "$(q_err "CREATE FOREIGN TABLE t1 (k int) SERVER redis OPTIONS (type 'sink', target 'string', \"target.key_prefix\" 'h', bad_data 'drop')")"
expect "lookup of a list" \
    "ERROR:  lookup tables take target 'string' (MGET) or 'hash' (HMGET), not 'list'" \
    "$(q_err "CREATE FOREIGN TABLE t1 (k text OPTIONS (metadata 'key')) SERVER redis OPTIONS (type 'lookup', target 'list')")"
expect "lookup without key" \
    'ERROR:  a redis lookup table needs a key column' \
    "$(q_err "CREATE FOREIGN TABLE t1 (k text, v text) SERVER redis OPTIONS (type 'lookup')")"
expect "lookup with two keys" \
    'ERROR:  a redis lookup table has one key column, and "v" is a second one' \
    "$(q_err "CREATE FOREIGN TABLE t1 (k text OPTIONS (metadata 'key'), v text OPTIONS (metadata 'key')) SERVER redis OPTIONS (type 'lookup')")"
expect "key_column on a lookup" \
    "ERROR:  option \"target.key_column\" applies only to tables of type 'sink'" \
    "$(q_err "CREATE FOREIGN TABLE t1 (k text OPTIONS (metadata 'key')) SERVER redis OPTIONS (type 'lookup', \"target.key_column\" 'k')")"
expect "format on a hash lookup" \
    "ERROR:  option \"format\" does not apply to lookup tables of target 'hash'" \
    "$(q_err "CREATE FOREIGN TABLE t1 (k text OPTIONS (metadata 'key')) SERVER redis OPTIONS (type 'lookup', target 'hash', format 'json')")"
q "CREATE FOREIGN TABLE sink_ok (k int) SERVER redis OPTIONS (type 'sink', target 'string', \"target.key_prefix\" 'x')" >/dev/null
expect "ALTER checks too" \
    "ERROR:  option \"target.operation\" applies only to target 'list'" \
    "$(q_err "ALTER FOREIGN TABLE sink_ok OPTIONS (ADD \"target.operation\" 'append')")"
expect "a sink cannot be queried" \
    'ERROR:  foreign table "sink_ok" is a sink and cannot be queried' \
    "$(q_err "SELECT * FROM sink_ok")"

# --- b. string target ------------------------------------------------------------------------------
arroyo_log "b. string target: SET key_prefix + key_column, EX ttl_secs"
q "CREATE FOREIGN TABLE kv (id bigint, sq bigint, label text) SERVER redis
     OPTIONS (type 'sink', target 'string', \"target.key_prefix\" 'kv:', \"target.key_column\" 'id',
              \"target.ttl_secs\" '3600')" >/dev/null
expect "b_string finished" finished \
    "$(run_to_end b_string "INSERT INTO kv SELECT counter, counter * counter, 'n' || counter FROM ticks")"
expect "100 string keys" 100 "$(rc --scan --pattern 'kv:*' | wc -l)"
expect "GET kv:7" '{"id":7,"sq":49,"label":"n7"}' "$(rc get kv:7)"
ttl=$(rc ttl kv:99)
((ttl > 0 && ttl <= 3600)) || arroyo_die "TTL of kv:99: expected 1..3600, got $ttl"
echo "ok: kv:99 expires (TTL $ttl)"
expect "every value (python3-redis)" 100 "$(py "
import json, redis
r = redis.Redis(port=$REDIS_PORT)
ok = 0
for i in range(100):
    v = json.loads(r.get('kv:%d' % i))
    ok += v == {'id': i, 'sq': i * i, 'label': 'n%d' % i}
print(ok)")"

# --- c. hash, list, stream targets ------------------------------------------------------------------
arroyo_log "c. hash, list (append, prepend, max_length) and stream targets"
q "CREATE FOREIGN TABLE hs (grp bigint, id bigint, v text) SERVER redis
     OPTIONS (type 'sink', target 'hash', \"target.key_prefix\" 'h:', \"target.key_column\" 'grp',
              \"target.field_column\" 'id');
   CREATE FOREIGN TABLE lst (payload text) SERVER redis
     OPTIONS (type 'sink', target 'list', \"target.key_prefix\" 'events', format 'raw_string',
              \"target.operation\" 'append', \"target.max_length\" '10');
   CREATE FOREIGN TABLE lst_rev (payload text) SERVER redis
     OPTIONS (type 'sink', target 'list', \"target.key_prefix\" 'events_rev', format 'raw_string',
              \"target.operation\" 'prepend', \"target.max_length\" '5');
   CREATE FOREIGN TABLE strm (id bigint) SERVER redis
     OPTIONS (type 'sink', target 'stream', \"target.key_prefix\" 'stream:', \"target.key_column\" 'id');
   CREATE FOREIGN TABLE strm_one (id bigint) SERVER redis
     OPTIONS (type 'sink', target 'stream', \"target.key_prefix\" 'allstream', \"target.max_length\" '1000')" >/dev/null
expect "c_hash" finished "$(run_to_end c_hash "INSERT INTO hs SELECT counter % 3, counter, 'v' || counter FROM ticks")"
expect "HLEN h:0 h:1 h:2" "34 33 33" "$(echo $(rc hlen h:0) $(rc hlen h:1) $(rc hlen h:2))"
expect "HGET h:1 4" '{"grp":1,"id":4,"v":"v4"}' "$(rc hget h:1 4)"
expect "c_list" finished "$(run_to_end c_list "INSERT INTO lst SELECT 'e' || counter FROM ticks")"
expect "list append, last 10" "e90 e91 e92 e93 e94 e95 e96 e97 e98 e99" "$(echo $(rc lrange events 0 -1))"
expect "c_list_rev" finished "$(run_to_end c_list_rev "INSERT INTO lst_rev SELECT 'e' || counter FROM ticks")"
expect "list prepend, newest 5" "e99 e98 e97 e96 e95" "$(echo $(rc lrange events_rev 0 -1))"
expect "c_stream" finished "$(run_to_end c_stream "INSERT INTO strm_one SELECT counter FROM ticks")"
expect "stream entries (python3-redis)" "100 [0, 1, 2, 98, 99]" "$(py "
import json, redis
r = redis.Redis(port=$REDIS_PORT)
entries = r.xrange('allstream')
ids = [json.loads(fields[b'value'])['id'] for _, fields in entries]
print(len(entries), ids[:3] + ids[-2:])")"
expect "c_stream per key" finished "$(run_to_end c_stream_keys "INSERT INTO strm SELECT counter % 2 FROM ticks")"
expect "XLEN stream:0 stream:1" "50 50" "$(echo $(rc xlen stream:0) $(rc xlen stream:1))"
expect "a list is no target for updating results" \
    'ERROR:  the result of this pipeline is updating, but "lst" can only append rows' \
    "$(q_err "SELECT stream_create('c_bad', \$\$INSERT INTO lst SELECT count(*)::text FROM ticks GROUP BY counter % 2\$\$)")"

# --- d. updating results: SET / DEL, HSET / HDEL ------------------------------------------------------
arroyo_log "d. updating results: Redis follows the batch query through inserts, updates, deletes"
q "CREATE TABLE orders (id int PRIMARY KEY, k int, v int);
   INSERT INTO orders SELECT i, i % 5, i FROM generate_series(1, 50) i;
   CREATE FOREIGN TABLE totals (k int, total bigint, n bigint) SERVER redis
     OPTIONS (type 'sink', target 'string', \"target.key_prefix\" 'tot:', \"target.key_column\" 'k');
   CREATE FOREIGN TABLE totals_h (k int, total bigint, n bigint) SERVER redis
     OPTIONS (type 'sink', target 'hash', \"target.key_prefix\" 'totals', \"target.field_column\" 'k')" >/dev/null
start_pipeline d_upd 'INSERT INTO totals SELECT k, sum(v), count(*) FROM orders GROUP BY k'
start_pipeline d_upd_h 'INSERT INTO totals_h SELECT k, sum(v), count(*) FROM orders GROUP BY k'
batch() { q "SELECT string_agg(k || '|' || total || '|' || n, ' ' ORDER BY k) FROM (SELECT k, sum(v) AS total, count(*) AS n FROM orders GROUP BY k) b"; }
redis_strings() {
    py "
import json, redis
r = redis.Redis(port=$REDIS_PORT)
rows = [json.loads(r.get(k)) for k in r.scan_iter('tot:*')]
rows = sorted((v['k'], v['total'], v['n']) for v in rows)
print(' '.join('%d|%d|%d' % t for t in rows))"
}
redis_hash() {
    py "
import json, redis
r = redis.Redis(port=$REDIS_PORT)
rows = sorted((int(f), json.loads(v)) for f, v in r.hgetall('totals').items())
print(' '.join('%d|%d|%d' % (f, v['total'], v['n']) for f, v in rows if v['k'] == f))"
}
both_follow() { # WANT: both sinks hold the batch query's result WANT
    last="strings: $(redis_strings); hash: $(redis_hash)"
    [[ $last == "strings: $1; hash: $1" ]]
}
want=$(batch)
expect "the batch query (5 groups)" "0|275|10 1|235|10 2|245|10 3|255|10 4|265|10" "$want"
wait_for "the initial totals in Redis" both_follow "$want"
echo "ok: initial totals"
q "UPDATE orders SET v = v + 100 WHERE k = 1;
   DELETE FROM orders WHERE k = 2;
   INSERT INTO orders VALUES (51, 7, 1), (52, 7, 2);
   UPDATE orders SET k = 3 WHERE id = 4" >/dev/null
want=$(batch)
expect "the batch query after the changes" "0|275|10 1|1235|10 3|259|11 4|261|9 7|3|2" "$want"
wait_for "the changed totals in Redis" both_follow "$want"
expect "group 2 deleted (DEL)" 0 "$(rc exists tot:2)"
expect "group 2 deleted (HDEL)" 0 "$(rc hexists totals 2)"
q "DELETE FROM orders" >/dev/null
wait_for "every group deleted" both_follow ""
expect "no totals left" "0 0" "$(echo $(rc --scan --pattern 'tot:*' | wc -l) $(rc exists totals))"
q "SELECT stream_drop('d_upd'); SELECT stream_drop('d_upd_h')" >/dev/null

# --- e. credentials in a user mapping -------------------------------------------------------------------
arroyo_log "e. a password (and username) in a user mapping"
start_redis "$AUTH_PORT" --requirepass 's3cret pass'
q "CREATE SERVER rauth FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'redis', address 'redis://127.0.0.1:$AUTH_PORT');
   CREATE FOREIGN TABLE auth_kv (id bigint) SERVER rauth
     OPTIONS (type 'sink', target 'string', \"target.key_prefix\" 'a:', \"target.key_column\" 'id')" >/dev/null
expect "no password: failed" failed "$(run_to_end e_none 'INSERT INTO auth_kv SELECT counter FROM ticks')"
expect "no password: NOAUTH" \
    "redis sink public.auth_kv: Redis at redis://127.0.0.1:$AUTH_PORT refused the connection: NOAUTH Authentication required." \
    "$(last_error e_none)"
q "CREATE USER MAPPING FOR CURRENT_USER SERVER rauth OPTIONS (password 'wrong')" >/dev/null
expect "wrong password: failed" failed "$(run_to_end e_wrong 'INSERT INTO auth_kv SELECT counter FROM ticks')"
expect "wrong password: WRONGPASS" \
    "redis sink public.auth_kv: Redis at redis://127.0.0.1:$AUTH_PORT refused the connection: WRONGPASS invalid username-password pair or user is disabled." \
    "$(last_error e_wrong)"
q "ALTER USER MAPPING FOR CURRENT_USER SERVER rauth OPTIONS (SET password 's3cret pass', ADD username 'default')" >/dev/null
expect "right password" finished "$(run_to_end e_right 'INSERT INTO auth_kv SELECT counter FROM ticks')"
expect "100 keys behind the password" 100 \
    "$(redis-cli -p "$AUTH_PORT" --no-auth-warning -a 's3cret pass' dbsize)"
expect "the password is in no server or table option" 0 \
    "$(q "SELECT count(*) FROM pg_foreign_server s, pg_foreign_table t
          WHERE array_to_string(s.srvoptions || t.ftoptions, ',') LIKE '%s3cret%'")"

# --- f. lookup joins --------------------------------------------------------------------------------
arroyo_log "f. lookup joins against Redis give the rows of the same query against a regular table"
# Customers 0..9 but 5; the stream looks up counter % 13, so 5, 10, 11 and 12 are not found.
q "CREATE TABLE customers (id int PRIMARY KEY, name text, tier int);
   INSERT INTO customers SELECT i, 'cust ' || i, i % 4 FROM generate_series(0, 9) i WHERE i <> 5;
   CREATE FOREIGN TABLE cust_r (id int OPTIONS (metadata 'key'), name text, tier int) SERVER redis
     OPTIONS (type 'lookup', \"target.key_prefix\" 'cust:');
   CREATE FOREIGN TABLE cust_h (id int OPTIONS (metadata 'key'), name text, tier int) SERVER redis
     OPTIONS (type 'lookup', target 'hash', \"target.key_prefix\" 'custh:');
   CREATE FOREIGN TABLE cust_drop (id int OPTIONS (metadata 'key'), name text, tier int) SERVER redis
     OPTIONS (type 'lookup', \"target.key_prefix\" 'cust:', bad_data 'drop');
   CREATE TABLE got_table (counter bigint, id int, name text, tier int);
   CREATE TABLE got_r (LIKE got_table); CREATE TABLE got_h (LIKE got_table);
   CREATE TABLE got_left_table (LIKE got_table); CREATE TABLE got_left_r (LIKE got_table);
   CREATE TABLE got_drop (LIKE got_table); CREATE TABLE got_fail (LIKE got_table)" >/dev/null
# The same rows in Redis, written by python3-redis: JSON strings and hashes.
py "
import psycopg, redis
r = redis.Redis(port=$REDIS_PORT)
with psycopg.connect('$(pg_conninfo "$PGTEST_DIR" "$PGTEST_PORT")') as c:
    for id, name, tier in c.execute('SELECT id, name, tier FROM customers'):
        r.set('cust:%d' % id, '{\"name\": \"%s\", \"tier\": %d}' % (name, tier))
        r.hset('custh:%d' % id, mapping={'name': name, 'tier': str(tier)})
"
lookup_query() { # TARGET TABLE [LEFT]
    echo "INSERT INTO $1 SELECT t.counter, c.id, c.name, c.tier FROM ticks t
          ${3:-} JOIN LATERAL (SELECT x.id, x.name, x.tier FROM $2 x WHERE x.id = t.counter % 13) c ON true"
}
rows_of() { q "SELECT count(*) || ': ' || coalesce(md5(string_agg(g::text, ',' ORDER BY counter)), '') FROM $1 g"; }
expect "f_table" finished "$(run_to_end f_table "$(lookup_query got_table customers)")"
expect "f_r (MGET)" finished "$(run_to_end f_r "$(lookup_query got_r cust_r)")"
expect "f_h (HMGET)" finished "$(run_to_end f_h "$(lookup_query got_h cust_h)")"
expect "f_left_table" finished "$(run_to_end f_left_table "$(lookup_query got_left_table customers LEFT)")"
expect "f_left_r" finished "$(run_to_end f_left_r "$(lookup_query got_left_r cust_r LEFT)")"
table_rows=$(rows_of got_table)
expect "rows found in the regular table (8 keys x 8 + key 9 x 7)" 71 "${table_rows%%:*}"
expect "string lookup = table lookup" "$table_rows" "$(rows_of got_r)"
expect "hash lookup = table lookup" "$table_rows" "$(rows_of got_h)"
expect "left joins: 100 rows" 100 "$(q "SELECT count(*) FROM got_left_r")"
expect "LEFT string lookup = LEFT table lookup" "$(rows_of got_left_table)" "$(rows_of got_left_r)"
expect "one row looked up" "22|9|cust 9|1" "$(q "SELECT * FROM got_r WHERE counter = 22")"
expect "EXPLAIN of a Redis lookup" \
    "1 key per event, one round trip per batch of distinct keys" \
    "$(q "SELECT stream_explain('f_r')" | sed -n 's/.*Looks up: //p')"
# Bad values: a key whose value is not JSON, and a hash field that is not an integer.
rc set cust:5 'not json' >/dev/null
expect "f_fail" failed "$(run_to_end f_fail "$(lookup_query got_fail cust_r)")"
expect "f_fail's error" \
    'bad data in the value of key "cust:5": JSON document is not an object' \
    "$(last_error f_fail)"
rc hset custh:5 name 'five' tier 'many' >/dev/null
expect "f_fail_h" failed "$(run_to_end f_fail_h "$(lookup_query got_fail cust_h)")"
expect "f_fail_h's error" \
    'bad data in hash "custh:5": column "tier": invalid input syntax for type integer: "many"' \
    "$(last_error f_fail_h)"
printf 'HSET custh:5 name "\xff\xfe" tier 1\r\n' | rc >/dev/null
expect "f_fail_utf8" failed "$(run_to_end f_fail_utf8 "$(lookup_query got_fail cust_h)")"
expect "f_fail_utf8's error" \
    'bad data in hash "custh:5": column "name": invalid byte sequence for encoding "UTF8": 0xff' \
    "$(last_error f_fail_utf8)"
rc del custh:5 >/dev/null
expect "f_drop" finished "$(run_to_end f_drop "$(lookup_query got_drop cust_drop)")"
expect "bad values dropped: as not found" "$table_rows" "$(rows_of got_drop)"
# lookup.cache.ttl: each distinct key is read from Redis once (13 keys: 10 found, 3 missing),
# though the 300 events arrive in many batches.
q "CREATE FOREIGN TABLE slow_300 (counter bigint) SERVER ticks OPTIONS (event_rate '300', message_count '300');
   CREATE TABLE got_cache (LIKE got_table); CREATE TABLE got_cache_table (LIKE got_table)" >/dev/null
rc config resetstat >/dev/null
expect "f_cache" finished "$(run_to_end f_cache "SET lookup.cache.ttl = '1 hour';
    $(lookup_query got_cache cust_drop | sed 's/FROM ticks/FROM slow_300/')")"
expect "keys read from Redis with the cache" "keyspace_hits:10 keyspace_misses:3" \
    "$(echo $(rc info stats | tr -d '\r' | grep -E '^keyspace_(hits|misses):'))"
expect "f_cache_table" finished \
    "$(run_to_end f_cache_table "$(lookup_query got_cache_table customers | sed 's/FROM ticks/FROM slow_300/')")"
expect "cached lookup = table lookup" "$(rows_of got_cache_table)" "$(rows_of got_cache)"
# What a lookup table is not.
expect "a lookup table is no stream" \
    'ERROR:  foreign table "cust_r" is a lookup table and cannot be read as a stream' \
    "$(q_err "SELECT stream_create('f_bad', \$\$INSERT INTO got_r SELECT 0, * FROM cust_r\$\$)")"
expect "a lookup table is no sink" \
    'ERROR:  foreign table "cust_r" is a lookup table and cannot be written to' \
    "$(q_err "SELECT stream_create('f_bad', \$\$INSERT INTO cust_r SELECT 1, 'a', 1 FROM ticks\$\$)")"
expect "only by key" \
    'ERROR:  this LATERAL subquery over the lookup table "cust_r" is not supported in a pipeline' \
    "$(q_err "SELECT stream_create('f_bad', \$\$INSERT INTO got_r SELECT t.counter, c.* FROM ticks t JOIN LATERAL (SELECT x.id, x.name, x.tier FROM cust_r x WHERE x.tier = t.counter) c ON true\$\$)")"
expect "columns only" \
    'ERROR:  an expression in the select list of a LATERAL subquery over the lookup table "cust_r" is not supported in a pipeline' \
    "$(q_err "SELECT stream_create('f_bad', \$\$INSERT INTO got_r SELECT t.counter, c.* FROM ticks t JOIN LATERAL (SELECT x.id, upper(x.name), x.tier FROM cust_r x WHERE x.id = t.counter) c ON true\$\$)")"

# --- g. Redis restarted mid-pipeline -----------------------------------------------------------------
arroyo_log "g. Redis restarted mid-pipeline: the sink reconnects and every row arrives"
# This Redis keeps an append-only file synced at every write, so that what it acknowledged
# before the restart is still there after it.
AOF_ARGS=(--appendonly yes --appendfsync always)
start_redis "$AOF_PORT" "${AOF_ARGS[@]}"
q "CREATE SERVER raof FOREIGN DATA WRAPPER arroyo_stream
     OPTIONS (connector 'redis', address 'redis://127.0.0.1:$AOF_PORT');
   CREATE FOREIGN TABLE aof_kv (id bigint) SERVER raof
     OPTIONS (type 'sink', target 'string', \"target.key_prefix\" 'r:', \"target.key_column\" 'id');
   CREATE FOREIGN TABLE aof_list (id bigint) SERVER raof
     OPTIONS (type 'sink', target 'list', \"target.key_prefix\" 'rlist');
   CREATE FOREIGN TABLE slow_ticks (counter bigint)
     SERVER ticks OPTIONS (event_rate '400', message_count '4000')" >/dev/null
start_pipeline g_kv 'INSERT INTO aof_kv SELECT counter FROM slow_ticks'
start_pipeline g_list 'INSERT INTO aof_list SELECT counter FROM slow_ticks'
dbsize_over() { last=$(redis-cli -p "$AOF_PORT" dbsize 2>&1) && ((last > $1)); }
wait_for "some rows in Redis" dbsize_over 100
wait_for "g_kv to be connected" status_matches g_kv "^redis sink public.aof_kv: connected to redis://127.0.0.1:$AOF_PORT\$"
stop_redis "$AOF_PORT"
reconnecting="^redis sink public.aof_[a-z]+: reconnecting to redis://127.0.0.1:$AOF_PORT \(attempt [0-9]+\): "
wait_for "g_kv to report its reconnecting" status_matches g_kv "$reconnecting"
wait_for "g_list to report its reconnecting" status_matches g_list "$reconnecting"
echo "ok: reconnecting shown: $last"
expect "g_kv still running" running "$(q "SELECT state FROM stream_pipelines WHERE name = 'g_kv'")"
start_redis "$AOF_PORT" "${AOF_ARGS[@]}"
wait_for "g_kv to reconnect" status_matches g_kv "^redis sink public.aof_kv: connected to redis://127.0.0.1:$AOF_PORT \(reconnected [0-9]+ times\)\$|^<null>\$"
expect "g_kv finished" finished "$(q "SELECT stream_wait('g_kv', '60 seconds')")"
expect "g_list finished" finished "$(q "SELECT stream_wait('g_list', '60 seconds')")"
expect "every key once (string target)" 4000 "$(redis-cli -p "$AOF_PORT" --scan --pattern 'r:*' | wc -l)"
expect "every row at least once (list target)" "4000 0 3999" "$(py "
import json, redis
r = redis.Redis(port=$AOF_PORT)
items = [json.loads(x)['id'] for x in r.lrange('rlist', 0, -1)]
print(len(set(items)), min(items), max(items))")"
echo "ok: the list holds $(redis-cli -p "$AOF_PORT" llen rlist) items for 4000 rows (repeats: rows whose replies were lost)"
grep -q "reconnected to Redis at redis://127.0.0.1:$AOF_PORT" "$PGTEST_DIR/server.log" ||
    arroyo_die "no 'reconnected' line in the server log"
echo "ok: the reconnect is logged"
