#!/usr/bin/python3
"""Oracle test of the Star Schema Benchmark's 13 queries (tests/ssb/queries, Q1.1-Q4.3 of O'Neil, O'Neil,
Chen, revision 3): bench-ssb-gen writes the 5 tables at a small scale factor (FACTDB_SSB_TEST_SF, default
0.1: 600,000 lineorder rows), and tests/tpch/test_tpch.py's run() loads them into PostgreSQL 15 and factdb
and compares every query with pgdiff's rules. tests/ssb/unsupported.txt lists the queries factdb cannot
answer yet; the test fails if one not listed fails or differs, if a listed one agrees, or if factdb
crashes or hangs. Environment: FACTDB_BUILD, FACTDB_BENCH_SSB_GEN, FACTDB_SSB_TEST_SF, FACTDB_PG_BIN."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tpch"))
import test_tpch  # noqa: E402


def main():
    sf = os.environ.get("FACTDB_SSB_TEST_SF", "0.1")
    return test_tpch.run("ssb", HERE, [test_tpch.generator("bench-ssb-gen"), sf], "--show" in sys.argv[1:])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:
        print("ssb: interrupted (%s); PostgreSQL and factdb stopped, temporary files removed" % e)
        sys.exit(130)
