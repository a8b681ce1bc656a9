#!/usr/bin/env python3
"""How far one database file goes (issue 14, docs/scale.md "When to move"): `factdb serve` on a file of
growing size, measured with wrk on loopback, so that the thresholds scale.md gives are measured, not
guessed. For each size (FACTDB_BENCH_SCALE_ROWS, default 1M, 4M, 16M and 64M rows of bench/http_backends.py's
`ev` table; the first million loaded from CSV, then doubled with INSERT ... SELECT):
  - the dashboard query (count and sum by kind over every row): queries/s and mean latency with 1, 4 and
    16 keep-alive connections (readers);
and first, into the first size, durable inserts from 64 connections with 1 and 100 rows per request
(rows/s), the write rate one file takes. Prints a markdown table. FACTDB_BENCH_HTTP_SECONDS (default 5) per measure.
Usage: /usr/bin/python3 bench/scale.py"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http_backends as hb  # noqa: E402

SIZES = [int(x) for x in os.environ.get("FACTDB_BENCH_SCALE_ROWS", "1000000,4000000,16000000,64000000").split(",")]
SECS = int(os.environ.get("FACTDB_BENCH_HTTP_SECONDS", "5"))


def wrk(port, script, conns, secs=SECS):
    p = subprocess.run(["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", "%ds" % secs, "--timeout", "60s", "-s", script,
                        "http://127.0.0.1:%d/" % port], capture_output=True, text=True, check=True)
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", p.stdout).group(1))
    m = re.search(r"Latency\s+([0-9.]+)(us|ms|s)\b", p.stdout)
    lat = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", p.stdout)
    timeouts = re.search(r"Socket errors: .*timeout (\d+)", p.stdout)
    # every request must have succeeded (and in time) for its rate to count
    assert not non2xx and not (timeouts and int(timeouts.group(1))), p.stdout
    return rps, lat


def lua(path, url, body):
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\nwrk.path = "%s"\nwrk.body = %s\n'
                'wrk.headers["Content-Type"] = "application/json"\n' % (url, json.dumps(body)))
    return path


def main():
    with tempfile.TemporaryDirectory(prefix="factdb-scale-") as tmp:
        db = os.path.join(tmp, "s.db")
        subprocess.run([hb.FACTDB, "sql", "--create", db, hb.EV], check=True, capture_output=True)
        subprocess.run([hb.FACTDB, "load", db, "ev", "-"], input=hb.csv_rows(), text=True, check=True,
                       capture_output=True)
        rows = hb.ROWS
        p, port = hb.serve(db, tmp)
        try:
            print("| durable inserts, 64 connections, into %s rows | requests/s | rows/s | latency (ms) |"
                  % "{:,}".format(rows))
            print("|---|---:|---:|---:|")
            one = {"at": "2024-01-01 10:00:00", "kind": "bench", "amount": 1.5, "n": 1}
            for batch in (1, 100):
                script = lua(os.path.join(tmp, "ins%d.lua" % batch), "/v1/tables/ev/rows", json.dumps([one] * batch))
                rps, lat = wrk(port, script, 64)
                print("| %d row%s per request | %.0f | %.0f | %.1f |" % (batch, "" if batch == 1 else "s", rps,
                                                                         rps * batch, lat), flush=True)
        finally:
            p.terminate()
            p.wait()
        print()
        rows = int(subprocess.run([hb.FACTDB, "sql", "--format", "csv", db, "SELECT count(*) FROM ev"], check=True,
                                  capture_output=True, text=True).stdout.split()[1])
        dash = lua(os.path.join(tmp, "dash.lua"), "/v1/sql", json.dumps({"sql": hb.DASH}))
        print("| rows | file (MB) | 1 reader: q/s | latency (ms) | 4 readers: q/s | latency (ms) "
              "| 16 readers: q/s | latency (ms) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size in SIZES:
            while rows < size:
                t0 = time.time()
                subprocess.run([hb.FACTDB, "sql", "--memory-limit", "16384", db,
                                "INSERT INTO ev SELECT * FROM ev LIMIT %d" % (size - rows)],
                               check=True, capture_output=True)
                rows = min(size, rows * 2)
                print("<!-- grown to %d rows in %.1f s -->" % (rows, time.time() - t0), flush=True)
            os.sync()  # the grown file's writeback does not compete with the queries
            p, port = hb.serve(db, tmp)
            try:
                cells = []
                single = None  # queries/s of one reader
                for conns in (1, 4, 16):
                    # long enough for each reader to finish several queries (a window shorter than the
                    # queries' latency counts only those that happen to end inside it)
                    secs = SECS if single is None else max(SECS, int(5 * conns / single) + 1)
                    rps, lat = wrk(port, dash, conns, secs)
                    single = single or rps
                    cells += ["%.1f" % rps, "%.1f" % lat]
            finally:
                p.terminate()
                p.wait()
            print("| %s | %.0f | %s |" % ("{:,}".format(rows), os.path.getsize(db) / 1e6, " | ".join(cells)),
                  flush=True)


if __name__ == "__main__":
    main()
