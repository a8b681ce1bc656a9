#!/usr/bin/env python3
"""tpch.py: the lineitem benchmark (run by bench/tpch.sh). Loads one TPC-H lineitem CSV into factdb,
DuckDB and SQLite with the TPC-H column types, then runs every query of bench/tpch_queries.txt with
factdb and DuckDB, each at 1 and 2 threads in turn within one process per engine and query (so its
peak resident memory, from wait4's rusage, is that query's), and SQLite. Prints a markdown section;
progress goes to stderr. Exits 1 if any results disagree (across factdb's thread counts, with
DuckDB or with SQLite; numbers within a relative 1e-6). The rule "2 threads not slower than 1 beyond 5%"
is printed as PASS/FAIL per query and does not change the exit status.

Usage: tpch.py CSV DATADIR SF RUNS BUILD"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SQLITE_RUNS = 2
ROUNDS = 2  # factdb and DuckDB processes alternate this many times per query

TYPES = [("l_orderkey", "bigint", "INTEGER"), ("l_partkey", "bigint", "INTEGER"), ("l_suppkey", "bigint", "INTEGER"),
         ("l_linenumber", "integer", "INTEGER"), ("l_quantity", "numeric(15,2)", "REAL"),
         ("l_extendedprice", "numeric(15,2)", "REAL"), ("l_discount", "numeric(15,2)", "REAL"),
         ("l_tax", "numeric(15,2)", "REAL"), ("l_returnflag", "text", "TEXT"), ("l_linestatus", "text", "TEXT"),
         ("l_shipdate", "date", "TEXT"), ("l_commitdate", "date", "TEXT"), ("l_receiptdate", "date", "TEXT"),
         ("l_shipinstruct", "text", "TEXT"), ("l_shipmode", "text", "TEXT"), ("l_comment", "text", "TEXT")]

SQLITE_QUERY = r"""
import sqlite3, sys, time
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
best = None
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter(); rows = con.execute(sys.argv[3]).fetchall(); t = (time.perf_counter() - t0) * 1000
    best = t if best is None or t < best else best
print("%.3f" % best)
for r in rows:
    print("\t".join("\\N" if v is None else repr(v) if isinstance(v, float) else str(v) for v in r))
"""


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run_rss(argv):
    """Runs argv and returns (stdout, peak resident MB of that child); a failure stops the benchmark."""
    r, w = os.pipe()
    err = tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 1)
        os.dup2(err.fileno(), 2)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    _, status, ru = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code:
        err.seek(0)
        sys.exit("tpch.py: %s failed (exit %d):\n%s" % (" ".join(argv[:3]), code, err.read().decode(errors="replace")))
    return out, ru.ru_maxrss / 1024


def parse(out):
    """(best ms per thread count, result rows per thread count) from bench-tpch-sql or tpch_duckdb.mjs."""
    lines = out.rstrip("\n").split("\n")
    times = [float(x) for x in lines[0].split()]
    results, cur = [], []
    for ln in lines[1:]:
        if ln == "--":
            results.append(cur)
            cur = []
        elif ln != "":
            cur.append(ln.split("\t"))
    return times, results


def parse_sqlite(out):
    lines = out.rstrip("\n").split("\n")
    return float(lines[0]), [ln.split("\t") for ln in lines[1:] if ln != ""]


def norm(v):
    if v.endswith(" 00:00:00"):
        v = v[:-9]
    return v


def same(a, b):
    if len(a) != len(b):
        return "%d rows vs %d" % (len(a), len(b))
    for i, (ra, rb) in enumerate(zip(a, b)):
        if len(ra) != len(rb):
            return "row %d: %d columns vs %d" % (i + 1, len(ra), len(rb))
        for j, (x, y) in enumerate(zip(ra, rb)):
            x, y = norm(x), norm(y)
            if x == y:
                continue
            try:
                fx, fy = float(x), float(y)
            except ValueError:
                return "row %d column %d: %r vs %r" % (i + 1, j + 1, x, y)
            if abs(fx - fy) > 1e-6 * max(abs(fx), abs(fy), 1e-9):
                return "row %d column %d: %r vs %r" % (i + 1, j + 1, x, y)
    return None


def main():
    global CSV, DATA, SF, RUNS, BUILD
    if len(sys.argv) != 6 or not sys.argv[4].isdigit() or int(sys.argv[4]) < 1:
        sys.exit("usage: tpch.py CSV DATADIR SF RUNS BUILD  (RUNS at least 1)")
    CSV, DATA, SF, RUNS, BUILD = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    load_avg = " ".join(open("/proc/loadavg").read().split()[:3])  # before we add any
    os.makedirs(DATA, exist_ok=True)
    fdb, ddb, sdb = os.path.join(DATA, "tpch.db"), os.path.join(DATA, "tpch.duckdb"), os.path.join(DATA, "tpch.sqlite")
    for p in (fdb, fdb + "-lock", ddb, ddb + ".wal", sdb):
        if os.path.exists(p):
            os.remove(p)
    with open(CSV, "rb") as f:  # warm the page cache for every loader alike
        while f.read(1 << 24):
            pass
    factdb = os.path.join(BUILD, "factdb")
    log("factdb: load")
    t0 = time.perf_counter()
    ddl = "CREATE TABLE lineitem (%s)" % ", ".join("%s %s" % (c, t) for c, t, _ in TYPES)
    run_rss([factdb, "sql", fdb, ddl])
    _, f_load_rss = run_rss([factdb, "load", fdb, "lineitem", CSV])
    f_load = (time.perf_counter() - t0) * 1000
    log("duckdb: load")
    out, d_load_rss = run_rss(["node", os.path.join(HERE, "tpch_duckdb.mjs"), "load", os.path.abspath(CSV), ddb, "2"])
    d_load, d_bytes = float(out.split()[0]), int(out.split()[1])
    log("sqlite: load")
    t0 = time.perf_counter()
    script = "PRAGMA journal_mode=WAL;\nCREATE TABLE lineitem(%s);\n.import --csv --skip 1 %s lineitem\n" % (
        ", ".join("%s %s" % (c, s) for c, _, s in TYPES), CSV)
    p = subprocess.run(["sqlite3", sdb], input=script, text=True, capture_output=True)
    if p.returncode:
        sys.exit("tpch.py: sqlite3 load failed:\n" + p.stderr)
    s_load = (time.perf_counter() - t0) * 1000
    sizes = [os.path.getsize(fdb), d_bytes, os.path.getsize(sdb)]

    queries = []
    for line in open(os.path.join(HERE, "tpch_queries.txt")):
        if line.strip() and not line.startswith("#"):
            name, sql, lite = line.rstrip("\n").split("\t")
            queries.append((name, sql, lite))

    rows, mismatches = [], []
    for name, sql, lite in queries:
        res = {}
        # each engine runs 1 and 2 threads in turn in one process (a load burst hits both alike), and the
        # engines take turns too: ROUNDS processes each, f d f d, the best time of all kept (this machine's
        # speed drifts by up to 2x over minutes: one engine's whole turn must not fall in a slow spell)
        per = max(1, (RUNS + ROUNDS - 1) // ROUNDS)
        for rnd in range(ROUNDS):
            for engine, argv in [
                ("f", [os.path.join(BUILD, "bench-tpch-sql"), fdb, "1,2", str(per), sql]),
                ("d", ["node", os.path.join(HERE, "tpch_duckdb.mjs"), "query", ddb, "1,2", str(per), sql]),
            ]:
                log("%s: %s" % (name, engine))
                out, rss = run_rss(argv)
                times, results = parse(out)
                for k, threads in enumerate((1, 2)):
                    key = "%s%d" % (engine, threads)
                    if key in res:
                        old = res[key]
                        res[key] = (min(old[0], times[k]), old[1], max(old[2], rss))
                    else:
                        res[key] = (times[k], results[k], rss)
        log("%s: s" % name)
        out, rss = run_rss([sys.executable, "-c", SQLITE_QUERY, sdb, str(SQLITE_RUNS), lite])
        ms, result = parse_sqlite(out)
        res["s"] = (ms, result, rss)
        diffs = []
        for other, what in [("f2", "factdb 2 threads"), ("d1", "DuckDB 1 thread"), ("d2", "DuckDB 2 threads"),
                            ("s", "SQLite")]:
            d = same(res["f1"][1], res[other][1])
            if d:
                diffs.append("%s: factdb 1 thread vs %s: %s" % (name, what, d))
        mismatches += diffs
        f1, f2, d1, d2 = res["f1"][0], res["f2"][0], res["d1"][0], res["d2"][0]
        rows.append((name, res, f1 / d1, f2 / d2, "PASS" if f2 <= f1 * 1.05 else "FAIL",
                     "agree" if not diffs else "DIFFER"))

    print("## TPC-H lineitem (scale factor %s)" % SF)
    print()
    print("Generated by bench/tpch.sh (`make bench-tpch`, part of `make bench`) on %s," % time.strftime(
        "%Y-%m-%d %H:%M UTC", time.gmtime()))
    print("commit %s, load average at the start %s. Data: %s rows of TPC-H lineitem from" % (
        os.environ.get("FACTDB_COMMIT", "?"), load_avg,
        format(sum(1 for _ in open(CSV)) - 1, ",")))
    print("bench/tpch_gen.c (%d MB of CSV), the same file for every engine. Every engine creates the table" % (
        os.path.getsize(CSV) // 1000000))
    print("with the TPC-H types first (factdb and DuckDB: bigint keys, numeric(15,2) quantity, price, discount")
    print("and tax, date, text; SQLite: INTEGER, REAL, TEXT), then loads the CSV (`factdb load`, DuckDB")
    print("`INSERT ... SELECT * FROM read_csv`, the sqlite3 shell's `.import`).")
    print()
    print("| | factdb | DuckDB | SQLite | factdb/DuckDB |")
    print("|---|---:|---:|---:|---:|")
    print("| load (ms) | %.0f | %.0f | %.0f | %.2f |" % (f_load, d_load, s_load, f_load / d_load))
    print("| file size (MB) | %.1f | %.1f | %.1f | %.2f |" % (tuple(s / 1e6 for s in sizes) + (sizes[0] / sizes[1],)))
    print("| peak RSS of the load (MB) | %.0f | %.0f | | %.2f |" % (f_load_rss, d_load_rss, f_load_rss / d_load_rss))
    print()
    print("Queries: best of %d warm runs for factdb (bench-tpch-sql, through factdb_session_exec) and DuckDB" % (
        ROUNDS * max(1, (RUNS + ROUNDS - 1) // ROUNDS)))
    print("(@duckdb/node-api), best of %d for SQLite (Python's sqlite3 module). Each engine runs a query in" % SQLITE_RUNS)
    print("processes of its own, with 1 and 2 threads in turn in every round, and factdb's and DuckDB's")
    print("processes alternate (%d each), so that a burst of load or a slow spell of the shared machine hits" % ROUNDS)
    print("both thread counts and both engines alike; the largest peak resident memory (MB) of those processes")
    print("is the number after the slash. `2t <= 1t` is the rule that factdb with 2 threads is not slower than with 1")
    print("beyond 5%; `results` compares every engine's result rows with factdb's at 1 thread (numbers within")
    print("a relative 1e-6). factdb's queries may use half of physical memory (its default per-query limit is")
    print("4 GiB, too small for 18 million groups; DuckDB's default memory limit is 80% of RAM).")
    print()
    print("| query | factdb 1t | factdb 2t | DuckDB 1t | DuckDB 2t | SQLite | factdb/DuckDB 1t | factdb/DuckDB 2t "
          "| 2t <= 1t | results |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for name, res, r1, r2, rule, agree in rows:
        cells = ["%.1f / %.0f" % (res[k][0], res[k][2]) for k in ("f1", "f2", "d1", "d2", "s")]
        print("| %s | %s | %.2f | %.2f | %s | %s |" % (name, " | ".join(cells), r1, r2, rule, agree))
    print()
    worst = max(rows, key=lambda r: max(r[2], r[3]))
    print("Highest factdb/DuckDB time ratio: %.2f (%s); queries above 1.0 (1 or 2 threads): %s." % (
        max(worst[2], worst[3]), worst[0],
        ", ".join(r[0] for r in rows if max(r[2], r[3]) > 1.0) or "none"))
    print()
    # results of this scale factor, for the scaling table of a later run at another one
    mine = {"sf": float(SF), "rows": sum(1 for _ in open(CSV)) - 1, "load": [f_load, d_load],
            "queries": {name: {k: res[k][0] for k in ("f1", "f2", "d1", "d2")} for name, res, *_ in rows}}
    with open(os.path.join(DATA, "results_sf%s.json" % SF), "w") as f:
        json.dump(mine, f)
    base = os.path.join(DATA, "results_sf1.json")
    if float(SF) != 1 and os.path.exists(base):
        with open(base) as f:
            one = json.load(f)
        k = mine["rows"] / one["rows"]
        print("Scaling: time at scale factor %s divided by time at scale factor 1 (same machine, same build;" % SF)
        print("%.2fx the rows, so %.2f is linear). Peak memory is in the table above." % (k, k))
        print()
        print("| | factdb 1t | factdb 2t | DuckDB 1t | DuckDB 2t |")
        print("|---|---:|---:|---:|---:|")
        print("| load | %.2f | | %.2f | |" % (mine["load"][0] / one["load"][0], mine["load"][1] / one["load"][1]))
        for name, t in mine["queries"].items():
            o = one["queries"].get(name)
            if o:
                print("| %s | %s |" % (name, " | ".join("%.2f" % (t[c] / o[c]) for c in ("f1", "f2", "d1", "d2"))))
        print()
    print("```sql")
    for name, sql, _ in queries:
        print("-- %s\n%s;" % (name, sql))
    print("```")
    if mismatches:
        print()
        print("**Results differ:**")
        for m in mismatches:
            print("- " + m)
        for m in mismatches:
            log("tpch.py: RESULTS DIFFER: " + m)
        sys.exit(1)


if __name__ == "__main__":
    main()
