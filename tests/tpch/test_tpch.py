#!/usr/bin/python3
"""Oracle test of the 22 TPC-H queries (tests/tpch/queries, the specification's texts with the validation
parameters): bench-tpch-gen writes the 8 tables at a small scale factor (FACTDB_TPCH_TEST_SF, default 0.05:
300,000 lineitem rows, so that Q17, Q18 and every other query has rows to compare),
PostgreSQL 15 (a throwaway cluster, tests/pgdiff/engines.py) and factdb (`factdb load`, then `factdb serve`)
load the same CSV files into the same schema (schema.sql), and every query's answers are compared with the
rules of tests/pgdiff/test_pgdiff.py (its compare(): ordered when the query has ORDER BY, column names
and type families, numeric exactly, double precision to 1e-12 relative).

PostgreSQL also checks the generator's promises (TPCH_DATA_CHECKS: lines consistent with partsupp, part
and their order's total and status, customers without orders, phone country codes, the word lists).

tests/tpch/unsupported.txt lists the queries factdb cannot answer yet (`q02: reason`). The test fails if
a query not listed fails or differs, if a listed query now agrees (delete its line), or if factdb crashes
or hangs on any query: every query factdb fails is also run through `factdb sql`, which must exit 1 with a
`factdb: ` message within the time limit (no signal, no timeout).

tests/ssb/test_ssb.py runs the Star Schema Benchmark's queries through run() below.

Environment: FACTDB_BUILD (default build/), FACTDB_BENCH_TPCH_GEN (default $FACTDB_BUILD/bench-tpch-gen, then
build/bench-tpch-gen), FACTDB_TPCH_TEST_SF, FACTDB_PG_BIN. --show prints both answers of every
difference, listed or not."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "pgdiff"))
import engines  # noqa: E402
import suite  # noqa: E402
import test_pgdiff  # noqa: E402  (its compare() and show(): the same rules as the pgdiff test)

BUILD = os.environ.get("FACTDB_BUILD", os.path.join(ROOT, "build"))
FACTDB = os.path.join(BUILD, "factdb")
CLI_TIMEOUT = 60  # seconds for one query through `factdb sql` (the server's own limit is 20 s)


def generator(name):
    """The path of a generator binary: FACTDB_TPCH_GEN-style override, this build, or the optimized one
    (the sanitizer build of `make test` does not build the benchmark generators)."""
    env = os.environ.get("FACTDB_%s" % name.upper().replace("-", "_"))
    for p in ([env] if env else []) + [os.path.join(BUILD, name), os.path.join(ROOT, "build", name)]:
        if os.access(p, os.X_OK):
            return p
    raise SystemExit("%s not found: run make %s (or set FACTDB_%s)" % (name, "build/" + name,
                                                                       name.upper().replace("-", "_")))


def load_pg(conn, tables, data, indexes):
    """Creates, fills and indexes the tables. The indexes change no answer; they spare PostgreSQL a scan of
    lineitem per outer row in the correlated subqueries (Q17, Q20: minutes -> well under a second)."""
    for name, ddl in tables:
        for sql in (ddl, "COPY %s FROM '%s' WITH (FORMAT csv, HEADER true)" % (name, os.path.join(data, name + ".csv"))):
            r = conn.query(sql)
            if r[0] == "error":
                raise SystemExit("PostgreSQL: %s: %s" % (sql[:80], r[2]))
    for n, (table, cols) in enumerate(indexes):
        r = conn.query("CREATE INDEX i%d ON %s (%s)" % (n, table, cols))
        if r[0] == "error":
            raise SystemExit("PostgreSQL: index on %s (%s): %s" % (table, cols, r[2]))
    conn.query("ANALYZE")


def load_factdb(db, tables, data):
    for name, ddl in tables:
        for argv in ([FACTDB, "sql", "--create", db, ddl], [FACTDB, "load", db, name, os.path.join(data, name + ".csv")]):
            p = subprocess.run(argv, capture_output=True, text=True)
            if p.returncode:
                raise SystemExit("factdb: %s failed (exit %d): %s" % (" ".join(argv[:3]), p.returncode, p.stderr))


def cli_check(db, sql):
    """None if `factdb sql` refuses the query cleanly (exit 1, a `factdb: ` message) or answers it, else what
    went wrong (a signal, a timeout, another exit status) with its output."""
    try:
        p = subprocess.run([FACTDB, "sql", db, sql], capture_output=True, text=True, timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "factdb sql did not finish within %d s" % CLI_TIMEOUT
    if p.returncode == 0 or (p.returncode == 1 and p.stderr.startswith("factdb: ")):
        return None
    what = "killed by signal %d" % -p.returncode if p.returncode < 0 else "exit status %d" % p.returncode
    return "factdb sql: %s; stderr: %s" % (what, p.stderr.strip()[-1500:])


TPCH_INDEXES = [("lineitem", "l_orderkey"), ("lineitem", "l_partkey, l_suppkey"), ("orders", "o_orderkey"),
                ("orders", "o_custkey"), ("partsupp", "ps_partkey, ps_suppkey"), ("part", "p_partkey"),
                ("supplier", "s_suppkey"), ("customer", "c_custkey")]


# The generator's promises (bench/tpch_gen.c, from the specification's clause 4.2.3), checked in PostgreSQL:
# each query answers true when the data keeps it.
TPCH_DATA_CHECKS = [
    ("every lineitem's (partkey, suppkey) is a partsupp row",
     "SELECT NOT EXISTS (SELECT 1 FROM lineitem LEFT JOIN partsupp ON ps_partkey = l_partkey "
     "AND ps_suppkey = l_suppkey WHERE ps_partkey IS NULL)"),
    ("l_extendedprice = l_quantity * p_retailprice",
     "SELECT bool_and(l_extendedprice = l_quantity * p_retailprice) FROM lineitem JOIN part ON p_partkey = l_partkey"),
    ("o_totalprice is the sum of its lines' rounded charges, o_orderstatus F/O/P from their linestatus",
     "SELECT bool_and(o_totalprice = t AND o_orderstatus = st) FROM orders JOIN (SELECT l_orderkey, "
     "sum(round(l_extendedprice * (1 + l_tax) * (1 - l_discount), 2)) AS t, CASE WHEN bool_and(l_linestatus = 'F') "
     "THEN 'F' WHEN bool_and(l_linestatus = 'O') THEN 'O' ELSE 'P' END AS st FROM lineitem GROUP BY l_orderkey) l "
     "ON l_orderkey = o_orderkey"),
    ("no order of a custkey that is a multiple of 3, and every other customer may have orders",
     "SELECT bool_and(o_custkey % 3 <> 0) AND count(DISTINCT o_custkey) > 0.6 * (SELECT count(*) FROM customer) "
     "FROM orders"),
    ("c_phone and s_phone start with nationkey + 10",
     "SELECT (SELECT bool_and(substring(c_phone from 1 for 2)::int = c_nationkey + 10) FROM customer) AND "
     "(SELECT bool_and(substring(s_phone from 1 for 2)::int = s_nationkey + 10) FROM supplier)"),
    ("some suppliers complain (Q16), some orders match '%special%requests%' (Q13), some parts are green (Q9)",
     "SELECT (SELECT count(*) FROM supplier WHERE s_comment LIKE '%Customer%Complaints%') > 0 AND "
     "(SELECT count(*) FROM orders WHERE o_comment LIKE '%special%requests%') > 0 AND "
     "(SELECT count(*) FROM part WHERE p_name LIKE '%green%') > 0"),
    ("92 colors, 150 types, 40 containers, 25 brands, 5 segments",
     "SELECT (SELECT count(DISTINCT p_type) FROM part) = 150 AND (SELECT count(DISTINCT p_container) FROM part) = 40 "
     "AND (SELECT count(DISTINCT p_brand) FROM part) = 25 AND (SELECT count(DISTINCT c_mktsegment) FROM customer) = 5 "
     "AND (SELECT count(DISTINCT w) FROM part, unnest(string_to_array(p_name, ' ')) w) = 92"),
]


def run(title, suite_dir, gen_argv, show_all=False, indexes=(), checks=()):
    """Generates the data with gen_argv + [DIR], loads both engines, compares every query; returns the exit
    status (0: every query agrees or is listed, and every listed one still fails)."""
    if not os.access(FACTDB, os.X_OK):
        print("%s not found: run make first (or set FACTDB_BUILD)" % FACTDB)
        return 1
    t0 = time.time()
    tables, qs, listed = suite.tables(suite_dir), suite.queries(suite_dir), suite.unsupported(suite_dir)
    unknown = sorted(set(listed) - {n for n, _ in qs})
    tmp = tempfile.mkdtemp(prefix="factdb-%s-" % title.lower(), dir="/tmp")
    os.chmod(tmp, 0o755)  # PostgreSQL (as nobody when run as root) reads the CSV files for COPY
    results, failures = {}, []
    try:
        data = os.path.join(tmp, "data")
        p = subprocess.run(gen_argv + [data], capture_output=True, text=True)
        if p.returncode:
            raise SystemExit("%s failed: %s" % (" ".join(gen_argv + [data]), p.stderr))
        db = os.path.join(tmp, "f.factdb")
        load_factdb(db, tables, data)
        with engines.PgCluster() as pg:
            conn = pg.connect()
            fd = None
            try:
                load_pg(conn, tables, data, indexes)
                for what, sql in checks:
                    r = conn.query(sql)
                    if r[0] != "rows" or r[3] != [["t"]]:
                        failures.append("data")
                        print("DATA CHECK FAILED: %s: %s" % (what, test_pgdiff.show(r)))
                t1 = time.time()
                fd = engines.FactdbServer(FACTDB, db, os.path.join(tmp, "serve.log"))
                for name, sql in qs:
                    q0 = time.time()
                    pa = conn.query(sql)
                    q1 = time.time()
                    try:
                        fa = fd.query(sql)
                    except (RuntimeError, OSError) as e:  # the server died or stopped answering
                        fa = ("error", "CRASH", str(e)[:3000])
                        fd.close()
                        fd = engines.FactdbServer(FACTDB, db, os.path.join(tmp, "serve.log"))
                    why = test_pgdiff.compare(sql, pa, fa)
                    crash = None
                    if fa[0] == "error":
                        crash = cli_check(db, sql)
                        if fa[1] == "CRASH" and not crash:
                            crash = "factdb serve: " + fa[2]
                    results[name] = (why, crash, pa, fa, q1 - q0, time.time() - q1)
            finally:
                if fd is not None:
                    fd.close()
                conn.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    agree = 0
    for name, sql in qs:
        why, crash, pa, fa, pt, ft = results[name]
        rows = "%d rows" % len(pa[3]) if pa[0] == "rows" else "PostgreSQL: " + test_pgdiff.show(pa)
        rows += "; PostgreSQL %.2f s, factdb %.2f s" % (pt, ft)
        if crash:
            failures.append(name)
            print("%s CRASH OR HANG (%s)\n  %s\n  %s" % (name, rows, crash, sql.replace("\n", " ")))
        elif why is None:
            agree += 1
            if name in listed:
                failures.append(name)
                print("%s AGREES NOW (%s): delete its line from unsupported.txt" % (name, rows))
            else:
                print("%s ok (%s)" % (name, rows))
        elif name in listed:
            print("%s listed (%s): %s; factdb: %s" % (name, rows, listed[name], test_pgdiff.show(fa, 2)))
        else:
            failures.append(name)
            print("%s NEW DIFFERENCE (%s): %s" % (name, rows, why))
        if (show_all or (why and name not in listed)) and not crash:
            print("  factdb:     %s\n  postgresql: %s" % (test_pgdiff.show(fa), test_pgdiff.show(pa)))
    for name in unknown:
        failures.append(name)
        print("LISTED BUT NOT A QUERY: %s" % name)
    print("%s: %d queries, %d agree with PostgreSQL, %d listed as unsupported, %d failures%s; load %.1f s, "
          "queries %.1f s" % (title, len(qs), agree, len(listed), len(failures),
                              " (%s)" % ", ".join(failures) if failures else "", t1 - t0, time.time() - t1))
    return 1 if failures else 0


def main():
    sf = os.environ.get("FACTDB_TPCH_TEST_SF", "0.05")
    return run("tpch", HERE, [generator("bench-tpch-gen"), "--tables", sf], "--show" in sys.argv[1:],
               TPCH_INDEXES, TPCH_DATA_CHECKS)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:
        print("tpch: interrupted (%s); PostgreSQL and factdb stopped, temporary files removed" % e)
        sys.exit(130)
