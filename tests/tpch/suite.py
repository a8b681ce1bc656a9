"""tests/tpch/suite.py: reads a query suite's files for the oracle tests (tests/tpch, tests/ssb) and the
benchmark (bench/tpch22.py): the schema (one CREATE TABLE per paragraph of schema.sql), the queries
(queries/*.sql, sent without their comment lines and final semicolon, the same text to every engine) and
the list of queries factdb cannot run yet (unsupported.txt: `name: reason`, one a line, # comments)."""
import os
import re


def tables(suite_dir):
    """[(table name, CREATE TABLE statement)] in the order of schema.sql."""
    with open(os.path.join(suite_dir, "schema.sql"), encoding="utf-8") as f:
        text = strip_comments(f.read())
    out = []
    for stmt in text.split(";"):
        stmt = stmt.strip()
        if stmt:
            m = re.match(r"create table (\w+)", stmt, re.I)
            if not m:
                raise SystemExit("%s/schema.sql: not a CREATE TABLE: %s" % (suite_dir, stmt[:60]))
            out.append((m.group(1), stmt))
    return out


def strip_comments(text):
    return "\n".join(ln for ln in text.split("\n") if not ln.lstrip().startswith("--"))


def queries(suite_dir):
    """[(name, sql)] sorted by file name (q01.sql -> q01)."""
    qdir = os.path.join(suite_dir, "queries")
    out = []
    for fn in sorted(os.listdir(qdir)):
        if fn.endswith(".sql"):
            with open(os.path.join(qdir, fn), encoding="utf-8") as f:
                sql = strip_comments(f.read()).strip()
            out.append((fn[:-4], sql.rstrip(";").rstrip()))
    return out


def unsupported(suite_dir):
    """{name: reason} from unsupported.txt."""
    path = os.path.join(suite_dir, "unsupported.txt")
    out = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, reason = line.partition(":")
            if not sep or not reason.strip() or name in out:
                raise SystemExit("%s:%d: expected `name: reason` (each name once)" % (path, n))
            out[name.strip()] = reason.strip()
    return out
