#!/usr/bin/env python3
"""Differential test of window functions (issue 13): generated window queries over differential.py's data,
in factdb and in SQLite (Python's sqlite3 module has window functions); results must agree.

Functions whose value depends on the order among peers (row_number, ntile, lag, lead, first/last/nth_value,
ROWS frames) only get orders that end in the unique id, so both engines have one right answer; ranks and
RANGE frames (with offsets over the integer column a) and GROUPS frames also get orders with ties; any frame
may EXCLUDE the current row, its group or its ties. NULL placement is always written out (SQLite puts NULLs first
ascending, PostgreSQL last). Averages, percent_rank, cume_dist and sums of doubles compare as
differential.Approx; everything else exactly."""
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import differential as D  # noqa: E402

QUERIES = int(os.environ.get("FACTDB_WDIFF_QUERIES", "300"))
UNIQUE = ["id", "a NULLS FIRST, id", "d DESC, id DESC", "c DESC NULLS LAST, id", "k1 NULLS LAST, a DESC NULLS FIRST, id"]
TIES = ["a NULLS FIRST", "a DESC NULLS LAST", "k1 NULLS LAST", "d DESC", "flag, k2 NULLS FIRST"]
PARTS = ["", "k1", "k2", "flag", "k1, flag"]
# (factdb, sqlite, kind, needs a unique order, takes a frame)
FUNCS = [
    ("row_number()", "row_number()", "exact", True, False),
    ("rank()", "rank()", "exact", False, False),
    ("dense_rank()", "dense_rank()", "exact", False, False),
    ("percent_rank()", "percent_rank()", "approx", False, False),
    ("cume_dist()", "cume_dist()", "approx", False, False),
    ("ntile(7)", "ntile(7)", "exact", True, False),
    ("lag(a)", "lag(a)", "exact", True, False),
    ("lag(a, 3, 0)", "lag(a, 3, 0)", "exact", True, False),
    ("lead(k2, 2)", "lead(k2, 2)", "exact", True, False),
    ("lead(c)", "lead(c)", "approx", True, False),
    ("first_value(a)", "first_value(a)", "exact", True, True),
    ("last_value(k1)", "last_value(k1)", "exact", True, True),
    ("nth_value(a, 3)", "nth_value(a, 3)", "exact", True, True),
    ("count(*)", "count(*)", "exact", False, True),
    ("count(a)", "count(a)", "exact", False, True),
    ("sum(a)", "sum(a)", "exact", False, True),
    ("sum(b)", "sum(b)", "exact", False, True),
    ("sum(c)", "sum(c)", "approx", False, True),
    ("avg(a)", "avg(a)", "approx", False, True),
    ("min(k2)", "min(k2)", "exact", False, True),
    ("max(a)", "max(a)", "exact", False, True),
    ("min(c)", "min(c)", "approx", False, True),
]
BOUNDS = ["UNBOUNDED PRECEDING", "%d PRECEDING", "CURRENT ROW", "%d FOLLOWING", "UNBOUNDED FOLLOWING"]


def range_offsets(rnd, kind="RANGE", most=300):
    while True:  # the same rules as ROWS, over the values of the one numeric key
        s, e = rnd.randrange(4), rnd.randrange(1, 5)
        if not (s == 2 and e == 1) and not (s == 3 and e < 3):
            break
    fmt = lambda i: BOUNDS[i] % rnd.randint(0, most) if "%" in BOUNDS[i] else BOUNDS[i]
    return "%s BETWEEN %s AND %s" % (kind, fmt(s), fmt(e))


def frame(rnd, unique, order=""):
    if order in ("a NULLS FIRST", "a DESC NULLS LAST") and rnd.random() < 0.6:
        return range_offsets(rnd)
    if not unique and rnd.random() < 0.3:  # GROUPS: offsets count peer groups
        return range_offsets(rnd, "GROUPS", 4)
    if not unique:  # RANGE frames are defined by peers, so ties are fine
        return rnd.choice(["", "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
                           "RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING",
                           "RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"])
    while True:  # start: not UNBOUNDED FOLLOWING; end: not UNBOUNDED PRECEDING; no end before a CURRENT / FOLLOWING start
        s, e = rnd.randrange(4), rnd.randrange(1, 5)
        if not (s == 2 and e == 1) and not (s == 3 and e < 3):
            break
    fmt = lambda i: BOUNDS[i] % rnd.randint(0, 4) if "%" in BOUNDS[i] else BOUNDS[i]
    return "ROWS BETWEEN %s AND %s" % (fmt(s), fmt(e))


def gen_query(rnd):
    f = rnd.choice(FUNCS)
    part = rnd.choice(PARTS)
    unique = f[3] or (f[4] and rnd.random() < 0.5)
    order = rnd.choice(UNIQUE if unique else TIES + [""] * (0 if f[0].endswith("rank()") or "dist" in f[0] else 1))
    fr = frame(rnd, unique, order) if f[4] and order else ""
    if fr.startswith("ROWS") and not order:
        fr = ""
    if fr and rnd.random() < 0.3:  # the excluded rows are peers or the current row: the answer stays unique
        fr += " EXCLUDE " + rnd.choice(["CURRENT ROW", "GROUP", "TIES", "NO OTHERS"])
    spec = " ".join(x for x in ["PARTITION BY " + part if part else "", "ORDER BY " + order if order else "", fr] if x)
    where = ""
    if rnd.random() < 0.5:
        pf, ps = D.pred(rnd)
        where = " WHERE " + pf, " WHERE " + ps
    else:
        where = ("", "")
    fq = "SELECT id, %s OVER (%s) AS v FROM t%s ORDER BY id" % (f[0], spec, where[0])
    sq = "SELECT id, %s OVER (%s) AS v FROM t%s ORDER BY id" % (f[1], spec, where[1])
    return fq, sq, ["exact", f[2]]


def main():
    rnd = random.Random(int(os.environ.get("FACTDB_DIFF_SEED", "20261130")))
    D.ROWS = int(os.environ.get("FACTDB_DIFF_ROWS", "3000"))
    rows = D.gen_rows(rnd)
    queries = [gen_query(rnd) for _ in range(QUERIES)]
    with tempfile.TemporaryDirectory() as tmp:
        db = D.make_db(tmp, rows)
        lite = sqlite3.connect(":memory:")
        lite.execute("CREATE TABLE t (id INTEGER, k1 TEXT, k2 TEXT, a INTEGER, b INTEGER, c REAL, d TEXT, flag INTEGER)")
        lite.executemany("INSERT INTO t VALUES (?,?,?,?,?,?,?,?)",
                         [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], int(r[7])) for r in rows])
        script = ";\n".join(q[0] for q in queries) + ";\n"
        p = subprocess.run([D.FACTDB, "sql", "--format", "json", db], input=script, capture_output=True, text=True)
        if p.returncode != 0:
            print("factdb failed:\n" + p.stderr)
            return 1
        docs = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        if len(docs) != len(queries):
            print("expected %d results, got %d" % (len(queries), len(docs)))
            return 1
        failures = 0
        for (fq, sq, kinds), doc in zip(queries, docs):
            want = [[D.norm(v, kinds[i]) for i, v in enumerate(r)] for r in lite.execute(sq).fetchall()]
            got = [[D.norm(v, kinds[i]) for i, v in enumerate(r)] for r in doc["rows"]]
            if want != got:
                failures += 1
                if failures <= 10:
                    bad = next(i for i in range(min(len(want), len(got)) + 1) if i >= len(want) or i >= len(got) or want[i] != got[i])
                    print("MISMATCH\n  factdb: %s\n  sqlite: %s\n  first difference at row %d: factdb %s, sqlite %s" %
                          (fq, sq, bad, got[bad:bad + 2], want[bad:bad + 2]))
        print("window differential: %d queries on %d rows, %d mismatches" % (len(queries), D.ROWS, failures))
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
