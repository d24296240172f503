#!/usr/bin/python3
"""Checkpoint cost at 1 million keys: an updating aggregate over a single_file source holds
1,000,000 groups; then 1% of them (10,000 keys) change and the pipeline checkpoints. Because a
checkpoint writes only what changed, its duration should track the 10,000 changed groups, not
the 1,000,000 stored. Also reports how long a restart takes to load the 1,000,000 groups back.
Prints figures; asserts only that the result is right (not any speed).

Usage: checkpoint_cost.py CONNINFO DIR   (DIR: a directory the server can read)"""
import os
import random
import statistics
import sys
import time

import psycopg

KEYS = 1_000_000
CHANGED = 10_000
ROUNDS = 3


def wait_state(cur, want, timeout=600):
    cur.execute(f"SELECT stream_wait('ckpt_bench', '{timeout} s')")
    state = cur.fetchone()[0]
    if state != want:
        cur.execute("SELECT last_error FROM stream_pipelines WHERE name = 'ckpt_bench'")
        sys.exit(f"checkpoint bench pipeline {state}, not {want}: {cur.fetchone()[0]}")


def last_checkpoint(cur):
    cur.execute("""SELECT epoch, bytes, extract(epoch FROM duration) * 1000
                   FROM stream_checkpoints WHERE pipeline = 'ckpt_bench'
                   ORDER BY epoch DESC LIMIT 1""")
    return cur.fetchone()


def main():
    conninfo, workdir = sys.argv[1], sys.argv[2]
    path = os.path.join(workdir, "ckpt_bench.json")
    with open(path, "w") as f:
        f.writelines(f'{{"k": {k}}}\n' for k in range(KEYS))
    os.chmod(path, 0o644)
    cur = psycopg.connect(conninfo, autocommit=True).cursor()
    cur.execute("SELECT stream_drop(name) FROM stream_pipelines WHERE name = 'ckpt_bench'")
    cur.execute("DROP SERVER IF EXISTS ckpt_files CASCADE")
    cur.execute("DROP TABLE IF EXISTS ckpt_out")
    cur.execute("CREATE SERVER ckpt_files FOREIGN DATA WRAPPER arroyo_stream "
                "OPTIONS (connector 'single_file')")
    cur.execute(f"CREATE FOREIGN TABLE ckpt_src (k bigint NOT NULL) SERVER ckpt_files "
                f"OPTIONS (path '{path}', type 'source', format 'json')")
    cur.execute("CREATE TABLE ckpt_out (k bigint PRIMARY KEY, n bigint)")
    cur.execute("""SELECT stream_create('ckpt_bench', $$SET checkpoint_interval = '1 minute';
                   INSERT INTO ckpt_out SELECT k, count(*) FROM ckpt_src GROUP BY k$$)""")
    started = time.time()
    cur.execute("SELECT stream_start('ckpt_bench')")
    wait_state(cur, "finished")
    load_wall = time.time() - started
    _, load_bytes, load_ms = last_checkpoint(cur)
    print(f"checkpoint_cost: first run, {KEYS} keys: {load_wall:.1f} s wall; "
          f"its checkpoint wrote {load_bytes / 2**20:.1f} MiB in {load_ms:.0f} ms")

    durations, resumes, sizes = [], [], []
    rng = random.Random(42)
    for _ in range(ROUNDS):
        with open(path, "a") as f:
            f.writelines(f'{{"k": {k}}}\n' for k in rng.sample(range(KEYS), CHANGED))
        started = time.time()
        cur.execute("SELECT stream_start('ckpt_bench')")
        wait_state(cur, "finished")
        resumes.append(time.time() - started)
        _, nbytes, ms = last_checkpoint(cur)
        durations.append(ms)
        sizes.append(nbytes)
    cur.execute("SELECT count(*), sum(n) FROM ckpt_out")
    count, total = cur.fetchone()
    if count != KEYS or total != KEYS + ROUNDS * CHANGED:
        sys.exit(f"checkpoint bench: wrong result {count} keys, {total} rows")
    print(f"checkpoint_cost: {CHANGED} of {KEYS} keys changed (1%): checkpoint "
          f"{statistics.median(durations):.0f} ms (median of {ROUNDS}; "
          f"{statistics.median(sizes) / 2**20:.2f} MiB written) vs {load_ms:.0f} ms for all keys")
    print(f"checkpoint_cost: restart = load {KEYS} keys back + read {CHANGED} lines + checkpoint: "
          f"{statistics.median(resumes):.1f} s wall (median)")
    cur.execute("SELECT stream_drop('ckpt_bench')")
    cur.execute("DROP SERVER ckpt_files CASCADE")
    cur.execute("DROP TABLE ckpt_out")
    os.unlink(path)


if __name__ == "__main__":
    main()
