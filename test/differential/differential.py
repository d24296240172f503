#!/usr/bin/env python3
"""Differential tester for arroyo_stream: every pipeline's final result must equal
PostgreSQL's batch query over the same rows, as a multiset.

Each round generates a random data set and writes it as a bounded source:
  file      a single_file JSON-lines source with event_time_field and watermark_delay
            (append-only; out-of-order event times that fit in the delay, so no row is late;
            class late: in 40 % of the files some rows are behind by more than the delay)
  debezium  a single_file debezium_json source (inserts, updates, deletes; an updating source)
  cdc       a regular table read by change data capture, under a random workload of
            inserts/updates/deletes in transactions, some rolled back (class flushes: in half
            of the rounds 8-24 small transactions, waiting three times in between until every
            pipeline has read what was committed, with update_aggregate_flush_interval 1 ms,
            so keys, NULL keys included, are flushed many times)
loads the same final rows into a regular table, generates random pipelines from a grammar
(stateless filters/projections, tumble/hop/session windows, updating aggregates, aggregates
of aggregates; plain, DISTINCT, ORDER BY, FILTER, ordered-set and user-defined aggregates;
expressions and CASE in keys, WHERE, HAVING, subqueries, views, UNION ALL), runs them to the
end and compares each target table with the batch query (windows: tumble/hop aligned to the
Unix epoch, i.e. date_bin(width, ts, 'epoch'); sessions computed with window functions).
Over late data (class late), late_oracle simulates the watermark row by row and Flink's rule:
the batch query drops late rows (and, for hop, the windows a row came too late for), takes
sessions from the simulation, and the pipeline's late_rows must equal the late rows counted.

Refusals at stream_create are counted per construct, never as passes. A failing query is
shrunk (rows, then the query) and printed with its data; the run exits 1 on any failure.

  differential.py --conninfo 'host=… port=… dbname=postgres' --data-dir DIR
                  [--seed N] [--rounds N] [--queries N] [--time-budget S]
                  [--exclude CLASS,…] [--only CLASS,…] [--no-shrink]
Feature classes (see --list-classes): a query that uses an excluded class is not generated.
"""

import argparse
import datetime as dt
import decimal
import json
import math
import os
import random
import re
import sys
import time

# Pipelines run as several workers too (SET parallelism): query i of a round at
# PARALLELISM[i % len(PARALLELISM)] workers, so every round compares results at each of them
# with PostgreSQL's batch answer. A pipeline that cannot run in parallel (it reads table
# changes) runs as one worker. ARROYO_DIFF_PARALLELISM=1 turns it off.
PARALLELISM = [int(p) for p in os.environ.get("ARROYO_DIFF_PARALLELISM", "1,2,3").split(",")]
# Every other round over a regular table's changes rescales its running pipelines halfway
# through the workload (stream_rescale: 1 -> 2 -> 3 -> 1 workers), so that their state is
# redistributed by key group while changes keep coming. ARROYO_DIFF_RESCALE=0 turns it off.
RESCALE = os.environ.get("ARROYO_DIFF_RESCALE", "1") != "0" and max(PARALLELISM) > 1
import traceback

import psycopg

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)

# Feature classes a query can use; --exclude removes them from the grammar.
CLASSES = {
    "stateless": "filters and projections, row_time()",
    "tumble": "tumble windows",
    "hop": "hop windows",
    "session": "session windows",
    "unaligned_width": "tumble/hop widths that do not divide 946684800 s (2000-01-01 - 1970-01-01)",
    "updating": "aggregates without a window (materialized into keyed tables)",
    "global_agg": "aggregates without GROUP BY",
    "empty_global": "global aggregates whose input may be empty (WHERE / filtered source)",
    "agg_of_agg": "an updating aggregate over an updating aggregate",
    "window_then_agg": "an updating aggregate over a windowed aggregate",
    "null_keys": "grouping keys that can be NULL in materialized (keyed) targets",
    "distinct": "aggregates with DISTINCT (in windows)",
    "updating_distinct": "aggregates with DISTINCT in aggregates without a window",
    "distinct_nulls": "array_agg(DISTINCT …) over NULLs (PostgreSQL keeps one NULL)",
    "agg_order_by": "ORDER BY inside aggregate calls",
    "ordered_set": "WITHIN GROUP aggregates",
    "filter": "FILTER (WHERE …) on aggregates",
    "udagg": "user-defined aggregates (CREATE AGGREGATE)",
    "float_agg": "aggregates over float8 (compared with a tolerance)",
    "sum_int4": "sum() over int4 arguments (else they are cast to bigint)",
    "having": "HAVING",
    "where": "WHERE on the query",
    "subquery": "subqueries in FROM",
    "view": "views over the source",
    "union_all": "UNION ALL of the source with itself",
    "retract_internal": "over updating inputs: aggregates whose state is internal (sum/avg of numeric and bigint, stddev, variance)",
    "late": "windows over file sources whose disorder can exceed the watermark delay (late rows, Flink's rule; late_rows checked)",
    "flushes": "updating aggregates over CDC fed by many small transactions, read and flushed (flush interval 1 ms) as they come",
    "debezium": "debezium_json (updating) file sources",
    "cdc": "regular tables read by change data capture",
}


class Refused(Exception):
    pass


# ------------------------------------------------------------------------------------------
# Data

TEXTS = ["a", "b", "c", "B", "dd", "", "é", "x y", "a'b", "zz"]
FLOATS = [0.1, 0.2, 2.5, -3.75, 1e-3, 12345.678, 1.0 / 3, -0.5, 7.0, 1e6]


def fmt_ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def gen_row(rng, rid, nkeys):
    """One row: id int, k int (skewed), g text, v int, b bigint, n numeric, f float8,
    flag bool (ts is set by the caller)."""

    def maybe(p, f):
        return None if rng.random() < p else f()

    pnull = rng.choice([0.0, 0.1, 0.3])
    return {
        "id": rid,
        "k": maybe(pnull, lambda: min(int(rng.expovariate(0.6)), nkeys - 1)),
        "g": maybe(pnull, lambda: rng.choice(TEXTS[: rng.randint(2, len(TEXTS))])),
        "v": maybe(pnull, lambda: rng.randint(-5, 20)),
        "b": maybe(pnull, lambda: rng.choice([1, 7, 4000000000, -4000000000, 2**40 + 3, 0])),
        "n": maybe(pnull, lambda: decimal.Decimal(rng.randint(-1000, 100000)) / 100),
        "f": maybe(pnull, lambda: rng.choice(FLOATS)),
        "flag": maybe(pnull, lambda: rng.random() < 0.5),
    }


def gen_times(rng, count, delay_ms, late_p=0.0):
    """Event times: true times T_i non-decreasing (with duplicates), emitted as T_i - u_i with
    0 <= u_i < delay, so every row is at or after the watermark (largest time before it minus
    the delay). With late_p, that share of the rows is behind by more than the delay
    (u_i = delay + up to 40 s), so they may be late."""
    base = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(
        milliseconds=rng.randint(0, 86400000)
    )
    if late_p and rng.random() < 0.5:
        # on a 10-second boundary: watermarks (whole seconds behind a row) then often fall
        # exactly on window ends, and late rows on window starts
        base = base.replace(second=base.second - base.second % 10, microsecond=0)
    t = 0
    out = []
    for _ in range(count):
        t += rng.choice([0, 0, 10, 250, 700, 1000, 1500, 3000, 9000])
        if late_p and rng.random() < late_p:
            u = delay_ms + rng.choice([0, 1, rng.randint(1, 3000), rng.randint(1, 40000),
                                       1000 * rng.randint(1, 20)])
        else:
            u = rng.randint(0, delay_ms - 1) if rng.random() < 0.5 else 0
        out.append(base + dt.timedelta(milliseconds=t - u))
    return out


class Dataset:
    """kind file: rows in file order. kind debezium/cdc: rows = initial rows, txns = list of
    (ops, committed) with ops (op, before, after), applied after the initial rows."""

    def __init__(self, kind, rows, txns=(), delay_ms=1000, pk=True, late=False, flushes=False):
        self.kind, self.rows, self.txns, self.delay_ms, self.pk = kind, rows, list(txns), delay_ms, pk
        self.late = late        # file: disorder beyond the delay (class late)
        self.flushes = flushes  # cdc: many small transactions, read as they come (class flushes)

    def final_rows(self):
        state = {r["id"]: r for r in self.rows}
        for ops, committed in self.txns:
            if not committed:
                continue
            for op, before, after in ops:
                if op in ("u", "d"):
                    del state[before["id"]]
                if op in ("c", "u"):
                    state[after["id"]] = after
        return list(state.values())

    def ids(self):
        s = {r["id"] for r in self.rows}
        for ops, _ in self.txns:
            for op, before, after in ops:
                s.add((after or before)["id"])
        return sorted(s)

    def without_ids(self, drop):
        rows = [r for r in self.rows if r["id"] not in drop]
        txns = []
        for ops, committed in self.txns:
            ops = [o for o in ops if (o[2] or o[1])["id"] not in drop]
            if ops:
                txns.append((ops, committed))
        return Dataset(self.kind, rows, txns, self.delay_ms, self.pk, self.late, self.flushes)

    def describe(self):
        lines = []
        for r in self.rows:
            lines.append("  " + row_text(r))
        for ops, committed in self.txns:
            lines.append("  BEGIN")
            for op, before, after in ops:
                lines.append("    %s %s" % (op, row_text(after or before) if op != "u" else
                                            row_text(before) + " -> " + row_text(after)))
            lines.append("  " + ("COMMIT" if committed else "ROLLBACK"))
        return "\n".join(lines)


def row_text(r):
    parts = []
    for c in ("id", "k", "g", "v", "b", "n", "f", "flag", "ts"):
        if c in r:
            x = r[c]
            parts.append("%s=%s" % (c, fmt_ts(x) if isinstance(x, dt.datetime) else repr(x) if isinstance(x, str) else x))
    return "{" + ", ".join(parts) + "}"


def gen_dataset(rng, kind, enabled=frozenset(CLASSES)):
    delay_ms = rng.choice([1000, 3000, 5000])
    n = rng.choice([0, 3, 10, 30, 60, 120]) if kind == "file" else rng.choice([5, 20, 50])
    nkeys = rng.choice([1, 3, 6, 20])
    late = kind == "file" and n > 0 and "late" in enabled and rng.random() < 0.4
    flushes = kind == "cdc" and "flushes" in enabled and rng.random() < 0.5
    times = gen_times(rng, n + 200, delay_ms, rng.choice([0.05, 0.15, 0.3]) if late else 0.0)
    rows = []
    for i in range(n):
        r = gen_row(rng, i + 1, nkeys)
        r["ts"] = times[i]
        rows.append(r)
    txns = []
    if kind != "file":
        live = {r["id"]: r for r in rows}
        nid = n + 1
        ti = n
        for _ in range(rng.randint(8, 24) if flushes else rng.randint(1, 12)):
            ops = []
            for _ in range(rng.randint(1, 3) if flushes else rng.randint(1, 6)):
                x = rng.random()
                if x < 0.35 or not live:
                    r = gen_row(rng, nid, nkeys)
                    r["ts"] = times[ti % len(times)]
                    ti += 1
                    nid += 1
                    ops.append(("c", None, r))
                    live[r["id"]] = r
                elif x < 0.75:
                    old = live[rng.choice(sorted(live))]
                    new = dict(gen_row(rng, old["id"], nkeys))
                    for c in rng.sample(["k", "g", "v", "b", "n", "f", "flag"], rng.randint(0, 5)):
                        new[c] = old[c]
                    new["ts"] = old["ts"]
                    if flushes and rng.random() < 0.4:
                        # a key goes NULL or comes back from NULL between flushes
                        c = rng.choice(["k", "g", "v", "flag"])
                        new[c] = None if old[c] is not None else gen_row(rng, 0, nkeys)[c]
                    ops.append(("u", old, new))
                    live[old["id"]] = new
                else:
                    old = live.pop(rng.choice(sorted(live)))
                    ops.append(("d", old, None))
            committed = kind == "debezium" or rng.random() < 0.8
            if not committed:  # undo in `live`
                for op, before, after in reversed(ops):
                    if op in ("c", "u"):
                        del live[after["id"]]
                    if op in ("u", "d"):
                        live[before["id"]] = before
            txns.append((ops, committed))
    return Dataset(kind, rows, txns, delay_ms, pk=rng.random() < 0.5, late=late, flushes=flushes)


def json_value(x):
    if isinstance(x, dt.datetime):
        return fmt_ts(x)
    if isinstance(x, decimal.Decimal):
        return str(x)
    return x


def json_row(r):
    return {c: json_value(x) for c, x in r.items()}


COLUMNS_SQL = "id int, k int, g text, v int, b bigint, n numeric, f float8, flag bool, ts timestamptz"
COLS = ["id", "k", "g", "v", "b", "n", "f", "flag", "ts"]


# ------------------------------------------------------------------------------------------
# Query grammar


# Aggregates with an internal transition state (serialized in checkpoints).
INTERNAL_STATE = r"^((sum|avg)\((DISTINCT )?(n|b)\b|(stddev\w*|variance)\()"


class Gen:
    def __init__(self, rng, enabled):
        self.rng, self.enabled = rng, enabled
        self.used = set()
        self.updating_input = False

    def on(self, cls, p=1.0):
        return cls in self.enabled and self.rng.random() < p

    def use(self, cls):
        self.used.add(cls)

    def int_expr(self):
        return self.rng.choice(["k", "v", "k % 3", "v + k", "coalesce(v, 0)", "abs(v) / 4",
                                "CASE WHEN flag THEN k ELSE v END", "length(g)", "id % 5"])

    def text_expr(self):
        return self.rng.choice(["g", "upper(g)", "g || '!'",
                                "CASE WHEN v > 5 THEN 'big' WHEN v IS NULL THEN NULL ELSE 'small' END",
                                "coalesce(g, '?')"])

    def bool_expr(self):
        return self.rng.choice(["flag", "v > 3", "g IS NULL", "k = 0", "n > 0"])

    def key_expr(self):
        x = self.rng.random()
        if x < 0.5:
            return self.int_expr()
        if x < 0.85:
            return self.text_expr()
        return self.bool_expr()

    def cond(self):
        return self.rng.choice(["v > 2", "k <> 1", "g IS NOT NULL", "flag", "n < 500",
                                "v % 2 = 0 OR g = 'a'", "coalesce(f, 0) >= 0", "b > 0",
                                "id % 3 <> 0", "v > 100"])

    def aggregate(self, windowed):
        """(sql, normalizer) of one aggregate call."""
        rng = self.rng
        while True:
            kind = rng.choice(["plain"] * 6 + ["distinct", "order_by", "ordered_set", "udagg",
                                               "float"])
            if kind == "plain":
                a = rng.choice([("count(*)", "plain"), ("count(v)", "plain"), ("sum(v)", "plain"),
                                ("sum(b)", "plain"), ("sum(n)", "plain"), ("avg(v)", "plain"),
                                ("avg(n)", "plain"), ("min(g)", "plain"), ("max(v)", "plain"),
                                ("min(ts)", "plain"), ("max(n)", "plain"),
                                ("bool_and(flag)", "plain"), ("bool_or(flag)", "plain"),
                                ("stddev(b)", "plain"), ("variance(v)", "plain"),
                                ("stddev_pop(n)", "plain"), ("bit_or(v)", "plain"),
                                ("string_agg(g, ',')", "unordered_text"),
                                ("array_agg(v)", "unordered_array"), ("count(g)", "plain"),
                                ("sum(v * k)", "plain"), ("max(length(g))", "plain")])
            elif kind == "distinct" and self.on("distinct" if windowed else "updating_distinct"):
                self.use("distinct" if windowed else "updating_distinct")
                a = rng.choice([("count(DISTINCT v)", "plain"), ("count(DISTINCT g)", "plain"),
                                ("sum(DISTINCT v)", "plain"), ("avg(DISTINCT n)", "plain"),
                                ("count(DISTINCT k % 2)", "plain"),
                                ("string_agg(DISTINCT g, ',')", "unordered_text"),
                                ("array_agg(DISTINCT v)", "unordered_array")])
                if a[0].startswith("array_agg(DISTINCT") and "distinct_nulls" not in self.enabled:
                    a = ("array_agg(DISTINCT coalesce(v, -1))", "unordered_array")
                elif a[0].startswith("array_agg(DISTINCT"):
                    self.use("distinct_nulls")
            elif kind == "order_by" and self.on("agg_order_by"):
                self.use("agg_order_by")
                a = rng.choice([("string_agg(g, ',' ORDER BY id)", "plain"),
                                ("array_agg(v ORDER BY id DESC)", "plain"),
                                ("string_agg(g, ',' ORDER BY g, id)", "plain"),
                                ("array_agg(k ORDER BY v NULLS FIRST, id)", "plain")])
            elif kind == "ordered_set" and self.on("ordered_set"):
                self.use("ordered_set")
                a = rng.choice([("percentile_cont(0.5) WITHIN GROUP (ORDER BY v)", "float"),
                                ("percentile_disc(0.9) WITHIN GROUP (ORDER BY n)", "plain"),
                                ("mode() WITHIN GROUP (ORDER BY g)", "plain")])
            elif kind == "udagg" and self.on("udagg"):
                self.use("udagg")
                a = rng.choice([("{S}diff_sumsq(v)", "plain"), ("{S}diff_first_max(v)", "plain"),
                                ("{S}diff_concat_len(g)", "plain")])
            elif kind == "float" and self.on("float_agg"):
                self.use("float_agg")
                a = rng.choice([("sum(f)", "float"), ("avg(f)", "float"), ("max(f)", "float"),
                                ("stddev(f)", "float"), ("avg(v::float8 / 7)", "float")])
            else:
                continue
            break
        sql, norm = a
        if self.updating_input and re.match(INTERNAL_STATE, sql):
            if "retract_internal" not in self.enabled:
                return self.aggregate(windowed)
            self.use("retract_internal")
        sql = self.sum_int4(sql)
        if self.on("filter", 0.2):
            self.use("filter")
            sql = sql + " FILTER (WHERE %s)" % self.cond()
        return sql, norm

    def sum_int4(self, sql):
        """sum(int4 expr) -> sum((expr)::int8) when the sum_int4 class is excluded."""
        for e in ("v * k", "v"):
            for pre in ("sum(", "sum(DISTINCT "):
                if sql.startswith(pre + e + ")"):
                    if "sum_int4" not in self.enabled:
                        return sql.replace(pre + e + ")", pre + "(" + e + ")::int8)", 1)
                    self.use("sum_int4")
        return sql

    def having(self):
        return self.rng.choice(["count(*) > 1", "sum(v) > 10", "max(g) IS NOT NULL",
                                "count(k) >= 1",
                                "min(v) < 5"])


def window_spec(g):
    """(pipeline window call, batch window kind, params) or None."""
    rng = g.rng
    kinds = [k for k in ("tumble", "hop", "session") if k in g.enabled]
    if not kinds:
        return None
    kind = rng.choice(kinds)
    g.use(kind)
    if kind == "tumble":
        widths = [1, 2, 5, 10, 60, 3600]
        if "unaligned_width" in g.enabled:
            widths += [7, 45, 7 * 86400]
        w = rng.choice(widths)
        if 946684800 % w:
            g.use("unaligned_width")
        return ("tumble(interval '%d seconds')" % w, ("tumble", w))
    if kind == "hop":
        pairs = [(1, 5), (2, 10), (5, 10), (10, 60), (3, 9)]
        if "unaligned_width" in g.enabled:
            pairs += [(7, 14), (2, 14)]
        s, w = rng.choice(pairs)
        if 946684800 % s or 946684800 % w:
            g.use("unaligned_width")
        return ("hop(interval '%d seconds', interval '%d seconds')" % (s, w), ("hop", s, w))
    gap = rng.choice([1, 2, 5, 10])
    return ("session(interval '%d seconds')" % gap, ("session", gap))


class Query:
    """A structured pipeline query; render() gives the pipeline and the batch text."""

    def __init__(self, shape, source, keys, aggs, where=None, having=None, window=None,
                 inner=None, exprs=None, null_keys_ok=True, unique_nulls=False, flush_ms=None):
        self.shape = shape          # stateless | window | updating | agg_of_agg | window_then_agg
        self.source = source        # direct | subquery | view | union_all
        self.keys = list(keys)      # key expressions
        self.aggs = list(aggs)      # [(sql, normalizer)]
        self.where, self.having, self.window = where, having, window
        self.inner = inner          # (keys, aggs) of the inner aggregate
        self.exprs = list(exprs or [])  # stateless select list
        self.null_keys_ok = null_keys_ok
        self.unique_nulls = unique_nulls
        self.flush_ms = flush_ms    # SET update_aggregate_flush_interval (class flushes)
        self.late_rel = None        # batch side, late data: the oracle's table (id, wm, ss, se)

    def copy(self, **kw):
        q = Query(self.shape, self.source, self.keys, self.aggs, self.where, self.having,
                  self.window, self.inner, self.exprs, self.null_keys_ok, self.unique_nulls,
                  self.flush_ms)
        for k, v in kw.items():
            setattr(q, k, v)
        return q

    # --- rendering
    def from_item(self, rel, schema, batch, view_rel):
        src = rel
        if self.source == "direct":
            return src + " s"
        if self.source == "subquery":
            return ("(SELECT id, k, g, v, b, n, f, flag, ts FROM (SELECT * FROM %s WHERE v IS "
                    "DISTINCT FROM 13) s0 WHERE g IS DISTINCT FROM 'zz') s" % src)
        if self.source == "view":
            return view_rel + " s"
        if self.source == "union_all":
            return ("(SELECT id, k, g, v, b, n, f, flag, ts FROM %s WHERE v > 3 UNION ALL "
                    "SELECT id, k, g, v, b, n, f, flag, ts FROM %s WHERE k <> 0) s" % (src, src))
        raise ValueError(self.source)

    def key_sql(self, e):
        if self.null_keys_ok:
            return e
        return "coalesce((%s)::text, '<null>')" % e

    def render(self, rel, schema, batch, view_rel):
        fi = self.from_item(rel, schema, batch, view_rel)
        S = schema + "."
        where = (" WHERE " + self.where) if self.where else ""
        if self.shape == "stateless":
            items = [e if not (batch and e == "row_time()") else "ts" for e in self.exprs]
            return "SELECT %s FROM %s%s" % (cols(items), fi, where)
        keys = [self.key_sql(k) if self.shape != "window" else k for k in self.keys]
        aggs = [a.replace("{S}", S) for a, _ in self.aggs]
        having = (" HAVING " + self.having) if self.having else ""
        if self.shape == "updating":
            gb = (" GROUP BY " + ", ".join(str(i + 1) for i in range(len(keys)))) if keys else ""
            return "SELECT %s FROM %s%s%s%s" % (cols(keys + aggs), fi, where, gb, having)
        if self.shape == "agg_of_agg":
            ikeys, iaggs = self.inner
            ikeys = [self.key_sql(k) for k in ikeys]
            inner = "SELECT %s FROM %s%s GROUP BY %s" % (
                ", ".join(["%s AS ik%d" % (k, i) for i, k in enumerate(ikeys)] +
                          ["%s AS ia%d" % (a.replace("{S}", S), i) for i, (a, _) in enumerate(iaggs)]),
                fi, where, ", ".join(str(i + 1) for i in range(len(ikeys))))
            okeys = [self.key_sql(k) for k in self.keys]
            return "SELECT %s FROM (%s) x GROUP BY %s%s" % (
                cols(okeys + aggs), inner, ", ".join(str(i + 1) for i in range(len(okeys))), having)
        if self.shape in ("window", "window_then_agg"):
            call, spec = self.window
            if self.shape == "window":
                wkeys, waggs, whaving = keys, aggs, having
            else:
                wkeys = [self.key_sql(k) for k in self.inner[0]]
                waggs = [a.replace("{S}", S) for a, _ in self.inner[1]]
                whaving = ""
            if not batch:
                inner = "SELECT %s FROM %s%s GROUP BY %s%s" % (
                    cols([call] + wkeys + waggs, first="w"), fi, where,
                    ", ".join(str(i + 1) for i in range(len(wkeys) + 1)), whaving)
            else:
                inner = "SELECT %s FROM %s%s GROUP BY %s%s" % (
                    cols(["w"] + wkeys + waggs, first="w"),
                    batch_windowed(fi, spec, self.where, wkeys, self.late_rel),
                    "", ", ".join(str(i + 1) for i in range(len(wkeys) + 1)), whaving)
            if self.shape == "window":
                return inner
            okeys = [self.key_sql(k) for k in self.keys]
            gb = (" GROUP BY " + ", ".join(str(i + 1) for i in range(len(okeys)))) if okeys else ""
            return "SELECT %s FROM (%s) x%s%s" % (cols(okeys + aggs), inner, gb, having)
        raise ValueError(self.shape)

    def settings(self):
        """The pipeline's SET statements (before its INSERT)."""
        if self.flush_ms:
            return "SET update_aggregate_flush_interval = '%d milliseconds'; " % self.flush_ms
        return ""

    def window_keys(self):
        """The keys next to the window in its GROUP BY (a session's key)."""
        if self.shape == "window":
            return list(self.keys)
        return [self.key_sql(k) for k in self.inner[0]]

    def key_count(self):
        if self.shape in ("updating", "agg_of_agg", "window_then_agg"):
            return len(self.keys)
        return 0

    def normalizers(self):
        if self.shape == "stateless":
            return ["float" if "f" in e.split() or e.startswith("f ") else "plain" for e in self.exprs]
        if self.shape == "window":
            return ["plain"] + ["plain"] * len(self.keys) + [n for _, n in self.aggs]
        return ["plain"] * len(self.keys) + [n for _, n in self.aggs]

    def text(self):
        return "shape=%s source=%s keys=%s aggs=%s where=%s having=%s window=%s inner=%s exprs=%s" % (
            self.shape, self.source, self.keys, [a for a, _ in self.aggs], self.where, self.having,
            self.window and self.window[0], self.inner, self.exprs)


def cols(items, first=None):
    out = []
    for i, e in enumerate(items):
        name = first if (first and i == 0) else "c%d" % i
        out.append("%s AS %s" % (e, name))
    return ", ".join(out)


def batch_windowed(fi, spec, where, keys, late_rel=None, alias="bw"):
    """FROM item of the batch query: the source's rows with their window(s) as column w.
    With late_rel (late data, see late_oracle): tumble/hop keep the windows of a row that were
    still open when it came, i.e. that end after the watermark it met (late_rel.wm; so a late
    row has none); a session is the one the oracle's simulation put the row in (late_rel.ss,
    late_rel.se; no row for a late row)."""
    if late_rel and spec[0] == "session":
        return ("(SELECT * FROM (SELECT s0.*, (SELECT tstzrange(lw.ss, lw.se) FROM %s lw "
                "WHERE lw.id = s0.id AND lw.ss IS NOT NULL) AS w FROM (SELECT * FROM %s%s) s0) s1 "
                "WHERE w IS NOT NULL) bw" % (late_rel, fi, (" WHERE " + where) if where else ""))
    if late_rel:
        return ("(SELECT * FROM %s WHERE upper(w) > coalesce((SELECT lw.wm FROM %s lw "
                "WHERE lw.id = bw0.id), '-infinity')) bw" % (
                    batch_windowed(fi, spec, where, keys, alias="bw0"), late_rel))
    wh = (" WHERE " + where) if where else ""
    if spec[0] == "tumble":
        w = "interval '%d seconds'" % spec[1]
        return ("(SELECT *, tstzrange(date_bin(%s, ts, 'epoch'), date_bin(%s, ts, 'epoch') + %s) AS w "
                "FROM %s%s) %s" % (w, w, w, fi, wh, alias))
    if spec[0] == "hop":
        s, wd = "interval '%d seconds'" % spec[1], "interval '%d seconds'" % spec[2]
        n = spec[2] // spec[1]
        return ("(SELECT s.*, tstzrange(date_bin(%s, ts, 'epoch') - hop_i * %s, "
                "date_bin(%s, ts, 'epoch') - hop_i * %s + %s) AS w FROM %s, "
                "generate_series(0, %d) AS hop_i%s) %s" % (s, s, s, s, wd, fi, n - 1, wh, alias))
    gap = "interval '%d seconds'" % spec[1]
    part = ("PARTITION BY " + ", ".join(keys)) if keys else ""
    return ("(SELECT *, tstzrange(min(ts) OVER (PARTITION BY %s sid), max(ts) OVER (PARTITION BY %s sid) + %s) AS w "
            "FROM (SELECT *, sum(brk) OVER (%s ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid FROM "
            "(SELECT *, CASE WHEN ts - lag(ts) OVER (%s ORDER BY ts) < %s THEN 0 ELSE 1 END AS brk "
            "FROM %s%s) b1) b2) bw" % (
                "".join(k + ", " for k in keys), "".join(k + ", " for k in keys), gap,
                part, part, gap, fi, wh))


def gen_query(g, kind, empty_input=False, ds=None):
    """A random Query for a round of this kind (file, debezium, cdc) and data set."""
    q = gen_query_shape(g, kind, empty_input, ds is not None and ds.late)
    if q is not None and ds is not None:
        if ds.late and q.shape in ("window", "window_then_agg"):
            g.use("late")
        if ds.flushes:
            g.use("flushes")
            q.flush_ms = 1
    return q


def gen_query_shape(g, kind, empty_input, late):
    rng = g.rng
    updating_input = kind != "file"
    g.updating_input = updating_input
    shapes = []
    if not updating_input:
        shapes += [s for s in ("stateless",) if s in g.enabled]
        if any(w in g.enabled for w in ("tumble", "hop", "session")):
            shapes += ["window"] * 3
            if "window_then_agg" in g.enabled:
                shapes.append("window_then_agg")
    if "updating" in g.enabled:
        shapes += ["updating"] * 3
        if "agg_of_agg" in g.enabled:
            shapes.append("agg_of_agg")
    if not shapes:
        return None
    shape = rng.choice(shapes)
    g.use(shape if shape != "window" else "window")
    sources = ["direct"] * 3 + [s for s in ("subquery", "view", "union_all") if s in g.enabled]
    if late and shape in ("window", "window_then_agg"):
        # late rows: the oracle simulates one scan, not the two branches of UNION ALL (one
        # source feeding both, each batch going through the first branch, then the second)
        sources = [s for s in sources if s != "union_all"]
    source = rng.choice(sources)
    g.use(source)
    where = g.cond() if g.on("where", 0.4) else None
    if where:
        g.use("where")
    q = Query(shape, source, [], [], where=where)
    q.null_keys_ok = "null_keys" in g.enabled
    if shape == "stateless":
        g.use("stateless")
        q.exprs = rng.sample(["id", "k", "g", "v * 2", "b", "n", "f", "flag", "ts",
                              "row_time()", "upper(g) || k", "CASE WHEN v > 3 THEN n END",
                              "extract(epoch FROM ts)"], rng.randint(1, 5))
        if "f" in q.exprs:
            g.use("float_agg")
        return q

    def aggs(n, windowed=False):
        return [g.aggregate(windowed) for _ in range(n)]

    if shape == "window":
        q.window = window_spec(g)
        q.keys = [g.key_expr() for _ in range(rng.choice([0, 1, 1, 2]))]
        q.aggs = aggs(rng.randint(1, 4), True)
        if g.on("having", 0.25):
            g.use("having")
            q.having = g.having()
        return q
    if shape == "window_then_agg":
        q.window = window_spec(g)
        q.inner = ([g.key_expr() for _ in range(rng.choice([0, 1, 2]))], aggs(rng.randint(1, 2), True))
        # outer: group by the inner keys or by the inner aggregate's value
        # outer: group by an inner key or by an inner aggregate with an exact value
        choices = ["c%d" % (1 + i) for i in range(len(q.inner[0]))]
        choices += ["c%d" % (1 + len(q.inner[0]) + i) for i, (_, n) in enumerate(q.inner[1])
                    if n == "plain"]
        if not choices:
            q.inner[1].append(("count(*)", "plain"))
            choices = ["c%d" % (len(q.inner[0]) + len(q.inner[1]))]
        q.keys = [rng.choice(choices)]
        q.aggs = [("count(*)", "plain"), ("max(upper(w))", "plain")]
        return q
    if shape == "updating":
        nkeys = rng.choice([0, 1, 1, 1, 2, 3]) if "global_agg" in g.enabled else rng.choice([1, 1, 2, 3])
        if nkeys == 0 and empty_input and "empty_global" not in g.enabled:
            nkeys = 1
        if nkeys == 0:
            g.use("global_agg")
            if "empty_global" not in g.enabled:
                q.where = None
                q.source = "direct"
            else:
                g.use("empty_global")
        q.keys = [g.key_expr() for _ in range(nkeys)]
        q.aggs = aggs(rng.randint(1, 4))
        if g.on("having", 0.25):
            g.use("having")
            q.having = g.having()
        return q
    # agg_of_agg
    q.inner = ([g.key_expr() for _ in range(rng.randint(1, 2))],
               [("count(*)", "plain"), (g.sum_int4("sum(v)"), "plain")])
    q.keys = [rng.choice(["ia0", "ia1 % 3", "ia0 > 2"])]
    q.aggs = [("count(*)", "plain"), ("sum(ia0)", "plain"), ("max(ik0::text)", "plain")]
    return q


# ------------------------------------------------------------------------------------------
# Late rows


def micros(t):
    return (t - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(x):
    return EPOCH + dt.timedelta(microseconds=x)


def late_oracle(ds, spec, reaching):
    """Which rows of a file data set a window drops as late, by Flink's rule as the engine
    states it: the source's watermark is the largest event time read so far minus the delay,
    and it reaches the window before any row behind it (so row by row, in file order); a row is
    late only when every window it belongs to has been emitted (end <= watermark); for a
    session, its own window [t, t + gap) counts unless it joins a still-open session of its key
    (a row of it less than gap away). Sessions are simulated: per key, the open rows; when the
    watermark advances, the sessions (rows split where the gap is reached) whose end it reached
    are emitted and closed; the end of the file emits the rest.

    reaching: {id: key tuple} of the rows that reach the window (after WHERE, subqueries, views).
    Returns (late ids, {id: watermark the row met, None before any}, {id: (start, end)} of each
    non-late row's session), times in microseconds since the Unix epoch."""
    delay = ds.delay_ms * 1000
    kind = spec[0]
    late, wm_of, session_of, open_rows = set(), {}, {}, {}

    def fire(wm):
        gap = spec[1] * 1000000
        for rows in open_rows.values():
            rows.sort()
            i = 0
            while i < len(rows):
                j = i + 1
                while j < len(rows) and rows[j][0] < rows[j - 1][0] + gap:
                    j += 1
                end = rows[j - 1][0] + gap
                if wm is not None and end > wm:
                    break
                for _, rid in rows[i:j]:
                    session_of[rid] = (rows[i][0], end)
                i = j
            del rows[:i]

    max_t = wm_fired = None
    for r in ds.rows:
        t, rid = micros(r["ts"]), r["id"]
        wm = None if max_t is None else max_t - delay
        if kind == "session" and wm is not None and (wm_fired is None or wm > wm_fired):
            fire(wm)
            wm_fired = wm
        if rid in reaching:
            wm_of[rid] = wm
            is_late = False
            if wm is not None and t < wm:
                if kind == "tumble":
                    width = spec[1] * 1000000
                    is_late = t - t % width + width <= wm
                elif kind == "hop":
                    slide, width = spec[1] * 1000000, spec[2] * 1000000
                    is_late = t - t % slide + width <= wm
                else:
                    gap = spec[1] * 1000000
                    is_late = t + gap <= wm and not any(
                        t - gap < rt < t + gap for rt, _ in open_rows.get(reaching[rid], []))
            if is_late:
                late.add(rid)
            elif kind == "session":
                open_rows.setdefault(reaching[rid], []).append((t, rid))
        max_t = t if max_t is None else max(max_t, t)
    if kind == "session":
        fire(None)
    return late, wm_of, session_of


# ------------------------------------------------------------------------------------------
# Running


class Runner:
    def __init__(self, conninfo, data_dir, verbose=False):
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.conninfo = conninfo
        self.data_dir = data_dir
        self.verbose = verbose
        self.ns = 0
        self.conn.execute("CREATE EXTENSION IF NOT EXISTS arroyo_stream")
        self.conn.execute("SET client_min_messages = warning")
        self.conn.execute("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_foreign_server WHERE srvname = "
                          "'diff_files') THEN CREATE SERVER diff_files FOREIGN DATA WRAPPER "
                          "arroyo_stream OPTIONS (connector 'single_file'); END IF; END$$")
        self.dboid = self.conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()").fetchone()[0]
        self.wal_logical = self.conn.execute("SHOW wal_level").fetchone()[0] == "logical"
        self.counting = True  # off while shrinking
        self.stats = dict.fromkeys(["late_queries", "late_queries_with_late_rows", "late_rows",
                                    "flush_queries", "flush_rows_out", "flush_final_rows",
                                    "rescaled_pipelines"], 0)

    def reconnect(self):
        """Waits (up to 60 s) until the server accepts connections again."""
        deadline = time.time() + 60
        while True:
            try:
                self.conn.close()
                self.conn = psycopg.connect(self.conninfo, autocommit=True)
                self.conn.execute("SET client_min_messages = warning")
                # Drop what the interrupted round left (its pipelines would crash-loop).
                prefix = "d%d\\_%%" % os.getpid()
                for (name,) in self.sql("SELECT name FROM stream_pipelines WHERE name LIKE %s",
                                        (prefix,)).fetchall():
                    self.sql("SELECT stream_drop(%s)", (name,))
                for (nsp,) in self.sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                                       (prefix,)).fetchall():
                    self.sql("DROP SCHEMA %s CASCADE" % nsp)
                return
            except psycopg.OperationalError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    def sql(self, text, params=None):
        return self.conn.execute(text, params)

    def new_schema(self):
        self.ns += 1
        s = "d%d_%d" % (os.getpid(), self.ns)
        self.sql("CREATE SCHEMA %s" % s)
        # user-defined aggregates (per schema, so a dropped schema takes them along)
        self.sql("""
          CREATE FUNCTION {s}.diff_sq_acc(bigint, int) RETURNS bigint IMMUTABLE LANGUAGE sql
            AS 'SELECT $1 + coalesce($2, 0)::bigint * coalesce($2, 0)';
          CREATE AGGREGATE {s}.diff_sumsq(int) (sfunc = {s}.diff_sq_acc, stype = bigint, initcond = '0');
          CREATE AGGREGATE {s}.diff_first_max(int) (sfunc = int4larger, stype = int);
          CREATE FUNCTION {s}.diff_cl_acc(text, text) RETURNS text IMMUTABLE LANGUAGE sql
            AS 'SELECT $1 || coalesce(length($2)::text, ''-'')';
          CREATE FUNCTION {s}.diff_cl_fin(text) RETURNS int IMMUTABLE LANGUAGE sql
            AS 'SELECT length($1)';
          CREATE AGGREGATE {s}.diff_concat_len(text) (sfunc = {s}.diff_cl_acc, stype = text,
            initcond = '', finalfunc = {s}.diff_cl_fin);
        """.format(s=s))
        return s

    def drop_schema(self, s, pipelines):
        for p in pipelines:
            try:
                self.sql("SELECT stream_drop(%s)", (p,))
            except psycopg.Error:
                pass
        self.sql("DROP SCHEMA %s CASCADE" % s)

    def create_pipeline(self, name, text, i):
        """stream_create of query i of a round, at its parallelism (see PARALLELISM)."""
        workers = PARALLELISM[i % len(PARALLELISM)]
        if workers > 1:
            try:
                self.sql("SELECT stream_create(%s, %s)",
                         (name, "SET parallelism = %d; %s" % (workers, text)))
                return
            except psycopg.Error as e:
                if "runs as one worker" not in str(e):
                    raise
        self.sql("SELECT stream_create(%s, %s)", (name, text))

    def start_queries(self, s, rendered, results, pipelines, settings=""):
        """For the feature testers (joins.py, lookups.py, …): per (pipeline SELECT, batch SELECT,
        nkeys) in `rendered`, a target table s.tN shaped like the batch query's result (unique
        on its first column when nkeys) and a pipeline writing it, started. Queries whose batch
        form does not run, or that stream_create refuses, get their entry in `results`; each
        pipeline goes into `pipelines` (for cleanup); `settings` (SET lines) precede each
        pipeline's INSERT. Returns (i, name, target, pq, bq) per started pipeline."""
        started = []
        for i, (pq, bq, nkeys) in enumerate(rendered):
            tgt = "%s.t%d" % (s, i)
            try:
                self.sql("CREATE TABLE %s AS SELECT * FROM (%s) q WITH NO DATA" % (tgt, bq))
            except psycopg.Error as e:
                results[i] = ("generator", "batch query does not run: %s\n%s" % (e, bq))
                continue
            if nkeys:
                self.sql("ALTER TABLE %s ADD UNIQUE NULLS NOT DISTINCT (c0)" % tgt)
            name = "%s_q%d" % (s, i)
            try:
                self.create_pipeline(name, settings + "INSERT INTO %s %s" % (tgt, pq), i)
            except psycopg.Error as e:
                results[i] = ("refused", str(e).split("\n")[0] + "\n      " + pq)
                continue
            pipelines.append(name)
            started.append((i, name, tgt, pq, bq))
        for st in started:
            self.sql("SELECT stream_start(%s)", (st[1],))
        return started

    def finish_queries(self, started, results, stop):
        """Lets each started pipeline end (bounded sources) or, with `stop` (CDC sources, which
        never end: their changes are all read), stops it; compares its target with the batch
        query as a multiset into `results`. Returns the number of batch rows compared."""
        compared = 0
        for i, name, tgt, pq, bq in started:
            if stop:
                self.sql("SELECT stream_stop(%s)", (name,))
                state = self.sql("SELECT state FROM stream_pipelines WHERE name = %s",
                                 (name,)).fetchone()[0]
                state = "finished" if state == "stopped" else state
            else:
                state = self.sql("SELECT stream_wait(%s, '120 seconds')", (name,)).fetchone()[0]
            if state != "finished":
                err = self.sql("SELECT last_error FROM stream_pipelines WHERE name = %s",
                               (name,)).fetchone()[0]
                results[i] = ("error", "pipeline ended %s: %s\n      %s" % (state, err, pq))
                continue
            got = self.sql("SELECT * FROM %s" % tgt).fetchall()
            want = self.sql(bq).fetchall()
            compared += len(want)
            diff = compare([], want, got)
            results[i] = ("pass", None) if diff is None else ("fail", diff + "\n      " + pq)
        return compared

    def end_round(self, s, pipelines, results, extra_schemas=()):
        """Drops a round's pipelines and schemas, unless keep_failed and a query did not pass."""
        schemas = [s] + list(extra_schemas)
        if getattr(self, "keep_failed", False) and any(r and r[0] != "pass" for r in results):
            print("kept schema(s) %s" % ", ".join(schemas), file=sys.stderr)
            return
        self.drop_schema(s, pipelines)
        for x in extra_schemas:
            self.sql("DROP SCHEMA IF EXISTS %s CASCADE" % x)

    def load_batch_table(self, rel, rows):
        self.sql("CREATE TABLE %s (%s)" % (rel, COLUMNS_SQL))
        with self.conn.cursor() as cur:
            with cur.copy("COPY %s (%s) FROM STDIN" % (rel, ", ".join(COLS))) as cp:
                for r in rows:
                    cp.write_row([r[c] for c in COLS])

    def setup_sources(self, s, ds):
        """Creates the pipeline source s.src (and s.bsrc, the batch table) for the data set;
        for cdc, s.src is the regular table itself (with only the initial rows so far)."""
        if ds.kind == "file":
            path = os.path.join(self.data_dir, s + ".json")
            with open(path, "w") as f:
                for r in ds.rows:
                    f.write(json.dumps(json_row(r)) + "\n")
            os.chmod(path, 0o644)
            self.sql("CREATE FOREIGN TABLE %s.src (%s) SERVER diff_files OPTIONS (path '%s', "
                     "type 'source', event_time_field 'ts', watermark_delay '%d milliseconds')"
                     % (s, COLUMNS_SQL, path, ds.delay_ms))
            self.load_batch_table(s + ".bsrc", ds.rows)
            return s + ".src", s + ".bsrc"
        if ds.kind == "debezium":
            path = os.path.join(self.data_dir, s + ".dbz.json")
            with open(path, "w") as f:
                for r in ds.rows:
                    f.write(json.dumps({"before": None, "after": json_row(r), "op": "c"}) + "\n")
                for ops, committed in ds.txns:
                    for op, before, after in ops:
                        f.write(json.dumps({"before": before and json_row(before),
                                            "after": after and json_row(after), "op": op}) + "\n")
            os.chmod(path, 0o644)
            self.sql("CREATE FOREIGN TABLE %s.src (%s) SERVER diff_files OPTIONS (path '%s', "
                     "type 'source', format 'debezium_json', primary_key 'id')"
                     % (s, COLUMNS_SQL, path))
            self.load_batch_table(s + ".bsrc", ds.final_rows())
            return s + ".src", s + ".bsrc"
        # cdc
        self.load_batch_table(s + ".src", ds.rows)
        if ds.pk:
            self.sql("ALTER TABLE %s.src ADD PRIMARY KEY (id)" % s)
        else:
            self.sql("ALTER TABLE %s.src REPLICA IDENTITY FULL" % s)
        return s + ".src", s + ".src"

    def setup_late_oracle(self, ds, q, late_rel, bsrc, s, view_b):
        """Runs late_oracle for a window query over late data and stores its answer in
        late_rel (id, wm, ss, se) for the batch query. Returns (late ids, a description)."""
        keys = q.window_keys()
        fi = q.from_item(bsrc, s, True, view_b)
        reaching = {r[0]: tuple(r[1:]) for r in self.sql("SELECT id%s FROM %s%s" % (
            "".join(", " + k for k in keys), fi, (" WHERE " + q.where) if q.where else ""))}
        late, wm_of, session_of = late_oracle(ds, q.window[1], reaching)
        self.sql("CREATE TABLE %s (id int, wm timestamptz, ss timestamptz, se timestamptz)" % late_rel)
        with self.conn.cursor() as cur:
            with cur.copy("COPY %s (id, wm, ss, se) FROM STDIN" % late_rel) as cp:
                for rid, wm in wm_of.items():
                    ss, se = session_of.get(rid, (None, None))
                    cp.write_row([rid, None if wm is None else from_micros(wm),
                                  None if ss is None else from_micros(ss),
                                  None if se is None else from_micros(se)])
        behind = ["%d@%s" % (r["id"], fmt_ts(from_micros(wm_of[r["id"]]))) for r in ds.rows
                  if wm_of.get(r["id"]) is not None and micros(r["ts"]) < wm_of[r["id"]]]
        return late, ("oracle: late rows (ids) %s; rows behind the watermark they met "
                      "(id@watermark): %s" % (sorted(late) or "none", ", ".join(behind) or "none"))

    def apply_ops(self, rel, ops):
        """Runs a data set transaction's changes on table rel (in the open transaction)."""
        for op, before, after in ops:
            if op == "c":
                self.sql("INSERT INTO %s (%s) VALUES (%s)" % (rel, ", ".join(COLS), ", ".join(["%s"] * len(COLS))),
                         [after[c] for c in COLS])
            elif op == "u":
                self.sql("UPDATE %s SET %s WHERE id = %%s" % (rel, ", ".join(c + " = %s" for c in COLS[1:])),
                         [after[c] for c in COLS[1:]] + [before["id"]])
            else:
                self.sql("DELETE FROM %s WHERE id = %%s" % rel, (before["id"],))

    def run_cdc_workload(self, rel, ds, wait_names=None, rescale_names=None):
        """Applies the transactions; with wait_names (class flushes), waits three times, after
        a quarter, a half and three quarters of the committed ones, until those pipelines have
        read them (and, with a 1 ms flush interval, flushed them). Not after each: an idle CDC
        source looks for changes every 100 ms, so each wait costs about that much. With
        rescale_names, rescales those pipelines after half of them (see RESCALE)."""
        total = sum(1 for _, committed in ds.txns if committed)
        waits = {max(1, total * j // 4) for j in (1, 2, 3)} if total >= 4 else set()
        ncommitted = 0
        rescaled = not rescale_names
        for ops, committed in ds.txns:
            with self.conn.transaction(force_rollback=not committed):
                self.apply_ops(rel, ops)
            ncommitted += committed
            if wait_names and committed and ncommitted in waits:
                self.wait_cdc(wait_names, 0.002)
            if not rescaled and ncommitted * 2 >= total:
                self.rescale(rescale_names)
                rescaled = True
        if not rescaled:
            self.rescale(rescale_names)

    def rescale(self, names):
        """stream_rescale of each running pipeline to the next parallelism (1 -> 2 -> 3 -> 1);
        one that must run as one worker stays as it is."""
        for name in names:
            row = self.sql("SELECT parallelism FROM stream_pipelines WHERE name = %s AND "
                           "state = 'running'", (name,)).fetchone()
            if not row:
                continue
            try:
                self.sql("SELECT stream_rescale(%s, %s)", (name, row[0] % 3 + 1))
            except psycopg.Error as e:
                if "runs as one worker" not in str(e):
                    raise
            if self.counting:
                self.stats["rescaled_pipelines"] += 1

    def run_round(self, ds, queries):
        """Runs the queries over the data set. Returns per query: ('pass'|'refused'|'fail'|
        'error', detail)."""
        s = self.new_schema()
        results = [None] * len(queries)
        pipelines = []
        try:
            src, bsrc = self.setup_sources(s, ds)
            started = []
            for i, q in enumerate(queries):
                view_p = view_b = None
                if q.source == "view":
                    vdef = "SELECT id, k, g, v, b, n, f, flag, ts FROM %s WHERE coalesce(v, 0) <> 7"
                    self.sql("CREATE VIEW %s.pv%d AS %s" % (s, i, vdef % src))
                    view_p = "%s.pv%d" % (s, i)
                    if bsrc != src:
                        self.sql("CREATE VIEW %s.bv%d AS %s" % (s, i, vdef % bsrc))
                        view_b = "%s.bv%d" % (s, i)
                    else:
                        view_b = view_p
                pq = q.render(src, s, False, view_p)
                late_ids, oracle = set(), ""
                if ds.late and q.shape in ("window", "window_then_agg"):
                    late_rel = "%s.lw%d" % (s, i)
                    late_ids, oracle = self.setup_late_oracle(ds, q, late_rel, bsrc, s, view_b)
                    bq = q.copy(late_rel=late_rel).render(bsrc, s, True, view_b)
                else:
                    bq = q.render(bsrc, s, True, view_b)
                tgt = "%s.t%d" % (s, i)
                try:
                    self.sql("CREATE TABLE %s AS SELECT * FROM (%s) q WITH NO DATA" % (tgt, bq))
                except psycopg.Error as e:
                    results[i] = ("generator", "batch query does not run: %s\n%s" % (e, bq))
                    continue
                nk = q.key_count()
                if nk:
                    self.sql("ALTER TABLE %s ADD UNIQUE %s (%s)" % (
                        tgt, "NULLS NOT DISTINCT" if q.unique_nulls else "",
                        ", ".join("c%d" % j for j in range(nk))))
                name = "%s_q%d" % (s, i)
                try:
                    self.create_pipeline(name, q.settings() + "INSERT INTO %s %s" % (tgt, pq), i)
                except psycopg.Error as e:
                    results[i] = ("refused", str(e).split("\n")[0])
                    continue
                pipelines.append(name)
                started.append((i, name, tgt, pq, bq, late_ids, oracle))
            for i, name, tgt, pq, bq, _, _ in started:
                self.sql("SELECT stream_start(%s)", (name,))
            if ds.kind == "cdc":
                names = [st[1] for st in started]
                self.run_cdc_workload(src, ds, names if ds.flushes else None,
                                      names if RESCALE and len(ds.txns) % 2 == 0 else None)
                self.wait_cdc(names)
            for i, name, tgt, pq, bq, late_ids, oracle in started:
                if ds.kind == "cdc":  # a table never ends: stop it once it has read everything
                    self.sql("SELECT stream_stop(%s)", (name,))
                    state = self.sql("SELECT state FROM stream_pipelines WHERE name = %s", (name,)).fetchone()[0]
                    state = "finished" if state == "stopped" else state
                else:
                    state = self.sql("SELECT stream_wait(%s, '120 seconds')", (name,)).fetchone()[0]
                if state != "finished":
                    err = self.sql("SELECT last_error FROM stream_pipelines WHERE name = %s", (name,)).fetchone()[0]
                    results[i] = ("error", "pipeline ended %s: %s" % (state, err))
                    continue
                late, rows_out = self.sql("SELECT late_rows, rows_out FROM stream_pipelines WHERE name = %s",
                                          (name,)).fetchone()
                got = self.sql("SELECT * FROM %s" % tgt).fetchall()
                want = self.sql(bq).fetchall()
                diff = compare(queries[i].normalizers(), want, got)
                if late != len(late_ids):
                    diff = (diff + "\n      " if diff else "") + (
                        "late_rows = %d, expected %d%s" % (
                            late, len(late_ids), " (disorder fits in the delay)" if not ds.late else ""))
                if diff and oracle:
                    diff += "\n      " + oracle
                if self.counting and ds.late and queries[i].shape in ("window", "window_then_agg"):
                    self.stats["late_queries"] += 1
                    self.stats["late_queries_with_late_rows"] += bool(late_ids)
                    self.stats["late_rows"] += len(late_ids)
                if self.counting and queries[i].flush_ms:
                    self.stats["flush_queries"] += 1
                    self.stats["flush_rows_out"] += rows_out
                    self.stats["flush_final_rows"] += len(got)
                results[i] = ("pass", None) if diff is None else ("fail", diff)
                if self.verbose:
                    print("   ", results[i][0], pq, file=sys.stderr)
        finally:
            self.drop_schema(s, pipelines)
        return results, (s,)

    def wait_cdc(self, names, poll_s=0.05):
        """Waits until every CDC pipeline's slot has confirmed the current WAL position, i.e.
        read every transaction of the workload (stream_stop then flushes and commits)."""
        lsn = self.sql("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.time() + 120
        while time.time() < deadline:
            behind = self.sql(
                "SELECT count(*) FROM _arroyo_stream.pipelines p LEFT JOIN pg_replication_slots r "
                "ON r.slot_name = 'arroyo_' || %s || '_' || p.id "
                "WHERE p.name = ANY(%s) AND p.state = 'running' AND "
                "(r.confirmed_flush_lsn IS NULL OR r.confirmed_flush_lsn < %s::pg_lsn)",
                (self.dboid, names, lsn)).fetchone()[0]
            if behind == 0:
                return
            time.sleep(poll_s)


def norm_value(x, how):
    if x is None:
        return None
    if how == "float":
        return float(x)
    if how == "unordered_text":
        return ",".join(sorted(x.split(",")))
    if how == "unordered_array":
        return tuple(sorted(x, key=lambda v: (v is None, v)))
    if isinstance(x, list):
        return tuple(x)
    return x


def values_equal(a, b, how):
    if how == "float" and a is not None and b is not None:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
    return a == b


def compare(normalizers, want, got):
    """None if equal as multisets, else a description."""
    def norm(rows):
        out = []
        for r in rows:
            hows = normalizers + ["plain"] * (len(r) - len(normalizers))
            out.append(tuple(norm_value(x, h) for x, h in zip(r, hows)))
        return out
    w, g = norm(want), norm(got)
    hows = normalizers + ["plain"] * 100
    unmatched = list(g)
    missing = []
    for row in w:
        for j, cand in enumerate(unmatched):
            if all(values_equal(a, b, h) for a, b, h in zip(row, cand, hows)):
                del unmatched[j]
                break
        else:
            missing.append(row)
    if not missing and not unmatched:
        return None
    return ("%d rows expected, %d written\n      missing (batch has, pipeline lacks): %s\n"
            "      extra (pipeline wrote, batch lacks): %s" % (
                len(want), len(got), fmt_rows(missing), fmt_rows(unmatched)))


def fmt_rows(rows, limit=8):
    s = "; ".join(repr(tuple(str(x) if isinstance(x, (dt.datetime, decimal.Decimal)) or
                             type(x).__name__ == "Range" else x for x in r)) for r in rows[:limit])
    if len(rows) > limit:
        s += " … (%d more)" % (len(rows) - limit)
    return s or "none"


# ------------------------------------------------------------------------------------------
# Shrinking


def shrink(runner, ds, q, status, budget_s=90):
    deadline = time.time() + budget_s

    def fails(d, qq):
        if time.time() > deadline:
            return False
        try:
            r, _ = runner.run_round(d, [qq])
        except psycopg.OperationalError:
            runner.reconnect()
            return status == "crash"
        except Exception:
            return False
        return r[0][0] == status

    # 1. the query
    changed = True
    while changed and time.time() < deadline:
        changed = False
        for cand in query_simplifications(q):
            if fails(ds, cand):
                q, changed = cand, True
                break
    # 2. the rows (by id, with all their changes): ddmin-style chunks
    ids = ds.ids()
    chunk = max(1, len(ids) // 2)
    while chunk >= 1 and time.time() < deadline:
        i = 0
        progressed = False
        while i < len(ids) and time.time() < deadline:
            drop = set(ids[i:i + chunk])
            cand = ds.without_ids(drop)
            if fails(cand, q):
                ds, ids, progressed = cand, [x for x in ids if x not in drop], True
            else:
                i += chunk
        if not progressed:
            if chunk == 1:
                break
            chunk //= 2
    # 3. the query again, over the smaller data
    changed = True
    while changed and time.time() < deadline:
        changed = False
        for cand in query_simplifications(q):
            if fails(ds, cand):
                q, changed = cand, True
                break
    return ds, q


def query_simplifications(q):
    if q.source != "direct":
        yield q.copy(source="direct")
    if q.where:
        yield q.copy(where=None)
    if q.having:
        yield q.copy(having=None)
    if q.shape == "window_then_agg":
        yield q.copy(shape="window", keys=q.inner[0], aggs=q.inner[1], inner=None, having=None)
    if q.shape == "agg_of_agg":
        yield q.copy(shape="updating", keys=q.inner[0], aggs=q.inner[1], inner=None, having=None)
    if len(q.aggs) > 1:
        for i in range(len(q.aggs)):
            yield q.copy(aggs=q.aggs[:i] + q.aggs[i + 1:])
    if q.shape in ("window", "updating") and q.keys:
        for i in range(len(q.keys)):
            if q.shape == "updating" and len(q.keys) == 1:
                continue
            yield q.copy(keys=q.keys[:i] + q.keys[i + 1:])
    for i, (a, n) in enumerate(q.aggs):
        if " FILTER " in a:
            yield q.copy(aggs=q.aggs[:i] + [(a.split(" FILTER ")[0], n)] + q.aggs[i + 1:])
    if q.shape == "stateless" and len(q.exprs) > 1:
        for i in range(len(q.exprs)):
            yield q.copy(exprs=q.exprs[:i] + q.exprs[i + 1:])


# ------------------------------------------------------------------------------------------
# Shared by the feature testers (joins.py, lookups.py, set_returning.py, …)


def tester_args(rounds=12):
    """The feature testers' command line: --conninfo, --data-dir, --seed, --rounds, --queries,
    --keep-failed. Returns (args, seed)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--conninfo", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--queries", type=int, default=8)
    ap.add_argument("--keep-failed", action="store_true", help="leave a failing round's schemas")
    args = ap.parse_args()
    return args, (args.seed if args.seed is not None else random.randrange(1 << 30))


class Tally:
    """A feature tester's counts: per status, per query shape, refusal messages; prints the
    failures as they come and a summary at the end."""

    def __init__(self, name, seed, failing=("fail", "error", "generator")):
        self.name, self.seed, self.failing = name, seed, failing
        self.counts = {"pass": 0, "refused": 0, "fail": 0, "error": 0, "generator": 0}
        self.refusals, self.by_shape = {}, {}
        self.failures = 0
        self.started = time.time()

    def add(self, desc, status, detail, context):
        """Counts one query's result; a failing one is printed with `context` (a function
        returning the round's description)."""
        self.counts[status] += 1
        key = desc + " " + status
        self.by_shape[key] = self.by_shape.get(key, 0) + 1
        if status == "refused":
            first = detail.split("\n")[0]
            self.refusals[first] = self.refusals.get(first, 0) + 1
        if status in self.failing:
            self.failures += 1
            print("FAIL seed %d %s: %s\n      %s" % (self.seed, context(), status, detail),
                  file=sys.stderr)

    def finish(self, rounds, extra_lines=()):
        """Prints the summary and exits 1 if any query failed."""
        print("%s: seed %d, %d rounds in %.0f s: %s" % (
            self.name, self.seed, rounds, time.time() - self.started,
            ", ".join("%s %d" % kv for kv in self.counts.items())))
        print("  by shape: " + ", ".join("%s %d" % kv for kv in sorted(self.by_shape.items())))
        for line in extra_lines:
            print("  " + line)
        for msg, n in sorted(self.refusals.items(), key=lambda kv: -kv[1]):
            print("  refused %dx: %s" % (n, msg))
        sys.exit(1 if self.failures else 0)


# ------------------------------------------------------------------------------------------
# Main


def classify_refusal(msg):
    m = msg.lower()
    for needle, name in [("order by inside an aggregate", "ORDER BY inside an aggregate"),
                         ("within group", "ordered-set aggregate"),
                         ("distinct in an aggregate over an updating", "DISTINCT over an updating input"),
                         ("time window over an updating", "window over an updating input"),
                         ("more than one regular table", "several regular tables"),
                         ("months or years", "months/years width")]:
        if needle in m:
            return name
    m2 = re.sub(r'"[^"]*"', '"…"', msg)
    m2 = re.sub(r"\b\d+\b", "N", m2)
    return m2[:100]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conninfo", required=False)
    ap.add_argument("--data-dir")
    ap.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    ap.add_argument("--rounds", type=int, default=10, help="data sets per seed")
    ap.add_argument("--queries", type=int, default=8, help="pipelines per data set (run at once)")
    ap.add_argument("--seeds", type=int, default=1, help="run this many seeds (seed, seed+1, …)")
    ap.add_argument("--time-budget", type=float, default=0, help="stop starting rounds after S seconds")
    ap.add_argument("--exclude", default="", help="comma-separated feature classes to leave out")
    ap.add_argument("--only", default="", help="comma-separated feature classes to keep (all others out)")
    ap.add_argument("--round", type=int, default=None, help="run only this round of the seed")
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--shrink-budget", type=float, default=120)
    ap.add_argument("--list-classes", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    if a.list_classes:
        for k, v in CLASSES.items():
            print("%-16s %s" % (k, v))
        return 0
    if not a.conninfo or not a.data_dir:
        ap.error("--conninfo and --data-dir are required")
    enabled = set(CLASSES)
    for part in (a.exclude or os.environ.get("ARROYO_DIFF_EXCLUDE", "")).split(","):
        part = part.strip()
        if part:
            if part not in CLASSES:
                ap.error("unknown feature class %r (see --list-classes)" % part)
            enabled.discard(part)
    if a.only:
        keep = {p.strip() for p in a.only.split(",") if p.strip()}
        bad = keep - set(CLASSES)
        if bad:
            ap.error("unknown feature class %r" % sorted(bad))
        enabled &= keep
    seed0 = a.seed if a.seed is not None else random.SystemRandom().randrange(1, 10**9)
    print("differential: seed %d, %d seed(s), %d rounds x %d queries; excluded: %s" % (
        seed0, a.seeds, a.rounds, a.queries, ",".join(sorted(set(CLASSES) - enabled)) or "none"),
        flush=True)
    runner = Runner(a.conninfo, a.data_dir, a.verbose)
    kinds = ["file"] * 4
    if "debezium" in enabled:
        kinds.append("debezium")
    if "cdc" in enabled and runner.wal_logical:
        kinds.append("cdc")
    stats = {"run": 0, "passed": 0, "refused": 0, "failed": 0, "errors": 0}
    per_kind = {}
    refusals = {}
    failures = []
    start = time.time()
    stop = False
    for seed in range(seed0, seed0 + a.seeds):
        for rnd in range(a.rounds):
            if a.time_budget and time.time() - start > a.time_budget:
                stop = True
                break
            rng = random.Random("%d/%d" % (seed, rnd))
            if a.round is not None and rnd != a.round:
                continue
            kind = rng.choice(kinds)
            ds = gen_dataset(rng, kind, enabled)
            queries, used = [], []
            for _ in range(a.queries):
                g = Gen(rng, enabled)
                q = gen_query(g, kind, not ds.final_rows(), ds)
                if q is not None:
                    q.unique_nulls = rng.random() < 0.5
                    queries.append(q)
                    used.append(g.used)
            if not queries:
                continue
            try:
                t0 = time.time()
                results, _ = runner.run_round(ds, queries)
                label = kind + (" late" if ds.late else "") + (" flushes" if ds.flushes else "")
                pk = per_kind.setdefault(label, {"run": 0, "pass": 0, "rounds": 0, "s": 0.0})
                pk["rounds"] += 1
                pk["s"] += time.time() - t0
            except psycopg.OperationalError:
                # The server went away (a backend crashed): find the queries that crash it.
                print("round %d/%d (%s): the server crashed; running its queries one by one" % (
                    seed, rnd, kind), flush=True)
                runner.reconnect()
                results = []
                for q in queries:
                    try:
                        results.append(runner.run_round(ds, [q])[0][0])
                    except psycopg.OperationalError:
                        runner.reconnect()
                        results.append(("crash", "the server crashed (a backend died; see its log)"))
            except Exception:
                print("round %d/%d (%s): tester error\n%s" % (seed, rnd, kind, traceback.format_exc()))
                stats["errors"] += 1
                failures.append((seed, rnd, None))
                runner.reconnect()
                continue
            for q, used_cls, (status, detail) in zip(queries, used, results):
                if status is None:
                    continue
                stats["run"] += 1
                label = kind + (" late" if ds.late else "") + (" flushes" if ds.flushes else "")
                pk = per_kind.setdefault(label, {"run": 0, "pass": 0, "rounds": 0, "s": 0.0})
                pk["run"] += 1
                pk["pass"] += status == "pass"
                if status == "pass":
                    stats["passed"] += 1
                elif status == "refused":
                    stats["refused"] += 1
                    c = classify_refusal(detail)
                    refusals[c] = refusals.get(c, 0) + 1
                elif status == "generator":
                    stats["errors"] += 1
                    print("GENERATOR BUG (seed %d round %d): %s" % (seed, rnd, detail))
                    failures.append((seed, rnd, q))
                else:
                    stats["failed"] += 1
                    failures.append((seed, rnd, q))
                    report_failure(runner, a, seed, rnd, kind, ds, q, used_cls, status, detail)
        if stop:
            break
    el = time.time() - start
    print("differential summary: %d queries run, %d passed, %d refused, %d failed (wrong result "
          "or pipeline error), %d tester errors, %.0f s" % (
              stats["run"], stats["passed"], stats["refused"], stats["failed"], stats["errors"], el))
    for k, v in sorted(per_kind.items()):
        print("  %-17s %4d queries, %4d passed (%d rounds, %.0f s)" % (
            k + " source:", v["run"], v["pass"], v["rounds"], v["s"]))
    rs = runner.stats
    if "late" in enabled:
        print("  late:    %d window queries over late data (those that ran), %d with late rows, "
              "%d late rows in all" % (rs["late_queries"], rs["late_queries_with_late_rows"],
                                       rs["late_rows"]))
    if "flushes" in enabled:
        print("  flushes: %d queries with a 1 ms flush interval over CDC (those that ran): %d rows "
              "written for %d final rows" % (rs["flush_queries"], rs["flush_rows_out"],
                                             rs["flush_final_rows"]))
    if RESCALE and "cdc" in per_kind:
        print("  rescaled: %d running pipelines over CDC, halfway through their workload"
              % rs["rescaled_pipelines"])
    for c, n in sorted(refusals.items(), key=lambda x: -x[1]):
        print("  refused %4d  %s" % (n, c))
    if failures:
        print("FAILED: seeds with failures: %s" % sorted({f[0] for f in failures}))
        return 1
    return 0


def report_failure(runner, a, seed, rnd, kind, ds, q, used_cls, status, detail):
    print("=" * 100)
    print("FAILURE (%s) seed %d round %d, %s source, classes: %s" % (
        status, seed, rnd, kind, ",".join(sorted(used_cls))))
    print("  query: " + q.settings() + q.text())
    print("  " + detail)
    if a.no_shrink:
        return
    runner.counting = False
    sds, sq = shrink(runner, ds, q, status, a.shrink_budget)
    try:
        res, _ = runner.run_round(sds, [sq])
    except psycopg.OperationalError:
        runner.reconnect()
        res = [("crash", "the server crashed (a backend died; see its log)")]
    print("  shrunk (%d rows, %d transactions; still %s):" % (len(sds.rows), len(sds.txns), res[0][0]))
    print("    pipeline: " + sq.settings() + "INSERT INTO t " + sq.render("src", "s", False, "v"))
    late_q = sds.late and sq.shape in ("window", "window_then_agg")
    print("    batch:    " + sq.copy(late_rel="lw" if late_q else None).render("src", "s", True, "v"))
    if late_q:
        print("      (lw: the oracle's watermark met by each row (wm) / its session (ss, se))")
    if sds.kind == "file":
        print("    source: single_file, event_time_field ts, watermark_delay %d ms; rows in file order:" % sds.delay_ms)
    elif sds.kind == "debezium":
        print("    source: debezium_json, primary_key id; initial inserts then transactions:")
    else:
        print("    source: regular table (CDC, %s); snapshot rows then transactions:" % (
            "primary key" if sds.pk else "REPLICA IDENTITY FULL"))
    print(sds.describe())
    print("    " + (res[0][1] or "").replace("\n", "\n    "))
    sys.stdout.flush()
    runner.counting = True


if __name__ == "__main__":
    sys.exit(main())
