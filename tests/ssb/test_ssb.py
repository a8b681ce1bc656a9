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


# The generator's promises (bench/ssb_gen.c), checked in PostgreSQL: each query answers true when kept.
SSB_DATA_CHECKS = [
    ("2,557 dates 1992-01-01 .. 1998-12-31, every lo_orderdate and lo_commitdate among them",
     "SELECT (SELECT count(*) FROM date) = 2557 AND NOT EXISTS (SELECT 1 FROM lineorder WHERE lo_orderdate NOT IN "
     "(SELECT d_datekey FROM date) OR lo_commitdate NOT IN (SELECT d_datekey FROM date))"),
    ("lo_revenue = lo_extendedprice * (100 - lo_discount) / 100, lo_ordtotalprice the same on each line of an order",
     "SELECT bool_and(lo_revenue = lo_extendedprice::bigint * (100 - lo_discount) / 100) AND "
     "(SELECT count(*) FROM (SELECT lo_orderkey FROM lineorder GROUP BY 1 HAVING count(DISTINCT lo_ordtotalprice) > 1) x) = 0 "
     "FROM lineorder"),
    ("cities: the nation's first 9 characters (blank-padded) and a digit; 25 categories, 1,000 brands",
     "SELECT (SELECT bool_and(c_city = rpad(left(c_nation, 9), 9) || right(c_city, 1)) FROM customer) AND "
     "(SELECT count(DISTINCT p_category) FROM part) = 25 AND (SELECT count(DISTINCT p_brand1) FROM part) = 1000"),
]


def main():
    sf = os.environ.get("FACTDB_SSB_TEST_SF", "0.1")
    return test_tpch.run("ssb", HERE, [test_tpch.generator("bench-ssb-gen"), sf], "--show" in sys.argv[1:],
                         checks=SSB_DATA_CHECKS)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:
        print("ssb: interrupted (%s); PostgreSQL and factdb stopped, temporary files removed" % e)
        sys.exit(130)
