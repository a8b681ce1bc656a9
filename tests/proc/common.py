"""Shared helpers for the process-level tests: paths to the built binaries and a scratch directory."""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("FACTDB_BUILD", "build"))
FACTDB = os.path.join(BUILD, "factdb")
DRIVER = os.path.join(BUILD, "procdriver")
# The sanitizer build must not hide a leak or an error behind a zero exit status.
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1", UBSAN_OPTIONS="print_stacktrace=1")

failures = []


def scratch(name):
    d = tempfile.mkdtemp(prefix="factdb-" + name + "-")
    return d


def new_db(name, *tables):
    """A scratch directory with database NAME.db holding the batch tables TABLES; returns (dir, db)."""
    d = scratch(name)
    db = os.path.join(d, name + ".db")
    for t in tables:
        run([DRIVER, "create", db, t])
    return d, db


def run(args, check=True, env=None, timeout=300, **kw):
    p = subprocess.run(args, capture_output=True, text=True, env=env or ENV, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s" % (args, p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
    return p


def spawn(args, **kw):
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, **kw)


def test(fn):
    """Runs one test function, recording failures so that every test runs."""
    name = fn.__name__
    only = os.environ.get("FACTDB_TEST_ONLY")  # a substring of the test names to run (for a quick rerun)
    if only and only not in name:
        return fn
    try:
        fn()
        print("ok   %s" % name, flush=True)
    except Exception as e:  # noqa: BLE001 - report any failure and continue
        import traceback
        failures.append(name)
        where = traceback.extract_tb(e.__traceback__)[-1]
        print("FAIL %s: %s (line %d: %s)" % (name, str(e)[:2000], where.lineno, where.line), flush=True)
    return fn


def verify(db, table):
    """Returns {(writer, batch): rows} after procdriver verify checked every batch is whole."""
    p = run([DRIVER, "verify", db, table])
    out = {}
    for line in p.stdout.splitlines():
        f = line.split()
        if f[0] == "batch":
            out[(int(f[1]), int(f[2]))] = int(f[3])
    return out


def acked(stdout):
    out = {}
    for line in stdout.splitlines():
        f = line.split()
        if f and f[0] == "ack":
            out[(int(f[1]), int(f[2]))] = int(f[3])
    return out


def finish():
    if failures:
        print("%d test(s) failed: %s" % (len(failures), ", ".join(failures)))
        sys.exit(1)
    print("all passed")


def cleanup(d):
    shutil.rmtree(d, ignore_errors=True)


class Stepper:
    """A procdriver sqlstep process: one statement per call, its answer line back."""

    def __init__(self, db, busy_ms=10000):
        self.p = subprocess.Popen([DRIVER, "sqlstep", db, str(busy_ms)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)

    def __call__(self, sql, expect="ok"):
        self.p.stdin.write(sql + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline().rstrip("\n")
        assert line.startswith(expect), (sql[:200], line[:500], self.p.stderr.read()[-2000:] if not line else "")
        return line

    def close(self):
        self.p.stdin.close()
        assert self.p.wait(timeout=60) == 0, self.p.stderr.read()


def fill_accounts(db, n_doublings=8):
    """Table acct: 1000 * 2^n_doublings rows (256,000 by default: several chunks), every v = 100."""
    run([FACTDB, "sql", db, "CREATE TABLE acct (id bigint, v bigint, s text)"])
    run([FACTDB, "sql", db, "INSERT INTO acct VALUES " + ", ".join("(%d, 100, 's%d')" % (i, i % 300)
                                                                 for i in range(1000))])
    n = 1000
    for _ in range(n_doublings):
        run([FACTDB, "sql", db, "INSERT INTO acct SELECT id + %d, v, s FROM acct" % n])
        n *= 2
    return n
