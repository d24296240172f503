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

import os
import random
import sys


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
            started = self.start_queries(
                s, [(q.render(prel), batch_text(q, brel), q.nkeys) for q in queries], results,
                pipelines)
            names = [st[1] for st in started]
            if ds.kind == "cdc":
                self.run_cdc_workload(prel, ds, names if ds.flushes else None)
                self.wait_cdc(names)
            self.rows_compared += self.finish_queries(started, results, stop=ds.kind == "cdc")
        finally:
            self.end_round(s, pipelines, results)
        return results


def main():
    args, seed = d.tester_args(rounds=20)
    rng = random.Random(seed)
    runner = SrfRunner(args.conninfo, args.data_dir)
    runner.keep_failed = args.keep_failed
    runner.rows_compared = 0
    kinds = ["file", "file", "debezium"] + (["cdc"] if runner.wal_logical else [])
    # Every generated query is supported: a refusal is a failure too.
    tally = d.Tally("set_returning", seed, failing=("fail", "error", "generator", "refused"))
    for rnd in range(args.rounds):
        kind = rng.choice(kinds)
        # (no late data: the batch query cannot say which windows a row came too late for)
        ds = d.gen_dataset(rng, kind, frozenset(d.CLASSES) - {"late"})
        queries = [gen_query(rng, kind == "file") for _ in range(args.queries)]
        results = runner.run_round(ds, queries)
        context = lambda: "round %d (%s)\n    data:\n%s" % (rnd, kind, ds.describe())
        for q, (status, detail) in zip(queries, results):
            tally.add(q.desc.split(":")[0], status, detail, context)
    tally.finish(args.rounds, ["%d result rows compared" % runner.rows_compared])


if __name__ == "__main__":
    main()
