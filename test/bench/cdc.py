#!/usr/bin/python3
"""Change data capture benchmark: commit-to-visible latency and sustained changes per second of
an aggregate over a busy table, next to (a) a trigger-maintained summary table and (b) a
materialized view refreshed at a comparable freshness. Prints figures; asserts nothing on speed
(but checks that every variant ends with the same, correct result)."""
import statistics
import sys
import time

import psycopg

ROWS = 200_000          # rows in the table before the measurement
KEYS = 1000             # groups
LATENCY_SAMPLES = 200
TXNS = 500
CHANGES_PER_TXN = 100 + 50 + 20  # inserts, updates, deletes


def connect(conninfo):
    return psycopg.connect(conninfo, autocommit=True)


def setup(cur):
    cur.execute("SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'cdc_bench'")
    cur.execute("DROP TABLE IF EXISTS cdc_orders, cdc_totals, trg_orders, trg_totals CASCADE")
    cur.execute("DROP MATERIALIZED VIEW IF EXISTS mv_totals")
    for t in ("cdc_orders", "trg_orders"):
        cur.execute(f"CREATE TABLE {t} (id bigserial PRIMARY KEY, k int, v numeric)")
        cur.execute(f"ALTER TABLE {t} REPLICA IDENTITY FULL")
        cur.execute(f"INSERT INTO {t} (k, v) SELECT g % {KEYS}, g FROM generate_series(1, {ROWS}) g")
    cur.execute("CREATE TABLE cdc_totals (k int PRIMARY KEY, n bigint, s numeric)")
    cur.execute("CREATE TABLE trg_totals (k int PRIMARY KEY, n bigint, s numeric)")
    cur.execute("INSERT INTO trg_totals SELECT k, count(*), sum(v) FROM trg_orders GROUP BY k")
    cur.execute("""CREATE FUNCTION pg_temp.trg_summarize() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE trg_totals SET n = n - 1, s = s - OLD.v WHERE k = OLD.k;
          END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO trg_totals VALUES (NEW.k, 1, NEW.v)
            ON CONFLICT (k) DO UPDATE SET n = trg_totals.n + 1, s = trg_totals.s + EXCLUDED.s;
          END IF;
          RETURN NULL;
        END $$""")
    cur.execute("""CREATE TRIGGER summarize AFTER INSERT OR UPDATE OR DELETE ON trg_orders
                   FOR EACH ROW EXECUTE FUNCTION pg_temp.trg_summarize()""")
    cur.execute("CREATE MATERIALIZED VIEW mv_totals AS SELECT k, count(*) AS n, sum(v) AS s "
                "FROM cdc_orders GROUP BY k")
    cur.execute("CREATE UNIQUE INDEX ON mv_totals (k)")


def workload(cur, table, txn):
    """One transaction: 100 inserts, 50 updates and 20 deletes, in three statements."""
    with cur.connection.transaction():
        cur.execute(f"INSERT INTO {table} (k, v) SELECT (g * 7 + %s) %% {KEYS}, g "
                    f"FROM generate_series(1, 100) g", (txn,))
        first = txn * 200 + 1
        cur.execute(f"UPDATE {table} SET v = v + 1 WHERE id BETWEEN %s AND %s", (first, first + 49))
        cur.execute(f"DELETE FROM {table} WHERE id BETWEEN %s AND %s", (first + 100, first + 119))


def caught_up(cur):
    cur.execute("""SELECT count(*) FROM ((SELECT * FROM cdc_totals EXCEPT
                     SELECT k, count(*), sum(v) FROM cdc_orders GROUP BY k)
                   UNION ALL (SELECT k, count(*), sum(v) FROM cdc_orders GROUP BY k EXCEPT
                     SELECT * FROM cdc_totals)) d""")
    return cur.fetchone()[0] == 0


def wait_caught_up(cur, timeout=120):
    deadline = time.time() + timeout
    while not caught_up(cur):
        if time.time() > deadline:
            sys.exit("cdc benchmark: the pipeline did not catch up")
        time.sleep(0.01)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main():
    conn = connect(sys.argv[1])
    cur = conn.cursor()
    setup(cur)
    cur.execute("""SELECT stream_create('cdc_bench', $$SET checkpoint_interval = '20 milliseconds';
        SET update_aggregate_flush_interval = '10 milliseconds';
        INSERT INTO cdc_totals SELECT k, count(*), sum(v) FROM cdc_orders GROUP BY k$$)""")
    start = time.time()
    cur.execute("SELECT stream_start('cdc_bench')")
    wait_caught_up(cur)
    snapshot_s = time.time() - start

    # Commit-to-visible latency: a new group per sample, committed, then polled for.
    latencies = []
    for i in range(LATENCY_SAMPLES):
        key = KEYS + 1 + i
        t0 = time.time()
        cur.execute("INSERT INTO cdc_orders (k, v) VALUES (%s, 1)", (key,))
        while True:
            cur.execute("SELECT 1 FROM cdc_totals WHERE k = %s", (key,))
            if cur.fetchone():
                break
            time.sleep(0.0005)
        latencies.append((time.time() - t0) * 1000)

    # Sustained changes, with the default intervals (commit and flush every second): the
    # writers' time, then until the result has caught up.
    cur.execute("SELECT stream_drop('cdc_bench')")
    cur.execute("TRUNCATE cdc_totals")
    cur.execute("""SELECT stream_create('cdc_bench',
        'INSERT INTO cdc_totals SELECT k, count(*), sum(v) FROM cdc_orders GROUP BY k')""")
    cur.execute("SELECT stream_start('cdc_bench')")
    wait_caught_up(cur)
    t0 = time.time()
    for txn in range(TXNS):
        workload(cur, "cdc_orders", txn)
    write_s = time.time() - t0
    wait_caught_up(cur)
    cdc_s = time.time() - t0
    changes = TXNS * CHANGES_PER_TXN

    t0 = time.time()
    for txn in range(TXNS):
        workload(cur, "trg_orders", txn)
    trigger_s = time.time() - t0

    # A materialized view as fresh as the pipeline's p99 needs a refresh at least that often.
    refresh = []
    for _ in range(5):
        t0 = time.time()
        cur.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY mv_totals")
        refresh.append((time.time() - t0) * 1000)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    refresh_ms = statistics.median(refresh)

    cur.execute("SELECT count(*) FROM ((SELECT * FROM trg_totals EXCEPT SELECT * FROM cdc_totals "
                "WHERE k < %s) UNION ALL (SELECT * FROM cdc_totals WHERE k < %s EXCEPT "
                "SELECT * FROM trg_totals)) d", (KEYS, KEYS))
    same = cur.fetchone()[0] == 0
    cur.execute("SELECT stream_drop('cdc_bench')")

    print(f"cdc: table of {ROWS} rows, {KEYS} groups; snapshot read and materialized in {snapshot_s:.2f} s")
    print(f"cdc: commit-to-visible latency p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"(checkpoint_interval 20 ms, flush 10 ms; {LATENCY_SAMPLES} samples)")
    print(f"cdc: {changes} changes in {TXNS} transactions: writers {changes / write_s:.0f}/s, "
          f"result caught up at {changes / cdc_s:.0f} changes/s (default 1 s intervals)")
    print(f"trigger-maintained summary: writers {changes / trigger_s:.0f} changes/s "
          f"({trigger_s / write_s:.2f}x the writers' time with CDC); result always fresh; "
          f"results equal: {same}")
    print(f"materialized view: REFRESH CONCURRENTLY takes {refresh_ms:.0f} ms over {ROWS} rows; "
          f"matching p99 freshness ({p99:.0f} ms) would take {refresh_ms / p99 * 100:.0f} % of a core")


if __name__ == "__main__":
    main()
