#!/usr/bin/env python3
"""Generated queries over joins, derived tables, set operations and subqueries (issue 13), answered by a
throwaway PostgreSQL 15 and by `factdb serve` on the same small tables (NULLs and duplicate keys in every
join column), compared with the rules of test_pgdiff.py (compare(): multisets unless ORDER BY, names,
type families, numeric exactly, doubles to 1e-12, errors by class).

Forms: inner / LEFT / RIGHT / FULL joins on ON, USING and expressions, joins of three tables, grouped derived
tables joined back, UNION / INTERSECT / EXCEPT [ALL] chains, IN / NOT IN / EXISTS / NOT EXISTS subqueries
(uncorrelated and correlated), comparisons with correlated aggregate subqueries, scalar subqueries. A query
factdb refuses as a correlated form it does not support is counted, not failed; every other difference
fails the test. Environment: FACTDB_BUILD, FACTDB_PG_BIN, FACTDB_JOIN_QUERIES (default 400), FACTDB_JOIN_SEED."""
import os
import random
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import engines  # noqa: E402
import test_pgdiff  # noqa: E402

BUILD = os.environ.get("FACTDB_BUILD", os.path.join(HERE, "..", "..", "build"))
FACTDB = os.path.join(BUILD, "factdb")
N = int(os.environ.get("FACTDB_JOIN_QUERIES", "400"))
SEED = int(os.environ.get("FACTDB_JOIN_SEED", "20261130"))

TABLES = {
    "t1": ("a integer, b text, c integer, d numeric(8,2)", ["a", "b", "c", "d"]),
    "t2": ("a integer, b text, c bigint, d numeric(8,2)", ["a", "b", "c", "d"]),
    "t3": ("x integer, y integer, b text", ["x", "y", "b"]),
}
NUM = {"a", "c", "x", "y"}


def rows(rnd, table):
    out = []
    for i in range(rnd.randint(6, 14)):
        def v(p, f):
            return "NULL" if rnd.random() < p else f()
        if table == "t3":
            out.append("(%s, %s, %s)" % (v(0.15, lambda: str(rnd.randint(0, 6))), v(0.15, lambda: str(rnd.randint(0, 6))),
                                         v(0.2, lambda: "'%s'" % rnd.choice("pqr"))))
        else:
            out.append("(%s, %s, %s, %s)" % (v(0.15, lambda: str(rnd.randint(0, 6))),
                                             v(0.2, lambda: "'%s'" % rnd.choice("pqr")),
                                             v(0.15, lambda: str(rnd.randint(-2, 8))),
                                             v(0.2, lambda: "%d.%02d" % (rnd.randint(0, 9), rnd.randint(0, 99)))))
    return "INSERT INTO %s VALUES %s" % (table, ", ".join(out))


def cols(t):
    return TABLES[t][1]


def numcol(rnd, t):
    return rnd.choice([c for c in cols(t) if c in NUM])


def gen(rnd):
    k = rnd.random()
    if k < 0.25:  # two-table joins
        l, r = rnd.choice(list(TABLES)), rnd.choice(list(TABLES))
        jt = rnd.choice(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
        lc, rc = numcol(rnd, l), numcol(rnd, r)
        on = rnd.choice(["p.%s = q.%s" % (lc, rc), "p.%s = q.%s AND p.b = q.b" % (lc, rc),
                         "p.%s + 1 = q.%s" % (lc, rc), "p.%s = q.%s AND q.%s > 2" % (lc, rc, rc),
                         "p.%s = q.%s AND p.%s < 4" % (lc, rc, lc)])
        sel = rnd.choice(["p.%s, q.%s" % (lc, rc), "count(*)", "p.b, count(q.%s)" % rc, "q.b, sum(p.%s)" % lc])
        q = "SELECT %s FROM %s p %s %s q ON %s" % (sel, l, jt, r, on)
        q += rnd.choice(["", " WHERE p.%s IS NOT NULL" % lc, " WHERE q.%s IS NULL" % rc, " WHERE p.b = 'p'"])
        if "count(" in sel or "sum(" in sel:
            if "," in sel:
                q += " GROUP BY 1"
        return q
    if k < 0.35:  # USING
        jt = rnd.choice(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
        u = rnd.choice(["a", "b", "a, b"])
        sel = rnd.choice(["*", u, "t1.c, t2.c", "count(*)"])
        return "SELECT %s FROM t1 %s t2 USING (%s)" % (sel, jt, u)
    if k < 0.45:  # three tables
        jt1, jt2 = rnd.choice(["JOIN", "LEFT JOIN"]), rnd.choice(["JOIN", "LEFT JOIN", "RIGHT JOIN"])
        return ("SELECT t1.a, t2.b, t3.y FROM t1 %s t2 ON t1.a = t2.a %s t3 ON t3.x = t2.c%s"
                % (jt1, jt2, rnd.choice(["", " WHERE t3.b IS NOT NULL", " WHERE t1.d > 1"])))
    if k < 0.55:  # grouped derived tables
        g = rnd.choice(["a", "b"])
        d = "(SELECT %s, count(*) AS n, max(c) AS m FROM %s GROUP BY %s) d" % (g, rnd.choice(["t1", "t2"]), g)
        jt = rnd.choice(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
        return "SELECT d.%s, d.n, d.m, t.%s FROM %s %s %s t ON t.%s = d.%s%s" % (
            g, g, d, jt, rnd.choice(["t1", "t2"]), g, g, rnd.choice(["", " WHERE d.n > 1", " WHERE t.a IS NULL"]))
    if k < 0.68:  # set operations
        arms = ["SELECT %s, b FROM %s%s" % (rnd.choice(["a", "c"]), rnd.choice(["t1", "t2"]),
                                            rnd.choice(["", " WHERE a > 1", " WHERE b IS NULL"]))
                for _ in range(rnd.randint(2, 4))]
        q = arms[0]
        for a in arms[1:]:
            q += " %s %s" % (rnd.choice(["UNION", "UNION ALL", "INTERSECT", "INTERSECT ALL", "EXCEPT", "EXCEPT ALL"]), a)
        if rnd.random() < 0.3:
            q = "SELECT b, count(*) FROM (%s) s GROUP BY b" % q
        return q
    # subqueries
    ot, it = rnd.choice(["t1", "t2"]), rnd.choice(["t1", "t2", "t3"])
    ic, oc = numcol(rnd, it), rnd.choice(["a", "c"])
    eq = "i.%s = o.%s" % (ic, oc)
    extra = rnd.choice(["", " AND i.%s IS NOT NULL" % rnd.choice(cols(it)), " AND i.%s > 1" % ic])
    k = rnd.random()
    if k < 0.3:
        w = "%sEXISTS (SELECT 1 FROM %s i WHERE %s%s)" % (rnd.choice(["", "NOT "]), it, eq, extra)
    elif k < 0.55:
        w = "o.%s %s (SELECT %s(i.%s) FROM %s i WHERE %s%s)" % (
            rnd.choice(["a", "c", "d"]), rnd.choice(["=", "<", ">=", "<>"]), rnd.choice(["max", "min", "sum", "avg"]),
            ic, it, eq, extra)
    elif k < 0.8:
        w = "o.%s %s (SELECT i.%s FROM %s i%s)" % (oc, rnd.choice(["IN", "NOT IN"]), ic, it,
                                                  rnd.choice(["", " WHERE i.%s > 2" % ic, " WHERE false"]))
    else:
        w = "o.d > (SELECT avg(d) FROM %s)" % rnd.choice(["t1", "t2"])
    sel = rnd.choice(["o.a", "o.b", "o.a, o.c", "count(*)"])
    return "SELECT %s FROM %s o WHERE %s" % (sel, ot, w)


UNSUPPORTED = ("not supported", "is supported when")


def main():
    rnd = random.Random(SEED)
    setup = []
    for t, (ddl, _) in TABLES.items():
        setup += ["CREATE TABLE %s (%s)" % (t, ddl), rows(rnd, t)]
    queries = [gen(rnd) for _ in range(N)]
    tmp = tempfile.mkdtemp(prefix="factdb-joins-")
    db = os.path.join(tmp, "j.factdb")
    bad, refused, agree = [], 0, 0
    with engines.PgCluster() as pg:
        conn = pg.connect()
        fd = engines.FactdbServer(FACTDB, db, os.path.join(tmp, "serve.log"))
        try:
            for sql in setup:
                for name, r in (("PostgreSQL", conn.query(sql)), ("factdb", fd.query(sql))):
                    if r[0] == "error":
                        raise SystemExit("%s: %s: %s" % (name, sql[:80], r[2]))
            for sql in queries:
                pa, fa = conn.query(sql), fd.query(sql)
                if fa[0] == "error" and pa[0] != "error" and any(u in fa[2] for u in UNSUPPORTED):
                    refused += 1
                    continue
                why = test_pgdiff.compare(sql, pa, fa)
                if why is None:
                    agree += 1
                else:
                    bad.append((sql, why, pa, fa))
        finally:
            fd.close()
            conn.close()
    for sql, why, pa, fa in bad[:30]:
        print("DIFFERENCE: %s\n  %s\n  factdb:     %s\n  postgresql: %s" % (sql, why, test_pgdiff.show(fa),
                                                                          test_pgdiff.show(pa)))
    print("joins: %d generated queries (seed %d): %d agree with PostgreSQL, %d refused as unsupported correlated "
          "forms, %d differ" % (N, SEED, agree, refused, len(bad)))
    return 1 if bad or refused > N // 10 else 0


if __name__ == "__main__":
    sys.exit(main())
