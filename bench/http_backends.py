#!/usr/bin/env python3
"""What moving to PostgreSQL costs and gains (issue 14): the same `factdb serve` on a database file and on
a throwaway PostgreSQL 15 cluster (tests/pgdiff/engines.py's PgCluster with PostgreSQL's durable defaults:
fsync and synchronous_commit on), with wrk on loopback: durable single-row inserts from 64 keep-alive
connections, and a dashboard query (count and sum by kind) over the rows inserted plus ROWS loaded ones.
Prints "backend measure value" lines. FACTDB_BENCH_HTTP_SECONDS (default 10), FACTDB_BENCH_ROWS (default
1000000). Usage: /usr/bin/python3 bench/http_backends.py"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "pgdiff"))
from engines import PgCluster  # noqa: E402

FACTDB = os.path.join(ROOT, os.environ.get("FACTDB_BUILD", "build"), "factdb")
SECS = int(os.environ.get("FACTDB_BENCH_HTTP_SECONDS", "10"))
ROWS = int(os.environ.get("FACTDB_BENCH_ROWS", "1000000"))
EV = "CREATE TABLE ev (at timestamp NOT NULL, kind text, amount numeric(10,2), n integer)"
FILL = ("INSERT INTO ev SELECT timestamp '2024-01-01' + (i %% 1000) * interval '1 minute', 'k' || (i %% 20), "
        "(i %% 1000) / 100.0, i FROM generate_series(1, %d) AS g(i)" % ROWS)
DASH = "SELECT kind, count(*) AS c, sum(amount) AS s FROM ev GROUP BY kind ORDER BY kind"


def wrk(port, script, conns):
    p = subprocess.run(["wrk", "-t", "2", "-c", str(conns), "-d", "%ds" % SECS, "-s", script,
                        "http://127.0.0.1:%d/" % port], capture_output=True, text=True, check=True)
    m = re.search(r"Requests/sec:\s+([0-9.]+)", p.stdout)
    lat = re.search(r"Latency\s+([0-9.]+\w+)", p.stdout)
    return float(m.group(1)), lat.group(1) if lat else "?"


def serve(target, tmp):
    p = subprocess.Popen([FACTDB, "serve", "--port", "0", "--pg-pool", "16", target], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    m = re.search(r":(\d+)/", p.stdout.readline())
    return p, int(m.group(1))


def csv_rows():
    """The same rows as FILL, as CSV for factdb load (factdb has no generate_series)."""
    return "at,kind,amount,n\n" + "".join("2024-01-%02d %02d:%02d:00,k%d,%d.%02d,%d\n" % (
        1 + (i % 1000) // 1440, (i % 1000) // 60 % 24, (i % 1000) % 60, i % 20, (i % 1000) // 100, (i % 1000) % 100, i)
        for i in range(1, ROWS + 1))


def run(name, target, setup, fill, tmp):
    setup(EV)
    fill()
    ins = os.path.join(tmp, "insert.lua")
    with open(ins, "w") as f:
        f.write('wrk.method = "POST"\nwrk.path = "/v1/tables/ev/rows"\n'
                'wrk.body = \'[{"at":"2024-01-01 10:00:00","kind":"bench","amount":1.5,"n":1}]\'\n'
                'wrk.headers["Content-Type"] = "application/json"\n')
    dash = os.path.join(tmp, "dash.lua")
    with open(dash, "w") as f:
        f.write('wrk.method = "POST"\nwrk.path = "/v1/sql"\nwrk.body = \'{"sql":"%s"}\'\n'
                'wrk.headers["Content-Type"] = "application/json"\n' % DASH)
    p, port = serve(target, tmp)
    try:
        rps, lat = wrk(port, ins, 64)
        print("%s inserts_per_s_64conns %.0f (latency %s)" % (name, rps, lat), flush=True)
        rps, lat = wrk(port, dash, 4)
        print("%s dashboard_queries_per_s_4conns %.1f (latency %s, %d rows)" % (name, rps, lat, ROWS), flush=True)
    finally:
        p.terminate()
        p.wait()


def main():
    with tempfile.TemporaryDirectory(prefix="factdb-bench-") as tmp:
        db = os.path.join(tmp, "b.db")
        run("embedded", db, lambda sql: subprocess.run([FACTDB, "sql", "--create", db, sql], check=True,
                                                       capture_output=True),
            lambda: subprocess.run([FACTDB, "load", db, "ev", "-"], input=csv_rows(), text=True, check=True,
                                   capture_output=True), tmp)
        pg = PgCluster(max_connections=40, durable=True)
        try:
            c = pg.connect()
            target = "host=%s port=%d dbname=postgres user=postgres" % (pg.dir, pg.port)

            def setup(sql):
                r = c.query(sql)
                assert r[0] != "error", r
            run("postgresql", target, setup, lambda: setup(FILL), tmp)
            c.close()
        finally:
            pg.close()


if __name__ == "__main__":
    main()
