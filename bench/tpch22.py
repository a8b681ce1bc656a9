#!/usr/bin/python3
"""tpch22.py: a query suite's benchmark (run by bench/tpch22.sh): TPC-H's 22 queries (tests/tpch) or the
Star Schema Benchmark's 13 (tests/ssb), factdb against DuckDB, 2 threads each. Loads every table of the
suite's schema.sql from DATADIR/<table>.csv into factdb (`factdb load`) and DuckDB (COPY), then runs each
query in processes of each engine in turn (factdb, DuckDB, factdb, DuckDB: ROUNDS each, a warm-up run and
RUNS / ROUNDS timed runs per process) and keeps the best time; factdb also runs each query on 1 thread, so
the table shows what the second thread gains (more threads must never be slower). A query factdb refuses is "not supported
yet" (its message is printed) and DuckDB's time is still measured; one factdb crashes on (killed by a
signal) or that does not finish within TIMEOUT is marked so. Results are compared (factdb's against
DuckDB's, in order, numbers within a relative 1e-6, as bench/tpch.py does). Prints a markdown section
for docs/benchmarks.md; progress goes to stderr. Exits 1 if results differ or factdb crashed (a timeout
is shown in the table but is no failure: a slow plan is a number to improve, not a broken build).

Usage: tpch22.py SUITE_DIR DATADIR WORKDIR SF RUNS BUILD TITLE"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "tpch"))
import suite  # noqa: E402
import tpch  # noqa: E402  (bench/tpch.py: parse() of the engines' output and same(), its comparison)

ROUNDS = 2
THREADS = "2"
TIMEOUT = 300  # seconds for one process (a warm-up and the timed runs of one query)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def run(argv, timeout=TIMEOUT):
    """(status, stdout, stderr); status is the exit code, a negative signal number, or "timeout"."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", "", ""
    return p.returncode, p.stdout, p.stderr


def must(argv):
    code, out, err = run(argv)
    if code != 0:
        sys.exit("tpch22.py: %s failed (%s):\n%s" % (" ".join(argv[:4]), code, err))
    return out


def main():
    if len(sys.argv) != 8 or not sys.argv[5].isdigit() or int(sys.argv[5]) < 1:
        sys.exit("usage: tpch22.py SUITE_DIR DATADIR WORKDIR SF RUNS BUILD TITLE  (RUNS at least 1)")
    suite_dir, data, work, sf, runs, build, title = sys.argv[1:8]
    runs = int(runs)
    load_avg = " ".join(open("/proc/loadavg").read().split()[:3])  # before we add any
    tables, queries = suite.tables(suite_dir), suite.queries(suite_dir)
    os.makedirs(work, exist_ok=True)
    fdb, ddb = os.path.join(work, "f.factdb"), os.path.join(work, "d.duckdb")
    for p in (fdb, fdb + "-lock", ddb, ddb + ".wal"):
        if os.path.exists(p):
            os.remove(p)
    for name, _ in tables:  # warm the page cache for both loaders alike
        with open(os.path.join(data, name + ".csv"), "rb") as f:
            while f.read(1 << 24):
                pass
    factdb = os.path.join(build, "factdb")
    log("factdb: load")
    t0 = time.perf_counter()
    for name, ddl in tables:
        must([factdb, "sql", "--create", fdb, ddl])
        must([factdb, "load", fdb, name, os.path.join(data, name + ".csv")])
    f_load = (time.perf_counter() - t0) * 1000
    log("duckdb: load")
    out = must(["node", os.path.join(HERE, "tpch_duckdb.mjs"), "tables", os.path.abspath(data), ddb, THREADS,
                os.path.join(suite_dir, "schema.sql")])
    d_load, d_bytes = float(out.split()[0]), int(out.split()[1])
    f_bytes = os.path.getsize(fdb)
    rows = sum(sum(1 for _ in open(os.path.join(data, n + ".csv"))) - 1 for n, _ in tables)

    per = max(1, (runs + ROUNDS - 1) // ROUNDS)
    results, bad = [], []
    for name, sql in queries:
        best = {"f": None, "d": None, "f1": None}
        answer = {}
        refused = None
        for rnd in range(ROUNDS):
            for engine, argv in [
                ("f", [os.path.join(build, "bench-tpch-sql"), fdb, THREADS, str(per), sql]),
                ("d", ["node", os.path.join(HERE, "tpch_duckdb.mjs"), "query", ddb, THREADS, str(per), sql]),
                ("f1", [os.path.join(build, "bench-tpch-sql"), fdb, "1", str(per), sql]),
            ]:
                if engine != "d" and refused:
                    continue
                log("%s: %s" % (name, engine))
                code, out, err = run(argv)
                if code != 0:
                    if engine == "d":
                        sys.exit("tpch22.py: DuckDB failed on %s (%s):\n%s" % (name, code, err))
                    if code == "timeout":
                        refused = "timeout: a warm-up and %d runs took more than %d s (killed)" % (per, TIMEOUT)
                    elif code < 0:
                        refused = "CRASH: killed by signal %d: %s" % (-code, err.strip()[-300:])
                    else:
                        msg = err.strip().split("\n")[0]
                        refused = "not supported yet: " + msg.replace("bench-tpch-sql: ", "", 1)
                    continue
                times, res = tpch.parse(out)
                best[engine] = times[0] if best[engine] is None else min(best[engine], times[0])
                answer[engine] = res[0]
        if refused:
            results.append((name, None, best["d"], refused, None))
            if refused.startswith("CRASH"):
                bad.append("%s: %s" % (name, refused))
            continue
        d = tpch.same(answer["f"], answer["d"]) or tpch.same(answer["f1"], answer["d"])
        if d:
            bad.append("%s: factdb vs DuckDB: %s" % (name, d))
        results.append((name, best["f"], best["d"], "agree" if not d else "DIFFER: " + d, best["f1"]))

    print("## %s (scale factor %s): factdb and DuckDB, 2 threads each" % (title, sf))
    print()
    print("Generated by %s on %s, commit %s, load average at the start %s." % (
        os.environ.get("FACTDB_BENCH_SCRIPT", "bench/tpch22.py"), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        os.environ.get("FACTDB_COMMIT", "?"), load_avg))
    rel = os.path.relpath(suite_dir, os.path.join(HERE, ".."))
    print("Data: %s rows in %d tables written as CSV by %s," % (
        format(rows, ","), len(tables), os.environ.get("FACTDB_BENCH_GEN", "the generator")))
    print("the same files for both engines, loaded into the types of %s/schema.sql (`factdb load` per" % rel)
    print("table; DuckDB `COPY`). Queries: %s/queries, the same text for both engines. Each query runs in" % rel)
    print("processes of its own, factdb's and DuckDB's alternating (%d each; in each a warm-up run, then %d" % (
        ROUNDS, per))
    print("timed), so a slow spell of the shared machine hits both alike; the best time in ms is shown.")
    print("factdb also runs every query on 1 thread in the same rounds: the last two columns show what its")
    print("second thread gains.")
    print("`results` compares factdb's rows with DuckDB's (in order, numbers within a relative 1e-6).")
    print("\"not supported yet\" is factdb's error message.")
    print()
    print("| | factdb | DuckDB | factdb/DuckDB |")
    print("|---|---:|---:|---:|")
    print("| load (ms) | %.0f | %.0f | %.2f |" % (f_load, d_load, f_load / d_load))
    print("| file size (MB) | %.1f | %.1f | %.2f |" % (f_bytes / 1e6, d_bytes / 1e6, f_bytes / d_bytes))
    print()
    print("| query | factdb (ms) | DuckDB (ms) | factdb/DuckDB | results | factdb, 1 thread (ms) | 2 threads/1 |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for name, f, d, what, f1 in results:
        if f is None:
            print("| %s | | %.1f | | %s | | |" % (name, d, what.replace("|", "\\|")))
        else:
            print("| %s | %.1f | %.1f | %.2f | %s | %.1f | %.2f |" % (name, f, d, f / d, what, f1, f / f1))
    ran = [r for r in results if r[1] is not None]
    print()
    print("factdb answers %d of %d queries%s." % (
        len(ran), len(results), "" if not ran else "; highest factdb/DuckDB ratio %.2f (%s)" % max(
            (r[1] / r[2], r[0]) for r in ran)))
    if ran:
        # more threads must never be slower: a query whose 2-thread time is over its 1-thread time by more
        # than the noise of a shared machine (10%, and 2 ms for the shortest) is named here
        slower = [r[0] for r in ran if r[1] > r[4] * 1.10 and r[1] - r[4] > 2]
        print("2 threads against 1: %s." % ("faster or within noise on every query" if not slower else
                                             "SLOWER on " + ", ".join(slower)))
    print()
    if bad:
        print("**Problems:**")
        for m in bad:
            print("- " + m)
            log("tpch22.py: " + m)
        print()
        sys.exit(1)


if __name__ == "__main__":
    main()
