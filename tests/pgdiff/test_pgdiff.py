#!/usr/bin/env python3
"""Differential test against a real PostgreSQL 15: the same generated data (fixed seed) in both engines,
a few hundred hand-written and generated queries (tests/pgdiff/queries.py), and the answers compared.

- Rows compare in order only when the query has an ORDER BY (every such query orders completely),
  otherwise as multisets. Column names and types (by family: integer, bigint, numeric, double precision,
  text, date, timestamp, boolean) must agree.
- Values compare as PostgreSQL prints them: numeric exactly (scale included), integers, text, dates and
  timestamps as text; double precision to 1e-12 relative (sums and averages of doubles depend on the
  order of addition, which differs between the engines' plans).
- Errors compare by class: PostgreSQL's SQLSTATE class against factdb's code (ERROR_CLASSES below).

Every difference must be listed in tests/pgdiff/known-differences.txt with its reason (a bug with the
part of the issue that fixes it, a deliberate departure documented in docs/sql.md, or a feature factdb
lacks), and every listed query must still differ: the test fails otherwise, so the list stays honest.

Environment: FACTDB_BUILD (default build/), FACTDB_PG_BIN (/usr/lib/postgresql/15/bin). The list is
written for the default data and queries; --show prints every difference found, listed or not."""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import engines  # noqa: E402
import queries  # noqa: E402

BUILD = os.environ.get("FACTDB_BUILD", os.path.join(HERE, "..", "..", "build"))
FACTDB = os.path.join(BUILD, "factdb")
KNOWN = os.path.join(HERE, "known-differences.txt")
SEED = 20261129
ROWS = 3000
GENERATED = 400

# PostgreSQL's SQLSTATE class -> the factdb error codes that mean the same (docs/errors.md).
ERROR_CLASSES = {
    "22": {"INVALID_VALUE"},                      # data exception: division by zero, out of range, bad input
    "42": {"INVALID_ARGUMENT", "NO_COLUMN"},      # syntax error or access rule violation
    "0A": {"INVALID_ARGUMENT"},                   # feature not supported
    "54": {"LIMIT"},                              # program limit exceeded
    "23": {"NOT_NULL", "UNIQUE_VIOLATION", "INVALID_VALUE"},          # integrity constraint violation
}
ERROR_STATES = {"42P01": {"NO_TABLE"}, "42P07": {"TABLE_EXISTS"}}

FDB_FAMILY = {"integer": "integer", "smallint": "integer", "bigint": "bigint", "numeric": "numeric",
              "double precision": "double precision", "real": "double precision", "text": "text",
              "date": "date", "timestamp": "timestamp", "timestamp without time zone": "timestamp",
              "timestamp with time zone": "timestamptz", "timestamptz": "timestamptz", "boolean": "boolean",
              "interval": "interval"}
PG_FAMILY = dict(engines.PG_TYPES)
PG_FAMILY[21] = "integer"


def fdb_family(name):
    base = name.split("(")[0].strip()
    return FDB_FAMILY.get(base, base)


def literal(v):
    if v is None:
        return "NULL"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return repr(v)
    if isinstance(v, float):
        return "'%r'" % v  # 1e+308 is no numeric literal for factdb (38 digits): typed by the column
    if hasattr(v, "isoformat"):
        return "'%s'" % str(v)
    return "'" + str(v).replace("'", "''") + "'"


def load(run, rows, e_rows):
    """Creates and fills t and e through `run(sql)` (the same statements in both engines)."""
    for ddl in (queries.T_DDL, queries.E_DDL):
        r = run(ddl)
        if r[0] == "error":
            raise RuntimeError("%s: %s" % (ddl, r[2]))
    for table, data in (("t", rows), ("e", e_rows)):
        for k in range(0, len(data), 500):
            sql = "INSERT INTO %s VALUES %s" % (table, ", ".join(
                "(" + ", ".join(literal(x) for x in r) + ")"
                for r in data[k:k + 500]))
            r = run(sql)
            if r[0] == "error":
                raise RuntimeError("loading %s: %s" % (table, r[2]))


def float_eq(a, b):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if x != x or y != y:
        return x != x and y != y
    return abs(x - y) <= max(1e-12 * max(abs(x), abs(y)), 1e-9)


def value_eq(fam, p, f):
    if p is None or f is None:
        return p is None and f is None
    if fam == "boolean":
        return {"t": "true", "f": "false"}.get(p, p) == f
    if fam == "double precision":
        return float_eq(p, f)
    return p == f


def sort_key(fam_row):
    def k(fam, v):
        if v is None:
            return (1, "")
        if fam == "double precision":
            try:
                return (0, "%.9g" % float(v))
            except ValueError:
                return (0, v)
        if fam == "boolean":
            return (0, {"t": "true", "f": "false"}.get(v, v))
        return (0, v)
    return lambda row: tuple(k(fam, v) for fam, v in zip(fam_row, row))


def compare(sql, pg, fd):
    """None when the answers agree, else a one-line description of the difference."""
    if pg[0] == "error" or fd[0] == "error":
        if pg[0] == "error" and fd[0] == "error":
            want = ERROR_STATES.get(pg[1], ERROR_CLASSES.get(pg[1][:2], set()))
            if fd[1] in want:
                return None
            return "error class: PostgreSQL %s, factdb %s" % (pg[1], fd[1])
        if pg[0] == "error":
            return "only PostgreSQL fails (%s)" % pg[1]
        return "only factdb fails (%s)" % fd[1]
    if pg[0] != fd[0]:
        return "result kinds differ"
    if pg[0] != "rows":
        return None
    if pg[1] != fd[1]:
        return "column names: PostgreSQL %s, factdb %s" % (pg[1], fd[1])
    pfam = [PG_FAMILY.get(o, "oid%d" % o) for o in pg[2]]
    ffam = [fdb_family(t) for t in fd[2]]
    if pfam != ffam:
        return "column types: PostgreSQL %s, factdb %s" % (pfam, ffam)
    prow, frow = pg[3], fd[3]
    if len(prow) != len(frow):
        return "row count: PostgreSQL %d, factdb %d" % (len(prow), len(frow))
    if "ORDER BY" not in sql.upper():
        key = sort_key(pfam)
        prow, frow = sorted(prow, key=key), sorted(frow, key=key)
    for n, (a, b) in enumerate(zip(prow, frow)):
        for c, fam in enumerate(pfam):
            if not value_eq(fam, a[c], b[c]):
                return "row %d column %s: PostgreSQL %s, factdb %s" % (n + 1, pg[1][c], a[c], b[c])
    return None


def show(res, limit=6):
    if res[0] == "error":
        return "ERROR %s: %s" % (res[1], res[2].split("\n")[0])
    if res[0] != "rows":
        return "(ok)"
    body = "; ".join(" | ".join("NULL" if v is None else v for v in r) for r in res[3][:limit])
    return "%s %d rows: %s%s" % (res[1], len(res[3]), body, " ..." if len(res[3]) > limit else "")


def read_known(path):
    """{sql: (kind, part, reason)} from the list: `## kind part: reason` heads a group of queries, one a line."""
    known, head = {}, None
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("## "):
                kind, _, rest = line[3:].partition(" ")
                part, _, reason = rest.partition(":")
                if kind not in ("bug", "departure", "unsupported") or not reason.strip():
                    raise SystemExit("%s:%d: expected `## bug|departure|unsupported PART: reason`" % (path, ln))
                head = (kind, part.strip(), reason.strip())
            elif line.strip() and not line.startswith("#"):
                if head is None:
                    raise SystemExit("%s:%d: a query before any `## kind part: reason` line" % (path, ln))
                if line in known:
                    raise SystemExit("%s:%d: listed twice: %s" % (path, ln, line))
                known[line] = head
    return known


def main():
    show_all = "--show" in sys.argv[1:]
    if not os.access(FACTDB, os.X_OK):
        print("%s not found: run make first (or set FACTDB_BUILD)" % FACTDB)
        return 1
    t0 = time.time()
    known = read_known(KNOWN)
    rows = queries.gen_rows(SEED, ROWS)
    qs = queries.hand_written() + queries.generated(SEED + 1, GENERATED)
    dup = {q for q in qs if qs.count(q) > 1}
    qs = list(dict.fromkeys(qs))
    with tempfile.TemporaryDirectory(prefix="factdb-pgdiff-") as tmp, engines.PgCluster() as pg:
        conn = pg.connect()
        fd = engines.FactdbServer(FACTDB, os.path.join(tmp, "d.factdb"), os.path.join(tmp, "serve.log"))
        try:
            load(conn.query, rows, queries.E_ROWS)
            load(fd.query, rows, queries.E_ROWS)
            t1 = time.time()
            diffs = {}
            for sql in qs:
                p, f = conn.query(sql), fd.query(sql)
                why = compare(sql, p, f)
                if why:
                    diffs[sql] = (why, show(f), show(p))
        finally:
            fd.close()
            conn.close()
    unlisted = [q for q in qs if q in diffs and q not in known]
    stale = [q for q in known if q in qs and q not in diffs]
    missing = [q for q in known if q not in qs]
    for q in (qs if show_all else unlisted):
        if q in diffs:
            why, fa, pa = diffs[q]
            tag = "known %s %s" % known[q][:2] if q in known else "NEW DIFFERENCE"
            print("%s: %s\n  %s\n  factdb:     %s\n  postgresql: %s" % (tag, why, q, fa, pa))
    for q in stale:
        print("LISTED BUT AGREES NOW (%s %s): remove it from %s\n  %s" % (known[q][0], known[q][1], KNOWN, q))
    for q in missing:
        print("LISTED BUT NOT A QUERY OF THE TEST: %s" % q)
    kinds = {}
    for q in diffs:
        if q in known:
            kinds[known[q][0]] = kinds.get(known[q][0], 0) + 1
    print("pgdiff: %d queries (%d generated) on %d rows, %d agree, %d listed differences (%s), %d new, "
          "%d listed but agreeing; load %.1f s, queries %.1f s"
          % (len(qs), GENERATED, ROWS, len(qs) - len(diffs), len(diffs) - len(unlisted),
             ", ".join("%s %d" % kv for kv in sorted(kinds.items())) or "none", len(unlisted),
             len(stale) + len(missing), t1 - t0, time.time() - t1))
    if dup:
        print("note: %d generated queries repeat others (run once)" % len(dup))
    return 1 if unlisted or stale or missing else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:
        print("pgdiff: interrupted (%s); PostgreSQL and factdb stopped, temporary files removed" % e)
        sys.exit(130)
