#!/usr/bin/python3
"""make bench-python (part of make bench): the Python module against Python's sqlite3 module on the same
data, printing a markdown section for docs/benchmarks.md. Run with PYTHONPATH=python after make python.

1. single-row INSERTs from Python: FACTDB_BENCH_PY_ROWS (default 100,000) one by one inside one
   transaction (sqlite3's default: an implicit transaction committed at the end), then 1,000 autocommitted
   (each durable on its own: factdb fsyncs every commit; sqlite3 in autocommit, journal_mode=WAL,
   synchronous=FULL).
2. one append of 100k and of 1M rows (5 columns: bigint, text, numeric(12,2), timestamp, double) from a
   list of tuples and from a pandas DataFrame; sqlite3: executemany in one transaction.
3. 1M rows x 5 columns into pandas: factdb's .df() against pandas.read_sql on sqlite3 and against
   sqlite3's fetchall + DataFrame.from_records. Median of 5 (factdb) / 3 (sqlite3) warm runs.
Targets (issue 12): append >= 1M rows/s, .df() of 1M x 5 < 200 ms."""
import datetime as dt
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from decimal import Decimal

import numpy as np
import pandas as pd

import factdb

ROWS = int(os.environ.get("FACTDB_BENCH_PY_ROWS", "100000"))
BIG = int(os.environ.get("FACTDB_BENCH_PY_BIG", "1000000"))
AUTOCOMMITS = 1000
SCHEMA = "(id bigint, kind text, amount numeric(12,2), ts timestamp, x double precision)"
SQLITE_SCHEMA = "(id INTEGER, kind TEXT, amount NUMERIC, ts TEXT, x REAL)"
KINDS = ["order", "refund", "view", "click"]
BASE = dt.datetime(2024, 1, 1)


def rows(n, start=0):
    return [(i, KINDS[i % 4], Decimal(i % 100000) / 100, BASE + dt.timedelta(seconds=i), i * 0.5)
            for i in range(start, start + n)]


def frame(n):
    i = np.arange(n, dtype=np.int64)
    return pd.DataFrame({"id": i, "kind": np.array(KINDS, dtype=object)[i % 4], "amount": (i % 100000) / 100.0,
                         "ts": np.datetime64("2024-01-01T00:00:00", "us") + i.astype("timedelta64[s]"), "x": i * 0.5})


def sqlite_rows(rs):
    return [(a, b, str(c), d.isoformat(" "), e) for a, b, c, d, e in rs]


def timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def sqlite_con(path):
    c = sqlite3.connect(path)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    return c


def main():
    d = tempfile.mkdtemp(prefix="factdb-pybench-", dir=os.environ.get("FACTDB_BENCH_DIR"))
    out = []
    res = {}

    # 1. single-row inserts
    data = rows(ROWS)
    con = factdb.connect(os.path.join(d, "f1.factdb"))
    con.execute("CREATE TABLE t " + SCHEMA)

    def f_single():
        with con.transaction():
            for r in data:
                con.execute("INSERT INTO t VALUES ($1, $2, $3, $4, $5)", r)
    res["f_single"] = timed(f_single)
    res["f_auto"] = timed(lambda: [con.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", r)
                                   for r in data[:AUTOCOMMITS]])
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == ROWS + AUTOCOMMITS
    sq = sqlite_con(os.path.join(d, "s1.db"))
    sq.execute("CREATE TABLE t " + SQLITE_SCHEMA)
    sdata = sqlite_rows(data)

    def s_single():
        for r in sdata:
            sq.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", r)
        sq.commit()
    res["s_single"] = timed(s_single)
    sq.isolation_level = None
    res["s_auto"] = timed(lambda: [sq.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?)", r) for r in sdata[:AUTOCOMMITS]])

    # 2. appends
    for n in (100000, BIG):
        data = rows(n)
        df = frame(n)
        c = factdb.connect(os.path.join(d, "f2-%d.factdb" % n))
        c.execute("CREATE TABLE t " + SCHEMA)
        c.execute("CREATE TABLE u " + SCHEMA)
        res["f_append_list_%d" % n] = timed(lambda: c.append("t", data))
        res["f_append_df_%d" % n] = timed(lambda: c.append("u", df))
        assert c.execute("SELECT count(*) FROM u").fetchone()[0] == n
        if n == BIG:
            big_con = c
        s = sqlite_con(os.path.join(d, "s2-%d.db" % n))
        s.execute("CREATE TABLE t " + SQLITE_SCHEMA)
        sd = sqlite_rows(data)

        def s_many():
            s.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", sd)
            s.commit()
        res["s_append_%d" % n] = timed(s_many)
        if n == BIG:
            big_sq = s
        del data, sd

    # 3. 1M x 5 into pandas
    q = "SELECT id, kind, amount, ts, x FROM u"
    big_con.execute(q).df()  # warm
    res["f_df"] = statistics.median(timed(lambda: big_con.execute(q).df()) for _ in range(5))
    res["f_fetchall"] = statistics.median(timed(lambda: big_con.execute(q).fetchall()) for _ in range(3))
    sq_q = "SELECT id, kind, amount, ts, x FROM t"
    pd.read_sql(sq_q, big_sq)
    res["s_read_sql"] = statistics.median(timed(lambda: pd.read_sql(sq_q, big_sq)) for _ in range(3))
    res["s_fetchall_df"] = statistics.median(
        timed(lambda: pd.DataFrame.from_records(big_sq.execute(sq_q).fetchall(), columns=["id", "kind", "amount", "ts", "x"]))
        for _ in range(3))

    def rate(n, t):
        return "%s rows/s" % format(int(n / t), ",")

    def ms(t):
        return "%.0f" % (t * 1000)

    out.append("## Python module (bench/python_bench.py)\n")
    out.append("`import factdb` (python/, built by `make python` for /usr/bin/python3 %s) against Python's sqlite3 "
               "module (SQLite %s, journal_mode=WAL, synchronous=FULL) on the same rows: id bigint, kind text "
               "(4 values), amount numeric(12,2), ts timestamp, x double precision. %d cores; %s.\n"
               % (sys.version.split()[0], sqlite3.sqlite_version, os.cpu_count(), time.strftime("%Y-%m-%d")))
    out.append("| operation | factdb | sqlite3 | factdb vs sqlite3 |")
    out.append("|---|---:|---:|---:|")

    def line(name, ft, st, n=None):
        if n:
            out.append("| %s | %s ms (%s) | %s ms (%s) | %.2fx %s |" % (
                name, ms(ft), rate(n, ft), ms(st), rate(n, st), max(st / ft, ft / st), "faster" if ft < st else "slower"))
        else:
            out.append("| %s | %s ms | %s ms | %.2fx %s |" % (name, ms(ft), ms(st), max(st / ft, ft / st),
                                                            "faster" if ft < st else "slower"))
    line("%s single-row INSERTs in one transaction" % format(ROWS, ","), res["f_single"], res["s_single"], ROWS)
    line("%s autocommitted single-row INSERTs (each durable)" % format(AUTOCOMMITS, ","), res["f_auto"], res["s_auto"],
         AUTOCOMMITS)
    for n in (100000, BIG):
        line("append %s rows from a list of tuples (sqlite3: executemany)" % format(n, ","),
             res["f_append_list_%d" % n], res["s_append_%d" % n], n)
        line("append %s rows from a DataFrame (sqlite3: executemany of tuples)" % format(n, ","),
             res["f_append_df_%d" % n], res["s_append_%d" % n], n)
    line("%s rows x 5 columns to pandas (factdb .df(); sqlite3 pandas.read_sql)" % format(BIG, ","),
         res["f_df"], res["s_read_sql"])
    line("%s rows x 5 columns to pandas (sqlite3: fetchall + DataFrame.from_records)" % format(BIG, ","),
         res["f_df"], res["s_fetchall_df"])
    line("%s rows x 5 columns fetchall() as Python tuples" % format(BIG, ","), res["f_fetchall"], res["s_fetchall_df"])
    ok_append = BIG / res["f_append_df_%d" % BIG] >= 1e6
    ok_df = res["f_df"] < 0.2
    out.append("")
    out.append("Targets: append >= 1M rows/s: %s (DataFrame %s, list of tuples %s); .df() of 1M x 5 < 200 ms: %s "
               "(%s ms). Single-row INSERTs are where SQLite leads: each factdb INSERT is parsed, bound and "
               "written as a small chunk of its own (merged later), several times SQLite's B-tree row insert; "
               "the Python side of a statement is a few microseconds (a `SELECT $1` round trip). Rows in bulk "
               "belong in append(). An autocommitted INSERT is durable (fsync) before it returns on both "
               "sides (SQLite: synchronous=FULL); that row varies most between runs (the disk). `.df()` turns numeric into float64 (as DuckDB's does); fetchall() gives "
               "exact Decimal values. No DuckDB Python module is installed here, and the Node benchmark has "
               "no comparable append or to-DataFrame case, so there is no DuckDB column.\n"
               % ("met" if ok_append else "NOT met", rate(BIG, res["f_append_df_%d" % BIG]),
                  rate(BIG, res["f_append_list_%d" % BIG]), "met" if ok_df else "NOT met", ms(res["f_df"])))
    print("\n".join(out))
    import shutil
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
