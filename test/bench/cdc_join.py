#!/usr/bin/python3
"""Two-table change data capture join benchmark: an aggregate over `orders JOIN customers` kept
fresh while both tables change. Prints the commit-to-visible latency (p50, p99) of a change on
either side, the rate at which the result catches up with a mixed write workload, the state the
join keeps per row, and, side by side, what PostgreSQL's batch query over the same rows costs
(as a plain query and as a REFRESH MATERIALIZED VIEW CONCURRENTLY as fresh as the pipeline's
p99). Asserts nothing on speed, but checks that the result equals the batch query."""
import os
import statistics
import sys
import time

import psycopg

CUSTOMERS = 50_000
ORDERS = 200_000
REGIONS = 100
LATENCY_SAMPLES = 200  # half a new order of a known customer, half a customer's move
TXNS = 300

BATCH = ("SELECT c.region, count(*) AS n, sum(o.amount) AS s FROM jb_orders o "
         "JOIN jb_customers c ON c.id = o.customer_id GROUP BY c.region")


def setup(cur):
    cur.execute("SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'cdc_join_bench'")
    cur.execute("DROP TABLE IF EXISTS jb_orders, jb_customers, jb_totals CASCADE")
    cur.execute("DROP MATERIALIZED VIEW IF EXISTS jb_mv")
    cur.execute("CREATE TABLE jb_customers (id int PRIMARY KEY, name text, region int NOT NULL)")
    cur.execute("CREATE TABLE jb_orders (id bigserial PRIMARY KEY, customer_id int, amount numeric)")
    cur.execute(f"INSERT INTO jb_customers SELECT g, 'customer ' || g, g % {REGIONS} "
                f"FROM generate_series(1, {CUSTOMERS}) g")
    cur.execute(f"INSERT INTO jb_orders (customer_id, amount) SELECT g % {CUSTOMERS} + 1, g % 1000 "
                f"FROM generate_series(1, {ORDERS}) g")
    cur.execute("CREATE INDEX ON jb_orders (customer_id)")
    cur.execute("CREATE TABLE jb_totals (region int PRIMARY KEY, n bigint, s numeric)")
    cur.execute(f"CREATE MATERIALIZED VIEW jb_mv AS {BATCH}")
    cur.execute("CREATE UNIQUE INDEX ON jb_mv (region)")
    cur.execute("ANALYZE jb_orders, jb_customers")


def caught_up(cur):
    cur.execute(f"SELECT count(*) FROM ((TABLE jb_totals EXCEPT ({BATCH})) "
                f"UNION ALL (({BATCH}) EXCEPT TABLE jb_totals)) d")
    return cur.fetchone()[0] == 0


def wait_caught_up(cur, timeout=300):
    deadline = time.time() + timeout
    while not caught_up(cur):
        if time.time() > deadline:
            sys.exit("cdc_join benchmark: the pipeline did not catch up")
        time.sleep(0.01)


def wait_visible(cur, sql, args):
    while True:
        cur.execute(sql, args)
        if cur.fetchone()[0]:
            return
        time.sleep(0.0005)


def workload(cur, txn):
    """One transaction: 100 new orders, 50 changed amounts, 20 deleted orders, and 5 customers
    moved to another region (each takes its ~4 orders along)."""
    with cur.connection.transaction():
        cur.execute(f"INSERT INTO jb_orders (customer_id, amount) "
                    f"SELECT (g * 7919 + %s) %% {CUSTOMERS} + 1, g FROM generate_series(1, 100) g",
                    (txn,))
        first = txn * 200 + 1
        cur.execute("UPDATE jb_orders SET amount = amount + 1 WHERE id BETWEEN %s AND %s",
                    (first, first + 49))
        cur.execute("DELETE FROM jb_orders WHERE id BETWEEN %s AND %s", (first + 100, first + 119))
        cur.execute(f"UPDATE jb_customers SET region = (region + 1) %% {REGIONS} "
                    f"WHERE id BETWEEN %s AND %s", (txn * 5 + 1, txn * 5 + 5))


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main():
    conn = psycopg.connect(sys.argv[1], autocommit=True)
    cur = conn.cursor()
    setup(cur)
    cur.execute(f"""SELECT stream_create('cdc_join_bench', $$SET checkpoint_interval = '20 milliseconds';
        SET update_aggregate_flush_interval = '10 milliseconds';
        INSERT INTO jb_totals {BATCH}$$)""")
    start = time.time()
    cur.execute("SELECT stream_start('cdc_join_bench')")
    wait_caught_up(cur)
    snapshot_s = time.time() - start
    cur.execute("SELECT state_bytes FROM stream_pipelines WHERE name = 'cdc_join_bench'")
    state_bytes = cur.fetchone()[0]

    # Commit-to-visible: each sample makes a region of its own appear, by a change to one side.
    # Even samples: a customer in a new region (committed first), then an order of it (timed).
    # Odd samples: an order of a new customer (committed first), then that customer (timed).
    latencies = {"orders": [], "customers": []}
    for i in range(LATENCY_SAMPLES):
        region, cust = REGIONS + 1 + i, CUSTOMERS + 1 + i
        if i % 2 == 0:
            cur.execute("INSERT INTO jb_customers VALUES (%s, 'new', %s)", (cust, region))
            t0 = time.time()
            cur.execute("INSERT INTO jb_orders (customer_id, amount) VALUES (%s, 1)", (cust,))
            side = "orders"
        else:
            cur.execute("INSERT INTO jb_orders (customer_id, amount) VALUES (%s, 1)", (cust,))
            t0 = time.time()
            cur.execute("INSERT INTO jb_customers VALUES (%s, 'new', %s)", (cust, region))
            side = "customers"
        wait_visible(cur, "SELECT count(*) FROM jb_totals WHERE region = %s", (region,))
        latencies[side].append((time.time() - t0) * 1000)

    # Sustained: the mixed workload with the default intervals (commit and flush every second).
    cur.execute("SELECT stream_drop('cdc_join_bench')")
    cur.execute("TRUNCATE jb_totals")
    cur.execute(f"SELECT stream_create('cdc_join_bench', $$INSERT INTO jb_totals {BATCH}$$)")
    cur.execute("SELECT stream_start('cdc_join_bench')")
    wait_caught_up(cur)
    cur.execute("SELECT pid FROM stream_pipelines WHERE name = 'cdc_join_bench'")
    pid = cur.fetchone()[0]
    cpu0 = worker_cpu(pid)
    t0 = time.time()
    for txn in range(TXNS):
        workload(cur, txn)
    write_s = time.time() - t0
    wait_caught_up(cur)
    cdc_s = time.time() - t0
    cpu_s = worker_cpu(pid) - cpu0
    cur.execute("SELECT count(*) FROM jb_orders")
    orders_now = cur.fetchone()[0]
    changes = TXNS * (100 + 50 + 20 + 5)

    batch = []
    for _ in range(5):
        t0 = time.time()
        cur.execute(BATCH)
        cur.fetchall()
        batch.append((time.time() - t0) * 1000)
    refresh = []
    for _ in range(5):
        t0 = time.time()
        cur.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY jb_mv")
        refresh.append((time.time() - t0) * 1000)
    cur.execute("SELECT stream_drop('cdc_join_bench')")

    p = {side: (percentile(v, 50), percentile(v, 99)) for side, v in latencies.items()}
    p99 = max(v[1] for v in p.values())
    batch_ms, refresh_ms = statistics.median(batch), statistics.median(refresh)
    print(f"cdc_join: {ORDERS} orders JOIN {CUSTOMERS} customers, {REGIONS} groups; snapshot "
          f"read, joined and materialized in {snapshot_s:.2f} s; join state {state_bytes / 2**20:.1f} MiB "
          f"({state_bytes / (ORDERS + CUSTOMERS):.0f} bytes per kept row)")
    print(f"cdc_join: commit-to-visible p50/p99: a new order {p['orders'][0]:.1f}/{p['orders'][1]:.1f} ms, "
          f"a new customer {p['customers'][0]:.1f}/{p['customers'][1]:.1f} ms "
          f"(checkpoint_interval 20 ms, flush 10 ms; {LATENCY_SAMPLES} samples)")
    print(f"cdc_join: {changes} changes in {TXNS} transactions (orders inserted, updated, deleted; "
          f"customers moved): writers {changes / write_s:.0f}/s, result caught up at "
          f"{changes / cdc_s:.0f} changes/s, worker {cpu_s:.2f} cpu s "
          f"({changes / max(cpu_s, 1e-9):.0f} changes per cpu s; default 1 s intervals)")
    print(f"cdc_join batch: the same query over the same rows ({orders_now} orders) takes "
          f"{batch_ms:.0f} ms; REFRESH MATERIALIZED VIEW CONCURRENTLY {refresh_ms:.0f} ms, so "
          f"matching the pipeline's p99 freshness ({p99:.0f} ms) would take "
          f"{refresh_ms / p99 * 100:.0f} % of a core")


def worker_cpu(pid):
    """CPU seconds (user + system) process pid has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
