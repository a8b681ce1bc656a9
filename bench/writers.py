#!/usr/bin/env python3
"""make bench (and make bench-writers): durable single-row commits from 1, 2 and 4 writer processes at
once (build/procdriver commits), each process making FACTDB_BENCH_COMMITS (default 300) commits. Prints
commits per second and the latency of a commit (waiting for the write lock included): p50, p99, max, and
the most commits of other writers that one commit waited for (in FIFO turns: at most 2 per other writer).
The same for PostgreSQL (pgbench, one single-row INSERT per transaction, synchronous_commit on) when its
binaries are installed (/usr/lib/postgresql/*/bin): a throwaway cluster is started in a temporary
directory, as the user postgres when run as root. FACTDB_BENCH_PG=0 skips it. PostgreSQL's commits of
different sessions overlap (there is no single writer lock; WAL flushes are shared), so its "turns" count
overlapping commits, not a queue."""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("FACTDB_BUILD", "build"))
DRIVER = os.path.join(BUILD, "procdriver")
COMMITS = int(os.environ.get("FACTDB_BENCH_COMMITS", "300"))


def stats(commits):
    """commits: (writer, start, end) in seconds -> (commits/s, p50 ms, p99 ms, max ms, max turns)."""
    lat = sorted(e - s for _, s, e in commits)
    span = max(e for _, _, e in commits) - min(s for _, s, _ in commits)
    turns = 0
    for w, s, e in commits:
        turns = max(turns, sum(1 for w2, _, e2 in commits if w2 != w and s < e2 < e))
    return (len(commits) / span, lat[len(lat) // 2] * 1e3, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3,
            lat[-1] * 1e3, turns)


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
    return stats(commits)


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
    if os.environ.get("FACTDB_BENCH_PG", "1") != "0":
        postgres()


def postgres():
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
    if not bins:
        print("postgresql: not installed (apt-get install postgresql), skipped")
        return
    b = os.path.dirname(bins[-1])
    as_user = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    d = tempfile.mkdtemp(prefix="factdb-bench-pg-")
    if as_user:
        shutil.chown(d, "postgres", "postgres")
    data, port = os.path.join(d, "data"), "54329"

    def pg(*args, **kw):
        return subprocess.run(as_user + list(args), check=True, capture_output=True, text=True, **kw)
    try:
        pg(b + "/initdb", "-D", data, "-A", "trust", "-U", "bench")
        pg(b + "/pg_ctl", "-D", data, "-w", "-l", os.path.join(d, "log"), "-o",
           "-k %s -p %s -c listen_addresses='' -c fsync=on -c synchronous_commit=on" % (d, port), "start")
        conn = ["-h", d, "-p", port, "-U", "bench"]
        pg(b + "/psql", *conn, "-q", "-c", "CREATE TABLE t (writer int, batch int, v bigint)", "postgres")
        script = os.path.join(d, "insert.sql")
        with open(script, "w") as f:
            f.write("INSERT INTO t VALUES (:client_id, 1, 1);\n")
        print("postgresql %s (pgbench, same commits):" % os.path.basename(os.path.dirname(b)))
        for n in (1, 2, 4):
            prefix = os.path.join(d, "tx%d" % n)
            pg(b + "/pgbench", *conn, "-n", "-c", str(n), "-j", str(n), "-t", str(COMMITS), "-f", script, "-l",
               "--log-prefix=" + prefix, "postgres", cwd=d)
            commits = []
            for log in glob.glob(prefix + ".*"):
                for line in open(log):
                    f = line.split()  # client_id transaction_no latency_us script_no epoch_s epoch_us
                    end = int(f[4]) + int(f[5]) / 1e6
                    commits.append((int(f[0]), end - int(f[2]) / 1e6, end))
            rate, p50, p99, mx, turns = stats(commits)
            print("%-10d %10.0f %9.2f %9.2f %9.2f %12d" % (n, rate, p50, p99, mx, turns), flush=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("postgresql: could not run a throwaway cluster (%s), skipped" % (getattr(e, "stderr", "") or e))
    finally:
        subprocess.run(as_user + [b + "/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
