#!/usr/bin/env python3
"""make bench (and make bench-writers): durable single-row commits from 1, 2 and 4 writer processes at
once (build/procdriver commits), each process making FACTDB_BENCH_COMMITS (default 300) commits. Prints
commits per second and the latency of a commit (waiting for the write lock included): p50, p99, max, and
the most commits of other writers that one commit waited for (in FIFO turns: at most 2 per other writer)."""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("FACTDB_BUILD", "build"))
DRIVER = os.path.join(BUILD, "procdriver")
COMMITS = int(os.environ.get("FACTDB_BENCH_COMMITS", "300"))


def run(nproc, d):
    db = os.path.join(d, "writers%d.db" % nproc)
    subprocess.run([DRIVER, "create", db, "t"], check=True)
    ps = [subprocess.Popen([DRIVER, "commits", db, "t", str(w), str(COMMITS)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True) for w in range(nproc)]
    commits = []
    for p in ps:
        out, err = p.communicate()
        if p.returncode:
            sys.exit("bench/writers.py: procdriver failed: " + err)
        for line in out.splitlines():
            f = line.split()
            if f[0] == "lat":
                commits.append((int(f[1]), (int(f[4]) - int(f[3])) / 1e6, int(f[4]) / 1e6))
    lat = sorted(e - s for _, s, e in commits)
    span = max(e for _, _, e in commits) - min(s for _, s, _ in commits)
    turns = 0
    for w, s, e in commits:
        turns = max(turns, sum(1 for w2, _, e2 in commits if w2 != w and s < e2 < e))
    return (len(commits) / span, lat[len(lat) // 2] * 1e3, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3,
            lat[-1] * 1e3, turns)


def main():
    if not os.access(DRIVER, os.X_OK):
        sys.exit("bench/writers.py: %s is missing; run make first" % DRIVER)
    print("writers: %d durable single-row commits per process (latency = waiting for the write lock + commit)"
          % COMMITS)
    print("%-10s %10s %9s %9s %9s %12s" % ("processes", "commits/s", "p50 ms", "p99 ms", "max ms", "max turns"))
    with tempfile.TemporaryDirectory(prefix="factdb-bench-writers-") as d:
        for n in (1, 2, 4):
            rate, p50, p99, mx, turns = run(n, d)
            print("%-10d %10.0f %9.2f %9.2f %9.2f %12d" % (n, rate, p50, p99, mx, turns), flush=True)


if __name__ == "__main__":
    main()
