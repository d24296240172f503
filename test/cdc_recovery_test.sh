#!/usr/bin/env bash
# Change data capture across crashes: aggregates over two regular tables (GROUP BY k, count,
# sum) materialize into tables while a randomized workload (inserts, updates, deletes in many
# transactions, some rolled back, one large transaction) runs against them: `orders` has
# REPLICA IDENTITY FULL, `keyed` only its primary key (its pipeline keeps the rows by key, and
# the workload also changes keys). Meanwhile the pipelines' workers are killed
# (pg_terminate_backend) and the server is stopped with `pg_ctl stop -m immediate` and started
# again, several times each. A third pipeline joins the two tables (one replication slot
# decoding both). Afterwards each materialized table equals its batch query exactly (nothing
# lost, nothing doubled), and after stream_drop no replication slot is left.
# Uses its own temporary instance (port 55482, ARROYO_CDC_RECOVERY_PORT overrides).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

settings=("${ARROYO_SERVER_SETTINGS[@]}" "fsync = off")
pg_test_instance cdc_recovery "${ARROYO_CDC_RECOVERY_PORT:-55482}"

POLL_TIMEOUT=60
# On failure, the pipeline's story from the server log (before the instance is destroyed).
arroyo_on_exit 'if ((ARROYO_EXIT_STATUS != 0)); then
    echo "--- arroyo_stream lines of the server log ---" >&2
    grep -E "arroyo_stream|replication slot|logical decoding|database system" \
        "$PGTEST_DIR/server.log" | tail -n 80 >&2 || true
fi'
CYCLES=${ARROYO_CDC_RECOVERY_CYCLES:-6}  # each: one worker kill and one server crash
BATCH='SELECT k, count(*), sum(v) FROM orders GROUP BY k'
KEYED_BATCH='SELECT k, count(*), sum(v) FROM keyed GROUP BY k'
JOINED_BATCH='SELECT kk.k, count(*), sum(o.v) FROM orders o JOIN keyed kk ON kk.id = o.id GROUP BY kk.k'

q() {
    pg_psql "$PGTEST_DIR" "$PGTEST_PORT" -Atq -c "$1"
}

# Condition: pipeline $2 (default totals) runs with a worker whose pid is not $1 (the one
# killed, if any).
running_not() {
    last=$(q "SELECT state || '|' || coalesce(pid::text, 'null') || '|' || coalesce(last_error, '')
              FROM stream_pipelines WHERE name = '${2:-totals}'" 2>&1) || return 1
    [[ $last =~ ^running\|([0-9]+)\|$ && ${BASH_REMATCH[1]} != "$1" ]]
}

# Condition: the three pipelines run.
all_running() {
    running_not none totals && running_not none keyed && running_not none joined
}

# Condition: the materialized table $1 equals the batch query $2 (no row missing or extra).
matches() {
    last=$(q "SELECT count(*) FROM ((SELECT * FROM $1 EXCEPT ALL $2)
                                    UNION ALL ($2 EXCEPT ALL SELECT * FROM $1)) d" 2>&1) ||
        return 1
    [[ $last == 0 ]]
}

# The pipeline's last committed checkpoint epoch.
epoch_of() { q "SELECT checkpoint_epoch FROM _arroyo_stream.pipelines WHERE name = '$1'"; }
# Condition: pipeline $1 has committed a checkpoint after epoch $2. A worker that dies 5 times
# in a row before any progress is not started again (a crash loop): each kill waits for this,
# so that a slow machine does not turn the faults into one.
progressed() { last=$(epoch_of "$1") && ((last > $2)); }

# kill_worker NAME: terminates the pipeline's worker and waits until it runs again and has
# checkpointed.
kill_worker() {
    wait_for "pipeline $1 to run" running_not none "$1"
    local pid=${last#running|}
    pid=${pid%%|*}
    local epoch
    epoch=$(epoch_of "$1")
    [[ $(q "SELECT pg_terminate_backend($pid)") == t ]] || arroyo_die "could not kill worker $pid"
    kills=$((kills + 1))
    wait_for "pipeline $1 to resume after its worker $pid was killed" running_not "$pid" "$1"
    wait_for "pipeline $1 to checkpoint after its restart" progressed "$1" "$epoch"
}

# The workload: transactions of ten random changes each, every fifth rolled back, until
# $stop_file exists. Connection failures (the server is down) are retried.
stop_file=$PGTEST_DIR/../cdc_recovery.stop
rm -f -- "$stop_file"
writer() {
    local sql
    sql=$(
        cat <<'EOF'
DO $$
DECLARE op float8;
BEGIN
  FOR t IN 1..20 LOOP
    BEGIN
      FOR i IN 1..10 LOOP
        op := random();
        IF random() < 0.4 THEN
          IF op < 0.5 THEN
            INSERT INTO keyed VALUES (nextval('keyed_ids'), (random() * 40)::int, round((random() * 1000)::numeric, 2));
          ELSIF op < 0.65 THEN
            UPDATE keyed SET id = nextval('keyed_ids')
            WHERE id = (SELECT id FROM keyed ORDER BY id OFFSET (random() * 300)::int LIMIT 1);
          ELSIF op < 0.8 THEN
            UPDATE keyed SET v = v + 1, k = (random() * 40)::int
            WHERE id = (SELECT id FROM keyed ORDER BY id OFFSET (random() * 300)::int LIMIT 1);
          ELSE
            DELETE FROM keyed WHERE id = (SELECT id FROM keyed ORDER BY id OFFSET (random() * 300)::int LIMIT 1);
          END IF;
        ELSIF op < 0.5 THEN
          INSERT INTO orders (k, v) VALUES ((random() * 40)::int, round((random() * 1000)::numeric, 2));
        ELSIF op < 0.8 THEN
          UPDATE orders SET v = v + 1, k = (random() * 40)::int
          WHERE id = (SELECT id FROM orders ORDER BY id OFFSET (random() * 300)::int LIMIT 1);
        ELSE
          DELETE FROM orders WHERE id = (SELECT id FROM orders ORDER BY id OFFSET (random() * 300)::int LIMIT 1);
        END IF;
      END LOOP;
      IF t % 5 = 0 THEN RAISE EXCEPTION 'roll back this transaction'; END IF;
    EXCEPTION WHEN raise_exception THEN NULL;
    END;
    COMMIT;
  END LOOP;
END $$;
EOF
    )
    while [[ ! -e $stop_file ]]; do
        q "$sql" >/dev/null 2>&1 || sleep 0.2
    done
}

q "CREATE EXTENSION arroyo_stream"
q "CREATE TABLE orders (id serial PRIMARY KEY, k int NOT NULL, v numeric)"
q "ALTER TABLE orders REPLICA IDENTITY FULL"
q "INSERT INTO orders (k, v) SELECT g % 40, g FROM generate_series(1, 5000) g"
q "CREATE TABLE totals (k int PRIMARY KEY, n bigint, s numeric)"
q "CREATE TABLE keyed (id bigint PRIMARY KEY, k int NOT NULL, v numeric)"
q "CREATE SEQUENCE keyed_ids START 100000"
q "INSERT INTO keyed SELECT g, g % 40, g FROM generate_series(1, 2000) g"
q "CREATE TABLE keyed_totals (k int PRIMARY KEY, n bigint, s numeric)"
q "CREATE TABLE joined_totals (k int PRIMARY KEY, n bigint, s numeric)"
# Kills the pipeline's worker (returning its pid) as soon as its last checkpoint has read
# part of a transaction; gives up (NULL) after about 30 s.
q "CREATE FUNCTION kill_when_partly_read() RETURNS int LANGUAGE plpgsql AS \$\$
   DECLARE worker int;
   BEGIN
     FOR i IN 1..30000 LOOP
       SELECT p.pid INTO worker FROM _arroyo_stream.state s
       JOIN _arroyo_stream.pipelines c ON c.id = s.pipeline_id
       JOIN stream_pipelines p ON p.name = c.name
       WHERE c.name = 'totals' AND s.node = -1 AND s.key = 'position'::bytea
         AND substring(s.value FROM 17 FOR 8) <> '\\x0000000000000000'::bytea;
       IF worker IS NOT NULL AND pg_terminate_backend(worker) THEN RETURN worker; END IF;
       PERFORM pg_sleep(0.001);
     END LOOP;
     RETURN NULL;
   END \$\$"
q "SELECT stream_create('totals', \$\$SET checkpoint_interval = '20 milliseconds';
     SET update_aggregate_flush_interval = '50 milliseconds';
     INSERT INTO totals SELECT k, count(*), sum(v) FROM orders GROUP BY k\$\$)"
q "SELECT stream_create('keyed', \$\$SET checkpoint_interval = '20 milliseconds';
     SET update_aggregate_flush_interval = '50 milliseconds';
     INSERT INTO keyed_totals SELECT k, count(*), sum(v) FROM keyed GROUP BY k\$\$)"
q "SELECT stream_create('joined', \$\$SET checkpoint_interval = '20 milliseconds';
     SET update_aggregate_flush_interval = '50 milliseconds';
     INSERT INTO joined_totals SELECT kk.k, count(*), sum(o.v)
     FROM orders o JOIN keyed kk ON kk.id = o.id GROUP BY kk.k\$\$)"
q "SELECT stream_start('totals')" >/dev/null
q "SELECT stream_start('keyed')" >/dev/null
q "SELECT stream_start('joined')" >/dev/null
wait_for "the pipelines to run" all_running

writer &
writer_pid=$!
arroyo_on_exit "touch '$stop_file'; wait $writer_pid 2>/dev/null || true; rm -f '$stop_file'"

kills=0 crashes=0
for ((cycle = 1; cycle <= CYCLES; cycle++)); do
    sleep 1
    if ((cycle == 3)); then
        # One large transaction (half a million changes, read over several of the pipeline's
        # transactions); its worker is killed as soon as a checkpoint has recorded it partly
        # read (the position's third number, rows of the next transaction, is not 0).
        # (The lock makes the workload's transactions wait rather than deadlock with it.)
        q "BEGIN; LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE;
           INSERT INTO orders (k, v) SELECT g % 40, g FROM generate_series(1, 250000) g;
           UPDATE orders SET v = v + 1 WHERE k < 20; COMMIT"
        pid=$(q "SELECT kill_when_partly_read()")
        if [[ -n $pid ]]; then
            arroyo_log "killed worker $pid in the middle of the large transaction"
            kills=$((kills + 1))
            wait_for "the pipeline to resume after its worker $pid was killed" running_not "$pid"
        else
            arroyo_warn "no checkpoint seen inside the large transaction"
        fi
    fi
    kill_worker totals
    kill_worker keyed
    kill_worker joined
    sleep 1
    epochs=("$(epoch_of totals)" "$(epoch_of keyed)" "$(epoch_of joined)")
    as_pg_user "$(pg_bindir)/pg_ctl" -D "$PGTEST_DIR" -m immediate -w stop >/dev/null
    crashes=$((crashes + 1))
    pg_instance_start "$PGTEST_DIR" "$PGTEST_PORT" "${settings[@]}" 2>/dev/null
    wait_for "the pipelines to resume after a crash (cycle $cycle)" all_running
    wait_for "totals to checkpoint after the crash" progressed totals "${epochs[0]}"
    wait_for "keyed to checkpoint after the crash" progressed keyed "${epochs[1]}"
    wait_for "joined to checkpoint after the crash" progressed joined "${epochs[2]}"
done
touch "$stop_file"
wait "$writer_pid"
arroyo_log "$kills worker kills and $crashes crashes; $(q "SELECT count(*) FROM orders") rows in orders"

wait_for "totals to equal the batch query" matches totals "$BATCH"
wait_for "keyed_totals to equal the batch query" matches keyed_totals "$KEYED_BATCH"
wait_for "joined_totals to equal the batch query" matches joined_totals "$JOINED_BATCH"
for pair in "totals|$BATCH" "keyed_totals|$KEYED_BATCH" "joined_totals|$JOINED_BATCH"; do
    expected=$(q "${pair#*|} ORDER BY k")
    actual=$(q "SELECT * FROM ${pair%%|*} ORDER BY k")
    [[ $actual == "$expected" ]] || arroyo_die "${pair%%|*} differs from its batch query"
done
wait_for "the pipelines to be running without error" all_running
checkpoints=$(q "SELECT count(*) FROM stream_checkpoints WHERE pipeline = 'keyed'")
((checkpoints > 0)) || arroyo_die "no checkpoint recorded"

q "SELECT stream_drop('totals'), stream_drop('keyed'), stream_drop('joined')" >/dev/null
slots=$(q "SELECT count(*) FROM pg_replication_slots")
[[ $slots == 0 ]] || arroyo_die "expected no replication slot after stream_drop, found $slots"
arroyo_log "PASS: the three targets equal their batch queries ($(q "SELECT count(*) FROM totals"), $(q "SELECT count(*) FROM keyed_totals") and $(q "SELECT count(*) FROM joined_totals") groups); no slot left"
