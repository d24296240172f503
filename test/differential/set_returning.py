#!/usr/bin/env python3
"""Differential tester for set-returning functions: every pipeline's final result must equal
PostgreSQL's batch query over the same rows, as a multiset.

Each round writes one random data set (differential.py's generator: file, debezium or cdc) as
source src, loads its final rows into a batch table, generates random queries — set-returning
functions in the select list (one, or several in lockstep, or an expression over one), in FROM
lateral to the source (comma, CROSS JOIN LATERAL, LEFT JOIN LATERAL … ON, WITH ORDINALITY,
ROWS FROM), under an updating aggregate, over an aggregate, and under a time window (append-only
sources) — runs them to the end and compares each target table with the batch query.

  set_returning.py --conninfo 'host=… port=… dbname=postgres' --data-dir DIR
                   [--seed N] [--rounds N] [--queries N]
Exits 1 on any failure (each printed with its query and data set).
"""

import argparse
import os
import random
import sys
import time

import psycopg

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential as d  # noqa: E402

# Set-returning calls over the source's columns (id int, k int, g text, v int, b bigint,
# n numeric, f float8, flag bool, ts timestamptz): one column each.
SCALAR_SRFS = [
    "generate_series(1, s.k % 4)",
    "generate_series(s.v, s.v + 2)",
    "unnest(ARRAY[s.k, s.v, NULL::int])",
    "unnest(ARRAY[s.k, s.v]) % 3",
    "regexp_split_to_table(s.g, '')",
    "string_to_table(s.g, 'a')",
    "jsonb_array_elements(jsonb_build_array(s.k, s.g, s.flag))",
    "jsonb_array_elements_text(jsonb_build_array(s.id, s.g))",
    "regexp_matches(coalesce(s.g, ''), '[a-e]', 'g')",
]
# In FROM: (call, its column names); composite ones give several columns.
FROM_SRFS = [
    ("generate_series(1, s.k % 4)", ["x"]),
    ("unnest(ARRAY[s.k, s.v, s.id])", ["x"]),
    ("regexp_split_to_table(s.g, '')", ["x"]),
    ("jsonb_array_elements(jsonb_build_array(s.k, s.g))", ["x"]),
    ("jsonb_each_text(jsonb_build_object('k', s.k, 'g', s.g, 'v', s.v))", ["x", "y"]),
    ("jsonb_to_recordset(jsonb_build_array(jsonb_build_object('a', s.k), jsonb_build_object('a', s.v, 'b', s.g)))",
     ["x", "y"]),
    # functions returning one row: a scalar, a record with a column definition list
    ("lower(s.g)", ["x"]),
    ("jsonb_to_record(jsonb_build_object('a', s.v, 'b', s.g))", ["x", "y"]),
]
WHERES = [None, None, "s.v > 2", "s.flag", "s.k IS NOT NULL"]


class Query:
    def __init__(self, text, nkeys, desc):
        self.text = text      # with {src} for the relation
        self.nkeys = nkeys    # leading grouping columns of a keyed target (0: none)
        self.desc = desc

    def render(self, rel):
        return self.text.format(src=rel)


def cols(exprs):
    return ", ".join("%s AS c%d" % (e, i) for i, e in enumerate(exprs))


def where(rng):
    w = rng.choice(WHERES)
    return (" WHERE " + w) if w else ""


def from_function(rng):
    """A FROM item lateral to `{src} s`: (FROM text, the function's column names)."""
    if rng.random() < 0.2:
        (c1, n1), (c2, n2) = rng.sample(FROM_SRFS[:4], 2)
        names = ["x", "y"]
        call = "ROWS FROM (%s, %s)" % (c1, c2)
    else:
        call, names = rng.choice(FROM_SRFS)
        if call.startswith("jsonb_to_record"):
            call += " AS f(x int, y text)"
            names = ["x", "y"]
    ordinality = rng.random() < 0.4 and "jsonb_to_record" not in call
    alias = "" if " AS f(" in call else " AS f(%s)" % ", ".join(names + (["n"] if ordinality else []))
    fn = call.replace(" AS f(x int, y text)", "") if " AS f(" in call else call
    item = fn + (" WITH ORDINALITY" if ordinality else "") + (alias or " AS f(x int, y text)")
    out = ["f." + c for c in names] + (["f.n"] if ordinality else [])
    join = rng.choice(["comma", "cross", "left", "left_on"])
    if join == "comma":
        text = "{src} s, LATERAL " + item
    elif join == "cross":
        text = "{src} s CROSS JOIN LATERAL " + item
    elif join == "left":
        text = "{src} s LEFT JOIN LATERAL %s ON true" % item
    else:
        text = "{src} s LEFT JOIN LATERAL %s ON f.x IS NOT NULL AND s.id %% 2 = 0" % item
    return text, out


def gen_query(rng, windowed):
    shape = rng.choice(["select", "select", "lockstep", "from", "from", "from_agg", "select_agg",
                        "over_agg"] + (["window"] if windowed else []))
    if shape in ("select", "lockstep"):
        srfs = rng.sample(SCALAR_SRFS, 1 if shape == "select" else rng.randint(2, 3))
        exprs = ["s.id"] + srfs
        if rng.random() < 0.3:
            exprs.append("s.g")
        return Query("SELECT %s FROM {src} s%s" % (cols(exprs), where(rng)), 0, shape)
    if shape == "from":
        f, out = from_function(rng)
        exprs = ["s.id"] + out + (["s.k"] if rng.random() < 0.3 else [])
        return Query("SELECT %s FROM %s%s" % (cols(exprs), f, where(rng)), 0, shape)
    if shape == "from_agg":
        f, out = from_function(rng)
        aggs = rng.sample(["count(*)", "count(s.id)", "sum(s.v)", "max(s.id)"], rng.randint(1, 2))
        return Query("SELECT %s FROM %s%s GROUP BY 1" % (cols([out[0]] + aggs), f, where(rng)), 1,
                     shape)
    if shape == "select_agg":
        srf = rng.choice(SCALAR_SRFS)
        return Query("SELECT x AS c0, count(*) AS c1, max(id) AS c2 FROM (SELECT s.id, %s AS x FROM "
                     "{src} s%s) q GROUP BY x" % (srf, where(rng)), 1, shape)
    if shape == "over_agg":
        srf = rng.choice(["unnest(array_agg(s.id))", "generate_series(1, count(*)::int)",
                          "jsonb_array_elements(jsonb_agg(s.v))"])
        return Query("SELECT s.k AS c0, %s AS c1 FROM {src} s%s GROUP BY s.k" % (srf, where(rng)),
                     0, shape)
    # a time window over the rows of a set-returning function
    w = rng.choice([2, 5, 10])
    srf = rng.choice(SCALAR_SRFS[:6])
    return Query(("SELECT lower(tumble(interval '%d seconds')) AS c0, x AS c1, count(*) AS c2 "
                  "FROM (SELECT %s AS x FROM {src} s) q GROUP BY tumble(interval '%d seconds'), x")
                 % (w, srf, w), 0, "window:%d:%s" % (w, srf))


def batch_text(q, rel):
    """The batch query: as the pipeline's, with a window computed by date_bin."""
    if not q.desc.startswith("window:"):
        return q.render(rel)
    _, w, srf = q.desc.split(":", 2)
    return ("SELECT date_bin(interval '{w} seconds', ts, 'epoch') AS c0, x AS c1, count(*) AS c2 "
            "FROM (SELECT s.ts, {srf} AS x FROM {rel} s) q GROUP BY 1, 2").format(w=w, srf=srf, rel=rel)


class SrfRunner(d.Runner):
    def run_round(self, ds, queries):
        s = self.new_schema()
        results = [None] * len(queries)
        pipelines = []
        try:
            prel, brel = self.setup_sources(s, ds)
            started = []
            for i, q in enumerate(queries):
                pq, bq = q.render(prel), batch_text(q, brel)
                tgt = "%s.t%d" % (s, i)
                try:
                    self.sql("CREATE TABLE %s AS SELECT * FROM (%s) q WITH NO DATA" % (tgt, bq))
                except psycopg.Error as e:
                    results[i] = ("generator", "batch query does not run: %s\n%s" % (e, bq))
                    continue
                if q.nkeys:
                    self.sql("ALTER TABLE %s ADD UNIQUE NULLS NOT DISTINCT (c0)" % tgt)
                name = "%s_q%d" % (s, i)
                try:
                    self.sql("SELECT stream_create(%s, %s)", (name, "INSERT INTO %s %s" % (tgt, pq)))
                except psycopg.Error as e:
                    results[i] = ("refused", str(e).split("\n")[0] + "\n      " + pq)
                    continue
                pipelines.append(name)
                started.append((i, name, tgt, pq, bq))
            for _, name, _, _, _ in started:
                self.sql("SELECT stream_start(%s)", (name,))
            names = [st[1] for st in started]
            if ds.kind == "cdc":
                self.run_cdc_workload(prel, ds, names if ds.flushes else None)
                self.wait_cdc(names)
            for i, name, tgt, pq, bq in started:
                if ds.kind == "cdc":
                    self.sql("SELECT stream_stop(%s)", (name,))
                    state = self.sql("SELECT state FROM stream_pipelines WHERE name = %s", (name,)).fetchone()[0]
                    state = "finished" if state == "stopped" else state
                else:
                    state = self.sql("SELECT stream_wait(%s, '120 seconds')", (name,)).fetchone()[0]
                if state != "finished":
                    err = self.sql("SELECT last_error FROM stream_pipelines WHERE name = %s", (name,)).fetchone()[0]
                    results[i] = ("error", "pipeline ended %s: %s\n      %s" % (state, err, pq))
                    continue
                got = self.sql("SELECT * FROM %s" % tgt).fetchall()
                want = self.sql(bq).fetchall()
                diff = d.compare([], want, got)
                self.rows_compared += len(want)
                results[i] = ("pass", None) if diff is None else ("fail", diff + "\n      " + pq)
        finally:
            if self.keep_failed and any(r and r[0] != "pass" for r in results):
                print("kept schema %s" % s, file=sys.stderr)
            else:
                self.drop_schema(s, pipelines)
        return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--queries", type=int, default=8)
    ap.add_argument("--keep-failed", action="store_true", help="leave a failing round's schema")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    runner = SrfRunner(args.conninfo, args.data_dir)
    runner.keep_failed = args.keep_failed
    runner.rows_compared = 0
    kinds = ["file", "file", "debezium"] + (["cdc"] if runner.wal_logical else [])
    counts = {"pass": 0, "refused": 0, "fail": 0, "error": 0, "generator": 0}
    by_shape = {}
    failures = 0
    started = time.time()
    for rnd in range(args.rounds):
        kind = rng.choice(kinds)
        # (no late data: the batch query cannot say which windows a row came too late for)
        ds = d.gen_dataset(rng, kind, frozenset(d.CLASSES) - {"late"})
        queries = [gen_query(rng, kind == "file") for _ in range(args.queries)]
        results = runner.run_round(ds, queries)
        for q, (status, detail) in zip(queries, results):
            counts[status] += 1
            shape = q.desc.split(":")[0]
            by_shape[shape + " " + status] = by_shape.get(shape + " " + status, 0) + 1
            if status != "pass":
                failures += 1
                print("FAIL seed %d round %d (%s): %s\n      %s" % (seed, rnd, kind, status, detail),
                      file=sys.stderr)
                print("    data:\n%s" % ds.describe(), file=sys.stderr)
    print("set_returning: seed %d, %d rounds in %.0f s: %s; %d result rows compared" % (
        seed, args.rounds, time.time() - started,
        ", ".join("%s %d" % kv for kv in counts.items()), runner.rows_compared))
    print("  by shape: " + ", ".join("%s %d" % kv for kv in sorted(by_shape.items())))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
