#!/usr/bin/env python3
"""Differential tester for lookup joins: every pipeline that joins a stream with a LATERAL
subquery over a regular table must write, as a multiset, what PostgreSQL's batch LATERAL query
returns over the same rows, the table being frozen while the pipelines run (so the answer is
defined).

Each round writes a random data set (differential.py's generator) as an append-only file
source a, loads another random data set into a regular table t (with random indexes, or
none: then the lookups scan), generates random lookup queries — INNER, LEFT, CROSS JOIN
LATERAL and the comma form; subqueries with equality keys (one or two, across types, on
expressions), further conditions, conditions that are not equalities, NULL-safe keys,
aggregates, DISTINCT, ORDER BY … LIMIT 1 per key, joins and scalar subqueries inside the
subquery, no reference to the stream; WHERE over the joined rows; two lookups in a row; an
aggregate over a lookup — runs them to the end and compares each target with the batch query.

  lookups.py --conninfo 'host=… port=… dbname=postgres' --data-dir DIR
             [--seed N] [--rounds N] [--queries N]
Exits 1 on any failure (each printed with its query and data sets).
"""

import os
import random
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential as d  # noqa: E402

# Lookup subqueries over table {T} (alias t), referencing the stream a; columns x and y.
SUBQUERIES = [
    "SELECT t.v AS x, t.g AS y FROM {T} t WHERE t.k = a.k",
    "SELECT t.v AS x, t.g AS y FROM {T} t WHERE t.k = a.k AND t.v < a.v",
    "SELECT t.id AS x, t.n AS y FROM {T} t WHERE t.g = a.g",
    "SELECT t.id AS x, t.b AS y FROM {T} t WHERE t.b = a.k",
    "SELECT t.id AS x, t.g AS y FROM {T} t WHERE t.k = a.v % 3",
    "SELECT t.id AS x, t.v AS y FROM {T} t WHERE t.v > a.v AND t.k = a.k",
    "SELECT t.id AS x, t.v AS y FROM {T} t WHERE t.v BETWEEN a.v - 1 AND a.v + 1",
    "SELECT count(*) AS x, sum(t.v) AS y FROM {T} t WHERE t.k = a.k",
    "SELECT t.id AS x, t.v AS y FROM {T} t WHERE t.k = a.k ORDER BY t.v DESC NULLS LAST, t.id LIMIT 1",
    "SELECT DISTINCT t.g AS x, t.flag AS y FROM {T} t WHERE t.k = a.k",
    "SELECT t.id AS x, t.g AS y FROM {T} t WHERE t.k IS NOT DISTINCT FROM a.k",
    "SELECT t.id AS x, u.g AS y FROM {T} t JOIN {T} u ON t.k = u.k WHERE t.id = a.id",
    "SELECT max(t.v) AS x, min(t.g) AS y FROM {T} t",
    "SELECT t.id AS x, t.g AS y FROM {T} t WHERE t.g = a.g AND t.flag = a.flag",
    "SELECT t.id AS x, (SELECT count(*) FROM {T} u WHERE u.k = a.k) AS y FROM {T} t WHERE t.id = a.id",
    "SELECT t.id AS x, t.f AS y FROM {T} t WHERE t.k = a.k AND t.f < a.f",
    "SELECT t.k AS x, t.ts AS y FROM {T} t WHERE t.id = a.k OR t.id = a.v",
    "SELECT t.id AS x, coalesce(a.g, 'none') || t.g AS y FROM {T} t WHERE t.k = coalesce(a.k, 0) % 4",
    "SELECT t.id AS x, CASE WHEN a.flag THEN t.v ELSE -t.v END AS y FROM {T} t "
    "WHERE t.k = a.k + 0 AND a.v IS NOT NULL",
    "SELECT t.g AS x, count(*) AS y FROM {T} t WHERE t.v < a.v * 2 GROUP BY t.g",
    "SELECT t.id AS x, t.g AS y FROM {T} t WHERE t.v > 0",
]

WHERES = ["", " WHERE a.v > 2", " WHERE s.x IS NOT NULL", " WHERE a.g IS NOT NULL AND s.y IS NULL"]

INDEXES = [
    [],
    ["CREATE INDEX ON {T} (k)"],
    ["CREATE INDEX ON {T} (k)", "CREATE INDEX ON {T} (g)", "CREATE UNIQUE INDEX ON {T} (id)"],
    ["CREATE INDEX ON {T} USING hash (k)", "CREATE INDEX ON {T} (b)"],
    ["CREATE INDEX ON {T} (g, flag)", "CREATE INDEX ON {T} (v)"],
]


class LookupQuery:
    def __init__(self, rng):
        self.sub = rng.choice(SUBQUERIES)
        self.grouped = rng.random() < 0.15
        self.join = rng.choice(["JOIN", "LEFT JOIN", "CROSS JOIN", ","])
        if self.grouped:
            self.join = "LEFT JOIN"
        self.where = "" if self.grouped else rng.choice(WHERES)
        self.second = rng.random() < 0.2
        self.desc = ("grouped " if self.grouped else "") + (
            "comma" if self.join == "," else self.join.lower().replace(" ", "_"))
        self.nkeys = 1 if self.grouped else 0

    def render(self, src, tbl):
        sub = self.sub.format(T=tbl)
        if self.join == ",":
            lateral = "%s a, LATERAL (%s) s" % (src, sub)
        elif self.join == "CROSS JOIN":
            lateral = "%s a CROSS JOIN LATERAL (%s) s" % (src, sub)
        else:
            lateral = "%s a %s LATERAL (%s) s ON true" % (src, self.join, sub)
        extra = ""
        if self.second:
            lateral += (" LEFT JOIN LATERAL (SELECT count(*) AS z, max(u.id) AS w FROM %s u "
                        "WHERE u.g = a.g) s2 ON true" % tbl)
            extra = ", s2.z AS c4, s2.w AS c5"
        if self.grouped:
            return ("SELECT a.k AS c0, count(*) AS c1, count(s.x) AS c2, count(s.y) AS c3 FROM %s "
                    "GROUP BY a.k" % lateral)
        return ("SELECT a.id AS c0, a.k AS c1, s.x AS c2, s.y AS c3%s FROM %s%s"
                % (extra, lateral, self.where))


class LookupRunner(d.Runner):
    def run_lookup_round(self, rng, ds, table_rows, indexes, queries):
        s = self.new_schema()
        results = [None] * len(queries)
        pipelines = []
        try:
            src, bsrc = self.setup_sources(s, ds)
            tbl = s + ".tbl"
            self.load_batch_table(tbl, table_rows)
            for ix in indexes:
                self.sql(ix.format(T=tbl))
            self.sql("ANALYZE %s" % tbl)
            started = self.start_queries(
                s, [(q.render(src, tbl), q.render(bsrc, tbl), q.nkeys) for q in queries],
                results, pipelines)
            self.finish_queries(started, results, stop=False)
        finally:
            self.end_round(s, pipelines, results)
        return results


def main():
    args, seed = d.tester_args(rounds=12)
    rng = random.Random(seed)
    runner = LookupRunner(args.conninfo, args.data_dir)
    runner.keep_failed = args.keep_failed
    # Every generated lookup is supported: a refusal is a failure too.
    tally = d.Tally("lookups", seed, failing=("fail", "error", "generator", "refused"))
    on_time = frozenset(d.CLASSES) - {"late"}
    for rnd in range(args.rounds):
        ds = d.gen_dataset(rng, "file", on_time)
        table = d.gen_dataset(rng, "file", on_time).rows
        indexes = rng.choice(INDEXES)
        queries = [LookupQuery(rng) for _ in range(args.queries)]
        results = runner.run_lookup_round(rng, ds, table, indexes, queries)
        context = lambda: "round %d (indexes %s)\n    stream:\n%s\n    table rows: %d" % (
            rnd, indexes, ds.describe(), len(table))
        for q, (status, detail) in zip(queries, results):
            tally.add(q.desc, status, detail, context)
    tally.finish(args.rounds)


if __name__ == "__main__":
    main()
