#!/usr/bin/env python3
"""Differential test: several hundred generated queries (filters, group-bys, aggregates, ORDER BY/LIMIT,
CASE, dates) on the same generated data in factdb and in SQLite (Debian's libsqlite3 through Python's
sqlite3 module); results must agree.

Dialect differences are handled when writing each query for each engine, never by loosening the
comparison: booleans are 0/1 in SQLite; dates are ISO text there (so DATE 'x' becomes 'x' and
date_trunc('month', d)::date becomes date(d, 'start of month')); avg() is a double in SQLite and an exact
numeric in factdb, so averages compare to 12 significant digits, as do sums of doubles (whose order of
addition differs). Everything else compares exactly, row by row, in the order ORDER BY fixes."""
import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("FACTDB_BUILD", os.path.join(HERE, "..", "build"))
FACTDB = os.path.join(BUILD, "factdb")
ROWS = int(os.environ.get("FACTDB_DIFF_ROWS", "20000"))
QUERIES = int(os.environ.get("FACTDB_DIFF_QUERIES", "400"))

K1 = ["north", "south", "east", "west", "centre", "isole", "città", "zürich"]
K2 = ["p%02d" % i for i in range(50)]


def gen_rows(rnd):
    rows = []
    for i in range(ROWS):
        a = None if rnd.random() < 0.05 else rnd.randint(-1000, 1000)
        b = rnd.randint(-10**12, 10**12)
        c = None if rnd.random() < 0.05 else round(rnd.uniform(-500, 500), 2)
        day = rnd.randint(0, 730)
        y, m, d = 2023, 1, 1
        import datetime
        dt = datetime.date(2023, 1, 1) + datetime.timedelta(days=day)
        k2 = None if rnd.random() < 0.03 else rnd.choice(K2)
        rows.append((i, rnd.choice(K1), k2, a, b, c, dt.isoformat(), rnd.random() < 0.4))
    return rows


def pred(rnd):
    kinds = [
        lambda: ("a > %d" % rnd.randint(-1000, 1000),) * 2,
        lambda: ("a <= %d" % rnd.randint(-1000, 1000),) * 2,
        lambda: ("c < %s" % round(rnd.uniform(-500, 500), 2),) * 2,
        lambda: ("b >= %d" % rnd.randint(-10**12, 10**12),) * 2,
        lambda: ("k1 = '%s'" % rnd.choice(K1),) * 2,
        lambda: ("k1 <> '%s'" % rnd.choice(K1),) * 2,
        lambda: ("k2 IN ('%s', '%s', '%s')" % tuple(rnd.choice(K2) for _ in range(3)),) * 2,
        lambda: ("a BETWEEN %d AND %d" % tuple(sorted((rnd.randint(-1000, 1000), rnd.randint(-1000, 1000)))),) * 2,
        lambda: ("a IS NULL",) * 2,
        lambda: ("c IS NOT NULL",) * 2,
        lambda: ("k2 LIKE 'p1%'",) * 2,
        lambda: ("NOT flag", "NOT flag"),
        lambda: ("flag", "flag"),
        lambda: (lambda dt: ("d >= DATE '%s'" % dt, "d >= '%s'" % dt))("2023-%02d-%02d" % (rnd.randint(1, 12), rnd.randint(1, 28))),
        lambda: (lambda dt: ("d < DATE '%s'" % dt, "d < '%s'" % dt))("2024-%02d-%02d" % (rnd.randint(1, 12), rnd.randint(1, 28))),
        lambda: ("a %% 7 = %d" % rnd.randint(-6, 6),) * 2,
        lambda: ("a / 10 > %d" % rnd.randint(-100, 100),) * 2,
        lambda: ("a * 2 + 1 < %d" % rnd.randint(-2000, 2000),) * 2,
        lambda: ("coalesce(a, 0) > 0",) * 2,
        lambda: ("abs(a) < %d" % rnd.randint(0, 1000),) * 2,
    ]
    p = rnd.choice(kinds)()
    r = rnd.random()
    if r < 0.25:
        q = pred(rnd) if rnd.random() < 0.3 else rnd.choice(kinds)()
        return ("(%s AND %s)" % (p[0], q[0]), "(%s AND %s)" % (p[1], q[1]))
    if r < 0.4:
        q = rnd.choice(kinds)()
        return ("(%s OR %s)" % (p[0], q[0]), "(%s OR %s)" % (p[1], q[1]))
    if r < 0.45:
        return ("NOT (%s)" % p[0], "NOT (%s)" % p[1])
    return p


AGGS = [
    ("count(*)", "count(*)", "exact"),
    ("count(a)", "count(a)", "exact"),
    ("count(c)", "count(c)", "exact"),
    ("sum(a)", "sum(a)", "exact"),
    ("sum(b)", "sum(b)", "exact"),
    ("min(a)", "min(a)", "exact"),
    ("max(b)", "max(b)", "exact"),
    ("min(c)", "min(c)", "exact"),
    ("max(k2)", "max(k2)", "exact"),
    ("min(d)", "min(d)", "exact"),
    ("avg(a)", "avg(a)", "approx"),
    ("sum(c)", "sum(c)", "approx"),
    ("avg(c)", "avg(c)", "approx"),
    ("count(DISTINCT k2)", "count(DISTINCT k2)", "exact"),
    ("sum(a) FILTER (WHERE flag)", "sum(a) FILTER (WHERE flag)", "exact"),
    ("sum(CASE WHEN a > 0 THEN 1 ELSE 0 END)", "sum(CASE WHEN a > 0 THEN 1 ELSE 0 END)", "exact"),
]

EXPRS = [
    ("a + 1", "a + 1"),
    ("a * 3 - 7", "a * 3 - 7"),
    ("a / 7", "a / 7"),
    ("a % 7", "a % 7"),
    ("b - a", "b - a"),
    ("coalesce(a, -1)", "coalesce(a, -1)"),
    ("CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' ELSE 'zero' END", "CASE WHEN a > 0 THEN 'pos' WHEN a < 0 THEN 'neg' ELSE 'zero' END"),
    ("upper(k1)", "pg_upper(k1)"),
    ("k1 || '-' || k2", "k1 || '-' || k2"),
    ("length(k2)", "length(k2)"),
    ("abs(a)", "abs(a)"),
    ("nullif(a, 0)", "nullif(a, 0)"),
    ("d + 30", "date(d, '+30 days')"),
    ("c", "c"),
    ("substr(k2, 2, 1)", "substr(k2, 2, 1)"),
]

KEYS = [
    ("k1", "k1"),
    ("k2", "k2"),
    ("flag", "flag"),
    ("a % 5", "a % 5"),
    ("date_trunc('month', d)::date", "date(d, 'start of month')"),
    ("extract(year FROM d)", "CAST(strftime('%Y', d) AS INTEGER)"),
    ("CASE WHEN c > 0 THEN 'up' ELSE 'down' END", "CASE WHEN c > 0 THEN 'up' ELSE 'down' END"),
    ("id / 3", "id / 3"),             # many groups: large tables switch grouping to owned mode
    ("b % 50000", "b % 50000"),
]


def gen_query(rnd):
    """Returns (factdb sql, sqlite sql, per-column comparison kinds)."""
    kind = rnd.randrange(4)
    pf, ps = pred(rnd) if rnd.random() < 0.85 else ("true", "1")
    if kind == 0:
        aggs = rnd.sample(AGGS, rnd.randint(1, 4))
        return ("SELECT %s FROM t WHERE %s" % (", ".join(a[0] for a in aggs), pf),
                "SELECT %s FROM t WHERE %s" % (", ".join(a[1] for a in aggs), ps), [a[2] for a in aggs])
    if kind == 1:
        nk = 1 if rnd.random() < 0.7 else 2
        keys = rnd.sample(KEYS, nk)
        aggs = rnd.sample(AGGS, rnd.randint(1, 3))
        kf = ", ".join(k[0] for k in keys)
        ks = ", ".join(k[1] for k in keys)
        ords = ", ".join("%d NULLS FIRST" % (i + 1) for i in range(nk))
        lim = " LIMIT %d" % rnd.randint(1, 20) if rnd.random() < 0.3 else ""
        return ("SELECT %s, %s FROM t WHERE %s GROUP BY %s ORDER BY %s%s" % (kf, ", ".join(a[0] for a in aggs), pf, kf, ords, lim),
                "SELECT %s, %s FROM t WHERE %s GROUP BY %s ORDER BY %s%s" % (ks, ", ".join(a[1] for a in aggs), ps, ks, ords, lim),
                ["exact"] * nk + [a[2] for a in aggs])
    if kind == 2:
        exprs = rnd.sample(EXPRS, rnd.randint(1, 3))
        lim = rnd.randint(1, 50)
        off = rnd.randint(0, 20) if rnd.random() < 0.3 else 0
        desc = " DESC" if rnd.random() < 0.5 else ""
        return ("SELECT id, %s FROM t WHERE %s ORDER BY id%s LIMIT %d OFFSET %d" % (", ".join(e[0] for e in exprs), pf, desc, lim, off),
                "SELECT id, %s FROM t WHERE %s ORDER BY id%s LIMIT %d OFFSET %d" % (", ".join(e[1] for e in exprs), ps, desc, lim, off),
                ["exact"] * (1 + len(exprs)))
    # top-N by an aggregate over a high-cardinality key
    agg = rnd.choice([a for a in AGGS if a[2] == "exact" and "DISTINCT" not in a[0]])
    return ("SELECT a, %s AS v FROM t WHERE %s GROUP BY a ORDER BY v DESC NULLS LAST, a NULLS FIRST LIMIT 10" % (agg[0], pf),
            "SELECT a, %s AS v FROM t WHERE %s GROUP BY a ORDER BY v DESC NULLS LAST, a NULLS FIRST LIMIT 10" % (agg[1], ps),
            ["exact", "exact"])


class Approx(float):
    """A double whose last bits depend on the order of addition (sums and averages of doubles, averages
    as exact numerics): equal within 1e-9 relative, or 1e-6 absolute for sums that cancel to near 0."""

    def __eq__(self, other):
        if other is None:
            return False
        a, b = float(self), float(other)
        return abs(a - b) <= max(1e-9 * max(abs(a), abs(b)), 1e-6)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = float.__hash__


def norm(v, kind):
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        if kind == "approx":
            return Approx(float(v))
        if isinstance(v, float) and v == int(v) and abs(v) < 2**53:
            return int(v)
        return v
    if isinstance(v, str):
        if v == "true":
            return 1
        if v == "false":
            return 0
        try:
            f = float(v)
        except ValueError:
            return v
        if kind == "approx":
            return Approx(f)
        if f == int(f) and "e" not in v.lower() and abs(f) < 2**53:
            return int(f)
        return f
    return v


def make_db(tmp, rows):
    """factdb's table t in DIR/d.factdb, loaded from a CSV of the generated rows; returns the path."""
    db = os.path.join(tmp, "d.factdb")
    path = os.path.join(tmp, "t.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "k1", "k2", "a", "b", "c", "d", "flag"])
        for r in rows:
            w.writerow(["" if x is None else ("true" if x is True else "false" if x is False else x) for x in r])
    ddl = ("CREATE TABLE t (id integer NOT NULL, k1 text, k2 text, a integer, b bigint, c double precision, "
           "d date, flag boolean)")
    subprocess.run([FACTDB, "sql", db, ddl], check=True)
    subprocess.run([FACTDB, "load", db, "t", path], check=True, capture_output=True)
    return db


def main():
    rnd = random.Random(int(os.environ.get("FACTDB_DIFF_SEED", "20261126")))
    rows = gen_rows(rnd)
    queries = [gen_query(rnd) for _ in range(QUERIES)]
    with tempfile.TemporaryDirectory() as tmp:
        db = make_db(tmp, rows)
        lite = sqlite3.connect(":memory:")
        # SQLite's upper() maps ASCII only; PostgreSQL in a UTF-8 locale (and factdb) map accented letters too
        lite.create_function("pg_upper", 1, lambda s: None if s is None else s.upper(), deterministic=True)
        lite.execute("CREATE TABLE t (id INTEGER, k1 TEXT, k2 TEXT, a INTEGER, b INTEGER, c REAL, d TEXT, flag INTEGER)")
        lite.executemany("INSERT INTO t VALUES (?,?,?,?,?,?,?,?)",
                         [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], int(r[7])) for r in rows])
        script = ";\n".join(q[0] for q in queries) + ";\n"
        p = subprocess.run([FACTDB, "sql", "--format", "json", db], input=script, capture_output=True, text=True)
        if p.returncode != 0:
            print("factdb failed:\n" + p.stderr)
            return 1
        docs = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        if len(docs) != len(queries):
            print("expected %d results, got %d" % (len(queries), len(docs)))
            return 1
        failures = 0
        for (fq, sq, kinds), doc in zip(queries, docs):
            want = [[norm(v, kinds[i]) for i, v in enumerate(r)] for r in lite.execute(sq).fetchall()]
            got = [[norm(v, kinds[i]) for i, v in enumerate(r)] for r in doc["rows"]]
            if want != got:
                failures += 1
                if failures <= 10:
                    print("MISMATCH\n  factdb: %s\n  sqlite: %s\n  factdb rows: %s\n  sqlite rows: %s" %
                          (fq, sq, got[:5], want[:5]))
        print("differential: %d queries on %d rows, %d mismatches" % (len(queries), ROWS, failures))
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
