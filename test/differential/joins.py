#!/usr/bin/env python3
"""Differential tester for joins: every join pipeline's final result must equal PostgreSQL's
batch query over the same rows, as a multiset.

Each round writes two random data sets (differential.py's generator: file, debezium or cdc;
two cdc tables are changed by interleaved transactions, some changing both) as sources a and
b, loads their final rows into batch tables, generates random join queries — INNER, LEFT, RIGHT, FULL, comma joins
with WHERE, USING, keys on expressions and across types (int = bigint), conditions beyond the
keys, filters on the NULL-padded side (anti-joins), aggregates over joins, joins of an
aggregate, three-way joins, self-joins — runs them to the end and compares each target table
with the batch query. Results without grouping keys go into plain tables (a join over updating
inputs then deletes by whole row), grouped ones into tables keyed on their grouping columns.

  joins.py --conninfo 'host=… port=… dbname=postgres' --data-dir DIR
           [--seed N] [--rounds N] [--queries N]
Exits 1 on any failure (each printed with its query and data sets).
"""

import os
import random
import sys


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential as d  # noqa: E402


# Join conditions: (ON text, USING column or None). a and b are the two inputs.
CONDITIONS = [
    ("a.k = b.k", None),
    ("a.k = b.v", None),
    ("a.g = b.g", None),
    ("a.k = b.k AND a.v < b.v", None),
    ("a.k = b.k AND a.flag", None),
    ("a.k = b.k AND b.g IS NOT NULL", None),
    ("a.k = b.b", None),                      # int = bigint
    ("a.k + 1 = b.k", None),
    ("lower(a.g) = b.g", None),
    ("a.k = b.k AND a.g = b.g", None),
    (None, "k"),
    (None, "g"),
]

JOIN_TYPES = ["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN", ","]


class JoinQuery:
    def __init__(self, text_fn, nkeys, desc):
        self.text_fn = text_fn   # (a, b, c) relation names -> SELECT text
        self.nkeys = nkeys       # leading grouping columns (0: no keys)
        self.desc = desc

    def render(self, a, b, batch=False):
        return self.text_fn(a, b, batch)


def gen_query(rng):
    jt = rng.choice(JOIN_TYPES)
    cond, using = rng.choice(CONDITIONS)
    if jt == ",":
        cond = cond or "a.%s = b.%s" % (using, using)
        using = None
    shape = rng.choice(["plain", "plain", "agg", "agg", "subquery_agg", "three_way", "self"])
    if shape == "three_way" and using:  # c's columns would make USING's merged column ambiguous
        cond, using = "a.%s = b.%s" % (using, using), None
    where = rng.choice([None, None, "a.v > 3", "b.id IS NULL", "a.id IS NOT NULL AND b.v <> 2",
                        "coalesce(a.v, 0) < 10"])
    if jt == ",":
        where = " AND ".join(x for x in [cond, where] if x)

    def from_clause(a, b):
        ra, rb = a, b
        if shape == "subquery_agg":
            rb = "(SELECT k, g, b, count(*) AS v, max(id) AS id, bool_or(flag) AS flag FROM %s GROUP BY k, g, b)" % b
        if shape == "self":
            rb = a
        f = "%s a %s %s b" % (ra, jt, rb)
        if jt != ",":
            f += (" USING (%s)" % using) if using else (" ON " + cond)
        if shape == "three_way":
            f = "(%s) JOIN %s c ON c.id = a.id" % (f, b) if jt != "," else f + ", %s c" % b
        return f

    def where_clause():
        w = where
        if shape == "three_way" and jt == ",":
            w = " AND ".join(x for x in [w, "c.id = a.id"] if x)
        return (" WHERE " + w) if w else ""

    key_col = "k" if using == "k" else ("g" if using == "g" else None)
    if shape in ("agg", "subquery_agg") and rng.random() < 0.9:
        if using:
            gk = key_col
        else:
            gk = rng.choice(["a.k", "b.k", "a.g", "coalesce(a.g, b.g)", "b.flag"])
        aggs = rng.sample(["count(*)", "count(b.id)", "count(a.id)", "sum(b.v)", "max(a.id)",
                           "min(b.id)", "string_agg(a.id::text, ',' ORDER BY a.id)"],
                          rng.randint(1, 3))
        cols = ", ".join("%s AS c%d" % (x, i) for i, x in enumerate([gk] + aggs))

        def text(a, b, batch):
            return "SELECT %s FROM %s%s GROUP BY 1" % (cols, from_clause(a, b), where_clause())
        return JoinQuery(text, 1, "agg")
    if using:
        sel = [key_col, "a.id", "b.id", "a.v", "b.v"]
    else:
        sel = ["a.id", "b.id", "a.k", "b.k", "a.g", "b.v"]
    if shape == "three_way":
        sel.append("c.v")
    sel = rng.sample(sel, rng.randint(2, len(sel)))
    cols = ", ".join("%s AS c%d" % (x, i) for i, x in enumerate(sel))

    def text(a, b, batch):
        return "SELECT %s FROM %s%s" % (cols, from_clause(a, b), where_clause())
    return JoinQuery(text, 0, "plain")


WINDOWS = [("tumble(interval '%d seconds')" % w, ("tumble", w)) for w in (1, 2, 5, 10)] + \
          [("hop(interval '%d seconds', interval '%d seconds')" % (sl, w), ("hop", sl, w))
           for sl, w in ((1, 5), (2, 10), (5, 10))] + \
          [("session(interval '%d seconds')" % g, ("session", g)) for g in (1, 3)]


def gen_interval_query(rng):
    """An interval join: keys plus bounds on the difference of the event times; sometimes
    counted in tumbling windows of the joined rows' time (the later of the two, a padded
    row's own)."""
    jt = rng.choice(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
    lo, hi = rng.choice([(0, 5), (-3, 3), (-10, 0), (2, 8), (0, 0)])
    key = rng.choice(["a.k = b.k", "a.g = b.g", "a.k = b.v"])
    form = rng.choice(["between", "ops"])
    if form == "between":
        bounds = "b.ts BETWEEN a.ts + interval '%d seconds' AND a.ts + interval '%d seconds'" % (lo, hi)
    else:
        bounds = "a.ts <= b.ts - interval '%d seconds' AND b.ts <= a.ts + interval '%d seconds'" % (lo, hi)
    on = "%s AND %s" % (key, bounds)
    until = None
    if rng.random() < 0.3:
        # Bounded by a column of each of a's rows (Nexmark q4's `expires`), NULL for some.
        until = ("(SELECT *, ts + make_interval(secs => v %% %d) AS until FROM {rel})" %
                 rng.choice([3, 7, 20]))
        on = "%s AND b.ts BETWEEN a.ts AND a.until" % key
    if rng.random() < 0.4:
        w = rng.choice([2, 5, 10])
        def text(a, b, batch):
            inner = "SELECT a.id AS aid, b.id AS bid%s FROM %s a %s %s b ON %s" % (
                (", coalesce(greatest(a.ts, b.ts), a.ts, b.ts) AS t" if batch else ""),
                until.replace('{rel}', a) if until else a, jt, b, on)
            if batch:
                return ("SELECT lower(w) AS c0, count(*) AS c1, count(aid) AS c2, count(bid) AS c3 FROM "
                        "(SELECT tstzrange(date_bin(interval '%d seconds', t, 'epoch'), date_bin("
                        "interval '%d seconds', t, 'epoch') + interval '%d seconds') AS w, aid, bid "
                        "FROM (%s) j) x GROUP BY 1" % (w, w, w, inner))
            return ("SELECT lower(tumble(interval '%d seconds')) AS c0, count(*) AS c1, count(aid) AS c2, "
                    "count(bid) AS c3 FROM (%s) j GROUP BY tumble(interval '%d seconds')" % (w, inner, w))
        return JoinQuery(text, 0, "interval_window")
    sel = rng.sample(["a.id", "b.id", "a.k", "b.v", "a.ts", "b.ts"], rng.randint(2, 4))
    cols = ", ".join("%s AS c%d" % (x, i) for i, x in enumerate(sel))

    def text(a, b, batch):
        return "SELECT %s FROM %s a %s %s b ON %s" % (cols, until.replace('{rel}', a) if until else a, jt, b, on)
    return JoinQuery(text, 0, "interval_column" if until else "interval")


def gen_windowed_query(rng):
    """Two windowed aggregates joined on their windows (and keys): a windowed join."""
    call, spec = rng.choice(WINDOWS)
    jt = rng.choice(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
    cond = rng.choice(["a.w = b.w AND a.k = b.k", "a.w = b.w", "a.k = b.k AND a.w = b.w AND a.n >= b.n",
                       "a.w = b.w AND a.g = b.g"])
    sel = rng.sample(["lower(a.w)", "upper(b.w)", "a.k", "b.k", "a.n", "b.n", "a.id", "b.id", "a.g",
                      "b.v"], rng.randint(2, 5))
    cols = ", ".join("%s AS c%d" % (x, i) for i, x in enumerate(sel))
    aggs = "count(*) AS n, max(id) AS id, sum(v) AS v"

    def side(rel, batch):
        if batch:
            return "(SELECT w, k, g, %s FROM %s GROUP BY 1, 2, 3)" % (
                aggs, d.batch_windowed(rel + " s", spec, None, ["k", "g"], alias="x"))
        return "(SELECT %s AS w, k, g, %s FROM %s GROUP BY 1, 2, 3)" % (call, aggs, rel)

    def text(a, b, batch):
        return "SELECT %s FROM %s a %s %s b ON %s" % (cols, side(a, batch), jt, side(b, batch), cond)
    return JoinQuery(text, 0, "windowed")


def gen_window_range_query(rng):
    """A stream joined with a windowed aggregate on the window's range (Nexmark q7's shape):
    `a.ts >= lower(m.w) AND a.ts < upper(m.w)`, for tumble and hop an interval join whose rows
    are freed as the watermark passes (sessions: an updating join, kept to the end)."""
    call, spec = rng.choice(WINDOWS)
    jt = rng.choice(["JOIN", "JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
    extra = rng.choice(["", " AND a.k = m.k", " AND a.v = m.mv", " AND a.k = m.k AND a.v >= m.mv"])
    key = rng.choice(["a.k = m.k", "a.g = m.g"]) if not extra else extra[5:]
    on = "%s AND a.ts >= lower(m.w) AND a.ts < upper(m.w)" % key
    sel = rng.sample(["a.id", "a.k", "a.v", "m.n", "m.mv", "lower(m.w)", "m.k"], rng.randint(2, 5))
    cols = ", ".join("%s AS c%d" % (x, i) for i, x in enumerate(sel))
    aggs = "count(*) AS n, max(v) AS mv"
    own = rng.random() < 0.5  # the stream against its own windowed aggregate (q7), or b's

    def side(rel, batch):
        if batch:
            return "(SELECT w, k, g, %s FROM %s GROUP BY 1, 2, 3)" % (
                aggs, d.batch_windowed(rel + " s", spec, None, ["k", "g"], alias="x"))
        return "(SELECT %s AS w, k, g, %s FROM %s GROUP BY 1, 2, 3)" % (call, aggs, rel)

    def text(a, b, batch):
        return "SELECT %s FROM %s a %s %s m ON %s" % (cols, a, jt, side(a if own else b, batch), on)
    return JoinQuery(text, 0, "window_range")


class JoinRunner(d.Runner):
    def setup_two(self, s, dsa, dsb):
        """Sources a and b: created in schemas s_a / s_b by differential's setup_sources."""
        out = []
        for side, ds in (("a", dsa), ("b", dsb)):
            sub = "%s_%s" % (s, side)
            self.sql("CREATE SCHEMA %s" % sub)
            out.append(self.setup_sources(sub, ds))
        return out

    def run_two_cdc_workloads(self, cdc, names):
        """Both tables' transactions, interleaved at random; one in five pairs of transactions
        that both commit (or both roll back) runs as one transaction changing both tables. With
        class flushes, waits for the pipelines at a quarter, a half and three quarters."""
        rng = random.Random(len(cdc[0][0].txns) * 7919 + len(cdc[1][0].txns))
        queues = [[(rel, ops, committed) for ops, committed in ds.txns] for ds, rel in cdc]
        txns = []
        while any(queues):
            live = [q for q in queues if q]
            if len(live) == 2 and live[0][0][2] == live[1][0][2] and rng.random() < 0.2:
                a, b = live[0].pop(0), live[1].pop(0)
                txns.append(([a[:2], b[:2]], a[2]))
            else:
                rel, ops, committed = rng.choice(live).pop(0)
                txns.append(([(rel, ops)], committed))
        total = sum(1 for _, committed in txns if committed)
        waits = {max(1, total * j // 4) for j in (1, 2, 3)} if total >= 4 else set()
        flushes = any(ds.flushes for ds, _ in cdc)
        ncommitted = 0
        for parts, committed in txns:
            with self.conn.transaction(force_rollback=not committed):
                for rel, ops in parts:
                    self.apply_ops(rel, ops)
            ncommitted += committed
            if flushes and committed and ncommitted in waits:
                self.wait_cdc(names, 0.002)

    def run_join_round(self, dsa, dsb, queries):
        s = self.new_schema()
        results = [None] * len(queries)
        pipelines = []
        try:
            (pa, ba), (pb, bb) = self.setup_two(s, dsa, dsb)
            started = self.start_queries(
                s, [(q.render(pa, pb), q.render(ba, bb, True), q.nkeys) for q in queries],
                results, pipelines)
            cdc = [(ds, p) for ds, p in ((dsa, pa), (dsb, pb)) if ds.kind == "cdc"]
            names = [st[1] for st in started]
            if len(cdc) == 2:
                self.run_two_cdc_workloads(cdc, names)
            for ds, rel in cdc if len(cdc) == 1 else []:
                self.run_cdc_workload(rel, ds, names if ds.flushes else None)
            if cdc:
                self.wait_cdc(names)
            self.finish_queries(started, results, stop=bool(cdc))
        finally:
            self.end_round(s, pipelines, results, [s + "_a", s + "_b"])
        return results


def main():
    args, seed = d.tester_args(rounds=20)
    rng = random.Random(seed)
    runner = JoinRunner(args.conninfo, args.data_dir)
    runner.keep_failed = args.keep_failed
    kinds = ["file", "debezium"] + (["cdc"] if runner.wal_logical else [])
    tally = d.Tally("joins", seed)
    by_sources = {}
    for rnd in range(args.rounds):
        if rng.random() < 0.4:  # two append-only streams: windowed and interval joins too
            ka = kb = "file"
        else:
            ka = rng.choice(kinds)
            kb = rng.choice(kinds)
        # (no late data: the batch query cannot say which windows a row came too late for)
        on_time = frozenset(d.CLASSES) - {"late"}
        dsa = d.gen_dataset(rng, ka, on_time)
        dsb = d.gen_dataset(rng, kb, on_time)
        windowed = ka == kb == "file"
        def one():
            x = rng.random()
            if windowed and x < 0.3:
                return gen_windowed_query(rng)
            if windowed and x < 0.6:
                return gen_interval_query(rng)
            if windowed and x < 0.75:
                return gen_window_range_query(rng)
            return gen_query(rng)
        queries = [one() for _ in range(args.queries)]
        results = runner.run_join_round(dsa, dsb, queries)
        pair = "+".join(sorted((ka, kb)))
        by_sources[pair] = by_sources.get(pair, 0) + 1
        context = lambda: "round %d (%s a, %s b)\n    a:\n%s\n    b:\n%s" % (
            rnd, ka, kb, dsa.describe(), dsb.describe())
        for q, (status, detail) in zip(queries, results):
            tally.add(q.desc, status, detail, context)
    tally.finish(args.rounds, ["rounds by sources: " +
                               ", ".join("%s %d" % kv for kv in sorted(by_sources.items()))])


if __name__ == "__main__":
    main()
