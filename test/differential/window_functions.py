#!/usr/bin/env python3
"""Differential tester for window functions (OVER), the top-N pattern and ORDER BY … LIMIT n:
every pipeline's final result must equal PostgreSQL's batch query over the same rows, as a
multiset.

Each round writes one random data set (differential.py's generator: file, debezium or cdc)
as source src, loads its final rows into a batch table, generates random queries and compares
each target table with the batch query:
  window     window functions per closed time window (tumble/hop) over a windowed aggregate:
             row_number, rank, dense_rank, percent_rank, cume_dist, ntile, lag, lead,
             first_value, nth_value, aggregates over default and ROWS frames (file sources)
  topn_win   SELECT … FROM (… <rank>() OVER (PARTITION BY w ORDER BY …) AS r …) WHERE r <= N
             over a windowed aggregate (file sources)
  event      event-time OVER per key: lag/lead with offsets, first_value, aggregates over
             ROWS n PRECEDING and RANGE interval PRECEDING frames, PARTITION BY k, g or none,
             ORDER BY ts (file sources; event times made unique, so that ROWS frames and
             lag/lead are deterministic)
  topn_upd   the top-N pattern over a non-windowed aggregate (any source): an updating result
  topn_join  the top-N pattern over a self-join (any source), partitioned by a's id
  limit      ORDER BY … LIMIT n / FETCH FIRST n ROWS WITH TIES over rows or an aggregate
Orders that decide which rows a row_number()/LIMIT keeps end in a unique column, so the batch
answer is unique.

  window_functions.py --conninfo 'host=… port=… dbname=postgres' --data-dir DIR
                      [--seed N] [--rounds N] [--queries N]
Exits 1 on any failure (each printed with its query and data set).
"""

import datetime as dt
import os
import random
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential as d  # noqa: E402

WINDOWS = [("tumble(interval '%d seconds')" % w, ("tumble", w)) for w in (2, 5, 10)] + \
          [("hop(interval '%d seconds', interval '%d seconds')" % (sl, w), ("hop", sl, w))
           for sl, w in ((1, 5), (5, 10))]


class WQuery:
    def __init__(self, text_fn, desc):
        self.text_fn = text_fn  # (relation, batch) -> SELECT text
        self.desc = desc

    def render(self, rel, batch=False):
        return self.text_fn(rel, batch)


def windowed_counts(rng):
    """FROM item: per window and key k, the count n and sum sv (pipeline and batch forms)."""
    call, spec = rng.choice(WINDOWS)
    where = rng.choice([None, None, "v > 2", "g IS NOT NULL"])

    def text(rel, batch):
        if batch:
            return ("(SELECT w, k, count(*) AS n, sum(v) AS sv FROM %s GROUP BY 1, 2) c"
                    % d.batch_windowed(rel + " s", spec, where, ["k"], alias="x"))
        return ("(SELECT %s AS w, k, count(*) AS n, sum(v) AS sv FROM %s%s GROUP BY 1, 2) c"
                % (call, rel, (" WHERE " + where) if where else ""))
    return text


WINDOW_FUNCS = [
    "row_number() OVER (PARTITION BY w ORDER BY n DESC, k)",
    "rank() OVER (PARTITION BY w ORDER BY n)",
    "dense_rank() OVER (PARTITION BY w ORDER BY sv DESC)",
    "percent_rank() OVER (PARTITION BY w ORDER BY n)",
    "cume_dist() OVER (PARTITION BY w ORDER BY sv)",
    "ntile(3) OVER (PARTITION BY w ORDER BY n, k)",
    "lag(n) OVER (PARTITION BY w ORDER BY k)",
    "lead(k, 2) OVER (PARTITION BY w ORDER BY k)",
    "first_value(k) OVER (PARTITION BY w ORDER BY n DESC, k)",
    "nth_value(n, 2) OVER (PARTITION BY w ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)",
    "sum(n) OVER (PARTITION BY w ORDER BY k)",
    "count(*) OVER (PARTITION BY w)",
    "avg(sv) OVER (PARTITION BY w ORDER BY k ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)",
    "max(sv) OVER (PARTITION BY w, n % 2)",
]


def gen_window(rng):
    from_item = windowed_counts(rng)
    funcs = rng.sample(WINDOW_FUNCS, rng.randint(1, 4))
    cols = ", ".join(["w AS c0", "k AS c1", "n AS c2"] +
                     ["%s AS c%d" % (f, i + 3) for i, f in enumerate(funcs)])
    return WQuery(lambda rel, batch: "SELECT %s FROM %s" % (cols, from_item(rel, batch)), "window")


def gen_topn_win(rng):
    from_item = windowed_counts(rng)
    fn = rng.choice(["row_number", "rank", "dense_rank"])
    order = rng.choice(["n DESC", "sv", "n, sv DESC", "sv DESC NULLS LAST"])
    if fn == "row_number":
        order += ", k"
    part = rng.choice(["w", "w", "w, n % 2"])
    cond = rng.choice(["r <= 1", "r <= 2", "r <= 3", "r < 3", "r = 1", "3 >= r"])

    def text(rel, batch):
        return ("SELECT w AS c0, k AS c1, n AS c2, sv AS c3, r AS c4 FROM (SELECT w, k, n, sv, "
                "%s() OVER (PARTITION BY %s ORDER BY %s) AS r FROM %s) x WHERE %s"
                % (fn, part, order, from_item(rel, batch), cond))
    return WQuery(text, "topn_win")


def gen_event(rng):
    part = rng.choice(["PARTITION BY k ", "PARTITION BY g ", ""])
    over = "(%sORDER BY ts)" % part

    def frame(kind):
        if kind == "rows":
            return "(%sORDER BY ts ROWS BETWEEN %d PRECEDING AND CURRENT ROW)" % (part, rng.choice([0, 1, 2, 5]))
        return "(%sORDER BY ts RANGE BETWEEN interval '%d seconds' PRECEDING AND CURRENT ROW)" % (
            part, rng.choice([0, 1, 3, 10]))
    funcs = [
        lambda: "lag(v) OVER " + over,
        lambda: "lag(id, %d) OVER %s" % (rng.choice([2, 3]), over),
        lambda: "lag(v, 1, -1) OVER " + over,
        lambda: "lead(v) OVER " + over,
        lambda: "lead(id, 2) OVER " + over,
        lambda: "first_value(id) OVER " + over,
        lambda: "first_value(v) OVER " + frame("rows"),
        lambda: "sum(v) OVER " + frame(rng.choice(["rows", "range"])),
        lambda: "count(*) OVER " + frame(rng.choice(["rows", "range"])),
        lambda: "max(g) OVER " + frame(rng.choice(["rows", "range"])),
        lambda: "avg(n) OVER " + frame(rng.choice(["rows", "range"])),
        lambda: "v - lag(v) OVER " + over,
    ]
    chosen = [f() for f in rng.sample(funcs, rng.randint(1, 4))]
    where = rng.choice([None, None, "v > 2", "k IS NOT NULL"])
    cols = ", ".join(["id AS c0", "ts AS c1"] + ["%s AS c%d" % (f, i + 2) for i, f in enumerate(chosen)])
    return WQuery(lambda rel, batch: "SELECT %s FROM %s%s" % (cols, rel, (" WHERE " + where) if where else ""),
                  "event")


def gen_topn_join(rng):
    """The top-N pattern over a self-join (Nexmark q9's shape): per row of a, the best rows of
    b with the same key."""
    fn = rng.choice(["row_number", "rank", "dense_rank"])
    order = rng.choice(["b.v DESC NULLS LAST", "b.n", "b.ts DESC"]) + (", b.id" if fn == "row_number" else "")
    on = rng.choice(["a.k = b.k", "a.g = b.g AND a.id <> b.id"])
    cond = rng.choice(["r <= 1", "r <= 2", "r = 1"])

    def text(rel, batch):
        return ("SELECT aid AS c0, bid AS c1, bv AS c2, r AS c3 FROM (SELECT a.id AS aid, b.id AS bid, "
                "b.v AS bv, %s() OVER (PARTITION BY a.id ORDER BY %s) AS r FROM %s a JOIN %s b ON %s) x "
                "WHERE %s" % (fn, order, rel, rel, on, cond))
    return WQuery(text, "topn_join")


def gen_topn_upd(rng):
    fn = rng.choice(["row_number", "rank", "dense_rank"])
    inner, part, order = rng.choice([
        ("SELECT k, count(*) AS n, sum(v) AS sv FROM %s GROUP BY k", "", "n DESC"),
        ("SELECT k, count(*) AS n, sum(v) AS sv FROM %s GROUP BY k", "", "sv DESC NULLS LAST"),
        ("SELECT g, k, count(*) AS n, sum(v) AS sv FROM %s GROUP BY g, k", "PARTITION BY g ", "n DESC"),
        ("SELECT flag AS g, k, count(*) AS n, max(v) AS sv FROM %s GROUP BY flag, k", "PARTITION BY g ", "sv"),
    ])
    if fn == "row_number":
        order += ", k"
    cond = rng.choice(["r <= 1", "r <= 2", "r <= 3", "r < 2"])
    cols = "k AS c0, n AS c1, sv AS c2, r AS c3" + (", g AS c4" if part else "")

    def text(rel, batch):
        return ("SELECT %s FROM (SELECT *, %s() OVER (%sORDER BY %s) AS r FROM (%s) c) x WHERE %s"
                % (cols, fn, part, order, inner % rel, cond))
    return WQuery(text, "topn_upd")


def gen_limit(rng):
    n = rng.choice([1, 2, 3, 5])
    shape = rng.choice(["rows", "rows", "agg", "ties"])
    if shape == "rows":
        order = rng.choice(["v DESC NULLS LAST, id", "ts DESC, id", "g, id", "n, id DESC"])
        return WQuery(lambda rel, batch: "SELECT id AS c0, v AS c1, g AS c2 FROM %s ORDER BY %s LIMIT %d"
                      % (rel, order, n), "limit")
    if shape == "agg":
        return WQuery(lambda rel, batch: "SELECT k AS c0, count(*) AS c1 FROM %s GROUP BY k "
                      "ORDER BY count(*) DESC, k LIMIT %d" % (rel, n), "limit")
    return WQuery(lambda rel, batch: "SELECT v AS c0, g AS c1 FROM %s ORDER BY v "
                  "FETCH FIRST %d ROWS WITH TIES" % (rel, n), "limit")


def unique_times(ds):
    """Makes every event time unique (by whole milliseconds, only ever later), keeping the
    disorder within the watermark delay."""
    seen = set()
    for r in ds.rows:
        t = r["ts"]
        while t in seen:
            t += dt.timedelta(milliseconds=1)
        seen.add(t)
        r["ts"] = t


class WindowRunner(d.Runner):
    def run_window_round(self, ds, queries):
        s = self.new_schema()
        results = [None] * len(queries)
        pipelines = []
        try:
            prel, brel = self.setup_sources(s, ds)
            settings = "SET update_aggregate_flush_interval = '%s'; " % (
                "1 millisecond" if ds.kind == "cdc" and ds.flushes else "100 milliseconds")
            started = self.start_queries(
                s, [(q.render(prel), q.render(brel, True), 0) for q in queries], results,
                pipelines, settings)
            names = [st[1] for st in started]
            if ds.kind == "cdc":
                self.run_cdc_workload(prel, ds, names if ds.flushes else None)
                self.wait_cdc(names)
            self.finish_queries(started, results, stop=ds.kind == "cdc")
        finally:
            self.end_round(s, pipelines, results)
        return results


def main():
    args, seed = d.tester_args(rounds=12)
    rng = random.Random(seed)
    runner = WindowRunner(args.conninfo, args.data_dir)
    runner.keep_failed = args.keep_failed
    kinds = ["file", "file", "debezium"] + (["cdc"] if runner.wal_logical else [])
    # Every generated query is supported: a refusal is a failure too.
    tally = d.Tally("window functions", seed, failing=("fail", "error", "generator", "refused"))
    for rnd in range(args.rounds):
        kind = rng.choice(kinds)
        # (no late data: the batch query cannot say which rows came too late)
        ds = d.gen_dataset(rng, kind, frozenset(d.CLASSES) - {"late"})
        if kind == "file":
            unique_times(ds)
            gens = [gen_window, gen_topn_win, gen_event, gen_event, gen_topn_upd, gen_topn_join,
                    gen_limit]
        else:
            gens = [gen_topn_upd, gen_topn_join, gen_limit]
        queries = [rng.choice(gens)(rng) for _ in range(args.queries)]
        results = runner.run_window_round(ds, queries)
        context = lambda: "round %d (%s)\n    data:\n%s" % (rnd, kind, ds.describe())
        for q, (status, detail) in zip(queries, results):
            tally.add(q.desc, status, detail, context)
    tally.finish(args.rounds)


if __name__ == "__main__":
    main()
