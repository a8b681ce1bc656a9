"""Shared by the generators of tests/sql/*.test whose answers are PostgreSQL 15's (joins_gen.py,
window_gen.py): runs the statements in a fresh database of a scratch cluster (socket /tmp/pg, port 55432)
with psql --csv and writes the test file's blocks."""
import os
import subprocess
import sys


def psql(db):
    # PG_GEN_SOCKET / PG_GEN_PORT name another scratch cluster
    return ["psql", "-h", os.environ.get("PG_GEN_SOCKET", "/tmp/pg"), "-p", os.environ.get("PG_GEN_PORT", "55432"),
            "-U", "postgres", "-d", db, "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1"]


def fresh_db(db):
    """Drops and creates database db; returns the psql command line for it."""
    admin = psql("postgres")
    subprocess.run(admin + ["-c", "DROP DATABASE IF EXISTS %s" % db], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(admin + ["-c", "CREATE DATABASE %s" % db], check=True, stdout=subprocess.DEVNULL)
    return psql(db)


def write_test(db, header, setup, queries, errors=(), refused=()):
    """Recreates database db, runs setup and queries, and prints the test file: header lines (comments),
    `statement ok` for setup, `query` blocks with psql's output, `statement error MSG` for errors (each
    must fail in PostgreSQL too; a warning is printed if it does not) and for refused (what PostgreSQL
    accepts and factdb refuses with MSG)."""
    run = fresh_db(db)
    out = list(header) + [""]
    for st in setup:
        subprocess.run(run + ["-c", st], check=True, stdout=subprocess.DEVNULL)
        out += ["statement ok", st + ";", ""]
    for q in queries:
        r = subprocess.run(run + ["-c", q], check=True, capture_output=True, text=True).stdout
        out += ["query", q, "----", r.rstrip("\n"), ""]
    for q, msg in errors:
        if subprocess.run(run + ["-c", q], capture_output=True, text=True).returncode == 0:
            sys.stderr.write("PostgreSQL accepts an error case: %s\n" % q)
        out += ["statement error " + msg, q, ""]
    for q, msg in refused:
        out += ["statement error " + msg, q, ""]
    sys.stdout.write("\n".join(out))


def write_steps(db, header, steps):
    """Like write_test, for statements and queries that alternate (writes checked by the reads after them):
    steps are ("ok", sql), ("query", sql), ("error", sql, msg) (must fail in PostgreSQL too) or ("refused",
    sql, msg) (PostgreSQL accepts it, factdb refuses with msg), with ("#", text) comment lines."""
    run = fresh_db(db)
    out = list(header) + [""]
    for st in steps:
        kind, sql = st[0], st[1]
        if kind == "#":
            out.append("# " + sql)
        elif kind == "ok":
            subprocess.run(run + ["-c", sql], check=True, stdout=subprocess.DEVNULL)
            out += ["statement ok", sql, ""]
        elif kind == "query":
            r = subprocess.run(run + ["-c", sql], check=True, capture_output=True, text=True).stdout
            out += ["query", sql, "----", r.rstrip("\n"), ""]
        elif kind == "error":
            if subprocess.run(run + ["-c", sql], capture_output=True, text=True).returncode == 0:
                sys.stderr.write("PostgreSQL accepts an error case: %s\n" % sql)
            out += ["statement error " + st[2], sql, ""]
        else:
            out += ["statement error " + st[2], sql, ""]
    sys.stdout.write("\n".join(out))
