#!/usr/bin/python3
"""The dashboard's browser tests on PostgreSQL (issue 14: the dashboard works unchanged on both backends).

Starts a throwaway PostgreSQL 15 cluster (tests/pgdiff/engines.py PgCluster), writes the demo database of
`make run` with factdb-demo, moves it there with `factdb copy`, installs the change triggers with `factdb
pg-setup`, then runs tests/browser/test_dashboard.mjs with FACTDB_DASHBOARD_TARGET set to the database's
conninfo: every test of the file runs against `factdb serve` on PostgreSQL, with the same expectations as
on a file. Environment: FACTDB_BUILD (default build), FACTDB_PG_BIN."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "pgdiff"))
import engines  # noqa: E402

BUILD = os.path.abspath(os.environ.get("FACTDB_BUILD", os.path.join(ROOT, "build")))
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1")


def must(argv):
    p = subprocess.run(argv, capture_output=True, text=True, env=ENV)
    if p.returncode != 0:
        sys.exit("test_dashboard_pg.py: %s failed (%d):\n%s%s" % (" ".join(argv[:3]), p.returncode, p.stdout,
                                                                    p.stderr))
    return p.stdout


def main():
    work = tempfile.mkdtemp(prefix="factdb-dashboard-pg-")
    try:
        with engines.PgCluster(max_connections=40) as pg:
            c = pg.connect()
            try:
                assert c.query("CREATE DATABASE demo")[0] == "ok"
            finally:
                c.close()
            target = "host=%s port=%d dbname=demo user=postgres" % (pg.dir, pg.port)
            demo = os.path.join(work, "demo.factdb")
            must([os.path.join(BUILD, "factdb-demo"), "create", demo])
            must([os.path.join(BUILD, "factdb"), "copy", demo, target])
            must([os.path.join(BUILD, "factdb"), "pg-setup", target])
            p = subprocess.run(["node", os.path.join(HERE, "test_dashboard.mjs")],
                               env=dict(ENV, FACTDB_BUILD=BUILD, FACTDB_DASHBOARD_TARGET=target))
            return p.returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
