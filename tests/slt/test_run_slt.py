#!/usr/bin/env python3
"""Tests of tests/slt/run_slt.py: the .test parser (skipif/onlyif/halt, records, sort modes), the value
normalisation and comparison, and one end-to-end run on tests/slt/selftest (a file written for this
test, not from the corpus) against PostgreSQL 15 and factdb, plus the message when SLT_DIR is missing."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run_slt  # noqa: E402

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL: " + what)


def test_parse():
    with tempfile.NamedTemporaryFile("w", suffix=".test", delete=False) as f:
        f.write("hash-threshold 8\n\nstatement ok\nCREATE TABLE t(a INTEGER)\n\n"
                "skipif postgresql\nquery I nosort\nSELECT 1\n----\n1\n\n"
                "onlyif sqlite\nquery I nosort\nSELECT 2\n----\n2\n\n"
                "onlyif postgresql\nquery I rowsort label-x\nSELECT a\n  FROM t\n----\n\n"
                "onlyif mysql\nhalt\n\n"
                "statement error\nSELECT nope\n\n"
                "query TI valuesort\nSELECT 'a', 1\n----\na\n1\n\nhalt\n\nquery I nosort\nSELECT 9\n")
    recs = list(run_slt.parse(f.name))
    os.unlink(f.name)
    check(recs == [("statement", True, "CREATE TABLE t(a INTEGER)"),
                   ("query", "I", "rowsort", "SELECT a\n  FROM t"),
                   ("statement", False, "SELECT nope"),
                   ("query", "TI", "valuesort", "SELECT 'a', 1")], "parse: %r" % recs)


def test_compare():
    n = run_slt.norm
    check(n("3.000", "R") == n("3", "R") == "3", "3.000 = 3 in R")
    check(n("2.5000000000000000", "R") == n("2.5", "R"), "numeric 2.5000000000000000 = double 2.5")
    check(n("0.30000000000000004", "R") == n("0.3", "R"), "doubles to 12 digits")
    check(n("2.5", "I") != n("2", "I"), "2.5 is not 2 in an I column (no truncation hides a wrong answer)")
    check(n("1.0", "T") != n("1", "T"), "text compares exactly")
    check(n("t", "T") == n("true", "T") and n(None, "I") == "NULL" and n("", "T") == "(empty)", "t/NULL/empty")
    rows = lambda *r: ("rows", ["a", "b"], [], [list(x) for x in r])  # noqa: E731
    check(run_slt.compare("II", "rowsort", rows(("1", "2"), ("3", "4")), rows(("3", "4"), ("1", "2"))) == "MATCH",
          "rowsort")
    check(run_slt.compare("II", "valuesort", rows(("1", "4"), ("3", "2")), rows(("2", "1"), ("4", "3"))) == "MATCH",
          "valuesort")
    check(run_slt.compare("II", "nosort", rows(("1", "2"), ("3", "4")), rows(("3", "4"), ("1", "2"))) == "ORDER_DIFF",
          "nosort order")
    check(run_slt.compare("II", "rowsort", rows(("1", "2")), rows(("1", "3"))) == "WRONG", "wrong value")
    check(run_slt.compare("II", "rowsort", rows(("1", "2")), rows(("1", "2"), ("1", "2"))) == "WRONG", "wrong count")
    check(run_slt.error_kind('column "x" does not exist in table "t1"; perhaps you meant "a"')
          == 'column "…" does not exist in table "…"', "error kind")


def test_run():
    build = os.environ.get("FACTDB_BUILD", os.path.join(HERE, "..", "..", "build"))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, FACTDB_BUILD=build)
        rep, wrong = os.path.join(tmp, "r.txt"), os.path.join(tmp, "w.txt")
        p = subprocess.run([sys.executable, os.path.join(HERE, "run_slt.py"), "--jobs", "1", "--report", rep,
                            "--wrong", wrong, HERE, "selftest"], capture_output=True, text=True, env=env)
        check(p.returncode == 0, "run exit %d:\n%s%s" % (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
        out = p.stdout
        check("queries tried: 5\n" in out and "  MATCH             5" in out, "5 queries, all MATCH:\n" + out)
        check("statements: same 3," in out, "3 statements run alike:\n" + out)
        check(os.path.exists(rep) and os.path.exists(wrong), "report files written")
        p = subprocess.run([sys.executable, os.path.join(HERE, "run_slt.py"), os.path.join(tmp, "nope")],
                           capture_output=True, text=True, env=env)
        check(p.returncode == 2 and "git clone https://github.com/gregrahn/sqllogictest" in p.stderr,
              "missing SLT_DIR explains how to get the corpus: %s" % p.stderr)


test_parse()
test_compare()
test_run()
print("test_run_slt: %s" % ("ok" if not failures else "%d failures" % failures))
sys.exit(1 if failures else 0)
