#!/usr/bin/env python3
"""Differential tester for subqueries, WITH, DISTINCT and GROUPING SETS: every pipeline's final
result must equal PostgreSQL's batch query over the same rows, as a multiset.

Each round writes two random data sets as sources a and b (joins.py's runner: file, debezium or
cdc, at most one cdc), generates random queries — IN / NOT IN (NULLs on either side, empty
subqueries), correlated and uncorrelated EXISTS / NOT EXISTS with conditions beyond the
equality, scalar aggregate subqueries (uncorrelated, and correlated by equality), WITH (a CTE
read twice), SELECT DISTINCT (updating, over an aggregate, per window), GROUPING SETS / ROLLUP /
CUBE with grouping() (updating and windowed) — runs them to the end and compares each target
table with the batch query.

  subqueries.py --conninfo 'host=… port=… dbname=postgres' --data-dir DIR
                [--seed N] [--rounds N] [--queries N]
Exits 1 on any failure (each printed with its query and data sets).
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential as d  # noqa: E402
import joins  # noqa: E402

# Pairs compared by IN / NOT IN: (a's column, b's column); int = bigint too.
IN_PAIRS = [("k", "k"), ("k", "v"), ("g", "g"), ("v", "k"), ("k", "b"), ("flag", "flag")]
# Conditions on the subquery's own rows.
SUB_FILTERS = [None, None, "{b}.v > 3", "{b}.flag", "{b}.g IS NOT NULL", "{b}.v < -100"]
OUTER_FILTERS = [None, None, "a.v > 2", "a.g IS NOT NULL"]
SELECTS = ["a.id", "a.k", "a.g", "a.v"]


def cols_of(rng, choices):
    sel = rng.sample(choices, rng.randint(1, len(choices)))
    return ", ".join("%s AS c%d" % (x, i) for i, x in enumerate(sel))


def where(*conds):
    conds = [c for c in conds if c]
    return (" WHERE " + " AND ".join(conds)) if conds else ""


def gen_subquery(rng):
    """A subquery form in WHERE or the select list, over a (outer) and b."""
    form = rng.choice(["in", "not_in", "exists", "not_exists", "exists_any", "scalar",
                       "correlated_scalar", "two", "cte"])
    sub_filter = rng.choice(SUB_FILTERS)
    outer_filter = rng.choice(OUTER_FILTERS)
    inner = rng.choice(["b", "b", "a"])  # the subquery over the other source or the same one
    cols = cols_of(rng, SELECTS)

    if form == "cte":
        # A CTE read by two subqueries (one plan, two consumers).
        ac, bc = rng.choice(IN_PAIRS)
        neg1, neg2 = rng.random() < 0.5, rng.random() < 0.5
        corr = rng.choice(["y.k = a.k", "y.g = a.g"])

        def cte_text(a, b, batch):
            src = a if inner == "a" else b
            return ("WITH x AS (SELECT * FROM %s WHERE v IS DISTINCT FROM 1) SELECT %s FROM %s a "
                    "WHERE a.%s %sIN (SELECT x.%s FROM x) AND %sEXISTS (SELECT 1 FROM x y WHERE %s)" % (
                        src, cols, a, ac, "NOT " if neg1 else "", bc, "NOT " if neg2 else "", corr))
        return joins.JoinQuery(cte_text, 0, "cte")

    # The other forms draw their random parts once, then render for either side.
    choice = {}
    if form in ("in", "not_in"):
        ac, bc = rng.choice(IN_PAIRS)
        choice["cond"] = lambda b: "a.%s %sIN (SELECT s.%s FROM %s s%s)" % (
            ac, "NOT " if form == "not_in" else "", bc, b, where((sub_filter or "").format(b="s")))
    elif form in ("exists", "not_exists"):
        corr = rng.choice(["s.k = a.k", "s.g = a.g", "s.k = a.k AND s.v > a.v", "s.b = a.k",
                           "s.k = a.k AND a.flag", "s.k = a.k AND s.g = a.g"])
        choice["cond"] = lambda b: "%sEXISTS (SELECT 1 FROM %s s%s)" % (
            "NOT " if form == "not_exists" else "", b,
            where(corr, (sub_filter or "").format(b="s")))
    elif form == "exists_any":
        neg = rng.random() < 0.5
        choice["cond"] = lambda b: "%sEXISTS (SELECT 1 FROM %s s%s)" % (
            "NOT " if neg else "", b, where((sub_filter or "").format(b="s")))
    elif form == "scalar":
        agg = rng.choice(["avg(s.v)", "min(s.v)", "max(s.k)", "count(*)", "sum(s.v)"])
        op = rng.choice([">", "<=", "="])
        in_select = rng.random() < 0.5
        choice["cond"] = lambda b: "a.v %s (SELECT %s FROM %s s%s)" % (
            op, agg, b, where((sub_filter or "").format(b="s")))
        if in_select:
            choice["extra"] = lambda b: "(SELECT %s FROM %s s)" % (agg, b)
    elif form == "correlated_scalar":
        agg = rng.choice(["max(s.v)", "sum(s.v)", "min(s.id)", "avg(s.v)"])
        corr = rng.choice(["s.k = a.k", "s.g = a.g", "a.k = s.b"])
        in_where = rng.random() < 0.5
        choice["extra"] = lambda b: "(SELECT %s FROM %s s WHERE %s)" % (agg, b, corr)
        if in_where:
            choice["cond"] = lambda b: "a.v >= (SELECT %s FROM %s s WHERE %s)" % (agg, b, corr)
    else:  # two: IN and NOT EXISTS together
        ac, bc = rng.choice(IN_PAIRS)
        choice["cond"] = lambda b: "a.%s IN (SELECT s.%s FROM %s s) AND NOT EXISTS (SELECT 1 FROM %s t WHERE t.g = a.g%s)" % (
            ac, bc, b, b, (" AND " + (sub_filter or "true").format(b="t")))

    def text(a, b, batch):
        src = a if inner == "a" else b
        sel = cols
        if "extra" in choice:
            sel += ", %s AS cx" % choice["extra"](src)
        cond = choice["cond"](src) if "cond" in choice else None
        return "SELECT %s FROM %s a%s" % (sel, a, where(cond, outer_filter))
    return joins.JoinQuery(text, 0, form)


def gen_distinct(rng, windowed):
    form = rng.choice(["plain", "agg", "filtered"] + (["window", "window"] if windowed else []))
    if form == "window":
        w = rng.choice([2, 5, 10])
        col = rng.choice(["k", "g", "flag", "v % 3"])

        def text(a, b, batch):
            if batch:
                return "SELECT DISTINCT w AS c0, %s AS c1 FROM %s" % (
                    col, d.batch_windowed(a + " s", ("tumble", w), None, []))
            return "SELECT DISTINCT tumble(interval '%d seconds') AS c0, %s AS c1 FROM %s" % (w, col, a)
        return joins.JoinQuery(text, 0, "distinct_window")
    col = rng.choice(["a.k", "a.g", "a.flag", "a.v % 4", "coalesce(a.g, '?') || a.k"])
    if form == "agg":
        def text(a, b, batch):
            return "SELECT DISTINCT count(*) AS c0 FROM %s a GROUP BY %s" % (a, col)
        return joins.JoinQuery(text, 1, "distinct_agg")
    cond = rng.choice([None, "a.v > 0"]) if form == "plain" else "a.k IN (SELECT k FROM {b})"

    def text(a, b, batch):
        return "SELECT DISTINCT %s AS c0 FROM %s a%s" % (col, a, where(cond and cond.format(b=b)))
    return joins.JoinQuery(text, 1, "distinct")


def gen_grouping_sets(rng, windowed):
    aggs = rng.sample(["count(*)", "sum(v)", "max(id)", "count(DISTINCT g)", "min(v)"], rng.randint(1, 2))
    filt = rng.choice([None, "v > 0", "g IS NOT NULL"])
    if windowed and rng.random() < 0.5:
        w = rng.choice([2, 5, 10])
        sets, keys = rng.choice([("ROLLUP (k)", ["k"]), ("GROUPING SETS ((k), ())", ["k"]),
                                 ("CUBE (g, flag)", ["g", "flag"])])
        cols = ", ".join("%s AS c%d" % (x, i + 1) for i, x in enumerate(
            keys + ["grouping(%s)" % ", ".join(keys)] + aggs))

        def text(a, b, batch):
            if batch:
                return "SELECT w AS c0, %s FROM %s GROUP BY w, %s" % (
                    cols, d.batch_windowed(a + " s", ("tumble", w), filt, []), sets)
            call = "tumble(interval '%d seconds')" % w
            return "SELECT %s AS c0, %s FROM %s%s GROUP BY %s, %s" % (call, cols, a, where(filt), call, sets)
        return joins.JoinQuery(text, 0, "sets_window")
    sets, keys = rng.choice([("ROLLUP (k, g)", ["k", "g"]), ("CUBE (k, flag)", ["k", "flag"]),
                             ("GROUPING SETS ((k), (g), ())", ["k", "g"]),
                             ("GROUPING SETS ((k, g), (k))", ["k", "g"]), ("ROLLUP (g)", ["g"]),
                             ("k, ROLLUP (flag)", ["k", "flag"])])
    cols = ", ".join("%s AS c%d" % (x, i) for i, x in enumerate(
        keys + ["grouping(%s)" % ", ".join(keys)] + aggs))

    def text(a, b, batch):
        return "SELECT %s FROM %s%s GROUP BY %s" % (cols, a, where(filt), sets)
    return joins.JoinQuery(text, 0, "sets")


def main():
    args, seed = d.tester_args(rounds=20)
    rng = random.Random(seed)
    runner = joins.JoinRunner(args.conninfo, args.data_dir)
    runner.keep_failed = args.keep_failed
    kinds = ["file", "debezium"] + (["cdc"] if runner.wal_logical else [])
    tally = d.Tally("subqueries", seed)
    for rnd in range(args.rounds):
        if rng.random() < 0.3:
            ka = kb = "file"
        else:
            ka = rng.choice(kinds)
            kb = rng.choice(kinds)
        on_time = frozenset(d.CLASSES) - {"late"}
        dsa = d.gen_dataset(rng, ka, on_time)
        dsb = d.gen_dataset(rng, kb, on_time)
        windowed = ka == "file"

        def one():
            x = rng.random()
            if x < 0.6:
                return gen_subquery(rng)
            if x < 0.8:
                return gen_distinct(rng, windowed)
            return gen_grouping_sets(rng, windowed)
        queries = [one() for _ in range(args.queries)]
        results = runner.run_join_round(dsa, dsb, queries)
        context = lambda: "round %d (%s a, %s b)\n    a:\n%s\n    b:\n%s" % (
            rnd, ka, kb, dsa.describe(), dsb.describe())
        for q, (status, detail) in zip(queries, results):
            tally.add(q.desc, status, detail, context)
    tally.finish(args.rounds)


if __name__ == "__main__":
    main()
