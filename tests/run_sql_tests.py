#!/usr/bin/env python3
"""Data-driven SQL tests: tests/sql/*.test. Each file runs against a fresh database, block by block:

    statement ok            the SQL must succeed (output ignored)
    statement error TEXT    the SQL must fail (exit 1) with TEXT in its error output
    query                   the SQL's CSV output (header row first) must equal the lines after ----

Blocks are separated by blank lines; lines starting with # are comments. Each block runs in its own
`factdb sql` process, as a user would run it. With --record, query results are written back into the
files (review the diff before committing)."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("FACTDB_BUILD", os.path.join(HERE, "..", "build"))
FACTDB = os.path.join(BUILD, "factdb")


def parse(path):
    blocks, cur = [], []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for ln in lines + [""]:
        if ln.strip() == "" and not (cur and cur[0].startswith("query") and "----" in cur and False):
            if cur:
                blocks.append(cur)
                cur = []
            continue
        if ln.startswith("#") and not cur:
            continue
        cur.append(ln)
    return blocks


def run_block(db, sql, datadir):
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1", UBSAN_OPTIONS="print_stacktrace=1")
    sql = sql.replace("@DATA@", datadir)
    p = subprocess.run([FACTDB, "sql", "--create", "--format", "csv", "--threads", "2", db, sql], capture_output=True,
                       text=True, env=env, timeout=120)
    return p.returncode, p.stdout, p.stderr


def main():
    record = "--record" in sys.argv
    files = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not files:
        d = os.path.join(HERE, "sql")
        files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".test"))
    failures = 0
    total = 0
    for path in files:
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "t.factdb")
            out_lines = []
            for block in parse(path):
                head = block[0]
                if "----" in block:
                    sep = block.index("----")
                    sql, expected = "\n".join(block[1:sep]), block[sep + 1:]
                else:
                    sql, expected = "\n".join(block[1:]), []
                total += 1
                rc, out, err = run_block(db, sql, tmp)
                where = "%s: %s" % (os.path.basename(path), sql.strip().split("\n")[0][:80])
                if "AddressSanitizer" in err or "runtime error" in err:
                    print("FAIL %s\n  sanitizer:\n%s" % (where, err))
                    failures += 1
                elif head == "statement ok":
                    if rc != 0:
                        print("FAIL %s\n  expected success, got:\n%s" % (where, err))
                        failures += 1
                elif head.startswith("statement error"):
                    want = head[len("statement error"):].strip()
                    if rc != 1 or want not in err:
                        print("FAIL %s\n  expected error containing %r, got rc=%d:\n%s%s" % (where, want, rc, out, err))
                        failures += 1
                elif head.startswith("query"):
                    got = out.rstrip("\n").split("\n") if out else []
                    if rc != 0:
                        print("FAIL %s\n  query failed:\n%s" % (where, err))
                        failures += 1
                    elif not record and got != expected:
                        print("FAIL %s\n  expected:\n    %s\n  got:\n    %s" % (where, "\n    ".join(expected),
                                                                             "\n    ".join(got)))
                        failures += 1
                    if record:
                        block = block[:block.index("----") + 1] if "----" in block else block + ["----"]
                        block = block + got
                else:
                    print("FAIL %s: unknown block kind %r" % (path, head))
                    failures += 1
                out_lines.append("\n".join(block))
            if record:
                with open(path) as f:
                    header = []
                    for ln in f.read().split("\n"):
                        if ln.startswith("#"):
                            header.append(ln)
                        else:
                            break
                with open(path, "w") as f:
                    f.write("\n".join(header) + ("\n\n" if header else "") + "\n\n".join(out_lines) + "\n")
    print("sql tests: %d blocks, %d failures" % (total, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
